"""Give operators the feature-flag (django-waffle) permissions, which did not exist when the groups were built."""

from django.db import migrations


def sync_roles(apps, schema_editor):
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    from accounts.roles import roles_sync

    # Permissions are normally created after all migrations ran; the groups need them now.
    create_permissions(global_apps.get_app_config("waffle"), verbosity=0, apps=apps, using=schema_editor.connection.alias)
    roles_sync(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_audit_security_alert"),
        ("waffle", "0004_update_everyone_nullbooleanfield"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
