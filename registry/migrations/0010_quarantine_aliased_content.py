from django.db import migrations


def quarantine(apps, schema_editor):
    """Reinterpret pointer texts committed as regular files and quarantine what they aliased
    (see registry.ops.aliasing; `registry_fsck` reports the same, `--repair` applies it again). It
    imports the live module on purpose: the repair is the one `registry_fsck --repair` runs, fixes
    included. Two indexed queries per 2,000 stored objects (about a minute per ten million), plus
    one pass over the tree rows only where aliases were found."""
    from registry.ops import aliasing

    models = {
        name: apps.get_model("registry", name)
        for name in ("Blob", "Tree", "RepoObject", "StoredObject", "UploadReceipt", "QuarantinedContent")
    }
    aliasing.repair(**models, apply=True)


class Migration(migrations.Migration):
    dependencies = [("registry", "0009_quarantined_content")]
    # Irreversible: going back past 0009 would drop the quarantine, and older code would serve the
    # aliases again.
    operations = [migrations.RunPython(quarantine)]
