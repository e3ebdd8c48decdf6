# LpipsJudgement moves here from analysis (its table was renamed there): state only.

import django.db.models.deletion
from django.db import migrations, models


def move_content_type(apps, schema_editor):
    """Keep the permissions granted on the model: its content type changes app."""
    apps.get_model("contenttypes", "ContentType").objects.filter(app_label="analysis", model="lpipsjudgement").update(
        app_label="inversion"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("inversion", "0001_initial"),
        ("analysis", "0002_move_simulated_judgements"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="LpipsJudgement",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("variant", models.CharField(max_length=10)),
                        ("d_target", models.FloatField()),
                        ("d_seed", models.FloatField()),
                        (
                            "iri",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="lpips_judgements",
                                to="inversion.iri",
                            ),
                        ),
                    ],
                    options={
                        "constraints": [
                            models.UniqueConstraint(fields=("iri", "variant"), name="one_judgement_per_variant")
                        ],
                    },
                ),
            ],
        ),
        migrations.RunPython(move_content_type, migrations.RunPython.noop),
    ]
