"""Agent results -> preliminary, AI-asserted Observations.

Three kinds: the image-based PASI estimate (with its uncertainty range), one Observation per usable
photo with the PASI components read from it, and the patient-level psoriasis probability. All are
`preliminary` until a clinician confirms them, tagged AIAST, name the software Device and point back
at the source photographs through `derivedFrom` (clinical.md "Recording AI output in FHIR").
"""

from __future__ import annotations

from datetime import datetime

from inference.case import BodyRegion
from inference.results import PatientRepresentation, RecResult

from fhir_mapping import codes
from fhir_mapping.emit import (
    ai_meta,
    concept,
    derm3r_concept,
    identifier,
    instant,
    is_literal_reference,
    percent_quantity,
    reference,
    resource_id,
    score_quantity,
)
from fhir_mapping.queries import PHOTO_TYPES
from inference.i18n import t, tjoin


def _photo_refs(refs: list[str] | tuple[str, ...]) -> list[dict[str, str]]:
    return [{"reference": r} for r in dict.fromkeys(refs) if is_literal_reference(r, *PHOTO_TYPES)]


def _base(rid: str, *, patient_ref: str, as_of: datetime, code: dict, effective: datetime, device_id: str,
          derived_from: list[dict[str, str]]) -> dict:
    resource = {
        "resourceType": "Observation",
        "id": rid,
        "meta": ai_meta(),
        "identifier": [identifier(rid)],
        "status": "preliminary",
        "category": [concept(codes.CATEGORY_EXAM), concept(codes.CATEGORY_IMAGING)],
        "code": code,
        "subject": {"reference": patient_ref},
        "effectiveDateTime": instant(effective),
        "issued": instant(as_of),
        "method": derm3r_concept(codes.D_IMAGE_ANALYSIS),
        # Literal: the Device is written by PUT with its deterministic id (see fhir_mapping.device).
        "device": reference(device_id, resource_type="Device"),
    }
    if derived_from:
        resource["derivedFrom"] = derived_from
    return resource


def _region_names(regions: tuple[BodyRegion, ...]) -> str:
    return tjoin(", ", [r.value.replace("_", " ") for r in regions]) or t("none")


def pasi_estimate(rep: PatientRepresentation, *, patient_ref: str, as_of: datetime, device_id: str) -> dict | None:
    """The image-based PASI estimate with low/high bounds, or None without an estimate."""
    pasi = rep.pasi
    if pasi is None:
        return None
    rid = resource_id(patient_ref, as_of, "observation/pasi-estimate")
    refs = [ref for region in rep.regions for ref in region.photo_refs]
    resource = _base(rid, patient_ref=patient_ref, as_of=as_of, effective=as_of, device_id=device_id,
                     code=derm3r_concept(codes.D_PASI_AI, t("PASI estimated from photographs (AI, preliminary)")),
                     derived_from=_photo_refs(refs))
    resource["valueQuantity"] = score_quantity(pasi.value)
    resource["component"] = [
        {"code": derm3r_concept(codes.D_PASI_AI_LOW), "valueQuantity": score_quantity(min(pasi.low, pasi.value))},
        {"code": derm3r_concept(codes.D_PASI_AI_HIGH), "valueQuantity": score_quantity(max(pasi.high, pasi.value))},
    ]
    notes = [t("Estimated from photographs of: {region_names}. Regions without a usable photo contribute nothing, so the estimate can be too low; thickness is a weak proxy in photos.", region_names=_region_names(pasi.regions_seen))]
    if pasi.clinician_value is not None:
        where = t(" ({clinician_ref})", clinician_ref=pasi.clinician_ref) if pasi.clinician_ref else ""
        notes.append(t("Clinician-recorded PASI {clinician_value:g}{where} takes precedence", clinician_value=pasi.clinician_value, where=where)
                     + (t("; the estimate differs by {discrepancy:+.1f}.", discrepancy=pasi.discrepancy) if pasi.discrepancy is not None else "."))
    resource["note"] = [{"text": text} for text in notes]
    return resource


def photo_attributes(rec: RecResult, *, patient_ref: str, as_of: datetime, device_id: str) -> dict | None:
    """Per-photo erythema / scale / thickness (0-4) and lesional area (%), or None if unusable."""
    attrs = rec.attributes
    if attrs is None or not rec.quality.usable:
        return None
    rid = resource_id(patient_ref, as_of, f"observation/photo/{rec.photo_ref}")
    resource = _base(rid, patient_ref=patient_ref, as_of=as_of, effective=rec.taken or as_of, device_id=device_id,
                     code=derm3r_concept(codes.D_LESION_ATTRIBUTES), derived_from=_photo_refs([rec.photo_ref]))
    if rec.region in codes.REGION_CODING:
        resource["bodySite"] = concept(codes.REGION_CODING[rec.region])
    resource["component"] = [
        {"code": derm3r_concept(codes.D_ERYTHEMA), "valueQuantity": score_quantity(attrs.erythema.value)},
        {"code": derm3r_concept(codes.D_SCALE), "valueQuantity": score_quantity(attrs.scale.value)},
        {"code": derm3r_concept(codes.D_THICKNESS), "valueQuantity": score_quantity(attrs.thickness.value)},
        {"code": derm3r_concept(codes.D_AREA_FRACTION), "valueQuantity": percent_quantity(100.0 * attrs.area_fraction.value)},
    ]
    resource["note"] = [{"text": (
        t("Confidence: erythema {confidence:.2f}, scale {confidence2:.2f}, thickness {confidence3:.2f}, area {confidence4:.2f}. Model {value}.", confidence=attrs.erythema.confidence, confidence2=attrs.scale.confidence, confidence3=attrs.thickness.confidence, confidence4=attrs.area_fraction.confidence, value=rec.model_version or 'unknown'))}]
    return resource


def psoriasis_probability(rep: PatientRepresentation, *, patient_ref: str, as_of: datetime, device_id: str) -> dict | None:
    """Patient-level probability of psoriasis (%) with every class as a component; None if not computed."""
    probabilities = rep.probabilities
    if "psoriasis" not in probabilities:
        return None
    rid = resource_id(patient_ref, as_of, "observation/psoriasis-probability")
    refs = [p.photo_ref for p in rep.photos if p.quality.usable]
    resource = _base(rid, patient_ref=patient_ref, as_of=as_of, effective=as_of, device_id=device_id,
                     code=derm3r_concept(codes.D_PSORIASIS_PROBABILITY), derived_from=_photo_refs(refs))
    resource["valueQuantity"] = percent_quantity(100.0 * probabilities["psoriasis"])
    resource["component"] = [
        {"code": derm3r_concept(codes.D_CLASS_PROBABILITY, t(name.replace("_", " "))),
         "valueQuantity": percent_quantity(100.0 * p)}
        for name, p in sorted(probabilities.items(), key=lambda item: (-item[1], item[0]))
    ]
    resource["note"] = [{"text": t("Image classifier output, not a diagnosis. Real-world image-only accuracy of such models is limited; confirm clinically.")}]
    return resource


def ai_observations(rep: PatientRepresentation | None, *, patient_ref: str, as_of: datetime, device_id: str) -> list[dict]:
    """All AI Observations for one assessment (empty when no photo was analysed)."""
    if rep is None:
        return []
    found = [pasi_estimate(rep, patient_ref=patient_ref, as_of=as_of, device_id=device_id),
             psoriasis_probability(rep, patient_ref=patient_ref, as_of=as_of, device_id=device_id)]
    found += [photo_attributes(rec, patient_ref=patient_ref, as_of=as_of, device_id=device_id) for rec in rep.photos]
    return [r for r in found if r is not None]
