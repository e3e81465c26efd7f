"""Code tables: lookups, writer codings round-trip through the readers, and the data contract file."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference.case import BodyRegion, ConditionKey, FindingKey

from fhir_mapping import codes
from fhir_mapping.contract_table import render


@pytest.mark.parametrize(
    "system, code, key",
    [(codes.LOINC, "39156-5", FindingKey.BMI), (codes.LOINC, "8480-6", FindingKey.SYSTOLIC_BP),
     (codes.LOINC, "4548-4", FindingKey.HBA1C), (codes.LOINC, "13457-7", FindingKey.LDL),
     (codes.LOINC, "2093-3", FindingKey.TOTAL_CHOLESTEROL), (codes.LOINC, "82810-3", FindingKey.PREGNANT),
     (codes.DERM3R, "pasi", FindingKey.PASI), (codes.DERM3R, "dlqi", FindingKey.DLQI),
     (codes.LOINC, "85354-9", None), (codes.SNOMED, "39156-5", None), (None, "39156-5", None)],
)
def test_finding_key(system: str | None, code: str, key: FindingKey | None) -> None:
    assert codes.finding_key(system, code) is key


@pytest.mark.parametrize(
    "system, code, key",
    [(codes.SNOMED, "9014002", ConditionKey.PSORIASIS), (codes.SNOMED, "156370009", ConditionKey.PSORIATIC_ARTHRITIS),
     (codes.ICD10, "L40.9", ConditionKey.PSORIASIS), (codes.ICD10, "l40.5", ConditionKey.PSORIATIC_ARTHRITIS),
     (codes.ICD10_CM, "L40.50", ConditionKey.PSORIATIC_ARTHRITIS), (codes.ICD10_CM, "C43.9", ConditionKey.MALIGNANCY),
     (codes.ICD10_CM, "E78.5", ConditionKey.HYPERLIPIDAEMIA), (codes.ICD10_CM, "E78.6", None),
     (codes.ICD10, "B18.2", ConditionKey.HEPATITIS_C),
     (codes.ICD10, "M07.3", ConditionKey.PSORIATIC_ARTHRITIS), (codes.ICD10, "M07.4", None), (codes.ICD10, "Z99", None), (codes.SNOMED, "1", None)],
)
def test_condition_key(system: str, code: str, key: ConditionKey | None) -> None:
    assert codes.condition_key(system, code) is key


def test_every_condition_key_but_other_has_a_code() -> None:
    for key in ConditionKey:
        if key is not ConditionKey.OTHER:
            written = codes.condition_coding(key.value)
            assert codes.condition_key(written["system"], written["code"]) is key


@pytest.mark.parametrize(
    "text, key",
    [("Methotrexate 2.5 MG Oral Tablet", "methotrexate"), ("Stelara 45 mg", "ustekinumab"),
     ("calcipotriene 0.005% foam", "vitamin_d_analogue"), ("Clobetasol propionate 0.05% shampoo", "topical_corticosteroid"),
     ("Methylprednisolone 4 MG", "systemic_corticosteroid"), ("Triamcinolone injection", "systemic_corticosteroid"),
     ("Paracetamol", None), ("", None)],
)
def test_medication_key(text: str, key: str | None) -> None:
    assert codes.medication_key(text) == key


def test_writer_codings_read_back() -> None:
    for key in FindingKey:
        if key.value in ("systolic_bp", "diastolic_bp") or key in codes.UNIT_RULES or key in codes.CODED_FINDINGS \
                or key in codes.BOOLEAN_FINDINGS:
            written = codes.observation_coding(key.value)
            assert codes.finding_key(written["system"], written["code"]) is key
    for site, code in codes.BODY_SITE_KEYS.items():
        written = codes.body_site_coding(site)
        assert codes.body_region(written["system"], written["code"]) is not BodyRegion.UNKNOWN
    for key in ("methotrexate", "topical_corticosteroid", "calcipotriol"):
        written = codes.medication_coding(key)
        assert codes.medication_key_from_code(written["system"], written["code"]) == key
    for kind, table in (("tongue", codes.TONGUE_KEYS), ("pulse", codes.PULSE_KEYS)):
        for finding in table:
            written = codes.tcm_finding_coding(kind, finding)
            assert codes.VALUE_CODES[FindingKey(kind)][(written["system"], written["code"])] == finding


def test_tcm_keys_cover_the_knowledge_file() -> None:
    import json
    tcm = json.loads((Path(__file__).resolve().parents[2] / "inference" / "knowledge" / "tcm.json").read_text())
    used: dict[str, set[str]] = {"tongue": set(), "pulse": set()}

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("input") in used:
                used[node["input"]].update(node.get("any_of", ()))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(tcm)
    assert used["tongue"] <= set(codes.TONGUE_KEYS)
    assert used["pulse"] <= set(codes.PULSE_KEYS)


@pytest.mark.parametrize("unknown", [("tongue", "blue"), ("pulse", "none")])
def test_unknown_tcm_finding_refused(unknown: tuple[str, str]) -> None:
    with pytest.raises(KeyError):
        codes.tcm_finding_coding(*unknown)


def test_data_contract_file_is_current() -> None:
    path = Path(codes.__file__).with_name("data_contract.md")
    assert path.read_text() == render(), "regenerate: python -m fhir_mapping.contract_table > fhir_mapping/data_contract.md"


def test_data_contract_lists_written_ai_codes() -> None:
    text = render()
    for code in (codes.D_PASI_AI, codes.D_LESION_ATTRIBUTES, codes.D_PSORIASIS_PROBABILITY, "AIAST", "39156-5", "9014002"):
        assert f"`{code}`" in text
