"""Release stages withhold by content too (gating/release.py). Stages in force when this runs get
their content ids computed here, with the historical models (the same rule as
`release._content_matching`: files the patterns match at a branch head)."""

import fnmatch

from django.db import migrations, models
from django.db.models import F


def _withheld(patterns: list[str], path: str) -> bool:
    basename = path.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(path if "/" in pattern else basename, pattern) for pattern in patterns)


def fill_withheld_content(apps, schema_editor):
    ReleaseStage = apps.get_model("gating", "ReleaseStage")
    Ref = apps.get_model("registry", "Ref")
    Commit = apps.get_model("registry", "Commit")
    Tree = apps.get_model("registry", "Tree")
    Blob = apps.get_model("registry", "Blob")
    current = ReleaseStage.objects.filter(position=F("plan__current_position")).select_related("plan")
    for stage in current.exclude(withheld_patterns=[]):
        repo_id = stage.plan.repo_id
        heads = Ref.objects.filter(repo_id=repo_id, kind="branch").values_list("commit_oid", flat=True)
        roots = set(Commit.objects.filter(repo_id=repo_id, oid__in=list(heads)).values_list("tree_oid", flat=True))
        found, pending = set(), [(oid, "") for oid in roots]
        while pending:
            oid, prefix = pending.pop()
            for entry in Tree.objects.filter(oid=oid).values_list("entries", flat=True).first() or []:
                path = prefix + entry["name"]
                if entry["type"] == "directory":
                    pending.append((entry["oid"], path + "/"))
                elif _withheld(stage.withheld_patterns, path):
                    lfs = entry.get("lfs")
                    sha256 = (
                        lfs["sha256"]
                        if lfs
                        else Blob.objects.filter(oid=entry["oid"]).values_list("sha256", flat=True).first()
                    )
                    if sha256:
                        found.add(sha256)
        stage.withheld_content = sorted(found)
        stage.save(update_fields=["withheld_content"])


class Migration(migrations.Migration):
    dependencies = [
        ("gating", "0004_repo_notify_skips_counters"),
        ("registry", "0010_quarantine_aliased_content"),
    ]

    operations = [
        migrations.AddField(
            model_name="releasestage",
            name="withheld_content",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.RunPython(fill_withheld_content, migrations.RunPython.noop),
    ]
