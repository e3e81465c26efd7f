"""The FHIR test server itself: the behaviour the other integration tests rely on (paging links,
raw Binary, validation, conditional create, token check, faults). Most of it is FHIR REST that any
server must do; the fault/token tests skip on an external server."""

from __future__ import annotations

import time

import pytest
import requests

from .conftest import FHIR_JSON, FhirServer, Seeded


def _get(fhir: FhirServer, path: str, **headers: str) -> requests.Response:
    return fhir.session.get(f"{fhir.base}/{path}", headers=fhir._headers(headers), timeout=30)


def test_capability_statement(fhir: FhirServer) -> None:
    response = _get(fhir, "metadata")
    assert response.status_code == 200
    capability = response.json()
    assert capability["resourceType"] == "CapabilityStatement"
    assert capability["fhirVersion"].startswith("4.0")
    types = {r["type"] for r in capability["rest"][0]["resource"]}
    assert {"Patient", "Observation", "Media", "DocumentReference", "Binary", "CarePlan", "Provenance"} <= types


def test_search_pages_with_next_links_in_date_order(fhir: FhirServer, seeded: dict[str, Seeded]) -> None:
    patient = seeded["large"]
    expected = sorted((o["effectiveDateTime"] for o in patient.resources("Observation")), reverse=True)
    page = fhir.search_page(f"Observation?patient={patient.patient_id}&_sort=-date&_count=50")
    assert len(page["entry"]) == 50
    assert [e["resource"]["effectiveDateTime"] for e in page["entry"]] == expected[:50]
    nexts = [link["url"] for link in page["link"] if link["relation"] == "next"]
    assert len(nexts) == 1 and nexts[0].startswith(("http://", "https://"))
    second = fhir.session.get(nexts[0], headers=fhir._headers(), timeout=30).json()
    assert [e["resource"]["effectiveDateTime"] for e in second["entry"]] == expected[50:100]


def test_binary_raw_and_json(fhir: FhirServer, seeded: dict[str, Seeded]) -> None:
    binary = seeded["severe_binary"].resources("Binary")[0]
    raw = _get(fhir, f"Binary/{binary['id']}", Accept="image/jpeg")
    assert raw.status_code == 200
    assert raw.headers["Content-Type"].startswith("image/jpeg")
    assert raw.content[:3] == b"\xff\xd8\xff"
    as_json = _get(fhir, f"Binary/{binary['id']}", Accept=FHIR_JSON).json()
    assert as_json["resourceType"] == "Binary" and as_json["data"] == binary["data"]


def test_raw_binary_upload(fhir: FhirServer) -> None:
    if not fhir.controllable:
        pytest.skip("raw Binary upload is optional in FHIR servers")
    payload = b"\x89PNG\r\n\x1a\n-not-really-a-png"
    created = fhir.session.post(f"{fhir.base}/Binary", data=payload, headers={"Content-Type": "image/png"}, timeout=10)
    assert created.status_code == 201
    location = created.headers["Location"]
    binary_id = location.split("/Binary/")[1].split("/")[0]
    fetched = _get(fhir, f"Binary/{binary_id}", Accept="image/png")
    assert fetched.content == payload and fetched.headers["Content-Type"].startswith("image/png")
    fhir.delete(f"Binary/{binary_id}")


def test_invalid_resources_are_rejected(fhir: FhirServer) -> None:
    bad = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "valueQuantity": {"value": "high"}}
    response = fhir.session.post(f"{fhir.base}/Observation", json=bad, headers=fhir._headers({"Content-Type": FHIR_JSON}), timeout=10)
    assert response.status_code in (400, 422)
    assert response.json()["resourceType"] == "OperationOutcome"


def test_missing_resource_is_404_operation_outcome(fhir: FhirServer) -> None:
    response = _get(fhir, "Patient/does-not-exist-0000")
    assert response.status_code in (404, 410)
    assert response.json()["resourceType"] == "OperationOutcome"


def test_token_check(fhir: FhirServer, seeded: dict[str, Seeded]) -> None:
    fhir.require_token("t0ken")
    reference = f"Patient/{seeded['pregnancy'].patient_id}"
    assert requests.get(f"{fhir.base}/{reference}", timeout=10).status_code == 401
    assert requests.get(f"{fhir.base}/{reference}", headers={"Authorization": "Bearer wrong"}, timeout=10).status_code == 401
    assert requests.get(f"{fhir.base}/{reference}", headers={"Authorization": "Bearer t0ken"}, timeout=10).status_code == 200
    assert [r["auth"] for r in fhir.seen()] == ["none", "invalid", "valid"]


@pytest.mark.parametrize("status", [401, 404, 500])
def test_status_faults_apply_count_times_then_stop(fhir: FhirServer, seeded: dict[str, Seeded], status: int) -> None:
    reference = f"Patient/{seeded['pregnancy'].patient_id}"
    fhir.fault(match=r"^GET /fhir/Patient/", count=2, status=status)
    for _ in range(2):
        response = _get(fhir, reference)
        assert response.status_code == status
        assert response.json()["resourceType"] == "OperationOutcome"
    assert _get(fhir, reference).status_code == 200


def test_garbage_fault_is_not_json(fhir: FhirServer, seeded: dict[str, Seeded]) -> None:
    fhir.fault(match=r"^GET /fhir/Patient/", count=1, garbage=True)
    response = _get(fhir, f"Patient/{seeded['pregnancy'].patient_id}")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith(FHIR_JSON)
    with pytest.raises(ValueError):
        response.json()


def test_slow_and_dropped(fhir: FhirServer, seeded: dict[str, Seeded]) -> None:
    reference = f"Patient/{seeded['pregnancy'].patient_id}"
    fhir.fault(match=r"^GET /fhir/Patient/", count=1, delay_ms=1500)
    started = time.monotonic()
    assert _get(fhir, reference).status_code == 200
    assert time.monotonic() - started >= 1.4
    fhir.fault(match=r"^GET /fhir/Patient/", count=1, drop=True)
    with pytest.raises(requests.ConnectionError):
        _get(fhir, reference)


def test_cors_preflight_and_actual_request(fhir: FhirServer, seeded: dict[str, Seeded]) -> None:
    """A browser client (the CDS Hooks Sandbox, a SMART app) can read the test server directly:
    the preflight for an authorised FHIR read is answered without a token, and the read itself
    carries the CORS headers. Only the loopback test server is checked (an external one has its own
    CORS policy)."""
    if fhir.admin is None:
        pytest.skip("CORS is a property of the loopback test server")
    origin = "http://localhost:8080"
    reference = f"Patient/{seeded['pregnancy'].patient_id}"
    fhir.require_token("t0ken")
    preflight = requests.options(
        f"{fhir.base}/{reference}",
        headers={"Origin": origin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization, accept"},
        timeout=10,
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == origin
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()
    assert fhir.seen() == []  # the preflight is not a FHIR request (no token check, no log)

    read = requests.get(f"{fhir.base}/{reference}", headers={"Origin": origin, "Authorization": "Bearer t0ken"}, timeout=10)
    assert read.status_code == 200
    assert read.headers["Access-Control-Allow-Origin"] == origin
    assert "ETag" in read.headers["Access-Control-Expose-Headers"]

    # Errors carry the headers too, or the browser hides the OperationOutcome from the app.
    refused = requests.get(f"{fhir.base}/{reference}", headers={"Origin": origin}, timeout=10)
    assert refused.status_code == 401 and refused.headers["Access-Control-Allow-Origin"] == origin

    preflight_post = requests.options(
        fhir.base, headers={"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}, timeout=10
    )
    assert preflight_post.status_code == 204 and "POST" in preflight_post.headers["Access-Control-Allow-Methods"]
