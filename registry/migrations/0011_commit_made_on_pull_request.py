from django.db import migrations, models

BATCH = 2000


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


def mark_pull_request_commits(apps, schema_editor):
    """Older versions did not record where a commit was made. A commit that no branch or tag
    reaches can only have been made on a pull request's ref (or on a branch since deleted): it is
    marked, the cautious reading, so that its own license text is never taken as in force."""
    Commit = apps.get_model("registry", "Commit")
    Ref = apps.get_model("registry", "Ref")
    repo_ids = Commit.objects.values_list("repo_id", flat=True).distinct()
    for repo_id in repo_ids.iterator():
        parents = dict(Commit.objects.filter(repo_id=repo_id).values_list("oid", "parent_oids").iterator())
        heads = list(Ref.objects.filter(repo_id=repo_id, kind__in=["branch", "tag"]).values_list("commit_oid", flat=True))
        orphans = sorted(set(parents) - _reachable(parents, heads))
        for start in range(0, len(orphans), BATCH):
            Commit.objects.filter(repo_id=repo_id, oid__in=orphans[start : start + BATCH]).update(
                made_on_pull_request=True
            )


class Migration(migrations.Migration):
    dependencies = [("registry", "0010_quarantine_aliased_content")]
    operations = [
        migrations.AddField(
            model_name="commit", name="made_on_pull_request", field=models.BooleanField(default=False)
        ),
        migrations.RunPython(mark_pull_request_commits, migrations.RunPython.noop),
    ]
