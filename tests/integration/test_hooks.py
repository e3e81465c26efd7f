"""End to end over real HTTP: an EHR (this test, with a signed ES384 JWT) calls the derm3r CDS
service, which reads the patient's record from a real FHIR R4 server seeded with synthetic patients.

What is checked is what the service fetched (the FHIR server's request log) and what it built from
it (the Case the pipeline received), not just that a card came back."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests

from inference.case import ConditionKey, FindingKey

from .conftest import DEFAULT_ACCESS_TOKEN, ENCOUNTER_START, PATIENT_VIEW, CdsService, FhirServer, Seeded

FETCHED_TYPES = ("Observation", "Media", "Condition", "MedicationStatement", "MedicationRequest", "DocumentReference")


def _cards(response: requests.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, f"HTTP {response.status_code}: {response.text[:1000]}"
    body = response.json()
    assert isinstance(body.get("cards"), list)
    return body["cards"]


def _data_quality(cards: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((c for c in cards if c["source"]["topic"]["code"] == "data-quality"), None)


def _searches(seen: list[dict[str, Any]], resource_type: str) -> list[dict[str, Any]]:
    return [r for r in seen if r["method"] == "GET" and r["path"].rstrip("/").endswith(f"/{resource_type}")]


def _query(request: dict[str, Any]) -> dict[str, list[str]]:
    return parse_qs(request["query"].lstrip("?"))


def _newest_value(patient: Seeded, code: str) -> float:
    observations = [o for o in patient.resources("Observation") if o["code"]["coding"][0]["code"] == code]
    return max(observations, key=lambda o: o["effectiveDateTime"])["valueQuantity"]["value"]


def _photo_bytes(patient: Seeded) -> dict[str, bytes]:
    """Expected bytes of every photo of a seeded patient, by the reference the service should use."""
    binaries = {b["id"]: base64.b64decode(b["data"]) for b in patient.resources("Binary")}
    out: dict[str, bytes] = {}
    for media in patient.resources("Media"):
        content = media["content"]
        out[f"Media/{media['id']}"] = (
            base64.b64decode(content["data"]) if "data" in content else binaries[content["url"].split("/", 1)[1]]
        )
    for document in patient.resources("DocumentReference"):
        out[f"DocumentReference/{document['id']}"] = base64.b64decode(document["content"][0]["attachment"]["data"])
    return out


# ---------------------------------------------------------------- basics


def test_discovery_lists_both_hooks(cds: CdsService) -> None:
    response = cds.get("/cds-services")
    assert response.status_code == 200
    hooks = {s["id"]: s["hook"] for s in response.json()["services"]}
    assert hooks[PATIENT_VIEW] == "patient-view"
    assert hooks[ENCOUNTER_START] == "encounter-start"


def test_a_call_without_the_ehr_jwt_is_refused(cds: CdsService, seeded: dict[str, Seeded]) -> None:
    response = cds.call(PATIENT_VIEW, cds.body(seeded["moderate_inline"]), signed=False)
    assert response.status_code == 401
    assert response.json()["resourceType"] == "OperationOutcome"


def test_a_jwt_for_another_endpoint_is_refused(cds: CdsService, seeded: dict[str, Seeded]) -> None:
    url = f"{cds.base}/cds-services/{PATIENT_VIEW}"
    token = cds.signer.token(f"{cds.base}/cds-services/{ENCOUNTER_START}")  # aud = a different service
    response = cds.session.post(
        url, data=json.dumps(cds.body(seeded["moderate_inline"])), timeout=30,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 401


# ---------------------------------------------------------------- no prefetch: the service fetches


def test_no_prefetch_fetches_everything_and_pages(cds: CdsService, fhir: FhirServer, seeded: dict[str, Seeded]) -> None:
    patient = seeded["moderate_inline"]
    cards = _cards(cds.call(PATIENT_VIEW, cds.body(patient)))
    assert cards

    case = cds.pipeline.last_case(patient.patient_id)
    # 3 visits x ~13 Observations do not fit in a default page of 20: all three PASIs means paging worked.
    assert len(case.history(FindingKey.PASI)) == 3
    assert case.latest(FindingKey.PASI).value == pytest.approx(_newest_value(patient, "pasi"))
    assert {p.ref: p.data for p in case.photos} == _photo_bytes(patient)
    assert {c.key.value for c in case.conditions} >= {"psoriasis"}
    assert {m.key for m in case.medications} >= {"topical_corticosteroid"}

    if fhir.controllable:
        seen = fhir.seen()
        assert any(r["path"].endswith(f"/Patient/{patient.patient_id}") for r in seen)
        for resource_type in FETCHED_TYPES:
            searches = _searches(seen, resource_type)
            assert searches, f"{resource_type} was not fetched"
            assert all(_query(s).get("patient") == [patient.patient_id] for s in searches)
        assert any("_offset" in _query(s) for s in _searches(seen, "Observation")), "the next link was followed"


def test_every_fhir_call_carries_the_ehr_bearer_token(cds: CdsService, fhir: FhirServer, seeded: dict[str, Seeded]) -> None:
    patient = seeded["severe_binary"]  # Binary photos: attachment downloads must carry it too
    fhir.require_token(DEFAULT_ACCESS_TOKEN)
    _cards(cds.call(PATIENT_VIEW, cds.body(patient)))
    seen = fhir.seen()
    assert any("/Binary/" in r["path"] for r in seen)
    assert seen and {r["auth"] for r in seen} == {"valid"}
    assert len(cds.pipeline.last_case(patient.patient_id).photos) == len(patient.resources("Media"))


def test_encounter_start_hook_works_the_same_way(cds: CdsService, fhir: FhirServer, seeded: dict[str, Seeded]) -> None:
    patient = seeded["pregnancy"]
    cards = _cards(cds.call(ENCOUNTER_START, cds.body(patient, hook="encounter-start")))
    assert cards
    case = cds.pipeline.last_case(patient.patient_id)
    assert case.has_condition(ConditionKey.PREGNANCY)
    assert case.latest(FindingKey.PREGNANT).value is True


def test_a_wrong_access_token_means_412(cds: CdsService, fhir: FhirServer, seeded: dict[str, Seeded]) -> None:
    fhir.require_token("a-token-the-ehr-did-not-give-derm3r")
    response = cds.call(PATIENT_VIEW, cds.body(seeded["moderate_inline"]))
    assert response.status_code == 412
    assert response.json()["resourceType"] == "OperationOutcome"
    assert {r["auth"] for r in fhir.seen()} == {"invalid"}


# ---------------------------------------------------------------- prefetch


def test_partial_prefetch_fetches_only_the_missing_keys(cds: CdsService, fhir: FhirServer, seeded: dict[str, Seeded]) -> None:
    patient = seeded["moderate_inline"]
    prefetch = {
        "patient": patient.resources("Patient")[0],
        "observations": patient.searchset("Observation"),
        "conditions": patient.searchset("Condition"),
    }
    _cards(cds.call(PATIENT_VIEW, cds.body(patient, prefetch=prefetch)))
    seen = fhir.seen()
    assert not any("/Patient/" in r["path"] for r in seen)
    assert not _searches(seen, "Observation") and not _searches(seen, "Condition")
    assert _searches(seen, "Media") and _searches(seen, "MedicationStatement")
    case = cds.pipeline.last_case(patient.patient_id)
    assert case.latest(FindingKey.PASI).value == pytest.approx(_newest_value(patient, "pasi"))
    assert len(case.photos) == len(patient.resources("Media"))


def test_full_prefetch_needs_no_fhir_server(cds: CdsService, fhir: FhirServer, seeded: dict[str, Seeded]) -> None:
    patient = seeded["moderate_inline"]
    prefetch = {
        "patient": patient.resources("Patient")[0],
        "observations": patient.searchset("Observation"),
        "media": patient.searchset("Media"),
        "conditions": patient.searchset("Condition"),
        "medicationStatements": patient.searchset("MedicationStatement"),
        "medicationRequests": None,  # spec: null = the EHR has no such data
        "documents": None,
    }
    cards = _cards(cds.call(PATIENT_VIEW, cds.body(patient, prefetch=prefetch, with_fhir_server=False)))
    assert cards
    assert fhir.seen() == []


def test_prefetch_operation_outcome_is_fetched_instead(cds: CdsService, fhir: FhirServer, seeded: dict[str, Seeded]) -> None:
    patient = seeded["moderate_inline"]
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "too-costly", "diagnostics": "prefetch too large"}],
    }
    prefetch = {"patient": patient.resources("Patient")[0], "observations": outcome}
    _cards(cds.call(PATIENT_VIEW, cds.body(patient, prefetch=prefetch)))
    if fhir.controllable:
        assert _searches(fhir.seen(), "Observation")
    case = cds.pipeline.last_case(patient.patient_id)
    assert len(case.history(FindingKey.PASI)) == 3


def test_paginated_prefetch_is_completed_from_the_next_link(cds: CdsService, fhir: FhirServer, seeded: dict[str, Seeded]) -> None:
    patient = seeded["moderate_inline"]
    first_page = fhir.search_page(f"Observation?patient={patient.patient_id}&_count=10")
    assert any(link["relation"] == "next" for link in first_page["link"])
    fhir.reset()
    prefetch = {"patient": patient.resources("Patient")[0], "observations": first_page}
    _cards(cds.call(PATIENT_VIEW, cds.body(patient, prefetch=prefetch)))
    if fhir.controllable:
        assert _searches(fhir.seen(), "Observation"), "the rest was fetched from the next link"
    case = cds.pipeline.last_case(patient.patient_id)
    assert len(case.history(FindingKey.PASI)) == 3


# ---------------------------------------------------------------- photographs by reference


def test_binary_referenced_photos_are_fetched_from_the_server(cds: CdsService, fhir: FhirServer, seeded: dict[str, Seeded]) -> None:
    patient = seeded["severe_binary"]
    _cards(cds.call(PATIENT_VIEW, cds.body(patient)))
    case = cds.pipeline.last_case(patient.patient_id)
    assert {p.ref: p.data for p in case.photos} == _photo_bytes(patient)
    assert all(p.region.value != "unknown" for p in case.photos)


def test_binary_photos_from_prefetched_media(cds: CdsService, fhir: FhirServer, seeded: dict[str, Seeded]) -> None:
    patient = seeded["severe_binary"]
    prefetch = {"patient": patient.resources("Patient")[0], "media": patient.searchset("Media")}
    _cards(cds.call(PATIENT_VIEW, cds.body(patient, prefetch=prefetch)))
    if fhir.controllable:
        assert not _searches(fhir.seen(), "Media")
        assert len([r for r in fhir.seen() if "/Binary/" in r["path"]]) == len(patient.resources("Binary"))
    assert {p.ref: p.data for p in cds.pipeline.last_case(patient.patient_id).photos} == _photo_bytes(patient)


def test_document_reference_photos(cds: CdsService, fhir: FhirServer, seeded: dict[str, Seeded]) -> None:
    patient = seeded["stasis_documents"]
    _cards(cds.call(PATIENT_VIEW, cds.body(patient)))
    case = cds.pipeline.last_case(patient.patient_id)
    assert {p.ref: p.data for p in case.photos} == _photo_bytes(patient)
    assert all(p.ref.startswith("DocumentReference/") for p in case.photos)
    assert all(p.region.value != "unknown" for p in case.photos), "body site from the R5 bodySite extension"


# ---------------------------------------------------------------- a long record


def test_large_record_is_fetched_bounded_and_newest_first(cds: CdsService, fhir: FhirServer, seeded: dict[str, Seeded]) -> None:
    patient = seeded["large"]
    # Bounded by the number of FHIR requests, not by a wall-clock assertion (flaky on a busy machine;
    # the time it takes is bench/'s business).
    cards = _cards(cds.call(PATIENT_VIEW, cds.body(patient)))
    assert cards
    if fhir.controllable:
        seen = fhir.seen()
        assert len(seen) <= 60, f"{len(seen)} FHIR requests for one hook call"
    case = cds.pipeline.last_case(patient.patient_id)
    # Whatever is cut, it must be the oldest data: the assessment is about now.
    assert case.latest(FindingKey.PASI) is not None
    assert case.latest(FindingKey.PASI).value == pytest.approx(_newest_value(patient, "pasi"))
    newest_photo_time = max(m["createdDateTime"] for m in patient.resources("Media"))
    assert case.photos, "the newest photographs must be among those used"
    assert max(p.taken for p in case.photos if p.taken).strftime("%Y-%m-%dT%H:%M:%SZ") == newest_photo_time
    assert len(case.photos) <= 16
