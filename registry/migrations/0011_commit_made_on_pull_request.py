"""`Commit.made_on_pull_request`, and its value for the commits older versions made.

Online, for upgrades of big hubs (written so after it took 1,091 s on the data-at-scale set, every
read of a commit waiting, when the walk ran in the ADD COLUMN's transaction): on PostgreSQL the
column is added in one short transaction, existing rows false (no rewrite), with a database
default of true for rows inserted later, the cautious reading: a commit the older code still
serving makes during the walk is never taken as made on a branch. The walk then judges one repo per
transaction, and a last pass judges again the commits made since it began. The code that reads the
flag names it in every INSERT, so the database default is not used after the upgrade.
"""

from django.db import migrations, models, transaction

BATCH = 2000
FIELD = models.BooleanField(default=False)


def _reachable(parents: dict[str, list[str]], heads: list[str]) -> set[str]:
    seen: set[str] = set()
    stack = [oid for oid in heads if oid in parents]
    while stack:
        oid = stack.pop()
        if oid in seen:
            continue
        seen.add(oid)
        stack.extend(p for p in parents.get(oid, ()) if p in parents and p not in seen)
    return seen


def _has_column(schema_editor, table: str) -> bool:
    with schema_editor.connection.cursor() as cursor:
        columns = schema_editor.connection.introspection.get_table_description(cursor, table)
    return any(column.name == "made_on_pull_request" for column in columns)


def add_column(apps, schema_editor):
    Commit = apps.get_model("registry", "Commit")
    if _has_column(schema_editor, Commit._meta.db_table):
        return  # an upgrade interrupted during the walk, run again
    if schema_editor.connection.vendor != "postgresql":
        field = FIELD.clone()
        field.set_attributes_from_name("made_on_pull_request")
        schema_editor.add_field(Commit, field)
        return
    table = schema_editor.quote_name(Commit._meta.db_table)
    with transaction.atomic(using=schema_editor.connection.alias):
        schema_editor.execute(f"ALTER TABLE {table} ADD COLUMN made_on_pull_request boolean DEFAULT false NOT NULL")
        schema_editor.execute(f"ALTER TABLE {table} ALTER COLUMN made_on_pull_request SET DEFAULT true")


def drop_column(apps, schema_editor):
    # The state here is the one before the field (SeparateDatabaseAndState): plain SQL, which
    # SQLite (3.35+) and PostgreSQL both take.
    table = schema_editor.quote_name(apps.get_model("registry", "Commit")._meta.db_table)
    schema_editor.execute(f"ALTER TABLE {table} DROP COLUMN made_on_pull_request")


def _judge(Commit, Ref, repo_id, only_since: int = 0) -> None:
    """Marks the repo's commits that no branch or tag reaches and clears the mark of those it
    reaches (of those with a pk above `only_since`). Clearing matters for the commits the older
    code made after the column was added (the database default, true) and before the walk began:
    the last pass judges those made since the walk began, and after an interrupted upgrade run
    again, the walk itself."""
    with transaction.atomic():
        rows = list(
            Commit.objects.filter(repo_id=repo_id).values_list("oid", "parent_oids", "made_on_pull_request").iterator()
        )
        parents = {oid: parent_oids for oid, parent_oids, _ in rows}
        marked = {oid for oid, _, flag in rows if flag}
        heads = list(
            Ref.objects.filter(repo_id=repo_id, kind__in=["branch", "tag"]).values_list("commit_oid", flat=True)
        )
        reached = _reachable(parents, heads)
        for oids, flag in ((sorted(set(parents) - reached - marked), True), (sorted(marked & reached), False)):
            for start in range(0, len(oids), BATCH):
                Commit.objects.filter(repo_id=repo_id, oid__in=oids[start : start + BATCH], pk__gt=only_since).update(
                    made_on_pull_request=flag
                )


def mark_pull_request_commits(apps, schema_editor):
    """Older versions did not record where a commit was made. A commit that no branch or tag
    reaches can only have been made on a pull request's ref (or on a branch since deleted): it is
    marked, the cautious reading, so that its own license text is never taken as in force."""
    Commit = apps.get_model("registry", "Commit")
    Ref = apps.get_model("registry", "Ref")
    last_before = Commit.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    for repo_id in Commit.objects.filter(pk__lte=last_before).values_list("repo_id", flat=True).distinct().iterator():
        _judge(Commit, Ref, repo_id)
    made_since = Commit.objects.filter(pk__gt=last_before).values_list("repo_id", flat=True).distinct()
    for repo_id in list(made_since):
        _judge(Commit, Ref, repo_id, only_since=last_before)


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("registry", "0010_quarantine_aliased_content")]
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddField(model_name="commit", name="made_on_pull_request", field=FIELD)],
            database_operations=[migrations.RunPython(add_column, drop_column)],
        ),
        migrations.RunPython(mark_pull_request_commits, migrations.RunPython.noop),
    ]
