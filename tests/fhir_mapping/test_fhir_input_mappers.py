"""Input mappers on the HL7 R4 examples and on parametrized edge cases."""

from __future__ import annotations

import base64
import copy
import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from inference.case import BodyRegion, ConditionKey, FindingKey

from fhir_mapping import codes, issues, r4
from fhir_mapping.condition import map_condition
from fhir_mapping.document_reference import map_document_reference
from fhir_mapping.media import map_media
from fhir_mapping.medication import map_medication
from fhir_mapping.observation import map_observation
from fhir_mapping.patient import map_patient

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "reference" / "fhir-examples" / "hl7-r4"
if not EXAMPLES.is_dir():  # the repository may be checked out elsewhere
    EXAMPLES = Path("/work/shared/reference/fhir-examples/hl7-r4")
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 32).decode()


def example(name: str) -> dict:
    return json.loads((EXAMPLES / f"{name}.json").read_text())


@pytest.mark.parametrize("name", sorted(p.stem for p in EXAMPLES.glob("*.json") if p.stem != "package"))
def test_hl7_examples_validate_with_r4b(name: str) -> None:
    resource = example(name)
    assert r4.validate(resource)["resourceType"] == resource["resourceType"]
    assert r4.check(resource) is None


# ------------------------------------------------------------------ Patient


def test_patient_example() -> None:
    info = map_patient(example("Patient-example"))
    assert (info.ref, info.birth_date, info.sex) == ("Patient/example", date(1974, 12, 25), "male")


@pytest.mark.parametrize(
    "changes, birth, sex",
    [({"birthDate": "1980"}, date(1980, 1, 1), None), ({"birthDate": "1980-05"}, date(1980, 5, 1), None),
     ({"birthDate": "not a date", "gender": "robot"}, None, None), ({"birthDate": 1980, "gender": 3}, None, None),
     ({"gender": "female"}, None, "female")],
)
def test_patient_edge_cases(changes: dict, birth: date | None, sex: str | None) -> None:
    info = map_patient({"resourceType": "Patient", "id": "x", **changes})
    assert (info.birth_date, info.sex) == (birth, sex)


# ------------------------------------------------------------------ Observation


def test_blood_pressure_panel_components() -> None:
    mapped = map_observation(example("Observation-blood-pressure"))
    values = {f.key: (f.value, f.unit) for f in mapped.items}
    assert values == {FindingKey.SYSTOLIC_BP: (107.0, "mm[Hg]"), FindingKey.DIASTOLIC_BP: (60.0, "mm[Hg]")}
    assert all(f.source_ref == "Observation/blood-pressure" and f.effective and f.effective.tzinfo for f in mapped.items)


def test_bmi_example() -> None:
    (finding,) = map_observation(example("Observation-bmi")).items
    assert (finding.key, finding.value, finding.unit) == (FindingKey.BMI, 16.2, "kg/m2")


def test_unrelated_observation_gives_nothing() -> None:
    assert map_observation(example("Observation-example")).items == ()


def _obs(code: tuple[str, str], **value: object) -> dict:
    return {"resourceType": "Observation", "id": "o1", "status": "final",
            "code": {"coding": [{"system": code[0], "code": code[1]}]},
            "effectiveDateTime": "2026-10-01T09:00:00+02:00", **value}


D = codes.DERM3R
OBS_CASES = [
    # (name, resource, expected (key, value) or None, expected issue code or None)
    ("pasi-integer", _obs((D, "pasi"), valueInteger=12), (FindingKey.PASI, 12.0), None),
    ("pasi-quantity", _obs((D, "pasi"), valueQuantity={"value": 7.5, "code": "{score}"}), (FindingKey.PASI, 7.5), None),
    ("pasi-out-of-range", _obs((D, "pasi"), valueQuantity={"value": 80}), None, issues.OUT_OF_RANGE),
    ("bsa-percent", _obs((D, "bsa-percent"), valueQuantity={"value": 12, "unit": "%"}), (FindingKey.BSA_PERCENT, 12.0), None),
    ("hba1c-ifcc", _obs((codes.LOINC, "4548-4"), valueQuantity={"value": 48, "code": "mmol/mol"}), (FindingKey.HBA1C, 6.543), None),
    ("ldl-mmol", _obs((codes.LOINC, "13457-7"), valueQuantity={"value": 2.0, "code": "mmol/L"}), (FindingKey.LDL, 77.34), None),
    ("ldl-bad-unit", _obs((codes.LOINC, "18262-6"), valueQuantity={"value": 2.0, "code": "g"}), None, issues.UNEXPECTED_UNIT),
    ("no-value", _obs((codes.LOINC, "39156-5")), None, issues.MISSING_VALUE),
    ("data-absent", _obs((codes.LOINC, "39156-5"), dataAbsentReason={"text": "asked, declined"}), None, None),
    ("string-number", _obs((codes.LOINC, "39156-5"), valueQuantity={"value": "27"}), None, issues.MISSING_VALUE),
    ("boolean-number", _obs((codes.LOINC, "39156-5"), valueInteger=True), None, issues.MISSING_VALUE),
    ("pregnant-snomed", _obs((codes.LOINC, "82810-3"), valueCodeableConcept={"coding": [{"system": codes.SNOMED, "code": "77386006"}]}),
     (FindingKey.PREGNANT, True), None),
    ("not-pregnant", _obs((codes.LOINC, "82810-3"), valueCodeableConcept={"coding": [{"system": codes.SNOMED, "code": "60001007"}]}),
     (FindingKey.PREGNANT, False), None),
    ("pregnant-unknown-code", _obs((codes.LOINC, "82810-3"), valueCodeableConcept={"coding": [{"system": codes.SNOMED, "code": "1"}]}),
     None, issues.UNKNOWN_VALUE_CODE),
    ("topical-failure", _obs((D, "topical-failure"), valueBoolean=True), (FindingKey.TOPICAL_FAILURE, True), None),
    ("joint-pain-presence", _obs((codes.SNOMED, "57676002")), (FindingKey.JOINT_PAIN, True), None),
    ("tongue-code", _obs((D, "tcm-tongue"), valueCodeableConcept={"coding": [{"system": D, "code": "tongue-red-yellow-coat"}]}),
     (FindingKey.TONGUE, "red_yellow_coat"), None),
    ("tongue-alias-code", _obs((D, "tcm-tongue"), valueCodeableConcept={"coding": [{"system": D, "code": "tongue-red-yellow-greasy-coat"}]}),
     (FindingKey.TONGUE, "red_greasy_yellow_coat"), None),
    ("tongue-text", _obs((D, "tcm-tongue"), valueString="Pale red little coat"), (FindingKey.TONGUE, "pale_red_little_coat"), None),
    ("tongue-unknown", _obs((D, "tcm-tongue"), valueString="blue"), None, issues.UNKNOWN_VALUE_CODE),
    ("pulse", _obs((D, "tcm-pulse"), valueCodeableConcept={"coding": [{"system": D, "code": "pulse-deep-thin"}]}),
     (FindingKey.PULSE, "deep_thin"), None),
    ("special-area-snomed", _obs((D, "special-area"), valueCodeableConcept={"coding": [{"system": codes.SNOMED, "code": "41695006"}]}),
     (FindingKey.SPECIAL_AREA, "scalp"), None),
    ("phq2-loinc", _obs((codes.LOINC, "55758-7"), valueQuantity={"value": 3, "unit": "{score}"}), (FindingKey.PHQ2, 3.0), None),
]


@pytest.mark.parametrize("resource, expected, issue_code", [c[1:] for c in OBS_CASES], ids=[c[0] for c in OBS_CASES])
def test_observation_cases(resource: dict, expected: tuple | None, issue_code: str | None) -> None:
    mapped = map_observation(resource)
    if expected is None:
        assert mapped.items == ()
    else:
        (finding,) = mapped.items
        assert finding.key is expected[0]
        assert finding.value == pytest.approx(expected[1], abs=0.01)
        assert finding.effective == datetime(2026, 10, 1, 7, 0, tzinfo=timezone.utc)
    assert [i.code for i in mapped.issues] == ([issue_code] if issue_code else [])
    for problem in mapped.issues:
        assert problem.source_ref == "Observation/o1"


@pytest.mark.parametrize("status", ["entered-in-error", "cancelled", "registered"])
def test_observation_skipped_statuses(status: str) -> None:
    assert map_observation({**_obs((codes.LOINC, "39156-5"), valueQuantity={"value": 25}), "status": status}).items == ()


def test_own_ai_output_is_not_read_back() -> None:
    resource = _obs((D, "pasi"), valueInteger=12)
    resource["meta"] = {"tag": [{"system": codes.V3_OBSERVATION_VALUE, "code": "AIAST"}]}
    assert map_observation(resource).items == ()


@pytest.mark.parametrize(
    "effective, expected",
    [({"effectivePeriod": {"start": "2026-01-02"}}, datetime(2026, 1, 2, tzinfo=timezone.utc)),
     ({"effectiveInstant": "2026-01-02T03:04:05Z"}, datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)),
     ({"issued": "2026-01-03T00:00:00Z"}, datetime(2026, 1, 3, tzinfo=timezone.utc)),
     ({"effectiveDateTime": "2026-01-02T03:04"}, datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc)),
     ({"effectiveDateTime": "garbage"}, None)],
)
def test_observation_effective_forms(effective: dict, expected: datetime | None) -> None:
    resource = {"resourceType": "Observation", "id": "o", "status": "final",
                "code": {"coding": [{"system": codes.LOINC, "code": "39156-5"}]}, "valueQuantity": {"value": 25}, **effective}
    (finding,) = map_observation(resource).items
    assert finding.effective == expected


@pytest.mark.parametrize("garbage", [{"code": "x"}, {"code": {"coding": "x"}}, {"component": "x"},
                                     {"component": [None, 3, {"code": None}]}, {"valueQuantity": []}])
def test_observation_garbage_never_crashes(garbage: dict) -> None:
    resource = {"resourceType": "Observation", "id": "o", "status": "final",
                "code": {"coding": [{"system": codes.LOINC, "code": "39156-5"}]}}
    resource.update(garbage)
    map_observation(resource)


# ------------------------------------------------------------------ Condition


def test_condition_example_kept_as_other() -> None:
    (entry,) = map_condition(example("Condition-example")).items
    assert entry.key is ConditionKey.OTHER and entry.active and entry.code == f"{codes.SNOMED}|39065001"


def _condition(coding: list[dict] | None = None, text: str | None = None, **extra: object) -> dict:
    code: dict = {}
    if coding is not None:
        code["coding"] = coding
    if text is not None:
        code["text"] = text
    return {"resourceType": "Condition", "id": "c1", "code": code, **extra}


def _status(system: str, code: str) -> dict:
    return {"coding": [{"system": system, "code": code}]}


CONDITION_CASES = [
    ("psoriasis-snomed", _condition([{"system": codes.SNOMED, "code": "9014002"}]), ConditionKey.PSORIASIS, True),
    ("psa-snomed", _condition([{"system": codes.SNOMED, "code": "33339001"}]), ConditionKey.PSORIATIC_ARTHRITIS, True),
    ("psa-icd10", _condition([{"system": codes.ICD10_CM, "code": "L40.52"}]), ConditionKey.PSORIATIC_ARTHRITIS, True),
    ("psoriasis-icd10", _condition([{"system": codes.ICD10, "code": "L40.0"}]), ConditionKey.PSORIASIS, True),
    ("ckd-icd10", _condition([{"system": codes.ICD10, "code": "N18.3"}]), ConditionKey.KIDNEY_DISEASE, True),
    ("latent-tb-cm", _condition([{"system": codes.ICD10_CM, "code": "Z22.7"}]), ConditionKey.LATENT_TUBERCULOSIS, True),
    ("second-coding-maps", _condition([{"system": "urn:local", "code": "x"}, {"system": codes.SNOMED, "code": "44054006"}]),
     ConditionKey.DIABETES, True),
    ("text-only", _condition(text="Chronic plaque psoriasis"), ConditionKey.PSORIASIS, True),
    ("text-psa", _condition(text="Psoriatic arthritis, both hands"), ConditionKey.PSORIATIC_ARTHRITIS, True),
    ("resolved", _condition([{"system": codes.SNOMED, "code": "56717001"}],
                            clinicalStatus=_status(codes.CONDITION_CLINICAL, "resolved")), ConditionKey.TUBERCULOSIS, False),
    ("remission", _condition([{"system": codes.SNOMED, "code": "35489007"}],
                             clinicalStatus=_status(codes.CONDITION_CLINICAL, "remission")), ConditionKey.DEPRESSION, False),
    ("abated-no-status", _condition([{"system": codes.SNOMED, "code": "77386006"}], abatementDateTime="2026-01-01"),
     ConditionKey.PREGNANCY, False),
    ("recurrence", _condition([{"system": codes.SNOMED, "code": "9014002"}],
                              clinicalStatus=_status(codes.CONDITION_CLINICAL, "recurrence")), ConditionKey.PSORIASIS, True),
]


@pytest.mark.parametrize("resource, key, active", [c[1:] for c in CONDITION_CASES], ids=[c[0] for c in CONDITION_CASES])
def test_condition_cases(resource: dict, key: ConditionKey, active: bool) -> None:
    (entry,) = map_condition(resource).items
    assert (entry.key, entry.active) == (key, active)


@pytest.mark.parametrize("status", ["refuted", "entered-in-error"])
def test_condition_skipped_verification(status: str) -> None:
    resource = _condition([{"system": codes.SNOMED, "code": "9014002"}],
                          verificationStatus=_status(codes.CONDITION_VER_STATUS, status))
    assert map_condition(resource).items == ()


def test_condition_without_code_or_text_is_an_issue() -> None:
    mapped = map_condition({"resourceType": "Condition", "id": "c"})
    assert mapped.items == () and mapped.issues[0].code == issues.CONDITION_UNCODED


def test_condition_onset_period() -> None:
    (entry,) = map_condition(_condition(text="psoriasis", onsetPeriod={"start": "2019-04-02T10:00:00Z"})).items
    assert entry.onset == date(2019, 4, 2)


# ------------------------------------------------------------------ Medication

RX = codes.RXNORM
MED_CASES = [
    ("rxnorm-ingredient", {"resourceType": "MedicationStatement", "status": "active",
                           "medicationCodeableConcept": {"coding": [{"system": RX, "code": "6851"}]}}, "methotrexate", True),
    ("rxnorm-scd-display", {"resourceType": "MedicationRequest", "status": "active", "intent": "order",
                            "medicationCodeableConcept": {"coding": [{"system": RX, "code": "999",
                                                                      "display": "Humira 40 MG/0.4ML Prefilled Syringe"}]}},
     "adalimumab", True),
    ("topical-steroid", {"resourceType": "MedicationStatement", "status": "completed",
                         "medicationCodeableConcept": {"text": "Betamethasone dipropionate 0.05% cream"}}, "topical_corticosteroid", False),
    ("oral-steroid", {"resourceType": "MedicationStatement", "status": "active",
                      "medicationCodeableConcept": {"text": "Prednisone 10 mg oral tablet"}}, "systemic_corticosteroid", True),
    ("tacrolimus-ointment", {"resourceType": "MedicationStatement", "status": "active",
                             "medicationCodeableConcept": {"text": "Tacrolimus 0.1% ointment"}}, "calcineurin_inhibitor", True),
    ("tacrolimus-oral", {"resourceType": "MedicationStatement", "status": "active",
                         "medicationCodeableConcept": {"text": "Tacrolimus 1 mg capsule"}}, "tacrolimus", True),
    ("own-code", {"resourceType": "MedicationStatement", "status": "active",
                  "medicationCodeableConcept": {"coding": [codes.medication_coding("vitamin_d_analogue")]}}, "vitamin_d_analogue", True),
    ("reference-display", {"resourceType": "MedicationStatement", "status": "stopped",
                           "medicationReference": {"display": "Otezla 30 mg"}}, "apremilast", False),
    ("contained", {"resourceType": "MedicationRequest", "status": "on-hold", "intent": "order",
                   "contained": [{"resourceType": "Medication", "id": "m", "code": {"text": "Cosentyx 150 mg"}}],
                   "medicationReference": {"reference": "#m"}}, "secukinumab", True),
    ("unknown-generic", {"resourceType": "MedicationStatement", "status": "active",
                         "medicationCodeableConcept": {"text": "Metformin 500 MG Oral Tablet"}}, "metformin", True),
]


@pytest.mark.parametrize("resource, key, active", [c[1:] for c in MED_CASES], ids=[c[0] for c in MED_CASES])
def test_medication_cases(resource: dict, key: str, active: bool) -> None:
    (entry,) = map_medication({"id": "m1", **resource}).items
    assert (entry.key, entry.active) == (key, active)
    assert entry.source_ref == f"{resource['resourceType']}/m1"


def test_medication_reference_to_resource_alongside() -> None:
    resource = {"resourceType": "MedicationRequest", "id": "r", "status": "active", "intent": "order",
                "medicationReference": {"reference": "Medication/7"}}
    medications = {"Medication/7": {"resourceType": "Medication", "id": "7",
                                    "code": {"coding": [{"system": RX, "code": "3008", "display": "cyclosporine"}]}}}
    (entry,) = map_medication(resource, medications=medications).items
    assert entry.key == "cyclosporine" and entry.code == f"{RX}|3008"


@pytest.mark.parametrize(
    "resource",
    [{"resourceType": "MedicationStatement", "status": "entered-in-error", "medicationCodeableConcept": {"text": "methotrexate"}},
     {"resourceType": "MedicationStatement", "status": "not-taken", "medicationCodeableConcept": {"text": "methotrexate"}},
     {"resourceType": "MedicationRequest", "status": "cancelled", "intent": "order", "medicationCodeableConcept": {"text": "methotrexate"}},
     {"resourceType": "MedicationRequest", "status": "active", "intent": "proposal", "medicationCodeableConcept": {"text": "methotrexate"}},
     {"resourceType": "MedicationStatement", "status": "active"},
     {"resourceType": "MedicationStatement", "status": "active", "medicationReference": {"reference": "Medication/missing"}}],
    ids=["entered-in-error", "not-taken", "cancelled", "proposal", "no-medication", "unresolvable-reference"],
)
def test_medication_skipped(resource: dict) -> None:
    assert map_medication({"id": "m", **resource}).items == ()


# ------------------------------------------------------------------ Media


def test_media_example_is_a_diagram() -> None:
    mapped = map_media(example("Media-example"))
    assert mapped.items == () and mapped.issues[0].code == issues.NOT_A_PHOTOGRAPH


def test_media_example_as_photo_decodes_inline_gif() -> None:
    resource = example("Media-example")
    del resource["modality"]
    resource["bodySite"] = {"coding": [{"system": codes.SNOMED, "code": "41695006", "display": "Scalp"}]}
    (photo,) = map_media(resource).items
    assert photo.data is not None and photo.data.startswith(b"GIF89a")
    assert (photo.ref, photo.content_type, photo.region, photo.body_site) == ("Media/example", "image/gif", BodyRegion.HEAD, "Scalp")
    assert photo.taken == datetime(2017, 12, 17, tzinfo=timezone.utc)


@pytest.mark.parametrize("name, code", [("Media-xray", issues.NOT_A_PHOTOGRAPH), ("Media-sound", issues.NOT_AN_IMAGE)])
def test_media_examples_not_photos(name: str, code: str) -> None:
    mapped = map_media(example(name))
    assert mapped.items == () and [i.code for i in mapped.issues] == [code]


def _media(**changes: object) -> dict:
    resource = {"resourceType": "Media", "id": "m1", "status": "completed",
                "type": {"coding": [{"system": codes.MEDIA_TYPE, "code": "image"}]},
                "content": {"contentType": "image/png", "data": PNG}}
    resource.update(changes)
    return resource


MEDIA_CASES = [
    ("inline", _media(), True, None),
    ("url", _media(content={"contentType": "image/jpeg", "url": "Binary/1"}), True, None),
    ("no-type-but-image-content", {**_media(), "type": None}, True, None),
    ("video", _media(type={"coding": [{"system": codes.MEDIA_TYPE, "code": "video"}]}), False, issues.NOT_AN_IMAGE),
    ("pdf-content", _media(content={"contentType": "application/pdf", "data": PNG}), False, issues.NOT_AN_IMAGE),
    ("bad-base64", _media(content={"contentType": "image/png", "data": "***"}), False, issues.ATTACHMENT_INVALID),
    ("empty-data", _media(content={"contentType": "image/png", "data": ""}), False, issues.ATTACHMENT_INVALID),
    ("no-data-no-url", _media(content={"contentType": "image/png"}), False, issues.ATTACHMENT_MISSING),
    ("declared-too-large", _media(content={"contentType": "image/png", "url": "Binary/1", "size": 10**9}), False,
     issues.ATTACHMENT_TOO_LARGE),
    ("in-progress", _media(status="in-progress"), False, issues.MEDIA_NOT_COMPLETED),
    ("entered-in-error", _media(status="entered-in-error"), False, None),
    ("dicom-ct", _media(modality={"coding": [{"system": codes.DICOM_DCM, "code": "CT"}]}), False, issues.NOT_A_PHOTOGRAPH),
    ("camera-photo", _media(modality={"coding": [codes.MEDIA_MODALITY_CLINICAL_PHOTO]}), True, None),
]


@pytest.mark.parametrize("resource, kept, issue_code", [c[1:] for c in MEDIA_CASES], ids=[c[0] for c in MEDIA_CASES])
def test_media_cases(resource: dict, kept: bool, issue_code: str | None) -> None:
    resource = {k: v for k, v in resource.items() if v is not None}
    mapped = map_media(resource)
    assert len(mapped.items) == (1 if kept else 0)
    assert [i.code for i in mapped.issues] == ([issue_code] if issue_code else [])


@pytest.mark.parametrize(
    "site, region",
    [({"coding": [{"system": codes.SNOMED, "code": "72696002"}]}, BodyRegion.LOWER_LIMBS),
     ({"coding": [{"system": codes.SNOMED, "code": "127949000"}]}, BodyRegion.UPPER_LIMBS),
     ({"text": "left elbow, extensor surface"}, BodyRegion.UPPER_LIMBS),
     ({"text": "Scalp / hairline"}, BodyRegion.HEAD),
     ({"text": "lower back"}, BodyRegion.TRUNK),
     ({"text": "buttocks"}, BodyRegion.LOWER_LIMBS),
     ({"text": "axilla"}, BodyRegion.UPPER_LIMBS),
     ({"coding": [{"system": "urn:local", "code": "x", "display": "Right shin"}]}, BodyRegion.LOWER_LIMBS),
     ({"text": "somewhere"}, BodyRegion.UNKNOWN)],
)
def test_media_body_sites(site: dict, region: BodyRegion) -> None:
    (photo,) = map_media(_media(bodySite=site)).items
    assert photo.region is region


# ------------------------------------------------------------------ DocumentReference


def test_document_reference_example_without_images_is_ignored_quietly() -> None:
    mapped = map_document_reference(example("DocumentReference-example"))
    assert mapped.items == () and mapped.issues == ()


def test_document_reference_example_with_image_attachment() -> None:
    resource = copy.deepcopy(example("DocumentReference-example"))
    resource["content"][0]["attachment"].update({"contentType": "image/jpeg"})
    (photo,) = map_document_reference(resource).items
    assert photo.url == "http://example.org/xds/mhd/Binary/07a6483f-732b-461e-86b6-edb665c45510"
    assert photo.taken == datetime(2005, 12, 23, 22, 35, tzinfo=timezone.utc)  # attachment.creation
    assert photo.region is BodyRegion.UNKNOWN


def _docref(**changes: object) -> dict:
    resource = {"resourceType": "DocumentReference", "id": "d1", "status": "current",
                "content": [{"attachment": {"contentType": "image/png", "data": PNG}}]}
    resource.update(changes)
    return resource


SITE = {"coding": [{"system": codes.SNOMED, "code": "41695006", "display": "Scalp structure"}]}
DOCREF_CASES = [
    ("r5-bodysite", _docref(bodySite=[{"concept": SITE}]), BodyRegion.HEAD, None),
    ("cross-version-extension", _docref(extension=[{"url": codes.DOCUMENT_REFERENCE_BODY_SITE_EXTENSION,
                                                    "valueCodeableConcept": SITE}]), BodyRegion.HEAD, None),
    ("title-text", _docref(content=[{"attachment": {"contentType": "image/png", "data": PNG, "title": "Right knee plaque"}}]),
     BodyRegion.LOWER_LIMBS, None),
    ("two-images", _docref(content=[{"attachment": {"contentType": "image/png", "data": PNG}}] * 2), BodyRegion.UNKNOWN,
     issues.EXTRA_ATTACHMENTS),
    ("radiology-modality", _docref(modality=[{"coding": [{"system": codes.DICOM_DCM, "code": "DX"}]}]), None,
     issues.NOT_A_PHOTOGRAPH),
    ("superseded", _docref(status="superseded"), None, None),
    ("doc-entered-in-error", _docref(docStatus="entered-in-error"), None, None),
    ("pdf-only", _docref(content=[{"attachment": {"contentType": "application/pdf", "url": "Binary/2"}}]), None, None),
]


@pytest.mark.parametrize("resource, region, issue_code", [c[1:] for c in DOCREF_CASES], ids=[c[0] for c in DOCREF_CASES])
def test_document_reference_cases(resource: dict, region: BodyRegion | None, issue_code: str | None) -> None:
    mapped = map_document_reference(resource)
    if region is None:
        assert mapped.items == ()
    else:
        (photo,) = mapped.items
        assert photo.region is region and photo.ref == "DocumentReference/d1"
    assert [i.code for i in mapped.issues] == ([issue_code] if issue_code else [])


# ------------------------------------------------------------------ CarePlan examples parse


@pytest.mark.parametrize("name", ["CarePlan-example", "CarePlan-f001"])
def test_careplan_examples_parse(name: str) -> None:
    parsed = r4.validate(example(name))
    assert parsed["resourceType"] == "CarePlan" and parsed["status"]
