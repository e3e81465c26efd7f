"""DERM-Reason TCM differentiation: each pattern, weighted evidence for/against, honest confidence."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from inference.case import Case, ConditionEntry, ConditionKey, Finding, FindingKey, PatientInfo
from inference.knowledge_base import load_knowledge
from inference.reason.tcm import differentiate
from inference.reason.tcm_therapy import TherapyKnowledge
from inference.results import Evidence, PatientRepresentation, TcmDifferentiation, Trend

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
KB = load_knowledge()
TCM = KB.document("tcm")
THERAPY = TherapyKnowledge(KB.document("tcm_formulas"), KB.document("tcm_herbs"), KB.document("tcm_safety"))


def obs(key: FindingKey, value: float | str | bool, n: int = 0) -> Finding:
    return Finding(key, value, f"Observation/{key.value}-{n}", effective=NOW - timedelta(days=1))


def photos(**descriptors: float) -> PatientRepresentation:
    return PatientRepresentation(
        probabilities={"psoriasis": 0.9, "eczema": 0.1},
        regions=(),
        pasi=None,
        trend=Trend("unknown"),
        tcm_descriptors=dict(descriptors),
        descriptor_evidence={k: (Evidence(f"{k} measured", source_ref="Media/m1"),) for k in descriptors},
        photos=(),
    )


def run(
    findings: tuple[Finding, ...] = (),
    rep: PatientRepresentation | None = None,
    conditions: tuple[ConditionKey, ...] = (),
    differential_open: bool = False,
) -> TcmDifferentiation | None:
    case = Case(
        PatientInfo("Patient/p1"), NOW, findings=findings,
        conditions=tuple(ConditionEntry(k, k.value, f"Condition/{k.value}") for k in conditions),
    )
    return differentiate(case, rep, TCM, THERAPY, differential_open)


# (pattern, findings, descriptors, conditions)
PATTERNS = [
    ("blood_heat",
     (obs(FindingKey.TONGUE, "red_yellow_coat"), obs(FindingKey.PULSE, "slippery_rapid"), obs(FindingKey.LESION_ONSET, "new_spreading")),
     {"bright_red": 0.9, "thick_scale": 0.7}, ()),
    ("blood_dryness",
     (obs(FindingKey.TONGUE, "pale_red_little_coat"), obs(FindingKey.PULSE, "deep_thin"), obs(FindingKey.LESION_ONSET, "long_standing")),
     {"pale_red": 0.8, "fine_dry_scale": 0.8}, ()),
    ("blood_stasis",
     (obs(FindingKey.TONGUE, "purple_dusky"), obs(FindingKey.PULSE, "choppy"), obs(FindingKey.LESION_ONSET, "long_standing")),
     {"dark_red_purple": 0.9, "thick_plaque": 0.8}, ()),
    ("damp_heat",
     (obs(FindingKey.TONGUE, "red_greasy_yellow_coat"), obs(FindingKey.PULSE, "soggy"), obs(FindingKey.SPECIAL_AREA, "genitals")),
     {"exudative": 0.9}, ()),
    ("heat_toxin",
     (obs(FindingKey.TONGUE, "crimson"), obs(FindingKey.PULSE, "surging_rapid")),
     {"pustular": 0.9}, ()),
    ("wind_damp",
     (obs(FindingKey.JOINT_PAIN, True), obs(FindingKey.TONGUE, "pale_white_coat"), obs(FindingKey.PULSE, "wiry")),
     {}, (ConditionKey.PSORIATIC_ARTHRITIS,)),
]


@pytest.mark.parametrize(("pattern", "findings", "descriptors", "conditions"), PATTERNS, ids=[p[0] for p in PATTERNS])
def test_typical_presentation_ranks_its_pattern_first(
    pattern: str, findings: tuple[Finding, ...], descriptors: dict[str, float], conditions: tuple[ConditionKey, ...]
) -> None:
    result = run(findings, photos(**descriptors) if descriptors else None, conditions)
    assert result is not None and result.primary is not None
    assert result.primary.pattern == pattern
    assert result.ranked[0] is result.primary
    assert [p.score for p in result.ranked] == sorted((p.score for p in result.ranked), reverse=True)
    assert len(result.ranked) == 6
    primary = result.primary
    assert primary.treatment_principle and primary.formulas
    assert all(e.rule and e.citation and e.weight > 0 and e.source_ref for e in primary.evidence_for)
    assert 0 < result.confidence <= 0.8


def test_extra_patterns_are_weighted_down() -> None:
    core = next(p for p in TCM["patterns"] if p["tier"] == "core")
    assert TCM["tiers"]["extra"]["factor"] < TCM["tiers"]["core"]["factor"] == 1.0
    result = run((obs(FindingKey.TONGUE, "crimson"), obs(FindingKey.PULSE, "surging_rapid")), photos(pustular=1.0))
    assert result is not None
    heat_toxin = next(p for p in result.ranked if p.pattern == "heat_toxin")
    assert heat_toxin.score <= TCM["tiers"]["extra"]["factor"]
    assert core["tier"] == "core"


def test_evidence_against_is_reported_with_negative_weight() -> None:
    result = run((obs(FindingKey.TONGUE, "red_yellow_coat"),), photos(pale_red=0.9))
    assert result is not None
    heat = next(p for p in result.ranked if p.pattern == "blood_heat")
    against = next(e for e in heat.evidence_against if e.rule == "tcm.blood_heat.against_pale")
    assert against.weight < 0 and against.source_ref == "Media/m1"


def test_buffalo_horn_substitution_and_integrative_disclaimer() -> None:
    result = run((obs(FindingKey.TONGUE, "red_yellow_coat"),))
    assert result is not None
    heat = next(p for p in result.ranked if p.pattern == "blood_heat")
    assert any("buffalo horn" in f for f in heat.formulas)
    assert "never replaces guideline care" in result.note
    assert "no recommendation" in result.note
    assert "CACMS" in result.citation or "China Academy" in result.citation


def test_no_tcm_input_gives_none() -> None:
    assert run((obs(FindingKey.BSA_PERCENT, 5.0),)) is None
    assert run(rep=photos(bright_red=0.1)) is None  # below the descriptor threshold


def test_single_finding_gives_low_confidence() -> None:
    result = run((obs(FindingKey.TONGUE, "red_yellow_coat"),))
    assert result is not None and result.primary is not None
    assert result.confidence <= TCM["confidence"]["coverage_caps"][1]


def test_image_only_confidence_is_capped() -> None:
    result = run(rep=photos(bright_red=1.0, thick_scale=1.0, new_spreading=1.0))
    assert result is not None and result.primary is not None
    assert result.primary.pattern == "blood_heat"
    assert result.confidence <= TCM["confidence"]["image_only_cap"]


def test_close_top_two_lowers_confidence() -> None:
    # Tongue aspects now score separately: red body, yellow coat and a slippery pulse (blood-heat) beside
    # stasis spots and a choppy pulse (blood-stasis) leave the two close; the stasis findings alone do not.
    close = run((obs(FindingKey.TONGUE, "red_yellow_coat", 1), obs(FindingKey.TONGUE, "spots_stasis", 2),
                 obs(FindingKey.PULSE, "slippery", 1), obs(FindingKey.PULSE, "choppy", 2)))
    clear = run((obs(FindingKey.TONGUE, "spots_stasis"), obs(FindingKey.PULSE, "choppy")))
    assert close is not None and clear is not None
    assert close.ranked[0].score - close.ranked[1].score < TCM["confidence"]["close_margin"]
    assert close.confidence == pytest.approx(clear.confidence * TCM["confidence"]["close_factor"], abs=0.01)


def test_more_kinds_of_findings_raise_confidence() -> None:
    tongue_only = run((obs(FindingKey.TONGUE, "red_yellow_coat"),))
    full = run(PATTERNS[0][1], photos(**PATTERNS[0][2]))
    assert tongue_only is not None and full is not None
    assert full.confidence > tongue_only.confidence


def test_open_differential_lowers_confidence() -> None:
    findings, descriptors = PATTERNS[0][1], PATTERNS[0][2]
    settled = run(findings, photos(**descriptors))
    open_ = run(findings, photos(**descriptors), differential_open=True)
    assert settled is not None and open_ is not None
    assert open_.confidence == pytest.approx(settled.confidence * TCM["confidence"]["differential_open_factor"], abs=0.01)


def test_recorded_onset_overrides_the_image_guess() -> None:
    result = run((obs(FindingKey.LESION_ONSET, "long_standing"),), photos(new_spreading=0.9))
    assert result is not None
    heat = next(p for p in result.ranked if p.pattern == "blood_heat")
    assert not any(e.rule == "tcm.blood_heat.new_spreading" for e in heat.evidence_for)
    assert any(e.rule == "tcm.blood_heat.against_long_standing" for e in heat.evidence_against)


def test_pulse_charted_as_two_findings_counts_both() -> None:
    result = run((obs(FindingKey.PULSE, "slippery", 1), obs(FindingKey.PULSE, "deep_thin", 2)))
    assert result is not None
    dryness = next(p for p in result.ranked if p.pattern == "blood_dryness")
    assert {"tcm.blood_dryness.pulse_deep", "tcm.blood_dryness.pulse_thin"} <= {e.rule for e in dryness.evidence_for}
    heat = next(p for p in result.ranked if p.pattern == "blood_heat")
    assert any(e.rule == "tcm.blood_heat.pulse_slippery" for e in heat.evidence_for)



def test_lower_evidence_pattern_lowers_confidence_and_says_why() -> None:
    heat_toxin = run(PATTERNS[4][1], photos(**PATTERNS[4][2]))
    blood_heat = run(PATTERNS[0][1][:2], photos(**PATTERNS[0][2]))  # same kinds of input: lesion, tongue, pulse
    assert heat_toxin is not None and blood_heat is not None
    assert heat_toxin.confidence == pytest.approx(blood_heat.confidence * TCM["tiers"]["extra"]["factor"], abs=0.01)
    assert any("lower-evidence" in e.statement for e in heat_toxin.confidence_basis)


def test_confidence_basis_explains_caps() -> None:
    result = run(rep=photos(bright_red=1.0))
    assert result is not None
    statements = " ".join(e.statement for e in result.confidence_basis)
    assert "only photograph descriptors" in statements
    assert all(e.rule == "tcm.confidence" for e in result.confidence_basis)


def test_vocabulary_lists_what_the_mapping_may_send() -> None:
    from inference.reason.tcm import vocabulary

    words = vocabulary(TCM)
    assert {"red_yellow_coat", "pale_red_little_coat", "purple_dusky"} <= words["tongue"]
    assert {"slippery", "rapid", "deep_thin", "choppy"} <= words["pulse"]
    assert {"new_spreading", "long_standing"} <= words["onset"]


def test_unknown_tongue_value_is_a_data_issue() -> None:
    from inference.reason.tcm import unrecognised_findings

    case = Case(PatientInfo("Patient/p1"), NOW, findings=(obs(FindingKey.TONGUE, "tartan"), obs(FindingKey.PULSE, "rapid")))
    issues = unrecognised_findings(case, TCM)
    assert [(i.code, i.source_ref) for i in issues] == [("unrecognised_tcm_finding", "Observation/tongue-0")]


def test_every_coded_tongue_pulse_and_onset_value_is_understood() -> None:
    """Contract with fhir_mapping.codes: any value it can put into a Finding has a rule here."""
    from inference.reason.tcm import vocabulary

    codes = pytest.importorskip("fhir_mapping.codes")
    words = vocabulary(TCM)
    for table, kind in (("TONGUE_KEYS", "tongue"), ("PULSE_KEYS", "pulse"), ("LESION_ONSET_KEYS", "onset")):
        assert set(getattr(codes, table, {})) <= words[kind], table


# ---------------------------------------------------------------- issue 15: signs, aspects, full reasoning


def cond(key: ConditionKey, display: str, code: str | None) -> ConditionEntry:
    return ConditionEntry(key, display, f"Condition/{display.split()[0].lower()}", code=code)


def run_with(findings: tuple[Finding, ...] = (), conditions: tuple[ConditionEntry, ...] = ()) -> TcmDifferentiation | None:
    return differentiate(Case(PatientInfo("Patient/p1"), NOW, findings=findings, conditions=conditions),
                         None, TCM, THERAPY)


@pytest.mark.parametrize(("display", "code"), [
    ("Generalized pustular psoriasis", "http://snomed.info/sct|200973000"),
    ("Psoriasis, pustular", "http://hl7.org/fhir/sid/icd-10|L40.1"),
    ("Palmoplantar pustulosis", "http://hl7.org/fhir/sid/icd-10-cm|L403"),
    ("Pustular psoriasis of the palms", None),  # text only
])
def test_pustular_condition_is_a_heat_toxin_sign(display: str, code: str | None) -> None:
    result = run_with((obs(FindingKey.TONGUE, "crimson"),), (cond(ConditionKey.PSORIASIS, display, code),))
    assert result is not None and result.primary is not None and result.primary.pattern == "heat_toxin"
    sign = next(e for e in result.primary.evidence_for if e.rule == "tcm.heat_toxin.pustules_erythroderma")
    assert sign.source_ref and sign.source_ref.startswith("Condition/")


def test_plain_psoriasis_condition_is_no_sign() -> None:
    result = run_with((obs(FindingKey.TONGUE, "crimson"),),
                      (cond(ConditionKey.PSORIASIS, "Psoriasis vulgaris", "http://snomed.info/sct|200975007"),))
    assert result is not None
    toxin = next(p for p in result.ranked if p.pattern == "heat_toxin")
    assert not any(e.rule == "tcm.heat_toxin.pustules_erythroderma" for e in toxin.evidence_for)


def test_tongue_aspects_recorded_separately_combine() -> None:
    aspects = (obs(FindingKey.TONGUE, "body_red", 1), obs(FindingKey.TONGUE, "coat_yellow", 2))
    combined = (obs(FindingKey.TONGUE, "red_yellow_coat"),)
    a, b = run_with(aspects), run_with(combined)
    assert a is not None and b is not None and a.primary is not None and b.primary is not None
    assert a.primary.pattern == b.primary.pattern == "blood_heat"
    assert a.primary.score == b.primary.score


@pytest.mark.parametrize(("itch", "triggered"), [(3.0, False), (4.0, True), (9.0, True)])
def test_itch_modification_threshold(itch: float, triggered: bool) -> None:
    result = run_with((obs(FindingKey.TONGUE, "red_yellow_coat"), obs(FindingKey.ITCH_NRS, itch)))
    assert result is not None and result.primary is not None
    mods = result.primary.formula_options[0].modifications
    assert any("itch" in m.statement for m in mods) is triggered


def test_modification_skips_herbs_the_formula_already_holds() -> None:
    result = run_with((obs(FindingKey.TONGUE, "crimson"),),
                      (cond(ConditionKey.PSORIASIS, "Generalized pustular psoriasis", "http://snomed.info/sct|200973000"),
                       ConditionEntry(ConditionKey.CONSTIPATION, "Constipation", "Condition/c")))
    assert result is not None and result.primary is not None
    for formula in result.primary.formula_options:
        held = {h.herb for h in formula.composition}
        for mod in formula.modifications:
            assert not held & {h.herb for h in mod.add}


@pytest.mark.parametrize(("pattern", "findings", "descriptors", "conditions"), PATTERNS, ids=[p[0] for p in PATTERNS])
def test_full_reasoning_and_short_card_lines(
    pattern: str, findings: tuple[Finding, ...], descriptors: dict[str, float], conditions: tuple[ConditionKey, ...]
) -> None:
    result = run(findings, photos(**descriptors) if descriptors else None, conditions)
    assert result is not None and result.primary is not None
    p = result.primary
    assert p.hanzi and p.pinyin and p.pathogenesis and p.pathogenesis_hanzi and p.principle_hanzi and p.principle_pinyin
    assert p.formula_options and p.formulas and p.codes
    assert all(h.dose_g and h.latin and h.hanzi for f in p.formula_options for h in f.composition)
    assert p.external_treatments or p.patent_medicines
    assert len(result.card_line) < 140 and p.hanzi in result.card_line
    assert result.card_caution == "" or pattern == "heat_toxin"  # no safety facts here; heat-toxin has its urgent note
