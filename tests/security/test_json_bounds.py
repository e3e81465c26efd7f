"""Issue 12, problems 5, 7 and 8 (parsing), and their family: every JSON reader - the hook, the CDS
feedback endpoint, the review app's feedback, and every FHIR server answer - is strict (no NaN, no
duplicate keys) and bounded in size, depth and *number of values* before Python objects are built
(a 30 MB body of `[],` took 1.3-1.7 GB), including chunked bodies counted while streaming."""

from __future__ import annotations

import io
import json
import resource
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from security_support import (
    BASE_URL,
    SERVICE_ID,
    AcceptingFhir,
    Canary,
    Signer,
    assert_operation_outcome,
    hook_body,
    synthetic_patient,
)

from cds_hooks.review import ReviewStore, review_blueprint
from cds_hooks.review.access import TokenVerifier
from cds_hooks.settings import Settings
from fhir_mapping.client import FhirClient
from fhir_mapping.errors import FhirBadResponse
from fhir_mapping.strict_json import DEFAULT_MAX_VALUES, JsonRejected, loads_strict

URL = f"/cds-services/{SERVICE_ID}"
FEEDBACK_URL = f"{URL}/feedback"
JSON = "application/json"
REVIEW_FHIR = "https://ehr.json-tests.example/fhir"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _tiny_values(unit: bytes, count: int) -> bytes:
    return unit * (count - 1) + unit.rstrip(b",")


# The red team's body and its relatives: many values, each tiny, all under the byte limit.
TINY = {
    "empty arrays": b"[],",
    "empty objects": b"{},",
    "zeros": b"0,",
    "empty strings": b'"",',
    "nulls": b"null,",
    "object members": None,  # built below: {"a0":0,"a1":0,...}
}


def _bomb(kind: str, count: int) -> bytes:
    if kind == "object members":
        inner = b",".join(b'"k%d":0' % i for i in range(count))
        return b'{"hook": "patient-view", "extension": {' + inner + b"}}"
    return b'{"hook": "patient-view", "extension": [' + _tiny_values(TINY[kind], count) + b"]}"  # type: ignore[operator]


@pytest.fixture(scope="module")
def client(module_app: Any) -> Any:
    return module_app.test_client()


# -- problem 5 and family: the CDS endpoints --------------------------------------------------------------


def test_red_team_body_30_mb_of_empty_arrays_is_refused_before_parsing(client: Any, signer: Signer) -> None:
    body = _bomb("empty arrays", 10_000_000)  # 30 MB, under the 32 MiB body limit
    assert len(body) < 32 * 1024 * 1024
    before = _peak_rss_mb()
    response = client.post(URL, data=body, headers={**signer.header(), "Content-Type": JSON})
    assert response.status_code == 413
    assert_operation_outcome(response)
    # Before the fix: +1.3-1.7 GB. Now the bytes (30 MB) and the decoded text at most.
    assert _peak_rss_mb() - before < 400


@pytest.mark.parametrize("kind", list(TINY))
@pytest.mark.parametrize("endpoint", ["hook", "feedback"])
def test_tiny_value_bodies_on_every_cds_endpoint(client: Any, signer: Signer, kind: str, endpoint: str) -> None:
    url = URL if endpoint == "hook" else FEEDBACK_URL
    response = client.post(url, data=_bomb(kind, DEFAULT_MAX_VALUES + 10), headers={**signer.header(BASE_URL + url), "Content-Type": JSON})
    assert response.status_code == 413, response.data[:200]
    assert_operation_outcome(response)


def test_values_in_strings_do_not_count(client: Any, signer: Signer) -> None:
    """The quick count is an upper bound; commas inside strings (narratives, photos) are recounted
    exactly, so a legitimate body full of punctuation in text is not refused."""
    body = hook_body(synthetic_patient(visits=1))
    body["extension"] = {"note": "[],{}:" * (DEFAULT_MAX_VALUES // 3)}
    raw = json.dumps(body).encode()
    response = client.post(URL, data=raw, headers={**signer.header(), "Content-Type": JSON})
    assert response.status_code == 200, response.data[:200]


# -- problem 8: the review app's feedback parsed loosely ---------------------------------------------------


@pytest.fixture()
def review(tmp_path: Path) -> tuple[Any, str, list]:
    from tests.smart.case_data import build_case, draft_resources, hand_built_assessment

    settings = Settings(data_dir=tmp_path, fhir_allowlist=(REVIEW_FHIR,))
    store = ReviewStore(tmp_path)
    case = build_case()
    assessment = hand_built_assessment(case)
    record_id = store.put(assessment, case, draft_resources(assessment), fhir_server=REVIEW_FHIR, service_id="derm3r-patient-view", card_uuid="7c1d0f52-6f7e-4c1e-9d55-2b5e8a9e0c11")
    received: list = []
    app = Flask(__name__)
    app.register_blueprint(review_blueprint(settings, store, verifier=TokenVerifier(settings, session=AcceptingFhir()),  # type: ignore[arg-type]
                                            feedback_sink=lambda s, i: received.append(i) or True))
    return app.test_client(), f"/app/api/assessments/{record_id}/feedback", received


AUTH = {"Authorization": "Bearer smart-token"}
GOOD = {"outcome": "accepted", "section": "overall"}


@pytest.mark.parametrize(
    ("case", "body", "status"),
    [
        ("5,000-level nesting", b'{"outcome": "accepted", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}", 400),
        ("NaN", b'{"outcome": "accepted", "x": NaN}', 400),
        ("Infinity", b'{"outcome": "accepted", "x": -Infinity}', 400),
        ("1e999", b'{"outcome": "accepted", "x": 1e999}', 400),
        ("duplicate key (outcome twice)", b'{"outcome": "overridden", "outcome": "accepted"}', 400),
        ("lone surrogate", b'{"outcome": "accepted", "comment": "\\ud800"}', 400),
        ("not UTF-8", b'{"outcome": "accepted", "comment": "\xff"}', 400),
        ("BOM", '\ufeff{"outcome": "accepted"}'.encode(), 400),
        ("trailing garbage", b'{"outcome": "accepted"} x', 400),
        ("17 KB with Content-Length", json.dumps({**GOOD, "comment": "x" * 17000}).encode(), 413),
        ("tiny values under 16 KB but deep", b'{"outcome": "accepted", "x": ' + b"[" * 100 + b"]" * 100 + b"}", 400),
    ],
)
def test_review_feedback_is_strict(review: tuple[Any, str, list], case: str, body: bytes, status: int) -> None:
    client, url, received = review
    response = client.post(url, data=body, headers={**AUTH, "Content-Type": JSON})
    assert response.status_code == status, (case, response.data[:200])
    assert response.get_json()["resourceType"] == "OperationOutcome"
    assert received == []


def test_review_feedback_chunked_body_is_capped_while_streaming(review: tuple[Any, str, list]) -> None:
    """The red team's 12.5 MB chunked body (no Content-Length) against the 16 KiB cap."""
    client, url, received = review
    stream = io.BytesIO(b'{"outcome": "accepted", "comment": "' + b"x" * (12_500_000) + b'"}')
    response = client.post(url, input_stream=stream, headers={**AUTH, "Content-Type": JSON, "Transfer-Encoding": "chunked"},
                           environ_overrides={"wsgi.input_terminated": True})
    assert response.status_code == 413 and received == []


def test_review_feedback_wrong_content_type(review: tuple[Any, str, list]) -> None:
    client, url, received = review
    response = client.post(url, data=json.dumps(GOOD), headers={**AUTH, "Content-Type": "text/plain"})
    assert response.status_code == 415 and received == []


def test_review_feedback_valid_body_still_works(review: tuple[Any, str, list]) -> None:
    client, url, received = review
    response = client.post(url, data=json.dumps(GOOD), headers={**AUTH, "Content-Type": JSON})
    assert response.status_code == 201 and len(received) == 1


# -- problem 7 and family: hostile JSON from an allow-listed FHIR server ---------------------------------

HOSTILE_FHIR = {
    "100,000-level nesting (red team)": b'{"resourceType": "Bundle", "entry": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "100,000-level object nesting": b'{"resourceType": "Bundle", "x": ' + b'{"a":' * 100_000 + b"0" + b"}" * 100_000 + b"}",
    "NaN": b'{"resourceType": "Bundle", "total": NaN}',
    "duplicate resourceType": b'{"resourceType": "Bundle", "resourceType": "Patient"}',
    "1,000,000 tiny values": b'{"resourceType": "Bundle", "x": [' + _tiny_values(b"[],", 1_000_000) + b"]}",
    "lone surrogate": b'{"resourceType": "Bundle", "x": "\\udc00"}',
    "not UTF-8": b'{"resourceType": "Bundle", "x": "\xfe"}',
}


@pytest.mark.parametrize("case", list(HOSTILE_FHIR))
def test_fhir_client_turns_hostile_json_into_a_typed_error(canary: Canary, case: str) -> None:
    canary.routes["/Observation"] = (200, {"Content-Type": "application/fhir+json"}, HOSTILE_FHIR[case])
    client = FhirClient(canary.url, access_token=None, timeout=5.0, allowlist=[canary.url])
    with pytest.raises(FhirBadResponse):
        client.search("Observation?patient=p1")


@pytest.mark.parametrize("case", list(HOSTILE_FHIR))
def test_hostile_fhir_json_through_the_full_hook_is_never_a_5xx(make_app: Any, canary: Canary, signer: Signer, case: str) -> None:
    bundle = synthetic_patient(visits=1)
    body = hook_body(bundle, fhir_server=canary.url, with_token=True)
    del body["prefetch"]["observations"]  # fetched from the hostile server
    canary.routes["/Observation"] = (200, {"Content-Type": "application/fhir+json"}, HOSTILE_FHIR[case])
    app = make_app(fhir_allowlist=(canary.url,), allow_private_fhir=True)
    response = app.test_client().post(URL, json=body, headers=signer.header())
    assert response.status_code == 200, (case, response.status_code, response.data[:300])
    assert "Observations" in response.get_data(as_text=True)  # the data-quality card names what is missing


def test_loads_strict_reports_the_kind_of_problem() -> None:
    with pytest.raises(JsonRejected) as too_many:
        loads_strict(b"[" + _tiny_values(b"0,", 20) + b"]", max_bytes=1000, max_values=10)
    assert too_many.value.too_large
    with pytest.raises(JsonRejected) as deep:
        loads_strict(b"[" * 100 + b"]" * 100, max_bytes=1000)
    assert not deep.value.too_large
    assert loads_strict(b'{"a": "[,,,{{{:::"}', max_bytes=1000, max_values=3) == {"a": "[,,,{{{:::"}
