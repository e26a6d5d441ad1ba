from django.db import migrations


def backfill(apps, schema_editor):
    """Every object already committed to a repo may be referenced by that repo again."""
    Commit = apps.get_model("registry", "Commit")
    Tree = apps.get_model("registry", "Tree")
    Blob = apps.get_model("registry", "Blob")
    RepoObject = apps.get_model("registry", "RepoObject")
    for repo_id in Commit.objects.values_list("repo_id", flat=True).distinct():
        seen_trees, blob_oids = set(), set()
        pending = list(Commit.objects.filter(repo_id=repo_id).values_list("tree_oid", flat=True))
        while pending:
            oid = pending.pop()
            if oid in seen_trees:
                continue
            seen_trees.add(oid)
            for entry in Tree.objects.get(oid=oid).entries:
                if entry["type"] == "directory":
                    pending.append(entry["oid"])
                elif entry.get("lfs"):
                    RepoObject.objects.get_or_create(repo_id=repo_id, sha256=entry["lfs"]["sha256"])
                else:
                    blob_oids.add(entry["oid"])
        for sha256 in Blob.objects.filter(oid__in=blob_oids).values_list("sha256", flat=True):
            RepoObject.objects.get_or_create(repo_id=repo_id, sha256=sha256)


class Migration(migrations.Migration):
    dependencies = [("registry", "0004_repo_object")]
    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
