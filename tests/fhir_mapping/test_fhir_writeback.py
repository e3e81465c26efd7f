"""Write-back: every emitted resource is valid R4, statuses are draft/proposal/preliminary, resources
reference each other consistently, ids are deterministic, and AI output is tagged."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone

import pytest

from inference.case import BodyRegion, DataIssue
from inference.results import (
    Assessment,
    AttributeScore,
    Contraindication,
    Evidence,
    FollowUp,
    LesionAttributes,
    PasiEstimate,
    PatientRepresentation,
    QualityReport,
    RecResult,
    RegionFinding,
    Screening,
    Severity,
    TcmDifferentiation,
    TcmPattern,
    TreatmentOption,
    TreatmentPlan,
    Trend,
)

from fhir_mapping import codes, r4
from fhir_mapping.careplan import DRAFT_NOTE, TCM_NOTE_PREFIX
from fhir_mapping.device import device_id
from fhir_mapping.writeback import assessment_resources, transaction_bundle

AS_OF = datetime(2026, 11, 27, 10, 15, 30, tzinfo=timezone.utc)
PATIENT = "Patient/p1"


def _score(value: float, confidence: float = 0.7) -> AttributeScore:
    return AttributeScore(value=value, confidence=confidence)


def _rec(ref: str, region: BodyRegion, *, usable: bool = True) -> RecResult:
    attributes = LesionAttributes(erythema=_score(2.5), scale=_score(2.0), thickness=_score(1.5, 0.3),
                                  area_fraction=_score(0.25), colour_class="bright_red", colour_confidence=0.8)
    return RecResult(photo_ref=ref, quality=QualityReport(usable=usable, reasons=() if usable else ("blurred",)),
                     probabilities={"psoriasis": 0.8, "eczema": 0.2} if usable else {},
                     attributes=attributes if usable else None, model_version="lesion-1.0", region=region,
                     taken=datetime(2026, 11, 20, tzinfo=timezone.utc))


def make_assessment(**changes: object) -> Assessment:
    photos = (_rec("Media/m1", BodyRegion.UPPER_LIMBS), _rec("DocumentReference/d1", BodyRegion.TRUNK),
              _rec("Media/blurred", BodyRegion.HEAD, usable=False))
    rep = PatientRepresentation(
        probabilities={"psoriasis": 0.81, "eczema": 0.15, "tinea": 0.04},
        regions=(RegionFinding(BodyRegion.UPPER_LIMBS, 2.5, 1.5, 2.0, 2, 0.2, ("Media/m1",), 0.7),
                 RegionFinding(BodyRegion.TRUNK, 2.0, 1.5, 2.0, 2, 0.15, ("DocumentReference/d1",), 0.6)),
        pasi=PasiEstimate(value=8.4, low=5.9, high=11.2, regions_seen=(BodyRegion.UPPER_LIMBS, BodyRegion.TRUNK),
                          clinician_value=9.4, clinician_ref="Observation/pasi1", discrepancy=-1.0),
        trend=Trend(direction="stable"),
        tcm_descriptors={"bright_red": 0.8},
        descriptor_evidence={},
        photos=photos,
        model_version="lesion-1.0",
    )
    mtx = TreatmentOption("methotrexate", "Methotrexate", "oral_systemic",
                          contraindications=(Contraindication("methotrexate", "pregnancy", True, ()),),
                          pre_treatment_checks=("CBC and liver tests",))
    apremilast = TreatmentOption("apremilast", "Apremilast", "oral_systemic",
                                 contraindications=(Contraindication("apremilast", "depression history", False, ()),))
    nbuvb = TreatmentOption("nb_uvb", "Narrowband UVB", "phototherapy")
    pattern = TcmPattern("blood_heat", "Blood-heat", 0.7, (Evidence("red tongue"),), (), "clear heat, cool blood",
                         ("Liangxue Huoxue Tang",))
    values = dict(
        patient_ref=PATIENT,
        as_of=AS_OF,
        severity=Severity("moderate", (Evidence("PASI 9.4", source_ref="Observation/pasi1", citation="AAD-NPF 2019"),), True),
        treatment=TreatmentPlan("oral_systemic", "Oral systemic therapy", (mtx, apremilast, nbuvb),
                                (Evidence("BSA > 10%", rule="treatment.bsa", citation="IPC 2020"),)),
        tcm=TcmDifferentiation(pattern, (pattern,), 0.55, "TCM content is integrative only.", "CACMS 2011"),
        screenings=(Screening("psoriatic_arthritis", "PsA screening (PEST)", True, "Ask the PEST questions.", ()),
                    Screening("depression", "PHQ-2", False, "Not due.", ())),
        follow_up=FollowUp(12, ("PASI 75 at 12 weeks", "BSA <= 3% at 12 weeks"), ()),
        representation=rep,
        issues=(DataIssue("too_many_photos", "2 older photos were not analysed."),),
        knowledge_version="kb-2026.11",
        model_version="lesion-1.0",
        summary="Moderate psoriasis; systemic candidate.",
    )
    values.update(changes)
    return Assessment(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def resources() -> list[dict]:
    return assessment_resources(make_assessment(), condition_refs=("Condition/psoriasis-1",))


def _by_type(resources: list[dict], rtype: str) -> list[dict]:
    return [r for r in resources if r["resourceType"] == rtype]


def test_every_resource_validates_and_is_json(resources: list[dict]) -> None:
    for resource in resources:
        assert r4.validate(resource)["resourceType"] == resource["resourceType"]
    json.dumps(resources)  # plain JSON, no datetimes or enums


def test_kinds_and_statuses(resources: list[dict]) -> None:
    assert [r["resourceType"] for r in resources][0] == "Device"
    assert resources[-1]["resourceType"] == "Provenance"
    (plan,) = _by_type(resources, "CarePlan")
    assert plan["status"] == "draft" and plan["intent"] == "proposal"
    observations = _by_type(resources, "Observation")
    # PASI estimate, probability, two usable photos (the blurred one gives none)
    assert len(observations) == 4
    assert {o["status"] for o in observations} == {"preliminary"}


def test_all_resources_tagged_ai_asserted(resources: list[dict]) -> None:
    for resource in resources:
        tags = {(t["system"], t["code"]) for t in resource["meta"]["tag"]}
        assert (codes.V3_OBSERVATION_VALUE, "AIAST") in tags


def test_references_are_consistent(resources: list[dict]) -> None:
    ids = {f"urn:uuid:{r['id']}" for r in resources}
    # The Device is written by PUT to its fixed id, so it is referenced literally.
    device = f"Device/{resources[0]['id']}"
    assert resources[0]["id"] == device_id(make_assessment().model_version, make_assessment().knowledge_version)
    (plan,) = _by_type(resources, "CarePlan")
    (prov,) = _by_type(resources, "Provenance")
    observations = _by_type(resources, "Observation")
    assert {o["device"]["reference"] for o in observations} == {device}
    assert {s["reference"] for s in plan["supportingInfo"]} == {f"urn:uuid:{o['id']}" for o in observations}
    assert {t["reference"] for t in prov["target"]} == {f"urn:uuid:{r['id']}" for r in observations + [plan]}
    assert prov["agent"][0]["who"]["reference"] == device
    for ref in [t["reference"] for t in prov["target"]] + [s["reference"] for s in plan["supportingInfo"]]:
        assert ref in ids
    assert plan["addresses"] == [{"reference": "Condition/psoriasis-1"}]
    assert {r["subject"]["reference"] for r in observations + [plan]} == {PATIENT}
    assert {e["what"]["reference"] for e in prov["entity"]} == {"Media/m1", "DocumentReference/d1"}


def test_contained_goals_are_referenced(resources: list[dict]) -> None:
    (plan,) = _by_type(resources, "CarePlan")
    contained = {g["id"] for g in plan["contained"]}
    assert {g["reference"] for g in plan["goal"]} == {f"#{gid}" for gid in contained}
    assert all(g["lifecycleStatus"] == "proposed" for g in plan["contained"])
    assert len(contained) == 2


def test_pasi_estimate_observation(resources: list[dict]) -> None:
    pasi = next(o for o in _by_type(resources, "Observation") if o["code"]["coding"][0]["code"] == codes.D_PASI_AI)
    assert pasi["valueQuantity"]["value"] == 8.4
    bounds = {c["code"]["coding"][0]["code"]: c["valueQuantity"]["value"] for c in pasi["component"]}
    assert bounds == {codes.D_PASI_AI_LOW: 5.9, codes.D_PASI_AI_HIGH: 11.2}
    assert {d["reference"] for d in pasi["derivedFrom"]} == {"Media/m1", "DocumentReference/d1"}
    assert "9.4" in pasi["note"][1]["text"]


def test_per_photo_observations(resources: list[dict]) -> None:
    photos = [o for o in _by_type(resources, "Observation") if o["code"]["coding"][0]["code"] == codes.D_LESION_ATTRIBUTES]
    assert {o["derivedFrom"][0]["reference"] for o in photos} == {"Media/m1", "DocumentReference/d1"}
    m1 = next(o for o in photos if o["derivedFrom"][0]["reference"] == "Media/m1")
    assert m1["bodySite"]["coding"][0]["code"] == "53120007"
    components = {c["code"]["coding"][0]["code"]: c["valueQuantity"]["value"] for c in m1["component"]}
    assert components == {codes.D_ERYTHEMA: 2.5, codes.D_SCALE: 2.0, codes.D_THICKNESS: 1.5, codes.D_AREA_FRACTION: 25.0}
    assert m1["effectiveDateTime"] == "2026-11-20T00:00:00Z"


def test_probability_observation(resources: list[dict]) -> None:
    prob = next(o for o in _by_type(resources, "Observation")
                if o["code"]["coding"][0]["code"] == codes.D_PSORIASIS_PROBABILITY)
    assert prob["valueQuantity"] == {"value": 81.0, "unit": "%", "system": codes.UCUM, "code": "%"}
    assert [c["code"]["text"] for c in prob["component"]] == ["psoriasis", "eczema", "tinea"]


def test_careplan_content(resources: list[dict]) -> None:
    (plan,) = _by_type(resources, "CarePlan")
    notes = [n["text"] for n in plan["note"]]
    assert notes[0].startswith(DRAFT_NOTE)
    assert any(n.startswith(TCM_NOTE_PREFIX) for n in notes)
    details = [a["detail"] for a in plan["activity"]]
    mtx = next(d for d in details if d["code"].get("text") == "Methotrexate")
    assert mtx["doNotPerform"] is True and "pregnancy" in mtx["statusReason"]["text"]
    assert "CBC and liver tests" in mtx["description"]
    apremilast = next(d for d in details if d["code"].get("text") == "Apremilast")
    assert apremilast["doNotPerform"] is False and "depression" in apremilast["description"]
    assert next(d for d in details if d["code"].get("text") == "Narrowband UVB")["kind"] == "ServiceRequest"
    screenings = [d for d in details if d.get("kind") == "ServiceRequest" and d["code"]["text"].startswith(("PsA", "PHQ"))]
    assert [d["code"]["text"] for d in screenings] == ["PsA screening (PEST)"]  # only due screenings
    tcm = next(d for d in details if d["code"].get("coding", [{}])[0].get("code") == codes.D_TCM_INTEGRATIVE)
    assert tcm["description"].startswith(TCM_NOTE_PREFIX)
    follow = next(d for d in details if d.get("kind") == "Appointment")
    assert follow["scheduledString"] == "in 12 weeks"


def test_ids_are_deterministic_and_distinct() -> None:
    first = assessment_resources(make_assessment())
    second = assessment_resources(make_assessment())
    assert [r["id"] for r in first] == [r["id"] for r in second]
    assert len({r["id"] for r in first}) == len(first)
    later = assessment_resources(make_assessment(as_of=datetime(2026, 11, 28, tzinfo=timezone.utc)))
    assert {r["id"] for r in later[1:]}.isdisjoint({r["id"] for r in first[1:]})
    assert later[0]["id"] == first[0]["id"]  # same software versions: same Device


@pytest.mark.parametrize(
    "changes",
    [
        {"representation": None},
        {"treatment": None, "tcm": None, "follow_up": None, "screenings": ()},
        {"summary": "", "issues": (), "model_version": "", "knowledge_version": ""},
        {"tcm": TcmDifferentiation(None, (), 0.0, "Too few findings.", "CACMS 2011")},
        {"follow_up": FollowUp(8, (), ())},
    ],
    ids=["no-photos", "nothing-proposed", "empty-strings", "tcm-without-pattern", "follow-up-without-targets"],
)
def test_sparse_assessments_still_valid(changes: dict) -> None:
    resources = assessment_resources(make_assessment(**changes))
    for resource in resources:
        r4.validate(resource)
    assert _by_type(resources, "CarePlan")[0]["status"] == "draft"


def test_duplicate_photo_refs_give_one_observation() -> None:
    base = make_assessment()
    rep = base.representation
    assert rep is not None
    doubled = dataclasses.replace(rep, photos=rep.photos + (rep.photos[0],))
    resources = assessment_resources(dataclasses.replace(base, representation=doubled))
    ids = [r["id"] for r in resources]
    assert len(ids) == len(set(ids))


def test_non_condition_refs_are_not_addressed() -> None:
    resources = assessment_resources(make_assessment(), condition_refs=("Observation/x", "urn:uuid:abc"))
    assert "addresses" not in _by_type(resources, "CarePlan")[0]


def test_naive_as_of_is_refused() -> None:
    with pytest.raises(ValueError):
        assessment_resources(make_assessment(as_of=datetime(2026, 11, 27)))


def test_transaction_bundle(resources: list[dict]) -> None:
    bundle = transaction_bundle(resources)
    assert bundle["type"] == "transaction"
    full_urls = [e["fullUrl"] for e in bundle["entry"]]
    assert full_urls == [f"urn:uuid:{r['id']}" for r in resources]
    requests = {e["resource"]["resourceType"]: e["request"] for e in bundle["entry"]}
    assert requests["CarePlan"]["method"] == "POST" and requests["CarePlan"]["url"] == "CarePlan"
    plan_id = next(e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == "CarePlan")
    # Keyed on the bare uuid, never on the urn fullUrl (which servers rewrite on write).
    assert requests["CarePlan"]["ifNoneExist"] == f"identifier={codes.DERM3R_IDENTIFIER}|{plan_id}"
    # The shared Device: PUT to its deterministic id (idempotent), no conditional create.
    assert requests["Device"] == {"method": "PUT", "url": f"Device/{resources[0]['id']}"}
    assert "ifNoneExist" not in requests["Provenance"]
    # Every urn:uuid reference inside the bundle resolves to an entry.
    text = json.dumps(bundle)
    import re
    for ref in set(re.findall(r'"reference": "(urn:uuid:[0-9a-f-]+)"', text)):
        assert ref in full_urls
    assert transaction_bundle(resources)["id"] == bundle["id"]
