"""Repos made before `Repo.created_by` (0018): their creator is the author of their first (root)
commit, the initial commit `repo_create` makes in the creator's name.

Online: the migration is not atomic and writes BATCH repos per transaction, in primary-key order,
so repos stay readable and writable while it runs; only one batch's rows are locked, for a
moment. (This was 0018's, in 0018's transaction: the UPDATE of every repo then held the table lock
of its ADD COLUMNs, and every request waited for it: 62 s on the data-at-scale set.) Interrupted,
`migrate` runs it again and it takes up the repos still without a creator; databases where 0018
already filled them in find nothing to do.
"""

from django.db import migrations, models, transaction

BATCH = 500


def creators_from_history(apps, schema_editor):
    Repo = apps.get_model("registry", "Repo")
    Commit = apps.get_model("registry", "Commit")
    first = Commit.objects.filter(repo=models.OuterRef("pk"), parent_oids=[]).order_by("created_at", "pk")
    creator = models.Subquery(first.values("author")[:1])
    todo = Repo.objects.filter(created_by__isnull=True).annotate(creator=creator).filter(creator__isnull=False)
    last = 0
    while ids := list(todo.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:BATCH]):
        with transaction.atomic():
            Repo.objects.filter(pk__in=ids, created_by__isnull=True).update(created_by=creator)
        last = ids[-1]


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("registry", "0018_repo_takedown_and_creator")]

    operations = [migrations.RunPython(creators_from_history, migrations.RunPython.noop)]
