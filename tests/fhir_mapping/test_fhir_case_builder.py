"""build_case on the Synthea bundles and on assembled prefetch data: unwrapping, patient filtering,
photo selection and fetching, and failures turned into DataIssues."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from inference.case import BodyRegion, ConditionKey, FindingKey

from fhir_mapping import codes, issues
from fhir_mapping.case_builder import build_case, psoriasis_condition_refs
from fhir_mapping.errors import FhirNotAllowed, FhirUnavailable

SYNTHEA = Path(__file__).resolve().parents[3] / "shared" / "reference" / "fhir-examples" / "synthea-r4"
if not SYNTHEA.is_dir():  # the repository may be checked out elsewhere
    SYNTHEA = Path("/work/shared/reference/fhir-examples/synthea-r4")
AS_OF = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)
BUSTER = ("Buster_Hoeger_ad2e3fc5-2b5d-4cb9-8d03-9ea0f4ac8423", "e4531916-b162-4f4b-90c2-ce37e132b8d4")
CLEMENTE = ("Clemente_Kreiger_1484a42d-0eaf-4654-9cbf-6b050a5cd73b", "d78af07c-9cb9-4f31-9b11-c45a28f2eec8")


def _bundle(name: str) -> dict:
    return json.loads((SYNTHEA / f"{name}.json").read_text())


def test_synthea_buster() -> None:
    case = build_case([_bundle(BUSTER[0])], patient_id=BUSTER[1], as_of=AS_OF)
    assert case.patient.ref == f"Patient/{BUSTER[1]}" and case.patient.sex == "male"
    assert case.patient.birth_date is not None and case.patient.birth_date.year == 1988
    bmi = case.latest(FindingKey.BMI)
    assert bmi is not None and bmi.value == pytest.approx(24.6154) and bmi.unit == "kg/m2"
    assert len(case.history(FindingKey.SYSTOLIC_BP)) == 3  # Synthea uses the older BP panel code 55284-4
    assert case.latest(FindingKey.LDL) is not None and case.latest(FindingKey.TOTAL_CHOLESTEROL) is not None
    assert [m.key for m in case.medications] == ["amoxicillin"]
    assert {c.key for c in case.conditions} == {ConditionKey.OTHER}
    assert case.issues == () and case.photos == ()


def test_synthea_clemente_obesity() -> None:
    case = build_case([_bundle(CLEMENTE[0])], patient_id=CLEMENTE[1], as_of=AS_OF)
    assert case.has_condition(ConditionKey.OBESITY)
    diastolic = case.latest(FindingKey.DIASTOLIC_BP)
    assert diastolic is not None and diastolic.effective == max(f.effective for f in case.history(FindingKey.DIASTOLIC_BP))


def test_wrong_patient_is_ignored_and_counted() -> None:
    case = build_case([_bundle(BUSTER[0]), _bundle(CLEMENTE[0])], patient_id=BUSTER[1], as_of=AS_OF)
    assert all(f.source_ref for f in case.findings)
    other = [i for i in case.issues if i.code == issues.OTHER_PATIENT]
    assert len(other) == 1 and other[0].message.startswith("50 ")  # Clemente: Patient, 48 Observations, Condition
    assert case.patient.ref == f"Patient/{BUSTER[1]}"


def test_duplicates_across_prefetch_keys_are_dropped() -> None:
    bundle = _bundle(BUSTER[0])
    case_once = build_case([bundle], patient_id=BUSTER[1], as_of=AS_OF)
    observations = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]
    case_twice = build_case([bundle, {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": o} for o in observations]}],
                            patient_id=BUSTER[1], as_of=AS_OF)
    assert len(case_twice.findings) == len(case_once.findings)


PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1990-02-03"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 40


def _media(rid: str, taken: str | None, *, url: str | None = None, data: bytes | None = PNG, site: str = "knee") -> dict:
    content: dict = {"contentType": "image/png"}
    if url:
        content["url"] = url
    elif data is not None:
        content["data"] = base64.b64encode(data).decode()
    resource = {"resourceType": "Media", "id": rid, "status": "completed", "subject": {"reference": "Patient/p1"},
                "type": {"coding": [codes.MEDIA_TYPE_IMAGE]}, "bodySite": {"coding": [codes.body_site_coding(site)]},
                "content": content}
    if taken:
        resource["createdDateTime"] = taken
    return resource


def test_photos_newest_first_bounded_and_fetch_only_chosen() -> None:
    fetched: list[str] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        return PNG + url.encode()

    media = [_media(f"m{n}", f"2026-0{n}-01", url=f"Binary/{n}") for n in range(1, 8)]
    case = build_case([PATIENT, *media], patient_id="p1", as_of=AS_OF, fetch_attachment=fetch, max_photos=3)
    assert [p.ref for p in case.photos] == ["Media/m7", "Media/m6", "Media/m5"]
    assert fetched == ["Binary/7", "Binary/6", "Binary/5"]
    assert case.photos[0].region is BodyRegion.LOWER_LIMBS
    assert case.photos[0].taken == datetime(2026, 7, 1, tzinfo=timezone.utc)
    assert [i.code for i in case.issues] == [issues.TOO_MANY_PHOTOS]


def test_failed_fetch_is_an_issue_and_the_next_photo_fills_in() -> None:
    def fetch(url: str) -> bytes:
        if url == "Binary/3":
            raise FhirUnavailable("FHIR attachment timed out")
        if url == "https://elsewhere.example/x.png":
            raise FhirNotAllowed("URL is outside the allowed FHIR server")
        return PNG + url.encode()

    media = [_media("m1", "2026-01-01", url="Binary/1"), _media("m2", "2026-02-01", url="https://elsewhere.example/x.png"),
             _media("m3", "2026-03-01", url="Binary/3")]
    case = build_case([PATIENT, *media], patient_id="p1", as_of=AS_OF, fetch_attachment=fetch, max_photos=1)
    assert [p.ref for p in case.photos] == ["Media/m1"]
    assert [(i.code, i.source_ref) for i in case.issues] == [(issues.ATTACHMENT_UNAVAILABLE, "Media/m3"),
                                                             (issues.ATTACHMENT_UNAVAILABLE, "Media/m2")]


def test_url_photo_without_fetcher_is_an_issue() -> None:
    case = build_case([PATIENT, _media("m1", "2026-01-01", url="Binary/1")], patient_id="p1", as_of=AS_OF)
    assert case.photos == () and case.issues[0].code == issues.ATTACHMENT_UNAVAILABLE


@pytest.mark.parametrize("returned, code", [(b"", issues.ATTACHMENT_INVALID), (b"x" * 101, issues.ATTACHMENT_TOO_LARGE)])
def test_bad_fetched_bytes(returned: bytes, code: str) -> None:
    case = build_case([PATIENT, _media("m1", "2026-01-01", url="Binary/1")], patient_id="p1", as_of=AS_OF,
                      fetch_attachment=lambda url: returned, max_photo_bytes=100)
    assert case.photos == () and case.issues[0].code == code


def test_same_photo_twice_is_analysed_once() -> None:
    docref = {"resourceType": "DocumentReference", "id": "d1", "status": "current", "subject": {"reference": "Patient/p1"},
              "content": [{"attachment": {"contentType": "image/png", "data": base64.b64encode(PNG).decode()}}]}
    case = build_case([PATIENT, _media("m1", "2026-01-01"), docref], patient_id="p1", as_of=AS_OF)
    assert len(case.photos) == 1 and case.issues[0].code == issues.DUPLICATE_PHOTO


def test_future_dated_data_is_ignored() -> None:
    future = (AS_OF + timedelta(days=3)).isoformat()
    obs = {"resourceType": "Observation", "id": "o1", "status": "final", "subject": {"reference": "Patient/p1"},
           "code": {"coding": [codes.observation_coding("pasi")]}, "valueInteger": 10, "effectiveDateTime": future}
    case = build_case([PATIENT, obs, _media("m1", future)], patient_id="p1", as_of=AS_OF)
    assert case.findings == () and case.photos == ()
    assert [i.code for i in case.issues] == [issues.FUTURE_DATED, issues.FUTURE_DATED]


@pytest.mark.parametrize(
    "item, code",
    [("not a resource", issues.UNREADABLE_RESOURCE), ({"no": "type"}, issues.UNREADABLE_RESOURCE),
     ({"resourceType": "Observation", "id": "bad", "status": "final", "code": {"coding": [codes.observation_coding("bmi")]},
       "valueQuantity": {"value": 25}, "unexpected": True}, issues.INVALID_RESOURCE)],
    ids=["string", "no-resource-type", "invalid-r4"],
)
def test_bad_items_become_issues(item: object, code: str) -> None:
    case = build_case([PATIENT, item, None], patient_id="p1", as_of=AS_OF)  # type: ignore[list-item]
    assert [i.code for i in case.issues] == [code]
    if code == issues.INVALID_RESOURCE:  # still read what was readable
        assert case.latest(FindingKey.BMI) is not None
        assert "unexpected" not in case.issues[0].message and "25" not in case.issues[0].message


def test_missing_patient_is_an_issue() -> None:
    case = build_case([], patient_id="p1", as_of=AS_OF)
    assert case.patient.ref == "Patient/p1" and case.issues[0].code == issues.PATIENT_MISSING


def test_subject_forms_and_other_subjects() -> None:
    def obs(rid: str, subject: str | None) -> dict:
        resource = {"resourceType": "Observation", "id": rid, "status": "final",
                    "code": {"coding": [codes.observation_coding("bmi")]}, "valueQuantity": {"value": 25}}
        if subject:
            resource["subject"] = {"reference": subject}
        return resource

    resources = [PATIENT, obs("a", "Patient/p1"), obs("b", "https://ehr.example/fhir/Patient/p1"), obs("c", "urn:uuid:p1"),
                 obs("d", None), obs("e", "Patient/p2"), obs("f", "Group/p1")]
    case = build_case(resources, patient_id="p1", as_of=AS_OF)
    assert sorted(f.source_ref for f in case.findings) == ["Observation/a", "Observation/b", "Observation/c", "Observation/d"]


def test_psoriasis_condition_refs() -> None:
    psoriasis = {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
                 "code": {"coding": [codes.condition_coding("plaque_psoriasis")]}}
    resolved = {**psoriasis, "id": "c2", "clinicalStatus": {"coding": [codes.condition_clinical_status("resolved")]}}
    case = build_case([PATIENT, psoriasis, resolved], patient_id="p1", as_of=AS_OF)
    assert psoriasis_condition_refs(case) == ("Condition/c1",)


def test_naive_as_of_refused() -> None:
    with pytest.raises(ValueError):
        build_case([], patient_id="p1", as_of=datetime(2026, 1, 1))
