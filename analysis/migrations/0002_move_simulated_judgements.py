# LPIPS judgements of IRIs now belong to inversion, and LPIPS choices on trials to surveys:
# each stage owns its writes. The tables are renamed and keep their rows.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("analysis", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AlterModelTable(name="lpipsjudgement", table="inversion_lpipsjudgement"),
                migrations.AlterModelTable(name="triallpipschoice", table="surveys_triallpipschoice"),
            ],
            state_operations=[
                migrations.DeleteModel(name="LpipsJudgement"),
                migrations.DeleteModel(name="TrialLpipsChoice"),
            ],
        ),
    ]
