"""Generate IRIs from the command line: every InversionConfig field is an option."""

from __future__ import annotations

import argparse
from dataclasses import MISSING, fields

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from inversion import services
from inversion.config import PRESETS, InversionConfig
from inversion.models import InversionJob, ModelSpec, TargetSet
from inversion.selectors import job_convergence
from metamer.errors import MetamerError


class Command(BaseCommand):
    help = (
        "Run an inversion job for a registered model spec and target set (in-process, or --enqueue on the gpu queue)."
    )

    def add_arguments(self, parser):
        parser.add_argument("model_spec", nargs="?", help="model spec name")
        parser.add_argument("target_set", nargs="?", help="target set name")
        parser.add_argument(
            "--resume",
            type=int,
            metavar="JOB",
            help="resume a failed or stalled job (its worker died) where it stopped, instead of starting one",
        )
        parser.add_argument(
            "--enqueue", action="store_true", help="queue it for a Celery worker instead of running here"
        )
        for f in fields(InversionConfig):
            default = f.default if f.default is not MISSING else None
            option = "--" + f.name.replace("_", "-")
            # Options left out take the preset's value, else the default shown.
            if f.name == "preset":
                parser.add_argument(
                    option, choices=list(PRESETS), help="start from named settings (the others override)"
                )
            elif f.type in ("bool", bool):
                parser.add_argument(
                    option, action=argparse.BooleanOptionalAction, default=None, help=f"default {default}"
                )
            else:
                kind = {"int": int, "float": float}.get(str(f.type), str)
                parser.add_argument(option, type=kind, default=None, help=f"default {default}")

    def handle(self, *args, model_spec, target_set, enqueue, resume, **options):
        if resume is not None:
            return self._resume(resume, enqueue)
        if not model_spec or not target_set:
            raise CommandError("name a model spec and a target set (or --resume JOB)")
        given = {f.name: options[f.name] for f in fields(InversionConfig) if options[f.name] is not None}
        try:
            config = InversionConfig.from_dict(given)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        spec = ModelSpec.objects.filter(name=model_spec).first()
        targets = TargetSet.objects.filter(name=target_set).first()
        if spec is None or targets is None:
            raise CommandError(f"no model spec {model_spec!r} or no target set {target_set!r}; see the admin for names")
        try:
            job = services.inversion_job_create(model_spec=spec, target_set=targets, config=config, enqueue=enqueue)
            if not enqueue:
                job = self._run(job)
        except MetamerError as exc:
            raise CommandError(exc.message) from None
        self._report(job)

    def _resume(self, job_id: int, enqueue: bool) -> None:
        job = InversionJob.objects.filter(pk=job_id).first()
        if job is None:
            raise CommandError(f"no job {job_id}")
        try:
            job = services.inversion_job_resume(job=job, enqueue=enqueue)
            if not enqueue:
                job = self._run(job)
        except MetamerError as exc:
            raise CommandError(exc.message) from None
        self._report(job)

    def _run(self, job: InversionJob) -> InversionJob:
        with tqdm(total=1, desc=f"job {job.pk}", unit="step·img") as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            return services.inversion_job_run(job_id=job.pk, on_progress=progress)

    def _report(self, job: InversionJob) -> None:
        convergence = job_convergence(job)
        if convergence["advice"]:
            self.stdout.write(self.style.WARNING(str(convergence["advice"])))
        self.stdout.write(
            f"job {job.pk}: {job.status}, {job.done}/{job.total} IRIs, {convergence['converged']} converged"
        )
