"""Recruiters: one interface, three implementations (Mechanical Turk, Prolific, plain links)
sharing Metamer's assignment, review and payment code. Credentials come from the environment
only (an AWS profile or keys for MTurk, ``PROLIFIC_TOKEN`` for Prolific); never stored, never
logged."""

from __future__ import annotations

import functools

from surveys.models import Study
from surveys.recruitment.base import Recruiter, RemoteSubmission, Terms
from surveys.recruitment.links import LinksRecruiter
from surveys.recruitment.mturk import MTurkRecruiter
from surveys.recruitment.prolific import ProlificRecruiter

RECRUITERS: dict[str, type] = {r.name: r for r in (LinksRecruiter, MTurkRecruiter, ProlificRecruiter)}
"""Every recruiter's class by the key a study stores: one home each (its module)."""


def request_token(kind: str, *parts: object) -> str:
    """Deterministic, at most 64 characters: a retried call carries the same token."""
    return "-".join(["metamer", kind, *map(str, parts)])[:64]


def recruiter_terms(study: Study) -> type[Terms]:
    """The study's recruiter's terms (arrival, completion, fees, money): no credentials needed."""
    return RECRUITERS[study.recruiter]


def recruiter_for(study: Study) -> Recruiter:
    """The study's recruiter: one per process and study, reused by every service and Celery
    task (one boto3 client or HTTP session, not one per call)."""
    return _recruiter(study.pk, study.recruiter, study.mturk_production)


@functools.lru_cache(maxsize=256)
def _recruiter(study_id: int, kind: str, production: bool) -> Recruiter:
    return RECRUITERS[kind].connect(production=production)


def recruiters_reset() -> None:
    """Forget the process's recruiters (new credentials in the environment; tests)."""
    _recruiter.cache_clear()


__all__ = [
    "RECRUITERS",
    "Recruiter",
    "RemoteSubmission",
    "Terms",
    "recruiter_for",
    "recruiter_terms",
    "recruiters_reset",
    "request_token",
]
