"""Malformed and hostile request bodies against the real app. Each must be refused at the edge
(the test app's pipeline answers 503 if reached) with a 4xx OperationOutcome, cheaply (a bounded
number of function calls, linear in the body size)."""

from __future__ import annotations

import io
import json
import sys
import uuid
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import pytest

from cds_hooks.limits import MAX_PREFETCH_ENTRIES
from security_support import BASE_URL, SERVICE_ID, Signer, assert_operation_outcome, hook_body, synthetic_patient

URL = f"/cds-services/{SERVICE_ID}"
FEEDBACK_URL = f"{URL}/feedback"
JSON = "application/json"


# Work budget of one refused request, in Python function calls (deterministic, unlike seconds).
CALL_BUDGET_FIXED = 50_000
CALL_BUDGET_PER_BYTE = 2


@contextmanager
def counted_calls() -> Iterator[Callable[[], int]]:
    """Counts the Python and C function calls made in this thread inside the block (the Flask test
    client runs the whole request in the calling thread)."""
    count = 0

    def profile(frame: Any, event: str, arg: Any) -> None:
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    sys.setprofile(profile)
    try:
        yield lambda: count
    finally:
        sys.setprofile(None)


def _valid() -> dict[str, Any]:
    return hook_body(synthetic_patient(visits=1))


def _with(**changes: Any) -> Callable[[], bytes]:
    def build() -> bytes:
        body = _valid()
        for key, value in changes.items():
            if value is _DELETE:
                body.pop(key, None)
            else:
                body[key] = value
        return json.dumps(body).encode()

    return build


def _context(**changes: Any) -> Callable[[], bytes]:
    def build() -> bytes:
        body = _valid()
        body["context"].update(changes)
        return json.dumps(body).encode()

    return build


_DELETE = object()

# (family, case, body builder, content type, expected statuses)
CASES: list[tuple[str, str, Callable[[], bytes], str, set[int]]] = [
    ("syntax", "truncated", lambda: json.dumps(_valid()).encode()[:-7], JSON, {400}),
    ("syntax", "trailing garbage", lambda: json.dumps(_valid()).encode() + b"}}", JSON, {400}),
    ("syntax", "two documents", lambda: b"{}{}", JSON, {400}),
    ("syntax", "single quotes", lambda: b"{'hook': 'patient-view'}", JSON, {400}),
    ("syntax", "javascript comment", lambda: b'{"hook": /* x */ "patient-view"}', JSON, {400}),
    ("syntax", "trailing comma", lambda: b'{"hook": "patient-view",}', JSON, {400}),
    ("syntax", "empty body", lambda: b"", JSON, {400}),
    ("encoding", "utf-16", lambda: json.dumps(_valid()).encode("utf-16"), JSON, {400}),
    ("encoding", "utf-8 BOM", lambda: b"\xef\xbb\xbf" + json.dumps(_valid()).encode(), JSON, {400}),
    ("encoding", "invalid utf-8", lambda: b'{"hook": "\xff\xfe"}', JSON, {400}),
    ("encoding", "lone surrogate", lambda: b'{"hook": "patient-view", "hookInstance": "\\ud83d"}', JSON, {400}),
    ("encoding", "NUL in string", lambda: json.dumps({**_valid(), "hookInstance": "a\x00b"}).encode(), JSON, {400}),
    ("numbers", "NaN", lambda: b'{"hook": NaN}', JSON, {400}),
    ("numbers", "Infinity", lambda: b'{"hook": Infinity}', JSON, {400}),
    ("numbers", "1e999", lambda: b'{"hook": 1e999}', JSON, {400}),
    ("numbers", "10^5000 integer", lambda: b'{"hook": 1' + b"0" * 5000 + b"}", JSON, {400}),
    ("structure", "array top level", lambda: b"[1, 2, 3]", JSON, {400}),
    ("structure", "string top level", lambda: b'"patient-view"', JSON, {400}),
    ("structure", "null top level", lambda: b"null", JSON, {400}),
    ("structure", "duplicate keys (hook twice)", lambda: b'{"hook": "patient-view", "hook": "order-sign"}', JSON, {400}),
    ("structure", "deep arrays 100k", lambda: b"[" * 100_000 + b"]" * 100_000, JSON, {400}),
    ("structure", "deep objects 20k", lambda: b'{"a":' * 20_000 + b"1" + b"}" * 20_000, JSON, {400}),
    ("structure", "deep nesting inside prefetch", lambda: json.dumps({**_valid(), "prefetch": {"patient": _nest(80)}}).encode(), JSON, {400}),
    ("size", "body over the limit", lambda: b'{"pad": "' + b"x" * (2 * 1024 * 1024) + b'"}', JSON, {413}),
    ("size", "100k keys", lambda: json.dumps({f"k{i}": i for i in range(60_000)}).encode(), JSON, {400}),
    ("content-type", "text/plain", lambda: json.dumps(_valid()).encode(), "text/plain", {415}),
    ("content-type", "form encoded", lambda: b"hook=patient-view", "application/x-www-form-urlencoded", {415}),
    ("content-type", "multipart", lambda: b"--x\r\n\r\n--x--", "multipart/form-data; boundary=x", {415}),
    ("content-type", "xml", lambda: b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><x>&e;</x>", "application/xml", {415}),
    ("model", "wrong hook", _with(hook="order-sign"), JSON, {400}),
    ("model", "hookInstance not a uuid", _with(hookInstance="'; DROP TABLE feedback; --"), JSON, {400}),
    ("model", "missing context", _with(context=_DELETE), JSON, {400}),
    ("model", "context is a string", _with(context="patient"), JSON, {400}),
    ("model", "patientId path traversal", _context(patientId="../../Binary/secret"), JSON, {400}),
    ("model", "patientId with query", _context(patientId="p1?_include=*"), JSON, {400}),
    ("model", "patientId 10k chars", _context(patientId="a" * 10_000), JSON, {400}),
    ("model", "userId of wrong type", _context(userId="Device/1"), JSON, {400}),
    ("model", "fhirAuthorization without fhirServer", _with(fhirAuthorization={"access_token": "x", "token_type": "Bearer", "expires_in": 1, "scope": "s", "subject": "s"}), JSON, {400}),
    ("model", "fhirServer not a URL", _with(fhirServer="javascript:alert(1)"), JSON, {400}),
    ("prefetch", "prefetch is an array", _with(prefetch=[1, 2]), JSON, {400}),
    ("prefetch", "200 prefetch keys", _with(prefetch={f"k{i}": None for i in range(200)}), JSON, {400, 413}),
    ("prefetch", "too many entries", _with(prefetch={"observations": {"resourceType": "Bundle", "type": "searchset", "entry": [{}] * (MAX_PREFETCH_ENTRIES + 1)}}), JSON, {413}),
    ("prefetch", "prefetch value a number", _with(prefetch={"patient": 42}), JSON, {400}),
]


def _nest(depth: int) -> Any:
    value: Any = {"resourceType": "Patient"}
    for _ in range(depth):
        value = {"extension": [value]}
    return value


@pytest.fixture()
def client(edge_app: Any) -> Any:
    return edge_app(max_body_bytes=1024 * 1024).test_client()


@pytest.mark.parametrize(("family", "case", "build", "content_type", "expected"), CASES, ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_hostile_body_refused_at_edge(
    client: Any, signer: Signer, family: str, case: str, build: Callable[[], bytes], content_type: str, expected: set[int]
) -> None:
    body = build()
    with counted_calls() as calls:
        response = client.post(URL, data=body, headers={**signer.header(), "Content-Type": content_type})
    assert response.status_code in expected, f"{response.status_code}: {response.data[:300]!r}"
    assert_operation_outcome(response)
    # Refusing is cheap: work linear in the body, with a fixed allowance for the request itself (a
    # parser that recursed per nesting level or went quadratic in keys would blow this budget).
    assert calls() <= CALL_BUDGET_FIXED + CALL_BUDGET_PER_BYTE * len(body), f"{case}: {calls()} calls for {len(body)} bytes"


def test_chunked_body_over_limit_without_content_length(client: Any, signer: Signer) -> None:
    """No Content-Length (chunked transfer, as gunicorn passes it: wsgi.input_terminated): the
    limit must still hold while streaming, not after buffering everything."""
    stream = io.BytesIO(b'{"pad": "' + b"x" * (4 * 1024 * 1024) + b'"}')
    response = client.post(
        URL,
        input_stream=stream,
        headers={**signer.header(), "Content-Type": JSON, "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    assert_operation_outcome(response)


def test_hostile_feedback_refused(client: Any, signer: Signer) -> None:
    headers = {**signer.header(BASE_URL + FEEDBACK_URL), "Content-Type": JSON}
    many = {"feedback": [{"card": str(uuid.uuid4()), "outcome": "accepted", "outcomeTimestamp": "2026-11-27T10:00:00Z"}] * 5000}
    for body in (b"[]", b'{"feedback": "x"}', json.dumps(many).encode(), b'{"feedback": [{"card": 1}]}'):
        response = client.post(FEEDBACK_URL, data=body, headers=headers)
        assert 400 <= response.status_code < 500, response.data[:200]
        assert_operation_outcome(response)
        headers = {**signer.header(BASE_URL + FEEDBACK_URL), "Content-Type": JSON}


def test_prefetch_content_not_echoed_in_errors(client: Any, signer: Signer) -> None:
    marker = "<script>alert('xss-marker')</script>"
    body = _valid()
    body["context"]["patientId"] = marker
    response = client.post(URL, json=body, headers=signer.header())
    assert response.status_code == 400
    assert marker not in response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("application/json")
