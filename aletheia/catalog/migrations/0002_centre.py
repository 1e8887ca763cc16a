# TrackedProfile is renamed Centre, the word the UI uses. The table keeps its name, so the
# database does not change (old code keeps working during a deploy); the content type is
# renamed by Django's contenttypes app.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]

    operations = [
        migrations.AlterModelTable(name="trackedprofile", table="catalog_trackedprofile"),
        migrations.RenameModel(old_name="TrackedProfile", new_name="Centre"),
        migrations.AlterModelOptions(
            name="centre",
            options={
                "ordering": ["label", "slug"],
                "verbose_name": "centre",
                "verbose_name_plural": "centres",
            },
        ),
    ]
