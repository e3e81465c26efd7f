"""Write-back: the assessment card's suggestion, applied to a real FHIR server the way an EHR applies
it, then read back field by field.

Two ways an EHR applies a suggestion of `create` actions are exercised: a plain transaction of the
actions' resources (POST each, `fullUrl` = `urn:uuid:<id>` so the server rewrites the references
between them to the ids it assigns), and derm3r's own `fhir_mapping.writeback.transaction_bundle`
(conditional creates, so that applying it twice creates nothing twice)."""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest

from fhir_mapping import codes
from fhir_mapping.writeback import transaction_bundle

from .conftest import PATIENT_VIEW, CdsService, FhirServer, Seeded

CREATED = ("Device", "Observation", "CarePlan", "Provenance")


def _suggested_resources(cds: CdsService, patient: Seeded) -> list[dict[str, Any]]:
    response = cds.call(PATIENT_VIEW, cds.body(patient))
    assert response.status_code == 200, response.text[:1000]
    cards = [c for c in response.json()["cards"] if c.get("suggestions")]
    assert len(cards) == 1, "exactly one card (the assessment) carries a suggestion"
    card = cards[0]
    assert card["selectionBehavior"] == "at-most-one"
    (suggestion,) = card["suggestions"]
    actions = suggestion["actions"]
    assert actions and all(a["type"] == "create" and a.get("description") for a in actions)
    return [a["resource"] for a in actions]


def _as_ehr_applies_it(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """What an EHR builds from a suggestion of create actions: one transaction, POST per resource."""
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": f"urn:uuid:{r['id']}", "resource": r, "request": {"method": "POST", "url": r["resourceType"]}}
            for r in resources
        ],
    }


def _server_refs(resources: list[dict[str, Any]], response: dict[str, Any]) -> dict[str, str]:
    """urn:uuid of each suggested resource -> "Type/<server id>" from the transaction-response."""
    assert response["resourceType"] == "Bundle" and response["type"] == "transaction-response"
    assert len(response["entry"]) == len(resources)
    refs: dict[str, str] = {}
    for resource, entry in zip(resources, response["entry"]):
        status = entry["response"]["status"]
        assert status.startswith(("200", "201")), status
        location = entry["response"]["location"]
        # "Type/id", "Type/id/_history/v" or an absolute URL ending so.
        parts = location.split("/_history/")[0].rstrip("/").split("/")
        assert parts[-2] == resource["resourceType"]
        refs[f"urn:uuid:{resource['id']}"] = f"{parts[-2]}/{parts[-1]}"
    return refs


@pytest.fixture
def cleanup(fhir: FhirServer) -> Iterator[list[str]]:
    """References to delete after the test. A plain (unconditional) transaction creates a new
    software Device each time; left behind, duplicates would make any later conditional create of
    that Device match twice (HTTP 412), so each test removes what it created."""
    created: list[str] = []
    yield created
    for reference in reversed(created):
        fhir.delete(reference)


APPLY: dict[str, Callable[[list[dict[str, Any]]], dict[str, Any]]] = {
    "ehr-transaction": _as_ehr_applies_it,
    "derm3r-transaction-bundle": transaction_bundle,
}


@pytest.mark.parametrize("how", list(APPLY))
@pytest.mark.parametrize("patient_name", ["moderate_inline", "stasis_documents"])
def test_suggestion_applied_and_read_back(
    cds: CdsService, fhir: FhirServer, seeded: dict[str, Seeded], how: str, patient_name: str, cleanup: list[str]
) -> None:
    patient = seeded[patient_name]
    subject = f"Patient/{patient.patient_id}"
    resources = _suggested_resources(cds, patient)
    kinds = [r["resourceType"] for r in resources]
    assert set(kinds) == set(CREATED), kinds
    assert kinds.count("CarePlan") == 1 and kinds.count("Provenance") == 1

    refs = _server_refs(resources, fhir.transaction(APPLY[how](resources)))
    cleanup.extend(refs.values())

    def read(urn: str) -> dict[str, Any]:
        return fhir.read(refs[urn])

    by_type: dict[str, list[str]] = {}
    for resource in resources:
        by_type.setdefault(resource["resourceType"], []).append(f"urn:uuid:{resource['id']}")
    device_ref = refs[by_type["Device"][0]]
    observation_refs = {refs[u] for u in by_type["Observation"]}
    plan_ref = refs[by_type["CarePlan"][0]]

    # The draft CarePlan.
    plan = read(by_type["CarePlan"][0])
    assert plan["status"] == "draft"
    assert plan["intent"] == "proposal"
    assert plan["subject"]["reference"] == subject
    assert {s["reference"] for s in plan.get("supportingInfo", [])} == observation_refs
    psoriasis = {f"Condition/{c['id']}" for c in patient.resources("Condition")}
    assert {a["reference"] for a in plan.get("addresses", [])} <= psoriasis
    assert plan.get("addresses"), "the plan addresses the patient's psoriasis Condition"

    # The preliminary AI Observations.
    photo_refs = {f"Media/{m['id']}" for m in patient.resources("Media")} | {
        f"DocumentReference/{d['id']}" for d in patient.resources("DocumentReference")
    }
    derived: set[str] = set()
    for urn in by_type["Observation"]:
        observation = read(urn)
        assert observation["status"] == "preliminary"
        assert observation["subject"]["reference"] == subject
        assert observation["device"]["reference"] == device_ref
        tags = {(t.get("system"), t.get("code")) for t in observation.get("meta", {}).get("tag", [])}
        assert (codes.AI_TAG[0], codes.AI_TAG[1]) in tags, "AI output is tagged as AI-asserted"
        for source in observation.get("derivedFrom", []):
            assert source["reference"] in photo_refs
            derived.add(source["reference"])
    assert derived, "the AI Observations point back at the photographs they were read from"
    for reference in derived:
        fhir.read(reference)  # the photographs exist on the server

    # The Provenance.
    provenance = read(by_type["Provenance"][0])
    assert {t["reference"] for t in provenance["target"]} == observation_refs | {plan_ref}
    assert provenance["agent"][0]["who"]["reference"] == device_ref
    assert {e["what"]["reference"] for e in provenance.get("entity", [])} <= photo_refs
    assert provenance["recorded"]

    # Nothing refers to a urn:uuid any more: every reference was rewritten to a server id.
    for urn in refs:
        stored = read(urn)
        assert "urn:uuid:" not in str({k: v for k, v in stored.items() if k != "identifier"})

    # Found by the searches an EHR would use.
    plans = fhir.search(f"CarePlan?patient={patient.patient_id}&status=draft")
    assert plan_ref in {f"CarePlan/{p['id']}" for p in plans}


def test_applying_the_derm3r_bundle_twice_creates_nothing_twice(
    cds: CdsService, fhir: FhirServer, seeded: dict[str, Seeded], cleanup: list[str]
) -> None:
    patient = seeded["psa"]
    resources = _suggested_resources(cds, patient)
    bundle = transaction_bundle(resources)
    first = _server_refs(resources, fhir.transaction(bundle))
    second = _server_refs(resources, fhir.transaction(bundle))
    cleanup.extend({*first.values(), *second.values()})
    for urn, ref in first.items():
        if not ref.startswith("Provenance/"):  # R4 Provenance has no identifier to match on
            assert second[urn] == ref, f"{ref} was created twice"
    plans = fhir.search(f"CarePlan?patient={patient.patient_id}")
    assert len(plans) == 1
