# TrialLpipsChoice moves here from analysis (its table was renamed there): state only.

import django.db.models.deletion
from django.db import migrations, models


def move_content_type(apps, schema_editor):
    """Keep the permissions granted on the model: its content type changes app."""
    apps.get_model("contenttypes", "ContentType").objects.filter(
        app_label="analysis", model="triallpipschoice"
    ).update(app_label="surveys")


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("surveys", "0001_initial"),
        ("analysis", "0002_move_simulated_judgements"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="TrialLpipsChoice",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("variant", models.CharField(max_length=10)),
                        ("choice", models.JSONField()),
                        ("margin", models.JSONField()),
                        (
                            "distances",
                            models.JSONField(help_text="Per query/row: its LPIPS distance to each option/column."),
                        ),
                        (
                            "trial",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="lpips_choices",
                                to="surveys.trial",
                            ),
                        ),
                    ],
                    options={
                        "constraints": [
                            models.UniqueConstraint(fields=("trial", "variant"), name="one_choice_per_variant")
                        ],
                    },
                ),
            ],
        ),
        migrations.RunPython(move_content_type, migrations.RunPython.noop),
    ]
