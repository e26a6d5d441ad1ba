# Access granted by hand (access_grant) shares no email: see AccessRequest.requested_by_user.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('gating', '0005_release_stage_withheld_content'),
    ]

    operations = [
        migrations.AddField(
            model_name='accessrequest',
            name='requested_by_user',
            field=models.BooleanField(default=True),
        ),
    ]
