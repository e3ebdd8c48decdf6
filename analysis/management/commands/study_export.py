"""Back up one study: its rows, the rows they refer to and every file they name, in one zip."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from analysis.services import study_export
from metamer.errors import MetamerError
from surveys.models import Study


class Command(BaseCommand):
    help = "Write a study (rows, stimuli, reports, provenance) to one archive that study_import restores."

    def add_arguments(self, parser):
        parser.add_argument("study", help="study name")
        parser.add_argument("archive", type=Path, help="the .zip to write (it holds participants' identifiers)")

    def handle(self, *args, study, archive, **options):
        found = Study.objects.filter(name=study).first()
        if found is None:
            raise CommandError(f"no study named {study!r}")
        if archive.exists() or not archive.parent.is_dir():
            raise CommandError(f"{archive}: choose a new file in an existing folder")
        try:
            manifest = study_export(study=found, path=archive)
        except MetamerError as exc:
            archive.unlink(missing_ok=True)
            raise CommandError(exc.message) from None
        rows = sum(manifest["rows"].values())
        self.stdout.write(f"wrote {archive}: {rows} rows, {len(manifest['files'])} files")
