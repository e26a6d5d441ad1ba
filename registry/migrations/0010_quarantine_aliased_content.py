from django.db import migrations


def quarantine(apps, schema_editor):
    """Reinterpret pointer texts committed as regular files and quarantine what they aliased
    (see registry.aliasing; `registry_fsck` reports the same, `--repair` applies it again)."""
    from registry import aliasing

    models = {
        name: apps.get_model("registry", name)
        for name in ("Blob", "Tree", "RepoObject", "StoredObject", "UploadReceipt", "QuarantinedContent")
    }
    aliasing.repair(**models, apply=True)


class Migration(migrations.Migration):
    dependencies = [("registry", "0009_quarantined_content")]
    operations = [migrations.RunPython(quarantine, migrations.RunPython.noop)]
