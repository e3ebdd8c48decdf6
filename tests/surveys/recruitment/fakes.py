"""In-memory Mechanical Turk and Prolific with faults on demand, for the fault-injection tests.

``FakeMTurk`` stands in for a boto3 ``mturk`` client: every request is validated against
botocore's own model of the API before it is served, and the service's rules that matter here
are kept (a repeated ``UniqueRequestToken`` is refused, an assignment is approved only from
Submitted). ``FakeProlific`` serves Prolific's documented endpoints through ``responses``.

A fault is armed on an operation and fires on its next call:
- ``throttle``: refused before acting (MTurk ``ThrottlingException``, Prolific 429);
- ``503-after``: the service acts, then answers 503;
- ``timeout-after``: the service acts, then the answer is lost (a read timeout).
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

import boto3
import requests
import responses
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.validate import ParamValidator

from surveys.recruitment.prolific import API

FAULTS = ("throttle", "503-after", "timeout-after")


class _Faults:
    def __init__(self) -> None:
        self.armed: dict[str, list] = {}
        self.fired: list[tuple[str, str]] = []

    def arm(self, operation: str, fault: str, *, skip: int = 0) -> None:
        """Fire ``fault`` on the operation's next call, or on the one after ``skip`` calls."""
        assert fault in FAULTS, fault
        self.armed[operation] = [fault, skip]

    def take(self, operation: str) -> str | None:
        if operation not in self.armed:
            return None
        fault, skip = self.armed[operation]
        if skip:
            self.armed[operation][1] -= 1
            return None
        del self.armed[operation]
        self.fired.append((operation, fault))
        return fault


def _client_error(code: str, message: str, operation: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation
    )


class _Paginator:
    def __init__(self, fake: FakeMTurk, operation: str) -> None:
        self.fake, self.operation = fake, operation

    def paginate(self, PaginationConfig: dict | None = None, **params) -> list[dict]:
        size = (PaginationConfig or {}).get("PageSize", 100)
        items = self.fake._call(self.operation, params | {"MaxResults": size})
        key = {"list_hits": "HITs", "list_bonus_payments": "BonusPayments", "list_assignments_for_hit": "Assignments"}
        listed = items[key[self.operation]]
        # Two items a page, so that every caller is made to follow pages.
        return [{key[self.operation]: listed[i : i + 2]} for i in range(0, max(len(listed), 1), 2)]


class FakeMTurk:
    """A boto3 ``mturk`` client's surface, served from memory, every request checked against
    botocore's model. ``requests`` counts the requests served (valid ones only)."""

    def __init__(self) -> None:
        client = boto3.client("mturk", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
        self._model = client.meta.service_model
        self._api_names = client.meta.method_to_api_mapping
        self._validator = ParamValidator()
        self.faults = _Faults()
        self.requests = 0
        self.qualification_types: dict[str, str] = {}
        self.hits: dict[str, dict[str, Any]] = {}
        self.assignments: dict[str, dict[str, Any]] = {}
        self.bonuses: list[dict[str, Any]] = []
        self.tokens: set[str] = set()
        self._ids = itertools.count(1)

    # -- plumbing ---------------------------------------------------------------------------
    def _call(self, operation: str, params: dict) -> dict:
        api = self._api_names[operation]
        report = self._validator.validate(params, self._model.operation_model(api).input_shape)
        assert not report.has_errors(), report.generate_report()
        self.requests += 1
        fault = self.faults.take(operation)
        if fault == "throttle":
            raise _client_error("ThrottlingException", "Rate exceeded", api)
        answer = getattr(self, f"_{operation}")(**params)
        if fault == "503-after":
            raise _client_error("ServiceUnavailable", "Service unavailable", api, 503)
        if fault == "timeout-after":
            raise ReadTimeoutError(endpoint_url="https://mturk-requester-sandbox.us-east-1.amazonaws.com")
        return answer

    def __getattr__(self, operation: str):
        if operation.startswith("_") or operation not in self._api_names:
            raise AttributeError(operation)
        return lambda **params: self._call(operation, params)

    def get_paginator(self, operation: str) -> _Paginator:
        return _Paginator(self, operation)

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):0{30 - len(prefix)}d}"

    def _once(self, token: str, api: str) -> None:
        if token in self.tokens:
            raise _client_error(
                "RequestError", "The request you submitted is a duplicate of an earlier one with this token.", api
            )
        self.tokens.add(token)

    def add_assignment(self, assignment_id: str, worker_id: str, hit_id: str) -> None:
        self.assignments[assignment_id] = {
            "AssignmentId": assignment_id,
            "WorkerId": worker_id,
            "HITId": hit_id,
            "AssignmentStatus": "Submitted",
        }

    # -- operations -------------------------------------------------------------------------
    def _create_qualification_type(self, *, Name, **_) -> dict:
        if Name in self.qualification_types:
            raise _client_error("RequestError", "You have already created a QualificationType with this name.", "x")
        self.qualification_types[Name] = self._new_id("QUAL")
        return {"QualificationType": {"QualificationTypeId": self.qualification_types[Name], "Name": Name}}

    def _list_qualification_types(self, *, Query, **_) -> dict:
        found = [{"QualificationTypeId": i, "Name": n} for n, i in self.qualification_types.items() if Query in n]
        return {"QualificationTypes": found}

    def _create_hit_type(self, **params) -> dict:
        return {"HITTypeId": "HITTYPE" + str(abs(hash(json.dumps(params, sort_keys=True, default=str))))[:20]}

    def _create_hit_with_hit_type(self, *, UniqueRequestToken, RequesterAnnotation, **_) -> dict:
        self._once(UniqueRequestToken, "CreateHITWithHITType")
        hit_id = self._new_id("HIT")
        self.hits[hit_id] = {"HITId": hit_id, "RequesterAnnotation": RequesterAnnotation}
        return {"HIT": dict(self.hits[hit_id])}

    def _list_hits(self, **_) -> dict:
        return {"HITs": list(self.hits.values())}

    def _list_assignments_for_hit(self, *, HITId, **_) -> dict:
        return {"Assignments": [a for a in self.assignments.values() if a["HITId"] == HITId]}

    def _get_assignment(self, *, AssignmentId) -> dict:
        return {"Assignment": dict(self.assignments[AssignmentId])}

    def _review(self, assignment_id: str, status: str, api: str) -> dict:
        assignment = self.assignments[assignment_id]
        if assignment["AssignmentStatus"] != "Submitted":
            raise _client_error("RequestError", "This operation can be called with a status of: Submitted", api)
        assignment["AssignmentStatus"] = status
        return {}

    def _approve_assignment(self, *, AssignmentId, **_) -> dict:
        return self._review(AssignmentId, "Approved", "ApproveAssignment")

    def _reject_assignment(self, *, AssignmentId, **_) -> dict:
        return self._review(AssignmentId, "Rejected", "RejectAssignment")

    def _send_bonus(self, *, WorkerId, BonusAmount, AssignmentId, Reason, UniqueRequestToken) -> dict:
        self._once(UniqueRequestToken, "SendBonus")
        self.bonuses.append(
            {"WorkerId": WorkerId, "BonusAmount": BonusAmount, "AssignmentId": AssignmentId, "Reason": Reason}
        )
        return {}

    def _list_bonus_payments(self, *, AssignmentId, **_) -> dict:
        return {"BonusPayments": [b for b in self.bonuses if b["AssignmentId"] == AssignmentId]}

    def _associate_qualification_with_worker(self, **_) -> dict:
        return {}

    def _update_expiration_for_hit(self, **_) -> dict:
        return {}

    def _create_worker_block(self, **_) -> dict:
        return {}


class FakeProlific:
    """Prolific's documented endpoints, served from memory through ``responses`` (activate
    ``responses`` around its use). ``paid`` lists every bulk bonus actually paid."""

    def __init__(self, mock: responses.RequestsMock) -> None:
        self.faults = _Faults()
        self.studies: dict[str, dict[str, Any]] = {}
        self.submissions: dict[str, dict[str, Any]] = {}
        self.bulk_bonuses: dict[str, dict[str, Any]] = {}
        self.paid: list[str] = []
        self.confirm_later = False
        """Prolific pays asynchronously: with this set, a paid bonus shows on the submission
        only after ``confirm_bonuses()``."""
        self._unconfirmed: list[tuple[str, int]] = []
        self.requests = 0
        self._ids = itertools.count(1)
        routes = [
            ("GET", r"/studies/$", "list_studies"),
            ("POST", r"/studies/$", "create_study"),
            ("POST", r"/studies/(?P<id>[^/]+)/transition/$", "transition_study"),
            ("GET", r"/studies/(?P<id>[^/]+)/submissions/$", "list_submissions"),
            ("GET", r"/submissions/(?P<id>[^/]+)/$", "get_submission"),
            ("POST", r"/submissions/bonus-payments/$", "set_up_bonus"),
            ("POST", r"/submissions/(?P<id>[^/]+)/transition/$", "transition_submission"),
            ("POST", r"/bulk-bonus-payments/(?P<id>[^/]+)/pay/$", "pay_bonus"),
        ]
        for method, pattern, name in routes:
            mock.add_callback(method, re.compile(re.escape(API) + pattern), callback=self._serve(pattern, name))

    def _serve(self, pattern: str, name: str):
        def callback(request):
            path = request.url.removeprefix(API).split("?")[0]
            match = re.match(pattern, path)
            body = json.loads(request.body) if request.body else {}
            self.requests += 1
            fault = self.faults.take(name)
            if fault == "throttle":
                return 429, {}, json.dumps({"error": "Too many requests"})
            status, answer = getattr(self, f"_{name}")(body, **match.groupdict())
            if fault == "503-after":
                return 503, {}, json.dumps({"error": "Service unavailable"})
            if fault == "timeout-after":
                raise requests.ReadTimeout("read timed out")
            return status, {"Content-Type": "application/json"}, json.dumps(answer)

        return callback

    def add_submission(self, submission_id: str, participant_id: str, study_id: str) -> None:
        self.submissions[submission_id] = {
            "id": submission_id,
            "participant_id": participant_id,
            "study_id": study_id,
            "status": "AWAITING REVIEW",
            "bonus_payments": [],
        }

    def _list_studies(self, body) -> tuple[int, dict]:
        return 200, {"results": list(self.studies.values())}

    def _create_study(self, body) -> tuple[int, dict]:
        study_id = f"S{next(self._ids)}"
        self.studies[study_id] = {**body, "id": study_id, "status": "UNPUBLISHED"}
        return 201, self.studies[study_id]

    def _transition_study(self, body, id) -> tuple[int, dict]:
        self.studies[id]["status"] = {"PUBLISH": "ACTIVE", "STOP": "COMPLETED"}[body["action"]]
        return 200, self.studies[id]

    def _list_submissions(self, body, id) -> tuple[int, dict]:
        listed = [s for s in self.submissions.values() if s["study_id"] == id]
        return 200, {"results": listed, "_links": {"next": {"href": None}}}

    def _get_submission(self, body, id) -> tuple[int, dict]:
        return 200, self.submissions[id]

    def _transition_submission(self, body, id) -> tuple[int, dict]:
        submission = self.submissions[id]
        if submission["status"] != "AWAITING REVIEW":
            return 400, {"error": {"detail": f"Submission is {submission['status']}"}}
        submission["status"] = {"APPROVE": "APPROVED", "REJECT": "REJECTED"}[body["action"]]
        return 200, submission

    def _set_up_bonus(self, body) -> tuple[int, dict]:
        bonus_id = f"B{next(self._ids)}"
        participant, amount = body["csv_bonuses"].strip().split(",")
        self.bulk_bonuses[bonus_id] = {"id": bonus_id, "participant": participant, "cents": round(float(amount) * 100)}
        return 201, {"id": bonus_id, "study": body["study_id"], "amount": float(amount)}

    def _pay_bonus(self, body, id) -> tuple[int, dict]:
        # Not idempotent, as Prolific documents: every call pays.
        bonus = self.bulk_bonuses[id]
        self.paid.append(id)
        self._unconfirmed.append((bonus["participant"], bonus["cents"]))
        if not self.confirm_later:
            self.confirm_bonuses()
        return 202, {}

    def confirm_bonuses(self) -> None:
        for participant, cents in self._unconfirmed:
            for submission in self.submissions.values():
                if submission["participant_id"] == participant:
                    submission["bonus_payments"].append(cents)
        self._unconfirmed.clear()
