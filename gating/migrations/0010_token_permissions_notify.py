from importlib import import_module

from django.db import migrations

_0007 = import_module("gating.migrations.0007_caller_change_notifications")
TABLE = "accounts_accesstoken"
BEFORE = "user_id, name, role, public_id, digest, expires_at, revoked_at"
AFTER = f"{BEFORE}, fine_grained"


def _replace(schema_editor, watched: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_notify_caller ON {TABLE};")
    schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_notify_caller_truncate ON {TABLE};")
    schema_editor.execute(_0007._forward(TABLE, "user_id", watched))


def forwards(apps, schema_editor):
    _replace(schema_editor, AFTER)


def backwards(apps, schema_editor):
    _replace(schema_editor, BEFORE)


class Migration(migrations.Migration):
    """A change of a fine-grained token's permissions is a change of its holder's rights: announced
    like the other token columns (the per-process credentials cache drops the token). The portal
    never edits them today; an operator's fix in the admin or SQL must still be seen."""

    dependencies = [
        ("gating", "0009_repoobject_delete_notifies"),
        ("accounts", "0006_token_fine_grained"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
