"""Refusals: each bad request gets the right status and an OperationOutcome, and the service stays
healthy afterwards (parametrized table)."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cds_hooks.errors import InvalidRequest
from cds_hooks.wire.feedback import parse_feedback
from cds_hooks.wire.request import parse_request
from service_support import ES, PV, make_app, operation_outcome_issue, patient, request_body


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/fhir"


DOWN = _closed_port_url()
AUTH = {"access_token": "secret-token-value", "token_type": "Bearer", "expires_in": 300, "scope": "user/*.read", "subject": "derm3r"}


def with_(**changes: Any) -> Callable[[], dict]:
    def build() -> dict:
        body = request_body()
        for key, value in changes.items():
            if value is _DROP:
                body.pop(key, None)
            else:
                body[key] = value
        return body

    return build


def context_(**changes: Any) -> Callable[[], dict]:
    def build() -> dict:
        body = request_body()
        for key, value in changes.items():
            if value is _DROP:
                body["context"].pop(key, None)
            else:
                body["context"][key] = value
        return body

    return build


_DROP = object()


@dataclass(frozen=True)
class Case:
    name: str
    status: int
    body: Callable[[], Any] | bytes | None = None
    path: str = f"/cds-services/{PV}"
    method: str = "POST"
    content_type: str | None = "application/json"
    settings: dict = field(default_factory=dict)
    expression: str | None = None


CASES = [
    Case("malformed JSON", 400, b'{"hook": "patient-view",'),
    Case("empty body", 400, b""),
    Case("JSON array instead of object", 400, b"[]"),
    Case("duplicate keys", 400, b'{"hook": "patient-view", "hook": "encounter-start"}'),
    Case("NaN", 400, b'{"hook": NaN}'),
    Case("deep nesting", 400, b"[" * 5000 + b"]" * 5000),
    Case("not UTF-8", 400, b'{"hook": "\xff"}'),
    Case("wrong content type", 415, b"{}", content_type="text/plain"),
    Case("form content type", 415, b"hook=patient-view", content_type="application/x-www-form-urlencoded"),
    Case("no content type", 415, b"{}", content_type=None),
    Case("wrong hook for the service", 400, with_(hook="encounter-start"), expression="hook"),
    Case("unsupported hook", 400, with_(hook="order-sign"), expression="hook"),
    Case("missing hook", 400, with_(hook=_DROP)),
    Case("missing hookInstance", 400, with_(hookInstance=_DROP)),
    Case("hookInstance not a UUID", 400, with_(hookInstance="12345")),
    Case("missing context", 400, with_(context=_DROP), expression="context"),
    Case("context not an object", 400, with_(context="p1"), expression="context"),
    Case("missing context.patientId", 400, context_(patientId=_DROP), expression="context.patientId"),
    Case("missing context.userId", 400, context_(userId=_DROP), expression="context.userId"),
    Case("userId of a wrong type", 400, context_(userId="Device/1"), expression="context.userId"),
    Case("patientId not a FHIR id", 400, context_(patientId="p1&_include=*"), expression="context.patientId"),
    Case("encounterId not a FHIR id", 400, context_(encounterId="../x"), expression="context.encounterId"),
    Case(
        "encounter-start without encounterId",
        400,
        lambda: {**request_body(hook="encounter-start"), "context": {"userId": "Practitioner/u1", "patientId": "p1"}},
        path=f"/cds-services/{ES}",
        expression="context.encounterId",
    ),
    Case("fhirAuthorization without fhirServer", 400, with_(fhirAuthorization=AUTH), expression="fhirServer"),
    Case("fhirServer not a URL", 400, with_(fhirServer="ehr.example.org/fhir")),
    Case("token_type not Bearer", 400, with_(fhirServer="https://ehr.example.org/fhir", fhirAuthorization={**AUTH, "token_type": "MAC"})),
    Case("access_token missing", 400, with_(fhirServer="https://ehr.example.org/fhir", fhirAuthorization={k: v for k, v in AUTH.items() if k != "access_token"})),
    Case("expires_in not an integer", 400, with_(fhirServer="https://ehr.example.org/fhir", fhirAuthorization={**AUTH, "expires_in": "300"})),
    Case("scope missing", 400, with_(fhirServer="https://ehr.example.org/fhir", fhirAuthorization={k: v for k, v in AUTH.items() if k != "scope"})),
    Case("subject missing", 400, with_(fhirServer="https://ehr.example.org/fhir", fhirAuthorization={k: v for k, v in AUTH.items() if k != "subject"})),
    Case(
        "token restricted to another patient",
        400,
        with_(fhirServer="https://ehr.example.org/fhir", fhirAuthorization={**AUTH, "patient": "p2"}),
        expression="fhirAuthorization.patient",
    ),
    Case("prefetch not an object", 400, with_(prefetch=["Patient/p1"])),
    Case("prefetch value not a resource", 400, with_(prefetch={"patient": 42})),
    Case("prefetch Bundle.entry not an array", 400, with_(prefetch={"patient": patient(), "conditions": {"resourceType": "Bundle", "entry": True}}), expression="prefetch.conditions.entry"),
    Case("prefetch Bundle.link not an array", 400, with_(prefetch={"patient": patient(), "conditions": {"resourceType": "Bundle", "link": 1.5}}), expression="prefetch.conditions.link"),
    Case("prefetch patient is another patient", 400, with_(prefetch={"patient": patient("someone-else")}), expression="prefetch.patient"),
    Case("extension not an object", 400, with_(extension="x")),
    Case("no patient prefetch, no fhirServer", 412, with_(prefetch={}), expression="prefetch.patient"),
    Case("patient prefetch null", 412, with_(prefetch={"patient": None}), expression="prefetch.patient"),
    Case(
        "patient prefetch OperationOutcome, fhirServer not allow-listed",
        412,
        with_(prefetch={"patient": {"resourceType": "OperationOutcome", "issue": []}}, fhirServer="https://ehr.example.org/fhir", fhirAuthorization=AUTH),
        expression="prefetch.patient",
    ),
    Case(
        "patient prefetch OperationOutcome, FHIR server down",
        412,
        with_(prefetch={"patient": {"resourceType": "OperationOutcome", "issue": []}}, fhirServer=DOWN, fhirAuthorization=AUTH),
        settings={"fhir_allowlist": (DOWN,), "allow_private_fhir": True},
        expression="prefetch.patient",
    ),
    Case(
        "allow-listed but private fhirServer without DERM3R_ALLOW_PRIVATE_FHIR",
        412,
        with_(prefetch={}, fhirServer=DOWN, fhirAuthorization=AUTH),
        settings={"fhir_allowlist": (DOWN,)},
    ),
    Case("body over the size limit", 413, lambda: {**request_body(), "pad": "x" * 5000}, settings={"max_body_bytes": 4096}),
    Case("unknown service", 404, request_body, path="/cds-services/no-such-service"),
    Case("feedback for an unknown service", 404, lambda: {"feedback": []}, path="/cds-services/no-such-service/feedback"),
    Case("unknown path", 404, None, path="/nothing-here", method="GET"),
    Case("GET on a service", 405, None, method="GET"),
    Case("DELETE on discovery", 405, None, path="/cds-services", method="DELETE"),
    Case("feedback not an array", 400, lambda: {"feedback": {}}, path=f"/cds-services/{PV}/feedback", expression="feedback"),
    Case("auth on and no Authorization header", 401, request_body, settings={"auth_enabled": True}),
    Case("auth on, discovery without a token", 401, None, path="/cds-services", method="GET", settings={"auth_enabled": True}),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_refusal(tmp_path: Path, case: Case) -> None:
    app = make_app(tmp_path, **case.settings)
    client = app.test_client()
    if callable(case.body):
        data: bytes | None = json.dumps(case.body()).encode()
    else:
        data = case.body
    headers = {"Content-Type": case.content_type} if case.content_type else {}
    response = client.open(case.path, method=case.method, data=data, headers=headers)
    assert response.status_code == case.status, response.get_data(as_text=True)[:500]
    issue = operation_outcome_issue(response)
    assert issue["diagnostics"]
    if case.expression is not None:
        assert issue.get("expression") == [case.expression], issue
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "secret-token-value" not in text
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    # and the service is still fine
    assert client.get("/healthz").status_code == 200
    ok = client.post(f"/cds-services/{PV}", json=request_body()) if not case.settings.get("auth_enabled") else None
    assert ok is None or ok.status_code == 200


def test_unexpected_exception_is_a_generic_500(tmp_path: Path) -> None:
    class Broken:
        def assess(self, case):
            raise RuntimeError("boom with patient data 1980-04-02")

    client = make_app(tmp_path, pipeline=Broken()).test_client()
    response = client.post(f"/cds-services/{PV}", json=request_body())
    assert response.status_code == 500
    issue = operation_outcome_issue(response)
    assert issue["diagnostics"] == "internal error"
    assert "1980" not in response.get_data(as_text=True)
    assert client.get("/healthz").status_code == 200


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    body=st.fixed_dictionaries(
        {},
        optional={
            "hook": st.sampled_from(["patient-view", "encounter-start"]) | json_values,
            "hookInstance": st.just("d1577c69-dfbe-44ad-ba6d-3e05e953b2ea") | json_values,
            "context": st.fixed_dictionaries({}, optional={"userId": st.just("Practitioner/1") | json_values, "patientId": st.just("p1") | json_values, "encounterId": json_values}) | json_values,
            "fhirServer": st.just("https://ehr.example.org/fhir") | json_values,
            "fhirAuthorization": json_values,
            "prefetch": json_values,
            "extension": json_values,
        },
    )
)
def test_request_parser_only_ever_refuses_with_invalid_request(body: dict) -> None:
    try:
        parse_request(body, expected_hook="patient-view")
    except InvalidRequest as exc:
        assert exc.status == 400 and exc.message


@settings(max_examples=300, deadline=None)
@given(items=st.lists(json_values | st.fixed_dictionaries({}, optional={"card": st.uuids().map(str) | json_values, "outcome": st.sampled_from(["accepted", "overridden"]) | json_values, "acceptedSuggestions": json_values, "overrideReason": json_values, "outcomeTimestamp": st.just("2026-11-27T10:00:00Z") | json_values}), max_size=3))
def test_feedback_parser_only_ever_refuses_with_invalid_request(items: list) -> None:
    try:
        parse_feedback({"feedback": items})
    except InvalidRequest as exc:
        assert exc.status == 400 and exc.message
