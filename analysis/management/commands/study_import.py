"""Restore a study archive written by study_export, ids and files as they were."""

from __future__ import annotations

import getpass
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from analysis.services import study_import
from metamer.errors import MetamerError


class Command(BaseCommand):
    help = "Restore a study from an archive written by study_export (on a fresh instance)."

    def add_arguments(self, parser):
        parser.add_argument("archive", type=Path, help="the .zip that study_export wrote")

    def handle(self, *args, archive, **options):
        if not archive.is_file():
            raise CommandError(f"{archive}: no such file")
        try:
            study = study_import(path=archive, actor=f"cli:{getpass.getuser()}")
        except MetamerError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"restored study {study.name!r} (id {study.pk})")
