"""Record registered models' ImageNet top-1 from a results table (e.g. timm's results-imagenet.csv)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from inversion import services
from metamer.errors import MetamerError


class Command(BaseCommand):
    help = (
        "Set each registered model spec's ImageNet top-1 from a CSV with model and top1 columns "
        "(rows name a spec, its architecture, or architecture.tag as in timm's results-imagenet.csv)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file: Path, **options):
        if not file.is_file():
            raise CommandError(f"{file} is not a file")
        try:
            with file.open("rb") as f:
                result = services.model_specs_top1_import(file=f, filename=file.name)
        except MetamerError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            f"top-1 recorded for {len(result['updated'])} specs: {', '.join(result['updated']) or 'none'}"
        )
        if result["unmatched"]:
            self.stdout.write(f"not in {file.name}: {', '.join(result['unmatched'])}")
