"""Comment HTML stored at write time (community.rendering), with an online backfill: the columns
are added with constant defaults (no table rewrite on PostgreSQL), then the existing comments are
rendered in batches, each its own short transaction, so no lock is held over the whole table.
Comments not reached yet are rendered on read as before: the backfill may also be interrupted."""

from django.db import migrations, models

BATCH = 500


def backfill(apps, schema_editor):
    from community.rendering import html_backfill

    html_backfill(apps.get_model("community", "Event"), batch=BATCH, using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    atomic = False  # the backfill commits batch by batch

    dependencies = [
        ("community", "0002_collections_and_likes"),
    ]

    operations = [
        migrations.AddField(
            model_name="event",
            name="html",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.AddField(
            model_name="event",
            name="html_version",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
    ]
