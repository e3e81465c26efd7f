"""Write-back: the assessment card's suggestion, applied to a real FHIR server the way an EHR applies
it, then read back field by field.

Two ways an EHR applies the suggestion are exercised: a plain transaction of the actions' resources
(PUT `Device/<id>` for the Device's `update` action, POST each `create`, `fullUrl` = `urn:uuid:<id>`
so the server rewrites the references between them to the ids it assigns), and derm3r's own
`fhir_mapping.writeback.transaction_bundle` (Device PUT, conditional creates for the rest, so that
applying it twice creates nothing twice). Both together, repeatedly, leave exactly one Device."""

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
    assert actions and all(a.get("description") for a in actions)
    # The shared Device is an update (PUT to its fixed id: idempotent), everything else a create.
    assert [a["type"] for a in actions] == [
        "update" if a["resource"]["resourceType"] == "Device" else "create" for a in actions]
    return [a["resource"] for a in actions]


def _as_ehr_applies_it(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """What a plain EHR builds from the suggestion: one transaction, PUT `Type/id` for the update
    action (the Device), POST for each create action."""
    def request(resource: dict[str, Any]) -> dict[str, str]:
        if resource["resourceType"] == "Device":
            return {"method": "PUT", "url": f"Device/{resource['id']}"}
        return {"method": "POST", "url": resource["resourceType"]}

    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r, "request": request(r)} for r in resources],
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
    """References to delete after the test, so each test sees only the patient's own CarePlans.
    The software Device is left: it has a fixed id and is shared by every assessment (that is
    what keeps it one Device), so another test writing it again just updates it."""
    created: list[str] = []
    yield created
    for reference in reversed(dict.fromkeys(created)):
        if not reference.startswith("Device/"):
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
    assert device_ref == f"Device/{by_type['Device'][0].removeprefix('urn:uuid:')}", "PUT keeps the Device's own id"
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


def _references(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, child in value.items():
            if key == "reference" and isinstance(child, str):
                yield child
            else:
                yield from _references(child)
    elif isinstance(value, list):
        for child in value:
            yield from _references(child)


def test_accepting_twice_then_the_derm3r_bundle_leaves_one_device(
    cds: CdsService, fhir: FhirServer, seeded: dict[str, Seeded], cleanup: list[str]
) -> None:
    """The bug this guards: an EHR applying the card's actions POSTed a new software Device on every
    accepted suggestion, and once two shared the derm3r identifier, derm3r's conditional create
    failed with 412. Two suggestions (two patients' cards: the same card twice would also duplicate
    its Observations, which plain creates cannot avoid) are applied plainly, then derm3r's bundle."""
    first, second = (_suggested_resources(cds, seeded[name]) for name in ("moderate_inline", "stasis_documents"))
    (device,) = [r for r in first if r["resourceType"] == "Device"]
    assert [r for r in second if r["resourceType"] == "Device"] == [device], "one Device for both cards"
    ident = device["identifier"][0]
    written: list[dict[str, str]] = []
    for resources in (first, second):  # two accepted suggestions, applied plainly by the EHR
        written.append(_server_refs(resources, fhir.transaction(_as_ehr_applies_it(resources))))
    # derm3r's own bundle afterwards must still succeed (no 412 from duplicate Devices); its
    # conditional creates find the first card's resources, its Device PUT rewrites the same one.
    written.append(_server_refs(first, fhir.transaction(transaction_bundle(first))))
    for refs in written:
        cleanup.extend(refs.values())

    devices = fhir.search(f"Device?identifier={ident['system']}|{ident['value']}")
    assert [d["id"] for d in devices] == [device["id"]], "exactly one Device with the derm3r identifier"
    assert {refs[f"urn:uuid:{device['id']}"] for refs in written} == {f"Device/{device['id']}"}
    # (R4 Provenance has no identifier to match on, so only it is written again.)
    assert {u: r for u, r in written[2].items() if not r.startswith("Provenance/")} == {
        u: r for u, r in written[0].items() if not r.startswith("Provenance/")}, "nothing else created twice"

    # Every reference in every written resource resolves on the server.
    for refs in written:
        for ref in dict.fromkeys(refs.values()):
            stored = fhir.read(ref)
            for target in dict.fromkeys(_references(stored)):
                if target.startswith("#"):
                    continue  # a contained resource (e.g. the plan's goal), resolved inside `stored`
                assert not target.startswith("urn:uuid:"), f"{ref} kept an unresolved {target}"
                fhir.read(target)
