"""Account lifecycle: email verification's waiver, disabling, deletion tombstones, invitations.

Grandfathering: every account that exists when this runs may keep acting while unverified (it
is asked to verify): the waiver column is added with the default True, which PostgreSQL (11+)
keeps in its catalogue instead of rewriting the table (SQLite, the embedded default, copies its
small table), then the default becomes False for the accounts made after (new sign-ups must
verify). Only Django's state keeps that default; the column keeps none, as for every Django field.

Online, for upgrades of big hubs: each ADD COLUMN is a catalogue change (no rewrite), but as
Django's AddFields, one per operation, the table lock of the first was held while Django rebuilt
its model states between the next ones (every model naming the user): every read of an account
waited, the worst 580-700 ms on the data-at-scale set (2.8 s on a busier box). Here the user's
columns are added by one operation, after the new table, so the lock is held only for those
statements and the commit. On PostgreSQL `session_epoch`'s CHECK (>= 0) is added NOT VALID (it
holds for every later write; the existing rows, all 0, are not read under the lock): accounts
0008 validates it in its own transaction, under a lock that lets reads and writes go on.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.migrations.state import ProjectState

# The user's new columns, in order; email_verification_waived's default True is the existing
# accounts' (the state's AlterField then makes it False for later ones).
COLUMNS = {
    "deleted_at": models.DateTimeField(blank=True, null=True),
    "disabled_at": models.DateTimeField(blank=True, null=True),
    "disabled_reason": models.CharField(blank=True, max_length=200),
    "email_verification_waived": models.BooleanField(default=True),
    "session_epoch": models.PositiveIntegerField(default=0),
}
ADD_COLUMNS = [
    "ADD COLUMN deleted_at timestamp with time zone NULL",
    "ADD COLUMN disabled_at timestamp with time zone NULL",
    "ADD COLUMN disabled_reason varchar(200) DEFAULT '' NOT NULL",
    "ADD COLUMN email_verification_waived boolean DEFAULT true NOT NULL",
    "ADD COLUMN session_epoch integer DEFAULT 0 NOT NULL",
    # The name PostgreSQL gives Django's inline CHECK, so the schema is the one AddField makes.
    "ADD CONSTRAINT accounts_user_session_epoch_check CHECK (session_epoch >= 0) NOT VALID",
]
DROP_DEFAULTS = [  # the existing rows have their values; the columns keep no default (as Django's)
    "ALTER COLUMN disabled_reason DROP DEFAULT",
    "ALTER COLUMN email_verification_waived DROP DEFAULT",
    "ALTER COLUMN session_epoch DROP DEFAULT",
]


def add_user_columns(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        # SQLite copies the table for each field, from the model it is given: each next field
        # is added to the model the previous ones made.
        state = ProjectState.from_apps(apps)
        for name, field in COLUMNS.items():
            added = field.clone()
            added.set_attributes_from_name(name)
            schema_editor.add_field(state.apps.get_model("accounts", "User"), added)
            state.add_field("accounts", "user", name, field.clone(), preserve_default=True)
        return
    table = schema_editor.quote_name(apps.get_model("accounts", "User")._meta.db_table)
    schema_editor.execute(f"ALTER TABLE {table} " + ", ".join(ADD_COLUMNS))
    schema_editor.execute(f"ALTER TABLE {table} " + ", ".join(DROP_DEFAULTS))


def drop_user_columns(apps, schema_editor):
    # The state here is the one before the fields (SeparateDatabaseAndState): plain SQL, which
    # SQLite (3.35+) and PostgreSQL both take; session_epoch's CHECK goes with its column.
    table = schema_editor.quote_name(apps.get_model("accounts", "User")._meta.db_table)
    for name in reversed(COLUMNS):
        schema_editor.execute(f"ALTER TABLE {table} DROP COLUMN {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_token_fine_grained"),
    ]

    operations = [
        migrations.CreateModel(
            name="SignupInvitation",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("digest", models.CharField(max_length=64, unique=True)),
                (
                    "email",
                    models.EmailField(
                        blank=True, help_text="When set, the account must use this email.", max_length=254
                    ),
                ),
                ("note", models.CharField(blank=True, max_length=200)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("expires_at", models.DateTimeField()),
                ("used_at", models.DateTimeField(blank=True, null=True)),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "used_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                *(migrations.AddField(model_name="user", name=name, field=field) for name, field in COLUMNS.items()),
                migrations.AlterField(
                    model_name="user",
                    name="email_verification_waived",
                    field=models.BooleanField(default=False),
                ),
            ],
            database_operations=[migrations.RunPython(add_user_columns, drop_user_columns)],
        ),
    ]
