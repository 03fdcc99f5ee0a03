"""Every model registered in the admin opens for an administrator: list, search and add form."""

import pytest
from django.contrib import admin
from django.urls import reverse


@pytest.mark.django_db
def test_every_admin_list_and_add_page_opens_for_an_administrator(admin_client):
    problems = []
    for model in admin.site._registry:
        opts = model._meta
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        for url in (changelist, f"{changelist}?q=a"):
            status = admin_client.get(url).status_code
            if status != 200:
                problems.append(f"{url}: {status}")
        add = reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
        status = admin_client.get(add).status_code
        if status not in (200, 403):  # 403: read-only models refuse adding on purpose
            problems.append(f"{add}: {status}")
    assert not problems, "\n".join(problems)
