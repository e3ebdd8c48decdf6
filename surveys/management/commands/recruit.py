"""Recruitment from the command line: publish, sync, review, bonus, stop, links.

Spending actions print the cost and do nothing more unless ``--yes`` is given.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from metamer.errors import MetamerError
from surveys import services
from surveys.models import Assignment, Study
from surveys.recruitment.links import slot_links


class Command(BaseCommand):
    help = "Publish a study's surveys, sync with the recruiter, review, pay a bonus, stop, or list plain links."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["cost", "publish", "sync", "review", "bonus", "stop", "links"])
        parser.add_argument("study", help="study name")
        parser.add_argument("--yes", action="store_true", help="confirm an action that spends money")
        parser.add_argument(
            "--base-url",
            default=settings.METAMER_PUBLIC_URL or "http://127.0.0.1:8000",
            help="where workers reach Metamer (default: METAMER_PUBLIC_URL, else make serve's address)",
        )
        parser.add_argument("--worker", help="bonus: the participant id")
        parser.add_argument("--cents", type=int, help="bonus: the amount in cents")
        parser.add_argument("--reason", default="", help="bonus: the reason the worker will see")

    def handle(self, *args, action, study, yes, base_url, worker, cents, reason, **options):
        target = Study.objects.filter(name=study).first()
        if target is None:
            raise CommandError(f"no study named {study!r}")
        try:
            self.stdout.write(self._run(action, target, yes, base_url, worker, cents, reason))
        except MetamerError as exc:
            hint = " (add --yes)" if exc.code == "confirm" else ""
            raise CommandError(exc.message + hint) from None

    def _run(self, action, study, yes, base_url, worker, cents, reason) -> str:
        if action == "cost":
            return str(services.study_budget(study=study))
        if action == "publish":
            publications = services.study_publish(study=study, base_url=base_url, confirm=yes)
            return "\n".join(f"{p.survey.name}: {p.status} as {p.external_id}" for p in publications)
        if action == "sync":
            return str(services.study_sync(study=study))
        if action == "review":
            return str(services.study_review(study=study, confirm=yes))
        if action == "bonus":
            assignment = Assignment.objects.filter(survey__study=study, participant__external_id=worker).first()
            if assignment is None or cents is None:
                raise CommandError("bonus needs --worker (a participant of this study) and --cents")
            payment = services.assignment_bonus(assignment=assignment, amount_cents=cents, reason=reason, confirm=yes)
            return f"paid {payment.amount_cents / 100:.2f} to {worker}"
        if action == "stop":
            return f"stopped {services.study_stop(study=study)} publications"
        links = [link for survey in study.surveys.order_by("pk") for link in slot_links(base_url, survey)]
        if not links:
            raise CommandError(f"{study} has no links yet: publish it first (plain links are free): recruit publish")
        return "\n".join(links)
