"""Assessment -> the FHIR resources the service proposes to create, and a transaction Bundle of them.

`assessment_resources` returns, in order: the software Device, the preliminary AI Observations, the
draft CarePlan and the Provenance. Each has a deterministic uuid `id`; they reference each other as
`urn:uuid:<id>`, which is what a transaction Bundle's `fullUrl`s resolve (and what an EHR accepting
CDS `create` actions rewrites), except the Device: it is written by PUT to `Device/<id>` (idempotent,
one Device however often a suggestion is accepted) and referenced literally as `Device/<id>`.
Every resource is validated against FHIR R4 before it is returned: an invalid one is a bug here and
raises `InvalidResource`.
"""

from __future__ import annotations

import uuid
from typing import Iterable, Sequence

from inference.results import Assessment

from fhir_mapping import codes, r4
from fhir_mapping.ai_observation import ai_observations
from fhir_mapping.careplan import care_plan
from fhir_mapping.device import SOFTWARE_NAME, device_reference, software_device
from fhir_mapping.emit import NAMESPACE, is_literal_reference, resource_id, urn
from fhir_mapping.provenance import provenance
from fhir_mapping.queries import PHOTO_TYPES
from fhir_mapping.safe_text import sanitise_resource
from inference.i18n import t


def _source_refs(assessment: Assessment) -> list[str]:
    rep = assessment.representation
    if rep is None:
        return []
    return [p.photo_ref for p in rep.photos if p.quality.usable and is_literal_reference(p.photo_ref, *PHOTO_TYPES)]


def assessment_resources(assessment: Assessment, *, condition_refs: Sequence[str] = ()) -> list[dict]:
    """Device, AI Observations, draft CarePlan and Provenance for `assessment` (all valid R4).

    `condition_refs`: the patient's psoriasis Condition references for CarePlan.addresses (see
    `fhir_mapping.case_builder.psoriasis_condition_refs`).
    """
    patient_ref, as_of = assessment.patient_ref, assessment.as_of
    device = software_device(assessment.model_version, assessment.knowledge_version)
    observations = ai_observations(assessment.representation, patient_ref=patient_ref, as_of=as_of,
                                   device_id=device["id"])
    observations = list({o["id"]: o for o in observations}.values())  # one per photo even if listed twice
    plan = care_plan(assessment, resource_id=resource_id(patient_ref, as_of, "careplan"),
                     supporting_refs=[urn(o["id"]) for o in observations],
                     condition_refs=[ref for ref in condition_refs if is_literal_reference(ref, "Condition")])
    created = [*observations, plan]
    prov = provenance(resource_id=resource_id(patient_ref, as_of, "provenance"),
                      target_refs=[urn(r["id"]) for r in created], device_id=device["id"],
                      device_display=t("{SOFTWARE_NAME} {model_version}", SOFTWARE_NAME=SOFTWARE_NAME, model_version=assessment.model_version).strip(),
                      as_of=as_of, source_refs=_source_refs(assessment))
    # Every readable text made safe in one place (markdown escaped in Annotation.text, links defanged,
    # control/bidi characters removed), whichever mapper wrote it: record text reaches the EHR here.
    resources = [sanitise_resource(r) for r in (device, *created, prov)]
    for resource in resources:
        r4.require_valid(resource)
    return resources


def _if_none_exist(resource: dict) -> str | None:
    for ident in resource.get("identifier") or ():
        if ident.get("system") == codes.DERM3R_IDENTIFIER:
            return f"identifier={codes.DERM3R_IDENTIFIER}|{ident['value']}"
    return None  # Provenance has no identifier in R4: a retried transaction may duplicate it


def transaction_bundle(resources: Iterable[dict]) -> dict:
    """A FHIR transaction Bundle that creates `resources` (conditional creates where possible, so a
    retried transaction does not duplicate them; the Device by PUT to its deterministic id, so it
    stays one even beside Devices written by an EHR applying the card's actions). Validated against R4."""
    items = list(resources)
    entries = []
    for resource in items:
        request: dict[str, str]
        if resource["resourceType"] == "Device":
            request = {"method": "PUT", "url": device_reference(resource)}
        else:
            request = {"method": "POST", "url": resource["resourceType"]}
            query = _if_none_exist(resource)
            if query:
                request["ifNoneExist"] = query
        entries.append({"fullUrl": urn(resource["id"]), "resource": resource, "request": request})
    bundle_id = str(uuid.uuid5(NAMESPACE, "bundle|" + "|".join(sorted(r["id"] for r in items))))
    bundle = {"resourceType": "Bundle", "id": bundle_id, "type": "transaction", "entry": entries}
    r4.require_valid(bundle)
    return bundle
