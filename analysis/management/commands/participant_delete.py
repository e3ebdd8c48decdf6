"""Withdraw one participant at their request: their answers and identifiers, and the study's
built reports, deleted and recorded in the audit log. Prints what it would delete unless
``--yes`` is given."""

from __future__ import annotations

import getpass

from django.core.management.base import BaseCommand, CommandError

from analysis.services import participant_delete
from metamer.errors import MetamerError
from surveys.models import Participant
from surveys.services import participant_withdraw_check


class Command(BaseCommand):
    help = "Withdraw a participant: delete their answers and identifiers everywhere (recorded in the audit log)."

    def add_arguments(self, parser):
        parser.add_argument("study", help="study name")
        parser.add_argument("participant", help="the participant's id (MTurk WorkerId, Prolific PID, or link label)")
        parser.add_argument("--reason", required=True, help="why, for the audit log (e.g. 'asked to withdraw')")
        parser.add_argument("--yes", action="store_true", help="delete; without it, only say what would be deleted")

    def handle(self, *args, study, participant, reason, yes, **options):
        person = Participant.objects.filter(study__name=study, external_id=participant).select_related("study").first()
        if person is None:
            raise CommandError(f"no participant {participant!r} in a study named {study!r}")
        try:
            if not yes:
                plan = participant_withdraw_check(participant=person)
                self.stdout.write(f"would delete {plan} and every report built from {study!r}; add --yes to do it")
                return
            withdrawal, reports = participant_delete(
                participant=person, reason=reason, actor=f"cli:{getpass.getuser()}"
            )
        except MetamerError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"withdrawn: {withdrawal}; {reports} reports deleted")
