"""Recruiters: one interface, three implementations (Mechanical Turk, Prolific, plain links)
sharing Metamer's assignment, review and payment code. Credentials come from the environment
only (an AWS profile or keys for MTurk, ``PROLIFIC_TOKEN`` for Prolific); never stored, never
logged."""

from __future__ import annotations

from surveys.models import Study
from surveys.recruitment.base import Recruiter, RemoteSubmission


def request_token(kind: str, *parts: object) -> str:
    """Deterministic, at most 64 characters: a retried call carries the same token."""
    return "-".join(["metamer", kind, *map(str, parts)])[:64]


def recruiter_for(study: Study) -> Recruiter:
    if study.recruiter == Study.Recruiter.MTURK:
        from surveys.recruitment.mturk import MTurkRecruiter

        return MTurkRecruiter(production=study.mturk_production)
    if study.recruiter == Study.Recruiter.PROLIFIC:
        from surveys.recruitment.prolific import ProlificRecruiter

        return ProlificRecruiter()
    from surveys.recruitment.links import LinksRecruiter

    return LinksRecruiter()


__all__ = ["Recruiter", "RemoteSubmission", "recruiter_for", "request_token"]
