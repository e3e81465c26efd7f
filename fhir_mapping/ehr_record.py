"""Builders for the resources of a patient's record as an EHR holds it: Patient, Encounter,
Condition, MedicationStatement, Observation (clinician-entered findings), Media, Binary and
DocumentReference photographs.

The service itself never writes these (its output is the assessment: `writeback`); synthetic
patients (`cds_hooks.demo.synthetic`) do. They are built here so that every code, coding system and
resource shape comes from the package that reads them back (`codes` and the mappers beside this
module): what the generator writes is by construction what the reader accepts.

Pure functions: ids, references, dates and values come in as arguments; nothing is random or read
from the clock. Bundle assembly (entries, tags, transaction requests) is the caller's concern.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Mapping

from fhir_mapping import codes
from fhir_mapping.emit import concept as _concept_of, instant, reference

Resource = dict[str, Any]


def concept(coding: Mapping[str, str], text: str | None = None) -> dict[str, Any]:
    """A CodeableConcept of one coding (as `codes` returns them) whose text is `text`, or the
    coding's display: EHRs fill `text` with what the user saw."""
    return _concept_of((coding["system"], coding["code"], coding["display"]), text or coding["display"])


def body_site(site: str, text: str) -> dict[str, Any]:
    """bodySite for a `codes.BODY_SITE_KEYS` key, with the words a clinician typed beside it."""
    return concept(codes.body_site_coding(site), text)


def quantity(key: str, value: float) -> dict[str, Any]:
    """A UCUM Quantity in the canonical unit the reader expects for numeric finding `key`."""
    unit, ucum = codes.observation_unit(key)
    return {"value": value, "unit": unit, "system": codes.UCUM, "code": ucum}


def _patient_ref(patient_id: str) -> dict[str, str]:
    return reference(patient_id, resource_type="Patient")


def _encounter_ref(encounter_id: str) -> dict[str, str]:
    return reference(encounter_id, resource_type="Encounter")


def patient(
    rid: str, *, mrn_system: str, mrn: str, family: str, given: str, gender: str, birth_date: date
) -> Resource:
    return {
        "resourceType": "Patient",
        "id": rid,
        "identifier": [{"system": mrn_system, "value": mrn}],
        "active": True,
        "name": [{"use": "official", "family": family, "given": [given]}],
        "gender": gender,
        "birthDate": birth_date.isoformat(),
    }


def encounter(rid: str, *, patient_id: str, start: datetime, end: datetime | None) -> Resource:
    """An ambulatory dermatology visit; without `end` it is the visit in progress."""
    period = {"start": instant(start)} if end is None else {"start": instant(start), "end": instant(end)}
    return {
        "resourceType": "Encounter",
        "id": rid,
        "status": "in-progress" if end is None else "finished",
        "class": dict(codes.ENCOUNTER_CLASS_AMBULATORY),
        "type": [concept(codes.DERMATOLOGY_ENCOUNTER_TYPE)],
        "subject": _patient_ref(patient_id),
        "period": period,
    }


def condition(
    rid: str, *, patient_id: str, key: str, onset: datetime, recorded: datetime, abated: datetime | None = None
) -> Resource:
    """A confirmed problem-list Condition for a `codes.condition_coding` key; with `abated` it is
    resolved (history), otherwise active."""
    resource: Resource = {
        "resourceType": "Condition",
        "id": rid,
        "clinicalStatus": concept(codes.condition_clinical_status("active" if abated is None else "resolved")),
        "verificationStatus": concept(codes.condition_verification_status("confirmed")),
        "category": [concept(codes.condition_category("problem-list-item"))],
        "code": concept(codes.condition_coding(key)),
        "subject": _patient_ref(patient_id),
        "onsetDateTime": instant(onset),
        "recordedDate": instant(recorded),
    }
    if abated is not None:
        resource["abatementDateTime"] = instant(abated)
    return resource


def medication_statement(
    rid: str, *, patient_id: str, key: str, product: str, start: datetime, end: datetime | None = None
) -> Resource:
    """A MedicationStatement for a medication key (`codes.medication_coding`) with the product name
    the EHR shows as text; with `end` it is stopped, otherwise active. Asserted when started."""
    period = {"start": instant(start)}
    if end is not None:
        period["end"] = instant(end)
    return {
        "resourceType": "MedicationStatement",
        "id": rid,
        "status": "active" if end is None else "stopped",
        "medicationCodeableConcept": concept(codes.medication_coding(key), product),
        "subject": _patient_ref(patient_id),
        "effectivePeriod": period,
        "dateAsserted": instant(start),
    }


def observation(
    rid: str,
    *,
    patient_id: str,
    encounter_id: str,
    key: str,
    effective: datetime,
    issued: datetime,
    value: Mapping[str, Any] | None = None,
    components: Mapping[str, float] | None = None,
) -> Resource:
    """A final, clinician-entered Observation of finding `key` (a FindingKey value, or
    "blood_pressure" for the panel). `value` is one `value[x]` element, e.g.
    `{"valueQuantity": quantity(key, 9.4)}`; `components` maps numeric component keys (the
    panel's systolic / diastolic FindingKey values) to their values."""
    resource: Resource = {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "category": [concept(codes.observation_category(key))],
        "code": concept(codes.observation_coding(key)),
        "subject": _patient_ref(patient_id),
        "encounter": _encounter_ref(encounter_id),
        "effectiveDateTime": instant(effective),
        "issued": instant(issued),
        **(value or {}),
    }
    if components:
        resource["component"] = [
            {"code": concept(codes.observation_coding(part)), "valueQuantity": quantity(part, amount)}
            for part, amount in components.items()
        ]
    return resource


def coded_finding(key: str, finding: str) -> dict[str, Any]:
    """`valueCodeableConcept` of a coded finding (tongue, pulse, onset, special area, morphology)."""
    return {"valueCodeableConcept": concept(codes.tcm_finding_coding(key, finding))}


def attachment(
    content_type: str, *, title: str, size: int, creation: datetime, data: str | None = None, url: str | None = None
) -> dict[str, Any]:
    """A photo attachment holding its base64 `data` inline or pointing at it (`url`, e.g. a Binary)."""
    if (data is None) == (url is None):
        raise ValueError("an attachment holds its data inline or by url, exactly one of them")
    content: dict[str, Any] = {"contentType": content_type, "title": title, "size": size, "creation": instant(creation)}
    if url is not None:
        content["url"] = url
    else:
        content["data"] = data
    return content


def binary(rid: str, *, patient_id: str, content_type: str, data: str) -> Resource:
    """Raw image bytes (base64) with the patient as security context, referenced from a Media."""
    return {"resourceType": "Binary", "id": rid, "contentType": content_type, "securityContext": _patient_ref(patient_id), "data": data}


def media(
    rid: str, *, patient_id: str, encounter_id: str, taken: datetime, site: str, site_text: str, content: Mapping[str, Any]
) -> Resource:
    """A clinical photograph (R4 Media: image, external-camera modality) of one body site."""
    return {
        "resourceType": "Media",
        "id": rid,
        "status": "completed",
        "type": concept(codes.MEDIA_TYPE_IMAGE),
        "modality": concept(codes.MEDIA_MODALITY_CLINICAL_PHOTO),
        "subject": _patient_ref(patient_id),
        "encounter": _encounter_ref(encounter_id),
        "createdDateTime": instant(taken),
        "bodySite": body_site(site, site_text),
        "content": dict(content),
    }


def photo_document_reference(
    rid: str,
    *,
    patient_id: str,
    encounter_id: str,
    taken: datetime,
    site: str,
    site_text: str,
    description: str,
    content: Mapping[str, Any],
) -> Resource:
    """A clinical photograph as an R5-style DocumentReference in R4. R4 DocumentReference has no
    bodySite; the R5 element travels as the R5 cross-version extension, which is how R5-style
    image DocumentReferences reach R4 servers."""
    return {
        "resourceType": "DocumentReference",
        "id": rid,
        "extension": [{"url": codes.DOCUMENT_REFERENCE_BODY_SITE_EXTENSION, "valueCodeableConcept": body_site(site, site_text)}],
        "status": "current",
        "type": concept(codes.DOCUMENT_TYPE_CLINICAL_PHOTO),
        "category": [concept(codes.DOCUMENT_CATEGORY_IMAGE)],
        "subject": _patient_ref(patient_id),
        "date": instant(taken),
        "description": description,
        "content": [{"attachment": dict(content)}],
        "context": {"encounter": [_encounter_ref(encounter_id)]},
    }
