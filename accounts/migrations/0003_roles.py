"""Create the role groups (investor, analyst, operator, administrator) with their permissions."""

from django.db import migrations

ROLE_APPS = ("accounts", "auth", "axes", "knox", "market", "portfolios", "learning", "recommendations", "backtesting")


def create_roles(apps, schema_editor):
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    from accounts.roles import roles_sync

    # Permissions are normally created after all migrations ran; the groups need them now.
    for label in ROLE_APPS:
        try:
            app_config = global_apps.get_app_config(label)
        except LookupError:
            continue
        create_permissions(app_config, verbosity=0, apps=apps, using=schema_editor.connection.alias)
    roles_sync(apps)


def drop_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(
        name__in=["investor", "analyst", "operator", "administrator"]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_security"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        # Their models' permissions must be known to the migration state when the groups are built.
        ("axes", "0010_accessattemptexpiration"),
        ("knox", "0009_extend_authtoken_field"),
        ("market", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles, drop_roles)]
