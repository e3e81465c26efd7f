"""FHIR inputs the issue-11 reasoning needs: laboratory results (units, qualitative answers, reference
ranges, unreadable values reported, never dropped), medication start dates, Condition verification
status and psoriasis form, other skin diagnoses, breastfeeding and pregnancy intention."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from inference.case import ConditionKey, FindingKey, PsoriasisSubtype

from fhir_mapping import codes, issues
from fhir_mapping.condition import map_condition
from fhir_mapping.medication import map_medication
from fhir_mapping.observation import map_observation

LOINC = codes.LOINC
SNOMED = codes.SNOMED


def observation(loinc: str, **value: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"coding": [{"system": LOINC, "code": loinc}]},
            "subject": {"reference": "Patient/p"}, "effectiveDateTime": "2026-11-20T09:00:00Z", **value}


def quantity(value: float, unit: str) -> dict[str, Any]:
    return {"valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}}


def concept(system: str, code: str, text: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"coding": [{"system": system, "code": code}]}
    if text:
        found["text"] = text
    return found


LABS = [
    ("ALT U/L", "1742-6", quantity(168, "U/L"), FindingKey.ALT, 168.0),
    ("AST ukat/L", "1920-8", quantity(2.0, "ukat/L"), FindingKey.AST, 120.0),
    ("creatinine umol/L", "2160-0", quantity(88.42, "umol/L"), FindingKey.CREATININE, 1.0),
    ("eGFR CKD-EPI 2021", "98979-8", quantity(64, "mL/min/{1.73_m2}"), FindingKey.EGFR, 64.0),
    ("WBC 10*3/uL", "6690-2", quantity(2.4, "10*3/uL"), FindingKey.WBC, 2.4),
    ("neutrophils 10*9/L", "751-8", quantity(0.9, "10*9/L"), FindingKey.NEUTROPHILS, 0.9),
    ("platelets", "777-3", quantity(85, "10*3/uL"), FindingKey.PLATELETS, 85.0),
    ("haemoglobin g/L", "718-7", quantity(125, "g/L"), FindingKey.HAEMOGLOBIN, 12.5),
    ("triglycerides mmol/L", "2571-8", quantity(2.0, "mmol/L"), FindingKey.TRIGLYCERIDES, 177.14),
    ("IGRA positive (SNOMED)", "71773-6", {"valueCodeableConcept": concept(SNOMED, "10828004")}, FindingKey.TB_IGRA, True),
    ("IGRA negative (LOINC answer)", "71773-6", {"valueCodeableConcept": concept(LOINC, "LA6577-6")}, FindingKey.TB_IGRA, False),
    ("HBsAg text 'Not detected'", "5196-1", {"valueString": "Not detected"}, FindingKey.HBSAG, False),
    ("HCV antibody reactive", "16128-1", {"valueCodeableConcept": concept(SNOMED, "11214006")}, FindingKey.HCV_ANTIBODY, True),
    ("urine hCG positive", "2106-3", {"valueCodeableConcept": concept(SNOMED, "10828004")}, FindingKey.PREGNANCY_TEST, True),
    ("pregnancy intention yes", "86645-9", {"valueCodeableConcept": concept(LOINC, "LA33-6", "Yes")}, FindingKey.PLANNING_PREGNANCY, True),
]


@pytest.mark.parametrize(("label", "loinc", "value", "key", "expected"), LABS, ids=[row[0] for row in LABS])
def test_lab_results_are_read_in_canonical_units(label: str, loinc: str, value: dict, key: FindingKey, expected: Any) -> None:
    mapped = map_observation(observation(loinc, **value))
    assert mapped.issues == ()
    (finding,) = mapped.items
    assert finding.key is key
    if isinstance(expected, bool):
        assert finding.value is expected
    else:
        assert finding.value == pytest.approx(expected, rel=1e-3)
    assert finding.effective is not None and finding.effective.date() == date(2026, 11, 20)


UNREADABLE = [
    ("ALT as text", "1742-6", {"valueString": "haemolysed sample, please repeat"}, issues.UNINTERPRETABLE_LAB, "ALT"),
    ("creatinine unknown unit", "2160-0", quantity(1.0, "furlong/fortnight"), issues.UNINTERPRETABLE_LAB, "creatinine"),
    ("IGRA indeterminate (SNOMED)", "71773-6", {"valueCodeableConcept": concept(SNOMED, "82334004")}, issues.INDETERMINATE_RESULT, "IGRA"),
    ("IGRA 'Indeterminate' text", "71773-6", {"valueString": "Indeterminate"}, issues.INDETERMINATE_RESULT, "IGRA"),
    ("IGRA as a bare number", "71773-6", quantity(0.42, "[IU]/mL"), issues.UNINTERPRETABLE_LAB, "IGRA"),
    ("platelets out of range", "777-3", quantity(90000, "10*3/uL"), issues.OUT_OF_RANGE, "platelets"),
]


@pytest.mark.parametrize(("label", "loinc", "value", "code", "mentions"), UNREADABLE, ids=[row[0] for row in UNREADABLE])
def test_unreadable_lab_values_become_data_issues(label: str, loinc: str, value: dict, code: str, mentions: str) -> None:
    mapped = map_observation(observation(loinc, **value))
    assert mapped.items == ()
    (issue,) = mapped.issues
    assert issue.code == code and issue.source_ref == "Observation/o1"
    assert mentions.lower() in issue.message.lower()


def test_reference_range_is_read_in_the_same_unit() -> None:
    resource = observation("2160-0", **quantity(110, "umol/L"),
                           referenceRange=[{"low": {"value": 45, "unit": "umol/L"}, "high": {"value": 90, "unit": "umol/L"}}])
    (finding,) = map_observation(resource).items
    assert finding.value == pytest.approx(1.244, rel=1e-3)
    assert finding.reference_low == pytest.approx(0.509, rel=1e-2) and finding.reference_high == pytest.approx(1.018, rel=1e-2)


def statement(text: str, **extra: Any) -> dict[str, Any]:
    return {"resourceType": "MedicationStatement", "id": "m1", "status": "active", "subject": {"reference": "Patient/p"},
            "medicationCodeableConcept": {"text": text}, **extra}


@pytest.mark.parametrize(("resource", "key", "start"), [
    (statement("Methotrexate 2.5 mg tablet", effectivePeriod={"start": "2026-05-01"}), "methotrexate", date(2026, 5, 1)),
    (statement("Humira 40 mg pen", effectiveDateTime="2025-12-24T10:00:00Z"), "adalimumab", date(2025, 12, 24)),
    ({"resourceType": "MedicationRequest", "id": "r1", "status": "active", "intent": "order", "subject": {"reference": "Patient/p"},
      "medicationCodeableConcept": {"text": "Neoral 100 mg capsule"}, "authoredOn": "2026-09-30"}, "cyclosporine", date(2026, 9, 30)),
    (statement("Co-trimoxazole 960 mg tablet"), "co-trimoxazole", None),  # an interacting drug keeps its own name; the drug rules match it by text
])
def test_medication_key_and_start(resource: dict, key: str, start: date | None) -> None:
    (entry,) = map_medication(resource).items
    assert entry.key == key and entry.start == start


def condition(text: str, *codings: tuple[str, str], verification: str | None = "confirmed") -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p"},
                                "clinicalStatus": concept(codes.CONDITION_CLINICAL, "active"),
                                "code": {"coding": [{"system": s, "code": c} for s, c in codings], "text": text}}
    if verification:
        resource["verificationStatus"] = concept(codes.CONDITION_VER_STATUS, verification)
    return resource


CONDITIONS = [
    ("erythrodermic SNOMED", condition("Erythrodermic psoriasis", (SNOMED, "200977004")), ConditionKey.PSORIASIS, PsoriasisSubtype.ERYTHRODERMIC),
    ("GPP ICD-10 L40.1", condition("Generalized pustular psoriasis", (codes.ICD10, "L40.1")), ConditionKey.PSORIASIS,
     PsoriasisSubtype.GENERALISED_PUSTULAR),
    ("guttate L40.4", condition("Guttate psoriasis", (codes.ICD10, "L40.4")), ConditionKey.PSORIASIS, PsoriasisSubtype.GUTTATE),
    ("inverse by text", condition("Inverse psoriasis", (codes.ICD10, "L40.8")), ConditionKey.PSORIASIS, PsoriasisSubtype.INVERSE),
    ("nail by text", condition("Nail psoriasis", (codes.ICD10, "L40.8")), ConditionKey.PSORIASIS, PsoriasisSubtype.NAIL),
    ("palmoplantar pustulosis L40.3", condition("Pustulosis palmaris et plantaris", (codes.ICD10, "L40.3")), ConditionKey.PSORIASIS,
     PsoriasisSubtype.PALMOPLANTAR_PUSTULAR),
    ("plain psoriasis", condition("Psoriasis", (SNOMED, "9014002")), ConditionKey.PSORIASIS, None),
    ("eczema L30.9", condition("Eczema", (codes.ICD10, "L30.9")), ConditionKey.ECZEMA, None),
    ("tinea B35.4", condition("Tinea corporis", (codes.ICD10, "B35.4")), ConditionKey.TINEA, None),
    ("discoid lupus L93.0", condition("Discoid lupus erythematosus", (codes.ICD10, "L93.0")), ConditionKey.CUTANEOUS_LUPUS, None),
    ("drug eruption L27.0", condition("Generalized skin eruption due to drugs", (codes.ICD10, "L27.0")), ConditionKey.DRUG_ERUPTION, None),
    ("other chapter L", condition("Vitiligo", (codes.ICD10, "L80")), ConditionKey.OTHER_SKIN, None),
    ("eczema by text only", condition("Hand eczema"), ConditionKey.ECZEMA, None),
    ("breastfeeding SNOMED", condition("Mother currently breast-feeding", (SNOMED, "169750002")), ConditionKey.BREASTFEEDING, None),
]


@pytest.mark.parametrize(("label", "resource", "key", "subtype"), CONDITIONS, ids=[row[0] for row in CONDITIONS])
def test_condition_key_and_psoriasis_form(label: str, resource: dict, key: ConditionKey, subtype: PsoriasisSubtype | None) -> None:
    (entry,) = map_condition(resource).items
    assert entry.key is key and entry.subtype is subtype


@pytest.mark.parametrize(("verification", "confirmed"), [("confirmed", True), (None, True), ("provisional", False), ("differential", False)])
def test_condition_verification_status(verification: str | None, confirmed: bool) -> None:
    (entry,) = map_condition(condition("Psoriasis", (SNOMED, "9014002"), verification=verification)).items
    assert entry.verification == verification and entry.confirmed is confirmed
