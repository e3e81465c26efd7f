"""The record builders (`fhir_mapping.ehr_record`) write valid R4 that the package's own readers
read back as what was written: the synthetic patients cannot drift from what the service accepts."""

from __future__ import annotations

import base64
from datetime import date, datetime, timezone

import pytest

from fhir_mapping import codes, ehr_record, r4
from fhir_mapping.condition import map_condition
from fhir_mapping.document_reference import map_document_reference
from fhir_mapping.media import map_media
from fhir_mapping.medication import map_medication
from fhir_mapping.observation import map_observation
from fhir_mapping.patient import map_patient
from inference.case import BodyRegion, ConditionKey, FindingKey

WHEN = datetime(2026, 3, 4, 10, 15, tzinfo=timezone.utc)
LATER = datetime(2026, 5, 6, 8, 0, tzinfo=timezone.utc)
PID = "p-1"
EID = "e-1"
# Smallest well-formed JPEG start (SOI + APP0 marker): enough for the attachment readers' sniffing.
JPEG = base64.b64encode(b"\xff\xd8\xff\xe0" + b"\x00" * 60).decode("ascii")


def test_patient_reads_back_with_sex_and_birth_date() -> None:
    resource = ehr_record.patient("p-1", mrn_system=codes.SYNTHETIC_MRN, mrn="SYN-1", family="Example",
                                  given="Sam", gender="female", birth_date=date(1980, 2, 29))
    r4.validate(resource)
    info = map_patient(resource)
    assert (info.ref, info.sex, info.birth_date) == ("Patient/p-1", "female", date(1980, 2, 29))


@pytest.mark.parametrize(("abated", "active"), [(None, True), (LATER, False)])
def test_condition_reads_back_as_its_key_and_status(abated: datetime | None, active: bool) -> None:
    resource = ehr_record.condition("c-1", patient_id=PID, key="psoriatic_arthritis", onset=WHEN, recorded=WHEN, abated=abated)
    r4.validate(resource)
    (entry,) = map_condition(resource).items
    assert (entry.key, entry.active, entry.onset) == (ConditionKey.PSORIATIC_ARTHRITIS, active, WHEN.date())


@pytest.mark.parametrize(("end", "active"), [(None, True), (LATER, False)])
def test_medication_statement_reads_back_as_its_key(end: datetime | None, active: bool) -> None:
    resource = ehr_record.medication_statement("m-1", patient_id=PID, key="methotrexate", product="Methotrexate 2.5 mg oral tablet",
                                               start=WHEN, end=end)
    r4.validate(resource)
    (entry,) = map_medication(resource).items
    assert (entry.key, entry.active, entry.start) == ("methotrexate", active, WHEN.date())


def test_encounter_in_progress_without_end() -> None:
    open_visit = ehr_record.encounter(EID, patient_id=PID, start=WHEN, end=None)
    closed = ehr_record.encounter(EID, patient_id=PID, start=WHEN, end=LATER)
    for resource in (open_visit, closed):
        r4.validate(resource)
    assert (open_visit["status"], closed["status"]) == ("in-progress", "finished")
    assert "end" not in open_visit["period"] and closed["period"]["end"] == "2026-05-06T08:00:00Z"


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        (FindingKey.PASI, {"valueQuantity": ehr_record.quantity(FindingKey.PASI.value, 9.4)}, 9.4),
        (FindingKey.BMI, {"valueQuantity": ehr_record.quantity(FindingKey.BMI.value, 31.5)}, 31.5),
        (FindingKey.TONGUE, ehr_record.coded_finding(FindingKey.TONGUE.value, "purple_dusky"), "purple_dusky"),
        (FindingKey.PREGNANT, {"valueCodeableConcept": ehr_record.concept(codes.PREGNANT_VALUE)}, True),
        (FindingKey.JOINT_PAIN, {"valueBoolean": True}, True),
    ],
)
def test_observation_reads_back_as_its_finding(key: FindingKey, value: dict, expected: object) -> None:
    resource = ehr_record.observation("o-1", patient_id=PID, encounter_id=EID, key=key.value, effective=WHEN, issued=LATER, value=value)
    r4.validate(resource)
    (finding,) = map_observation(resource).items
    assert (finding.key, finding.value, finding.effective) == (key, expected, WHEN)


def test_blood_pressure_panel_reads_back_as_two_components() -> None:
    resource = ehr_record.observation(
        "o-bp", patient_id=PID, encounter_id=EID, key="blood_pressure", effective=WHEN, issued=LATER,
        components={FindingKey.SYSTOLIC_BP.value: 142.0, FindingKey.DIASTOLIC_BP.value: 91.0},
    )
    r4.validate(resource)
    assert {f.key: f.value for f in map_observation(resource).items} == {FindingKey.SYSTOLIC_BP: 142.0, FindingKey.DIASTOLIC_BP: 91.0}


def test_attachment_holds_data_or_url_never_both() -> None:
    with pytest.raises(ValueError):
        ehr_record.attachment("image/jpeg", title="t", size=1, creation=WHEN)
    with pytest.raises(ValueError):
        ehr_record.attachment("image/jpeg", title="t", size=1, creation=WHEN, data=JPEG, url="Binary/b-1")


def test_media_and_document_reference_read_back_as_photos_of_their_site() -> None:
    inline = ehr_record.attachment("image/jpeg", title="Right elbow, visit 1", size=64, creation=WHEN, data=JPEG)
    media = ehr_record.media("md-1", patient_id=PID, encounter_id=EID, taken=WHEN, site="elbow", site_text="Right elbow", content=inline)
    document = ehr_record.photo_document_reference("d-1", patient_id=PID, encounter_id=EID, taken=WHEN, site="elbow",
                                                   site_text="Right elbow", description="Right elbow, visit 1", content=inline)
    by_url = ehr_record.media("md-2", patient_id=PID, encounter_id=EID, taken=WHEN, site="elbow", site_text="Right elbow",
                              content=ehr_record.attachment("image/jpeg", title="t", size=64, creation=WHEN, url="Binary/b-1"))
    binary = ehr_record.binary("b-1", patient_id=PID, content_type="image/jpeg", data=JPEG)
    for resource in (media, document, by_url, binary):
        r4.validate(resource)
    for mapped in (map_media(media), map_document_reference(document), map_media(by_url)):
        (candidate,) = mapped.items
        assert (candidate.region, candidate.body_site, candidate.taken) == (BodyRegion.UPPER_LIMBS, "Right elbow", WHEN)
