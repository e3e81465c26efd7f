"""FHIR server failures, injected in the real test server, as the CDS service meets them over HTTP.

The rule under test (CDS Hooks 2.0.1): data the service cannot work without (the Patient) ->
HTTP 412 with an OperationOutcome; anything else -> an answer built from what was available plus a
data-quality card saying what is missing. Never a hang: every call ends at the service's request
deadline, before a slow server answers, even when the server never answers."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from inference.case import FindingKey

from .conftest import PATIENT_VIEW, CdsService, FhirServer, Seeded

FOREVER = -1  # fault count: until the test ends
SLOW_MS = 15_000  # far beyond the strict service's per-call timeout and request deadline


def _service(request: pytest.FixtureRequest, fault: dict[str, Any]) -> CdsService:
    """The strict (production-like timings) service for slow-server faults, where the deadline is
    what is tested; the generous one otherwise, so that a busy machine cannot fail a test by
    making a healthy call slow."""
    return request.getfixturevalue("cds_strict" if fault.get("delay_ms") else "cds")


def _call(cds: CdsService, patient: Seeded, **body: Any) -> Any:
    """One hook call. A hang is a failure, detected by the client's timeout rather than a measured
    duration: when the service's deadline is shorter than the slow server's delay, the client gives up
    just before that server would answer, so any answer at all shows that the service stopped waiting
    at its own deadline (the tests then check the answer says what could not be fetched)."""
    deadline = cds.settings.request_deadline_seconds
    slow_server = SLOW_MS / 1000
    timeout = slow_server - 1 if deadline < slow_server - 1 else deadline + 30
    try:
        return cds.call(PATIENT_VIEW, cds.body(patient, **body), timeout=timeout)
    except requests.Timeout:
        pytest.fail(f"no answer within {timeout:.0f}s: the service waited instead of keeping to its {deadline:.0f}s deadline")


def _data_quality_text(response: Any) -> str:
    assert response.status_code == 200, f"HTTP {response.status_code}: {response.text[:500]}"
    cards = response.json()["cards"]
    card = next((c for c in cards if c["source"]["topic"]["code"] == "data-quality"), None)
    assert card is not None, f"no data-quality card in {[c['summary'] for c in cards]}"
    return card.get("detail", "")


PATIENT_READ = r"^GET /fhir/Patient/"


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param({"status": 401}, id="401"),
        pytest.param({"status": 403}, id="403"),
        pytest.param({"status": 404}, id="404"),
        pytest.param({"status": 500}, id="500"),
        pytest.param({"status": 503}, id="503"),
        pytest.param({"delay_ms": SLOW_MS}, id="slow"),
        pytest.param({"garbage": True}, id="garbage-body"),
        pytest.param({"drop": True}, id="connection-dropped"),
    ],
)
def test_patient_unavailable_is_412(
    request: pytest.FixtureRequest, fhir: FhirServer, seeded: dict[str, Seeded], fault: dict[str, Any]
) -> None:
    fhir.fault(match=PATIENT_READ, count=FOREVER, **fault)
    response = _call(_service(request, fault), seeded["moderate_inline"])
    assert response.status_code == 412, response.text[:500]
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["severity"] in {"error", "fatal"}


def test_everything_slow_is_412_within_the_deadline(cds_strict: CdsService, fhir: FhirServer, seeded: dict[str, Seeded]) -> None:
    fhir.fault(count=FOREVER, delay_ms=SLOW_MS)
    response = _call(cds_strict, seeded["moderate_inline"])
    assert response.status_code == 412


@pytest.mark.parametrize(
    ("match", "fault", "label"),
    [
        pytest.param(r"^GET /fhir/Observation\?", {"status": 500}, "Observations", id="observations-500"),
        pytest.param(r"^GET /fhir/Observation\?", {"status": 401}, "Observations", id="observations-401"),
        pytest.param(r"^GET /fhir/Observation\?", {"delay_ms": SLOW_MS}, "Observations", id="observations-slow"),
        pytest.param(r"^GET /fhir/Observation\?", {"garbage": True}, "Observations", id="observations-garbage"),
        pytest.param(r"^GET /fhir/Observation\?.*_offset=", {"status": 500}, "Observations", id="observations-page-2-500"),
        pytest.param(r"^GET /fhir/Media\?", {"status": 404}, "photographs", id="media-404"),
        pytest.param(r"^GET /fhir/Condition\?", {"drop": True}, "Conditions", id="conditions-dropped"),
        pytest.param(r"^GET /fhir/MedicationStatement\?", {"status": 500}, "Medication", id="medications-500"),
    ],
)
def test_optional_data_unavailable_gives_a_data_quality_card(
    request: pytest.FixtureRequest, fhir: FhirServer, seeded: dict[str, Seeded], match: str, fault: dict[str, Any], label: str
) -> None:
    patient = seeded["moderate_inline"]
    fhir.fault(match=match, count=FOREVER, **fault)
    response = _call(_service(request, fault), patient)
    detail = _data_quality_text(response)
    assert label in detail
    assert "could not be retrieved" in detail


def test_failed_photo_download_is_reported_and_the_rest_is_used(cds: CdsService, fhir: FhirServer, seeded: dict[str, Seeded]) -> None:
    patient = seeded["severe_binary"]
    broken = patient.resources("Binary")[0]["id"]
    fhir.fault(match=rf"^GET /fhir/Binary/{broken}", count=FOREVER, status=500)
    response = _call(cds, patient)
    _data_quality_text(response)
    case = cds.pipeline.last_case(patient.patient_id)
    assert len(case.photos) == len(patient.resources("Media")) - 1
    assert case.latest(FindingKey.PASI) is not None


def test_garbage_photo_bytes_are_reported_not_crashed_on(cds: CdsService, fhir: FhirServer, seeded: dict[str, Seeded]) -> None:
    patient = seeded["severe_binary"]
    fhir.fault(match=r"^GET /fhir/Binary/", count=FOREVER, garbage=True)
    response = _call(cds, patient)
    assert response.status_code == 200
    assert response.json()["cards"]


def test_a_transient_error_does_not_stick(cds: CdsService, fhir: FhirServer, seeded: dict[str, Seeded]) -> None:
    """One failed call must not poison the next (no cached failure, no leaked connection)."""
    patient = seeded["moderate_inline"]
    fhir.fault(match=PATIENT_READ, count=1, status=500)
    first = _call(cds, patient)
    second = _call(cds, patient)
    assert first.status_code == 412
    assert second.status_code == 200
