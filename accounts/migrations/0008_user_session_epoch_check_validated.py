"""`User.session_epoch`'s CHECK (>= 0), added NOT VALID by accounts 0007, is validated here, in a
transaction of its own: VALIDATE CONSTRAINT scans the users under a SHARE UPDATE EXCLUSIVE lock,
which lets reads and writes of accounts go on (in 0007's transaction the scan held the lock of
its ADD COLUMNs, which stops them). A constraint already valid (a database that ran 0007 before
it was split so) is not scanned again. PostgreSQL only: elsewhere 0007 adds the check whole."""

from django.db import migrations


def validate(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = schema_editor.quote_name(apps.get_model("accounts", "User")._meta.db_table)
    schema_editor.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT accounts_user_session_epoch_check")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0007_account_lifecycle")]
    operations = [migrations.RunPython(validate, migrations.RunPython.noop)]
