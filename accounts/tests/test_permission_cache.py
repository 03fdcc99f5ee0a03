"""The navigation's permission check answers as ``user.has_perm`` does, without a query on a warm cache."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.db import connection
from django.template import RequestContext, Template
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.factories import ActiveUserFactory
from accounts.models import User
from accounts.permission_cache import VERSION_KEY, user_has_perm
from accounts.roles import Role

pytestmark = pytest.mark.django_db

PERM = "learning.view_modelversion"
LEARNING_LINK = f'href="{reverse("learning")}"'


def _analyst() -> User:
    user = ActiveUserFactory()
    user.groups.add(Group.objects.get(name=Role.ANALYST.value))
    return user


def _page(user: User) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(reverse("account_settings"))
    assert response.status_code == 200
    return response.content.decode()


def _fresh(user: User) -> User:
    """The user as the next request loads it: nothing remembered on the object."""
    return User.objects.get(pk=user.pk)


def _permission_row() -> Permission:
    app_label, codename = PERM.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def test_the_learning_link_shows_for_an_analyst_and_not_for_an_investor():
    analyst, investor = _analyst(), ActiveUserFactory()
    assert _fresh(analyst).has_perm(PERM) and not _fresh(investor).has_perm(PERM)

    assert LEARNING_LINK in _page(analyst)
    assert LEARNING_LINK not in _page(investor)


def test_a_warm_page_asks_the_database_nothing_about_permissions():
    investor = ActiveUserFactory()
    client = Client()
    client.force_login(investor)
    client.get(reverse("account_settings"))  # fills the cache

    with CaptureQueriesContext(connection) as page:
        assert client.get(reverse("account_settings")).status_code == 200

    assert [q["sql"] for q in page.captured_queries if "auth_permission" in q["sql"]] == []


@pytest.mark.parametrize("user_factory", [ActiveUserFactory, _analyst], ids=["investor", "analyst"])
def test_the_check_costs_two_queries_fewer_than_perms_in_a_template(user_factory):
    user = user_factory()
    request = RequestFactory().get("/")
    old = Template("{% if perms.learning.view_modelversion %}yes{% endif %}")
    new = Template('{% load account_permissions %}{% if user|has_perm:"learning.view_modelversion" %}yes{% endif %}')

    def cost(template: Template) -> tuple[int, str]:
        request.user = _fresh(user)
        context = RequestContext(request, {})
        with CaptureQueriesContext(connection) as queries:
            output = template.render(context)
        return len(queries.captured_queries), output

    cost(new)  # the first request of a user fills the cache
    old_queries, old_output = cost(old)
    new_queries, new_output = cost(new)
    assert new_output == old_output
    assert old_queries - new_queries == 2 and new_queries == 0


def test_a_cold_cache_costs_one_query_and_gives_the_same_answer():
    analyst = _fresh(_analyst())
    with CaptureQueriesContext(connection) as queries:
        assert user_has_perm(analyst, PERM)
    assert len(queries.captured_queries) == 1


def _remove_the_permission_from_the_group(user: User) -> None:
    Group.objects.get(name=Role.ANALYST.value).permissions.remove(_permission_row())


def _remove_the_user_from_the_group(user: User) -> None:
    user.groups.remove(Group.objects.get(name=Role.ANALYST.value))


def _remove_the_user_from_the_group_from_its_side(user: User) -> None:
    Group.objects.get(name=Role.ANALYST.value).user_set.remove(user)


def _delete_the_group(user: User) -> None:
    Group.objects.get(name=Role.ANALYST.value).delete()


def _delete_the_permission(user: User) -> None:
    _permission_row().delete()


@pytest.mark.parametrize(
    "revoke",
    [
        _remove_the_permission_from_the_group,
        _remove_the_user_from_the_group,
        _remove_the_user_from_the_group_from_its_side,
        _delete_the_group,
        _delete_the_permission,
    ],
)
def test_revoking_the_permission_hides_the_link_on_the_next_page(revoke):
    analyst = _analyst()
    assert LEARNING_LINK in _page(analyst)  # cached now

    revoke(analyst)

    assert not _fresh(analyst).has_perm(PERM)
    assert LEARNING_LINK not in _page(analyst)


def test_a_permission_given_to_one_user_shows_the_link_on_the_next_page():
    investor = ActiveUserFactory()
    assert LEARNING_LINK not in _page(investor)

    investor.user_permissions.add(_permission_row())

    assert LEARNING_LINK in _page(investor)


def test_a_set_computed_before_the_change_commits_is_not_used_after_it(django_capture_on_commit_callbacks):
    analyst = _analyst()
    assert user_has_perm(_fresh(analyst), PERM)
    with django_capture_on_commit_callbacks(execute=True):
        _remove_the_permission_from_the_group(analyst)
        # A concurrent request that read the rows before the commit stores the old set under the
        # version of the moment.
        cache.set(f"accounts:perms:user:{analyst.pk}", (cache.get(VERSION_KEY), [PERM]))
        assert user_has_perm(_fresh(analyst), PERM)  # what that request would see until the commit

    assert not user_has_perm(_fresh(analyst), PERM)


def test_superusers_hold_every_permission_and_lose_them_with_the_flag():
    admin = ActiveUserFactory(is_superuser=True)
    assert user_has_perm(_fresh(admin), PERM)

    User.objects.filter(pk=admin.pk).update(is_superuser=False)

    assert not user_has_perm(_fresh(admin), PERM)
    assert not _fresh(admin).has_perm(PERM)


def test_inactive_and_anonymous_users_hold_nothing():
    from django.contrib.auth.models import AnonymousUser

    analyst = _analyst()
    User.objects.filter(pk=analyst.pk).update(is_active=False)
    assert not user_has_perm(_fresh(analyst), PERM)
    assert not user_has_perm(AnonymousUser(), PERM)


def test_a_migration_that_changes_the_roles_is_seen_on_the_next_page():
    from django.apps import apps
    from django.db.models.signals import post_migrate

    analyst = _analyst()
    assert LEARNING_LINK in _page(analyst)
    # What a data migration does, through historical models that send no m2m_changed we listen to.
    Group.permissions.through.objects.filter(permission=_permission_row()).delete()
    assert LEARNING_LINK in _page(analyst)  # cached: nothing said the rows changed

    post_migrate.send(sender=apps.get_app_config("accounts"), app_config=apps.get_app_config("accounts"))

    assert LEARNING_LINK not in _page(analyst)
