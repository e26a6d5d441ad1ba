from django.db import migrations


def forwards(apps, schema_editor):
    """Uploads made before `registry.UploadReceipt` existed: their uploaders keep reading them back
    and committing them to their pull requests."""
    XetUpload = apps.get_model("xet", "XetUpload")
    UploadReceipt = apps.get_model("registry", "UploadReceipt")
    rows = XetUpload.objects.exclude(uploaded_by=None).values_list("repo_id", "uploaded_by_id", "file__sha256")
    UploadReceipt.objects.bulk_create(
        [UploadReceipt(repo_id=repo, user_id=user, sha256=sha256) for repo, user, sha256 in rows.iterator()],
        ignore_conflicts=True,
        batch_size=1000,
    )


class Migration(migrations.Migration):
    dependencies = [("xet", "0001_initial"), ("registry", "0007_upload_receipt")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
