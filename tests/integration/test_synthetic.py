"""The synthetic patient generator: valid FHIR R4, deterministic, and saying what each profile says."""

from __future__ import annotations

import base64
import functools
import io
import json
from collections import Counter
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from PIL import Image

from cds_hooks.demo import synthetic
from fhir_mapping import codes
from inference.case import OTHER_SKIN_DIAGNOSES, BodyRegion, ConditionKey, FindingKey


SEED = 7  # one seed throughout, so that photos rendered once are reused from the renderer's cache


@functools.cache
def _patient(profile: str, photos: str = "inline", visits: int = 2) -> dict[str, Any]:
    """A generated patient, shared between tests (tests only read it)."""
    return synthetic.patient_bundle(profile, photos=photos, seed=SEED, visits=visits)


def _by_type(bundle: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return list(synthetic.resources(bundle, resource_type))


def _references(value: Any) -> list[str]:
    """Every Reference.reference string anywhere in a resource."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                found.append(item)
            else:
                found.extend(_references(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(_references(item))
    return found


def _findings(bundle: dict[str, Any]) -> dict[FindingKey, list[dict[str, Any]]]:
    out: dict[FindingKey, list[dict[str, Any]]] = {}
    for obs in _by_type(bundle, "Observation"):
        for element in [obs, *obs.get("component", [])]:
            for coding in element["code"].get("coding", []):
                key = codes.finding_key(coding["system"], coding["code"])
                if key is not None:
                    out.setdefault(key, []).append(element)
    return out


def _newest(elements: list[dict[str, Any]]) -> dict[str, Any]:
    return elements[-1]  # the generator writes visits oldest first


@pytest.mark.parametrize("photos", synthetic.PHOTO_MODES)
@pytest.mark.parametrize("profile", synthetic.PROFILES)
def test_every_profile_is_a_valid_r4_transaction(profile: str, photos: str) -> None:
    bundle = _patient(profile, photos)
    Bundle.model_validate(bundle)  # raises on any invalid element, in any entry
    assert bundle["type"] == "transaction"
    ids = [(e["resource"]["resourceType"], e["resource"]["id"]) for e in bundle["entry"]]
    assert len(ids) == len(set(ids))
    for entry in bundle["entry"]:
        resource = entry["resource"]
        assert entry["request"] == {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}
    local = {f"{t}/{i}" for t, i in ids}
    for entry in bundle["entry"]:
        for reference in _references(entry["resource"]):
            assert reference in local, f"{reference} does not resolve inside the bundle"


@pytest.mark.parametrize("profile", ["psoriasis_mild", "pregnancy", "tcm_damp_heat"])
def test_same_arguments_give_identical_output_and_seeds_differ(profile: str) -> None:
    first = json.dumps(synthetic.patient_bundle(profile, seed=3, visits=2), sort_keys=True)
    synthetic.render_photo.cache_clear()  # the photo bytes themselves must be reproducible
    again = json.dumps(synthetic.patient_bundle(profile, seed=3, visits=2), sort_keys=True)
    other = synthetic.patient_bundle(profile, seed=4, visits=1)
    assert first == again
    assert synthetic.patient_id(other) != synthetic.patient_id(json.loads(first))


def test_all_codes_are_ones_the_service_reads() -> None:
    for profile in synthetic.PROFILES:
        bundle = _patient(profile)
        for obs in _by_type(bundle, "Observation"):
            codings = [(c["system"], c["code"]) for c in obs["code"]["coding"]]
            known = any(codes.finding_key(*c) for c in codings) or any(c in codes.BP_PANEL_CODES for c in codings)
            assert known, f"{profile}: Observation code {codings} unknown to fhir_mapping.codes"
        for condition in _by_type(bundle, "Condition"):
            coding = condition["code"]["coding"][0]
            if coding["code"] in {code for code, _ in codes.SKIN_DIAGNOSES.values()} - {"200965009", "37042000"}:
                # Other skin diagnoses are read as themselves (not as psoriasis, and not dropped).
                assert codes.condition_key(coding["system"], coding["code"]) in OTHER_SKIN_DIAGNOSES
            else:
                assert codes.condition_key(coding["system"], coding["code"]) is not None, coding
        for media in _by_type(bundle, "Media"):
            site = media["bodySite"]
            coded = [codes.body_region(c["system"], c["code"]) for c in site.get("coding", [])]
            region = next((r for r in coded if r), None) or codes.body_region_from_text(site["text"])
            assert region not in (None, BodyRegion.UNKNOWN), site


def test_tcm_profiles_record_their_tongue_and_pulse() -> None:
    expected = {
        "tcm_blood_heat": ("red_yellow_coat", "rapid"),
        "tcm_blood_dryness": ("pale_red_little_coat", "deep_thin"),
        "tcm_blood_stasis": ("purple_dusky", "choppy"),
        "tcm_damp_heat": ("red_greasy_yellow_coat", "slippery_rapid"),
        "tcm_heat_toxin": ("crimson_yellow_coat", "surging_rapid"),
    }
    for profile, (tongue, pulse) in expected.items():
        findings = _findings(_patient(profile))
        for key, value in ((FindingKey.TONGUE, tongue), (FindingKey.PULSE, pulse)):
            coding = _newest(findings[key])["valueCodeableConcept"]["coding"][0]
            assert codes.VALUE_CODES[key][(coding["system"], coding["code"])] == value


def test_psoriatic_arthritis_profile_screens_positive() -> None:
    bundle = _patient("psoriatic_arthritis")
    findings = _findings(bundle)
    assert _newest(findings[FindingKey.PEST_SCORE])["valueQuantity"]["value"] >= 3
    assert _newest(findings[FindingKey.JOINT_PAIN])["valueBoolean"] is True
    keys = {codes.condition_key(c["code"]["coding"][0]["system"], c["code"]["coding"][0]["code"]) for c in _by_type(bundle, "Condition")}
    assert ConditionKey.PSORIATIC_ARTHRITIS in keys


def test_pregnancy_profile_has_status_condition_and_stopped_methotrexate() -> None:
    bundle = _patient("pregnancy")
    findings = _findings(bundle)
    coding = _newest(findings[FindingKey.PREGNANT])["valueCodeableConcept"]["coding"][0]
    assert codes.BOOLEAN_VALUE_CODES[(coding["system"], coding["code"])] is True
    conditions = {c["code"]["coding"][0]["code"] for c in _by_type(bundle, "Condition")}
    assert codes.SNOMED_PREGNANT in conditions
    statements = {
        codes.medication_key(m["medicationCodeableConcept"]["text"]): m["status"] for m in _by_type(bundle, "MedicationStatement")
    }
    assert statements["methotrexate"] == "stopped"
    assert _by_type(bundle, "Patient")[0]["gender"] == "female"


def test_tb_history_is_a_resolved_tuberculosis_condition() -> None:
    tb = [
        c for c in _by_type(_patient("tb_history"), "Condition")
        if codes.condition_key("http://snomed.info/sct", c["code"]["coding"][0]["code"]) is ConditionKey.TUBERCULOSIS
    ]
    assert len(tb) == 1
    assert tb[0]["clinicalStatus"]["coding"][0]["code"] == "resolved"
    assert "abatementDateTime" in tb[0]


@pytest.mark.parametrize(
    ("profile", "key", "low", "high"),
    [
        ("psoriasis_mild", FindingKey.PASI, 0.0, 5.0),
        ("psoriasis_moderate", FindingKey.PASI, 5.0, 12.0),
        ("psoriasis_severe", FindingKey.PASI, 15.0, 72.0),
        ("psoriasis_severe", FindingKey.BSA_PERCENT, 10.1, 100.0),
        ("diabetes", FindingKey.HBA1C, 6.5, 12.0),
        ("diabetes", FindingKey.BMI, 30.0, 45.0),
        ("eczema", FindingKey.ITCH_NRS, 7.0, 10.0),
    ],
)
def test_newest_values_fit_the_profile(profile: str, key: FindingKey, low: float, high: float) -> None:
    value = _newest(_findings(_patient(profile))[key])["valueQuantity"]["value"]
    assert low <= value <= high
    assert codes.UNIT_RULES[key].minimum <= value <= codes.UNIT_RULES[key].maximum


def test_blood_pressure_is_a_panel_with_components() -> None:
    panels = [
        o for o in [o for o in _by_type(_patient("diabetes", visits=1), "Observation")]
        if (o["code"]["coding"][0]["system"], o["code"]["coding"][0]["code"]) in codes.BP_PANEL_CODES
    ]
    assert len(panels) == 1
    keys = {codes.finding_key(c["code"]["coding"][0]["system"], c["code"]["coding"][0]["code"]) for c in panels[0]["component"]}
    assert keys == {FindingKey.SYSTOLIC_BP, FindingKey.DIASTOLIC_BP}


def _jpeg(data: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(data)))
    image.load()
    assert image.format == "JPEG"
    return image


def test_photo_modes() -> None:
    inline = _patient("psoriasis_severe", "inline")
    media = _by_type(inline, "Media")
    assert len(media) == 2 * 4
    for m in media:
        _jpeg(m["content"]["data"])
        assert "url" not in m["content"]

    binary = _patient("psoriasis_severe", "binary")
    binaries = {b["id"]: b for b in _by_type(binary, "Binary")}
    for m in _by_type(binary, "Media"):
        assert "data" not in m["content"]
        kind, _, bid = m["content"]["url"].partition("/")
        assert kind == "Binary" and bid in binaries
        _jpeg(binaries[bid]["data"])
    # Binary entries come before the Media that point at them (transaction order is readable).
    order = [e["resource"]["resourceType"] for e in binary["entry"]]
    assert order.index("Binary") < order.index("Media")

    documents = _by_type(_patient("psoriasis_severe", "document_reference"), "DocumentReference")
    assert documents and not _by_type(_patient("psoriasis_severe", "document_reference"), "Media")
    for d in documents:
        _jpeg(d["content"][0]["attachment"]["data"])
        assert d["extension"][0]["url"] == codes.DOCUMENT_REFERENCE_BODY_SITE_EXTENSION


def test_photos_are_the_same_bytes_for_the_same_seed_and_differ_between_sites() -> None:
    a = [m["content"]["data"] for m in _by_type(_patient("psoriasis_severe"), "Media")]
    b = [m["content"]["data"] for m in _by_type(synthetic.patient_bundle("psoriasis_severe", seed=SEED), "Media")]
    assert a == b
    assert len(set(a)) == len(a)


def test_visits_are_eight_weeks_apart_and_the_newest_is_the_anchor() -> None:
    bundle = _patient("psoriasis_moderate", visits=4)
    encounters = _by_type(bundle, "Encounter")
    starts = sorted(e["period"]["start"] for e in encounters)
    assert len(starts) == 4
    assert starts[-1] == synthetic.ANCHOR.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert [e["status"] for e in encounters] == ["finished", "finished", "finished", "in-progress"]


def test_large_patient_has_hundreds_of_observations_and_dozens_of_photos() -> None:
    bundle = synthetic.large_patient_bundle()
    counts = Counter(r["resourceType"] for r in synthetic.resources(bundle))
    assert counts["Observation"] >= 400
    assert counts["Media"] >= 36 and counts["Binary"] == counts["Media"]
    dates = [o["effectiveDateTime"] for o in _by_type(bundle, "Observation")]
    assert len(set(dates)) == 40


def test_demo_patients_are_varied() -> None:
    patients = synthetic.demo_patients()
    assert 3 <= len(patients) <= 4
    assert len({synthetic.patient_id(b) for b in patients}) == len(patients)
    for bundle in patients:
        Bundle.model_validate(bundle)
        Bundle.model_validate(synthetic.as_collection(bundle))


def test_searchset_and_collection_views() -> None:
    bundle = _patient("psoriasis_mild")
    collection = synthetic.as_collection(bundle)
    assert collection["type"] == "collection" and all("request" not in e for e in collection["entry"])
    observations = synthetic.searchset(bundle, "Observation")
    Bundle.model_validate(observations)
    assert observations["total"] == len(_by_type(bundle, "Observation"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"profile": "nope"}, "unknown profile"),
        ({"profile": "psoriasis_mild", "photos": "dicom"}, "unknown photos mode"),
        ({"profile": "psoriasis_mild", "visits": 0}, "visits"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    profile = kwargs.pop("profile")
    with pytest.raises(ValueError, match=message):
        synthetic.patient_bundle(profile, **kwargs)


@pytest.mark.parametrize("profile", ["eczema", "tinea"])
def test_differentials_carry_no_psoriasis_scores(profile: str) -> None:
    findings = _findings(_patient(profile))
    assert FindingKey.PASI not in findings and FindingKey.PEST_SCORE not in findings
    assert FindingKey.ITCH_NRS in findings


def test_the_pregnancy_is_current() -> None:
    bundle = _patient("pregnancy")
    pregnancy = next(c for c in _by_type(bundle, "Condition") if c["code"]["coding"][0]["code"] == codes.SNOMED_PREGNANT)
    onset = pregnancy["onsetDateTime"]
    assert synthetic.ANCHOR.strftime("%Y-%m-%d") > onset > (synthetic.ANCHOR.replace(year=synthetic.ANCHOR.year - 1)).strftime("%Y-%m-%d")


@pytest.mark.parametrize("photos", synthetic.PHOTO_MODES)
@pytest.mark.parametrize("profile", synthetic.PROFILES)
def test_the_case_builder_reads_every_profile_without_issues(profile: str, photos: str) -> None:
    """The contract between this generator and fhir_mapping: everything written is read back, with
    no data issue, and photos keep their body region (Binary photos through the attachment fetcher)."""
    from fhir_mapping.case_builder import build_case

    bundle = _patient(profile, photos)
    binaries = {f"Binary/{b['id']}": base64.b64decode(b["data"]) for b in _by_type(bundle, "Binary")}
    case = build_case(
        [synthetic.as_collection(bundle)], patient_id=synthetic.patient_id(bundle), as_of=synthetic.ANCHOR,
        fetch_attachment=binaries.__getitem__,
    )
    assert case.issues == (), [i.code for i in case.issues]
    photo_count = len(_by_type(bundle, "Media")) + len(_by_type(bundle, "DocumentReference"))
    assert len(case.photos) == photo_count
    assert all(p.region is not BodyRegion.UNKNOWN for p in case.photos)
    assert case.latest(FindingKey.BSA_PERCENT) is not None and case.latest(FindingKey.DLQI) is not None
    assert case.latest(FindingKey.SYSTOLIC_BP) is not None and case.latest(FindingKey.LESION_ONSET) is not None
    expected_conditions = len(_by_type(bundle, "Condition"))
    assert len(case.conditions) == expected_conditions
    assert len(case.medications) == len(_by_type(bundle, "MedicationStatement"))
