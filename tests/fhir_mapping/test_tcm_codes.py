"""TCM inputs as coded Observations (issue 15): tongue per aspect (body colour, coat colour, coat
thickness/texture, shape), pulse, lesion morphology, and the lab values herb safety reads; the code
tables and the TCM knowledge agree both ways, and the data contract lists them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fhir_mapping import codes
from fhir_mapping.contract_table import render
from fhir_mapping.observation import map_observation
from inference.case import FindingKey

TCM = json.loads((Path(__file__).resolve().parents[2] / "inference" / "knowledge" / "tcm.json").read_text(encoding="utf-8"))


def observation(code: dict[str, str], **value: object) -> dict:
    return {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"coding": [code]},
            "effectiveDateTime": "2026-11-20T10:00:00Z", **value}


def test_tongue_observation_with_one_component_per_aspect() -> None:
    aspects = ("body_red", "coat_yellow", "coat_greasy", "shape_swollen")
    resource = observation(codes.observation_coding("tongue"), component=[
        {"code": {"coding": [codes.tongue_aspect_coding(a)]},
         "valueCodeableConcept": {"coding": [codes.tcm_finding_coding("tongue", a)]}} for a in aspects])
    mapped = map_observation(resource)
    assert not mapped.issues
    assert sorted(f.value for f in mapped.items if f.key is FindingKey.TONGUE) == sorted(aspects)
    assert {f.effective for f in mapped.items} == {mapped.items[0].effective}  # read as one group


@pytest.mark.parametrize(("aspect", "code"), [
    ("body_crimson", codes.D_TONGUE_BODY), ("coat_white", codes.D_TONGUE_COAT_COLOUR),
    ("coat_little", codes.D_TONGUE_COAT_TEXTURE), ("spots_stasis", codes.D_TONGUE_SHAPE),
    ("shape_teeth_marks", codes.D_TONGUE_SHAPE),
])
def test_each_atomic_tongue_finding_has_its_aspect(aspect: str, code: str) -> None:
    assert codes.tongue_aspect_coding(aspect)["code"] == code
    assert codes.finding_key(codes.DERM3R, code) is FindingKey.TONGUE


def test_combined_tongue_value_has_no_single_aspect() -> None:
    with pytest.raises(KeyError):
        codes.tongue_aspect_coding("red_yellow_coat")


def test_tongue_is_still_written_with_the_general_code() -> None:
    assert codes.observation_coding("tongue")["code"] == codes.D_TONGUE


@pytest.mark.parametrize(("key", "loinc", "value", "unit", "expected"), [
    ("alt", "1742-6", 88, "U/L", 88.0),
    ("ast", "1920-8", 52, "IU/L", 52.0),
    ("egfr", "62238-1", 44, "mL/min/{1.73_m2}", 44.0),
    ("egfr", "33914-3", 71, "mL/min/1.73m2", 71.0),
])
def test_liver_and_kidney_tests_are_read(key: str, loinc: str, value: float, unit: str, expected: float) -> None:
    mapped = map_observation(observation({"system": codes.LOINC, "code": loinc}, valueQuantity={"value": value, "unit": unit}))
    assert [(f.key.value, f.value) for f in mapped.items] == [(key, expected)]


def test_lesion_morphology_is_read_and_every_value_is_a_knowledge_sign() -> None:
    mapped = map_observation(observation(codes.observation_coding("lesion_morphology"),
                                         valueCodeableConcept={"coding": [codes.tcm_finding_coding("lesion_morphology", "pustules")]}))
    assert [(f.key, f.value) for f in mapped.items] == [(FindingKey.LESION_MORPHOLOGY, "pustules")]
    known = {m for sign in TCM["signs"].values() for m in sign["morphology"]}
    assert set(codes.LESION_MORPHOLOGY_KEYS) == known
    assert {a for sign in TCM["signs"].values() for a in sign.get("special_areas", ())} <= set(codes.SPECIAL_AREA_KEYS)


def test_code_tables_and_knowledge_vocabulary_agree_both_ways() -> None:
    compound = TCM["compound_findings"]
    assert set(codes.TONGUE_KEYS) == set(compound["tongue_atoms"]) | set(compound["tongue"])
    assert set(codes.PULSE_KEYS) == set(compound["pulse_atoms"]) | set(compound["pulse"])


def test_data_contract_documents_the_tcm_codes() -> None:
    table = render()
    for code in (codes.D_TONGUE_BODY, codes.D_TONGUE_COAT_COLOUR, codes.D_TONGUE_COAT_TEXTURE, codes.D_TONGUE_SHAPE,
                 codes.D_LESION_MORPHOLOGY, "tongue-body-crimson", "tongue-coat-greasy", "pulse-surging",
                 "morphology-pustules", "1742-6", "1920-8", "62238-1"):
        assert f"`{code}`" in table, code
