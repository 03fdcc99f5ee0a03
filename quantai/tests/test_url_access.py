"""Access control over every route of the project, including routes added later.

The checks and the table of routes' owned objects are in quantai/tests/url_access.py (app tests run the same
checks on their own routes); here they run on every route the resolver knows.
"""

from __future__ import annotations

import pytest

from quantai.tests.url_access import anonymous_access_problems, cross_user_problems, routes, server_error_problems


def test_the_harness_sees_the_projects_routes():
    names = {r.name for r in routes()}
    assert {"home", "healthz", "api-schema"} <= names


@pytest.mark.django_db
def test_anonymous_visitors_are_turned_away_from_every_private_route(client, django_user_model):
    problems = anonymous_access_problems(client, django_user_model, routes())
    assert not problems, "\n".join(problems)


@pytest.mark.django_db
def test_no_user_reaches_another_users_objects(client, django_user_model):
    problems = cross_user_problems(client, django_user_model, routes())
    assert not problems, "\n".join(problems)


@pytest.mark.django_db
def test_signed_in_users_never_get_a_server_error_on_their_own_routes(client, django_user_model):
    problems = server_error_problems(client, django_user_model, routes())
    assert not problems, "\n".join(problems)
