"""Give the role groups the learning app's permissions (they did not exist when accounts built the groups)."""

from django.db import migrations


def sync_roles(apps, schema_editor):
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    from accounts.roles import roles_sync

    # Permissions are normally created after all migrations ran; the groups need them now.
    create_permissions(global_apps.get_app_config("learning"), verbosity=0, apps=apps, using=schema_editor.connection.alias)
    roles_sync(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("learning", "0001_initial"),
        ("accounts", "0003_roles"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
