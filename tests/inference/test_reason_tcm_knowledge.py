"""The TCM therapy knowledge: every formula's composition validates against the schema, every reference
resolves, banned ingredients appear only through their substitute, sources and unverified marks are
structured, and the checks reject broken edits (negative cases as a table)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any, Callable

import pytest
from jsonschema import Draft202012Validator

from inference.knowledge_base import DEFAULT_DIR, KnowledgeError, load_knowledge, validate_document
from inference.reason.tcm import check_tcm_knowledge
from inference.reason.tcm_therapy import TherapyKnowledge, check_therapy_knowledge

KB = load_knowledge()


def raw(name: str) -> dict[str, Any]:
    return json.loads((DEFAULT_DIR / f"{name}.json").read_text(encoding="utf-8"))


def schema(name: str) -> dict[str, Any]:
    return json.loads((DEFAULT_DIR / "schema" / f"{name}.schema.json").read_text(encoding="utf-8"))


FORMULAS = raw("tcm_formulas")
HERBS = {h["id"]: h for h in raw("tcm_herbs")["herbs"]}
HANZI = re.compile(r"^[\u4e00-\u9fff]+$")


@pytest.mark.parametrize("formula", FORMULAS["formulas"], ids=[f["id"] for f in FORMULAS["formulas"]])
def test_each_formula_composition_validates_and_resolves(formula: dict[str, Any]) -> None:
    formula_schema = schema("tcm_formulas")
    validator = Draft202012Validator({"$defs": formula_schema["$defs"], "$ref": "#/$defs/formula"})
    assert not list(validator.iter_errors(formula))
    assert HANZI.match(formula["hanzi"]) and formula["pinyin"] and formula["english"] and formula["origin"]
    for ingredient in formula["composition"]:
        herb = HERBS[ingredient["herb"]]
        assert HANZI.match(herb["hanzi"]) and herb["pinyin"] and herb["latin"]
        low, high = herb["dose_g"]
        assert 0 < low <= high
    assert formula["source"] in FORMULAS["sources"]


def test_banned_ingredients_only_through_their_substitute() -> None:
    herbs_doc = raw("tcm_herbs")
    banned = {b["id"]: b for b in herbs_doc["banned"]}
    assert banned["rhinoceros_horn"]["substitute"] == "shui_niu_jiao"
    used = {i["herb"] for f in FORMULAS["formulas"] for i in f["composition"]}
    assert not used & set(banned)
    for formula in FORMULAS["formulas"]:
        if "犀角" in formula["hanzi"] or "shui_niu_jiao" in {i["herb"] for i in formula["composition"]}:
            if "犀角" in formula["hanzi"]:
                assert "water buffalo horn" in formula["substitution"]


def test_every_entry_cites_a_known_source_and_unverified_is_structured() -> None:
    for name in ("tcm", "tcm_formulas", "tcm_herbs", "tcm_safety"):
        doc = raw(name)
        text = json.dumps(doc, ensure_ascii=False)
        for source_id in re.findall(r'"(?:source|safety_source)": "([a-z0-9_]+)"', text):
            assert source_id in doc["sources"], (name, source_id)
        # "unverified" is a boolean field, never a word hidden in free text only
        for match in re.finditer(r'"unverified": ([^,}]+)', text):
            assert match.group(1).strip() in {"true", "false"}


def test_patterns_carry_chinese_names_codes_and_code_system_uris() -> None:
    tcm = KB.document("tcm")
    for pattern in tcm["patterns"]:
        assert HANZI.match(pattern["hanzi"]) and pattern["pinyin"]
        assert HANZI.match(pattern["principle"]["hanzi"].replace("，", ""))
        systems = {c["system"] for c in pattern["codes"]}
        assert systems == {"icd11", "gbt15657"}
        for code in pattern["codes"]:
            assert code["note"]
            # nothing is claimed verified that was not checked
            assert code["verified"] is (code["code"] is not None)
            if code["system"] == "icd11":
                assert re.fullmatch(r"S[E-J][0-9A-Z]{2}", code["code"]) and code["display"].endswith("(TM1)")
    core = {p["id"]: c for p in tcm["patterns"] for c in p["codes"] if c["system"] == "icd11"}
    assert {k: (c["code"], c["equivalence"]) for k, c in core.items() if k.startswith("blood")} == {
        "blood_heat": ("SF02", "equivalent"), "blood_dryness": ("SF04", "equivalent"), "blood_stasis": ("SF01", "equivalent")}
    # the lower-evidence patterns have no TM1 equivalent: only broader codes, said so
    assert all(c["equivalence"] == "broader" for k, c in core.items() if not k.startswith("blood"))
    assert tcm["code_systems"]["icd11"]["uri"] == "http://id.who.int/icd/release/11/mms"


def test_hepatotoxic_and_pregnancy_flags_follow_the_pharmacopoeia() -> None:
    assert HERBS["zhi_he_shou_wu"]["safety"]["hepatic"] == "high"
    assert HERBS["san_leng"]["safety"]["pregnancy"] == "contraindicated"
    assert HERBS["e_zhu"]["safety"]["pregnancy"] == "contraindicated"
    assert HERBS["tao_ren"]["safety"]["pregnancy"] == "caution"
    assert HERBS["xi_xin"]["safety"]["renal"] == "nephrotoxic"


def _tcm() -> dict[str, Any]:
    return copy.deepcopy(raw("tcm"))


def _therapy(**docs: dict[str, Any]) -> TherapyKnowledge:
    return TherapyKnowledge(docs.get("formulas", raw("tcm_formulas")), docs.get("herbs", raw("tcm_herbs")),
                            docs.get("safety", raw("tcm_safety")))


def _break_formula_herb(d: dict[str, Any]) -> None:
    d["formulas"]["formulas"][0]["composition"][0]["herb"] = "unicorn_horn"


def _use_banned(d: dict[str, Any]) -> None:
    d["herbs"]["herbs"].append({**d["herbs"]["herbs"][0], "id": "rhinoceros_horn"})


def _unknown_pattern_formula(d: dict[str, Any]) -> None:
    d["tcm"]["patterns"][0]["formulas"].append("no_such_formula")


def _unknown_drug_group(d: dict[str, Any]) -> None:
    d["safety"]["interactions"][0]["drugs"] = ["not_a_group"]


def _reversed_dose(d: dict[str, Any]) -> None:
    d["herbs"]["herbs"][0]["dose_g"] = [30, 15]


def _decocted_without_dose(d: dict[str, Any]) -> None:
    d["formulas"]["formulas"][0]["composition"][0]["herb"] = "lei_gong_teng"


def _compound_tongue_rule(d: dict[str, Any]) -> None:
    d["tcm"]["patterns"][0]["rules"][3]["any_of"] = ["red_yellow_coat"]


def _unknown_sign(d: dict[str, Any]) -> None:
    d["tcm"]["patterns"][3]["rules"][0]["any_of"] = ["oozing"]


BROKEN: list[tuple[str, Callable[[dict[str, Any]], None]]] = [
    ("formula names an unknown herb", _break_formula_herb),
    ("banned ingredient as a herb", _use_banned),
    ("pattern names an unknown formula", _unknown_pattern_formula),
    ("interaction with an unknown drug group", _unknown_drug_group),
    ("dose range reversed", _reversed_dose),
    ("formula herb without a decoction dose", _decocted_without_dose),
    ("rule uses a combined tongue value", _compound_tongue_rule),
    ("rule uses an unknown sign", _unknown_sign),
]


@pytest.mark.parametrize("edit", [b[1] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_broken_edits_are_rejected_at_start_up(edit: Callable[[dict[str, Any]], None]) -> None:
    docs = {"tcm": _tcm(), "formulas": raw("tcm_formulas"), "herbs": raw("tcm_herbs"), "safety": raw("tcm_safety")}
    edit(docs)
    with pytest.raises(KnowledgeError):
        check_tcm_knowledge(docs["tcm"])
        check_therapy_knowledge(docs["tcm"], _therapy(formulas=docs["formulas"], herbs=docs["herbs"], safety=docs["safety"]))


SCHEMA_BREAKS = [
    ("tcm_herbs", lambda d: d["herbs"][0].update(hanzi="shui niu jiao")),  # hanzi must be Chinese characters
    ("tcm_herbs", lambda d: d["herbs"][0]["safety"].update(pregnancy="maybe")),
    ("tcm_formulas", lambda d: d["formulas"][0]["composition"][0].update(role="king")),
    ("tcm_formulas", lambda d: d["formulas"][0].pop("source")),
    ("tcm_safety", lambda d: d["interactions"][0].update(action="avoid")),
    ("tcm", lambda d: d["patterns"][0]["codes"][0].update(code=None)),  # verified needs a code
]


@pytest.mark.parametrize(("name", "edit"), SCHEMA_BREAKS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(SCHEMA_BREAKS)])
def test_schema_rejects(name: str, edit: Callable[[dict[str, Any]], None]) -> None:
    doc = copy.deepcopy(raw(name))
    edit(doc)
    with pytest.raises(KnowledgeError):
        validate_document(doc, schema(name), name)


def test_shipped_knowledge_passes_the_cross_checks() -> None:
    check_tcm_knowledge(KB.document("tcm"))
    check_therapy_knowledge(KB.document("tcm"), _therapy())
    assert Path(DEFAULT_DIR / "tcm_herbs.json").exists()
