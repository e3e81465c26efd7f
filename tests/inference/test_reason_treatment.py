"""DERM-Reason treatment plan under each guideline profile: step selection (severity, IPC candidacy,
PsA, current therapy, hold, stale data), options judged per patient by the drug knowledge (special
populations, comorbidities, age limits), subtypes, topicals as adjunct, and the codes on each option.
Drug-level rules (each population, condition, interaction) are tested row by row in test_drugs.py."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from inference.case import (
    Case,
    ConditionEntry,
    ConditionKey,
    Finding,
    FindingKey,
    MedicationEntry,
    PatientInfo,
    PsoriasisSubtype,
)
from inference.knowledge_base import KnowledgeError, load_knowledge
from inference.reason.drugs import RXNORM, SNOMED, DrugCatalogue
from inference.reason.severity import assess_severity
from inference.reason.treatment import PlanContext, plan_treatment, profile_of
from inference.results import TreatmentOption, TreatmentPlan

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
ADULT = PatientInfo("Patient/p1", date(1980, 5, 1), "female")
KB = load_knowledge()
CATALOGUE = DrugCatalogue.from_knowledge(KB)
PROFILES = ("aad_npf", "euroguiderm", "nice", "china")
BIOLOGIC_OPTIONS = {"il23_inhibitor", "il17_inhibitor", "tnf_inhibitor", "il12_23_inhibitor"}


def obs(key: FindingKey, value: float | str | bool, days_ago: int = 1) -> Finding:
    return Finding(key, value, f"Observation/{key.value}", effective=NOW - timedelta(days=days_ago))


def cond(key: ConditionKey, subtype: PsoriasisSubtype | None = None) -> ConditionEntry:
    return ConditionEntry(key, key.value.replace("_", " ").capitalize(), f"Condition/{key.value}", subtype=subtype)


def med(key: str) -> MedicationEntry:
    return MedicationEntry(key, key.capitalize(), f"MedicationStatement/{key}", start=(NOW - timedelta(days=200)).date())


def plan_for(*findings: Finding, conditions=(), medications=(), profile: str = "aad_npf", patient: PatientInfo = ADULT,
             subtypes: tuple[PsoriasisSubtype, ...] = (), hold: bool = False) -> TreatmentPlan | None:
    case = Case(patient, NOW, findings=findings, conditions=(cond(ConditionKey.PSORIASIS), *conditions),
                medications=tuple(medications))
    severity = assess_severity(case, None, KB.document("severity"))
    populations = CATALOGUE.populations(case)[0]
    return plan_treatment(case, severity, KB.document("treatment"), PlanContext(CATALOGUE, profile, populations, subtypes, hold))


def option(plan: TreatmentPlan, therapy: str) -> TreatmentOption:
    return next(o for o in plan.options if o.therapy == therapy)


def allowed(plan: TreatmentPlan) -> set[str]:
    return {o.therapy for o in plan.options if o.allowed}


def allowed_drugs(plan: TreatmentPlan) -> set[str]:
    return {d for o in plan.options if o.allowed for d in o.drugs}


# ---------------------------------------------------------------- steps by profile

STEPS = [
    ("aad_npf", 0.0, "topical"), ("aad_npf", 2.0, "topical"), ("aad_npf", 5.0, "phototherapy"), ("aad_npf", 12.0, "biologic"),
    ("euroguiderm", 2.0, "topical"), ("euroguiderm", 5.0, "phototherapy"), ("euroguiderm", 12.0, "oral_systemic"),
    ("nice", 2.0, "topical"), ("nice", 5.0, "phototherapy"), ("nice", 12.0, "oral_systemic"),
    ("china", 2.0, "topical"), ("china", 5.0, "phototherapy"), ("china", 12.0, "oral_systemic"),
]


@pytest.mark.parametrize(("profile", "bsa", "step"), STEPS, ids=[f"{p}-BSA{b:g}" for p, b, _ in STEPS])
def test_step_by_profile_and_severity(profile: str, bsa: float, step: str) -> None:
    plan = plan_for(obs(FindingKey.BSA_PERCENT, bsa), profile=profile)
    assert plan is not None and plan.step == step
    assert plan.profile == profile and plan.profile_display == KB.document("treatment")["profiles"][profile]["display"]


@pytest.mark.parametrize(("profile", "first_line"), [("aad_npf", True), ("euroguiderm", False), ("nice", False), ("china", True)])
def test_biologics_first_line_for_severe_disease_only_where_the_profile_says_so(profile: str, first_line: bool) -> None:
    plan = plan_for(obs(FindingKey.BSA_PERCENT, 24.0), obs(FindingKey.PASI, 21.0), profile=profile)
    assert plan is not None
    assert bool(allowed(plan) & BIOLOGIC_OPTIONS) is first_line
    assert "methotrexate" in allowed(plan)


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("bsa", [5.0, 12.0])
def test_topicals_stay_as_adjunct_at_every_step(profile: str, bsa: float) -> None:
    plan = plan_for(obs(FindingKey.BSA_PERCENT, bsa), profile=profile)
    assert plan is not None and plan.step != "topical"
    adjuncts = {o.therapy for o in plan.options if o.adjunct and o.allowed}
    assert {"topical_corticosteroid", "vitamin_d_analogue"} <= adjuncts


@pytest.mark.parametrize("profile", PROFILES)
def test_special_area_makes_a_systemic_candidate(profile: str) -> None:
    plan = plan_for(obs(FindingKey.BSA_PERCENT, 2.0), obs(FindingKey.SPECIAL_AREA, "scalp"), profile=profile)
    assert plan is not None and plan.step == "oral_systemic"
    assert "treatment.step.systemic_candidate" in {e.rule for e in plan.rationale}


def test_unknown_or_stale_severity_gives_no_step() -> None:
    assert plan_for() is None
    assert plan_for(obs(FindingKey.BSA_PERCENT, 18.0, days_ago=500), obs(FindingKey.PASI, 20.0, days_ago=500)) is None


def test_unknown_profile_is_a_configuration_error() -> None:
    with pytest.raises(KnowledgeError, match="homeopathy"):
        profile_of(KB.document("treatment"), "homeopathy")


# ---------------------------------------------------------------- current therapy

@pytest.mark.parametrize(("bsa", "medication", "step"), [
    (12.0, "methotrexate", "biologic"),  # severe disease persists on an oral systemic
    (5.0, "methotrexate", "oral_systemic"),  # moderate on methotrexate: stay, review response, never step down
    (1.0, "adalimumab", "biologic"),  # controlled on a biologic: stay
    (12.0, "nb_uvb", "oral_systemic"),
])
def test_current_therapy(bsa: float, medication: str, step: str) -> None:
    plan = plan_for(obs(FindingKey.BSA_PERCENT, bsa), medications=(med(medication),), profile="nice")
    assert plan is not None and plan.step == step
    if CATALOGUE[medication].therapy_class.value == step:  # staying: the current drug is in the plan, marked current
        assert any(o.current for o in plan.options if medication in o.drugs)


def test_staying_on_the_current_step_is_not_claimed_after_escalation() -> None:
    escalated = plan_for(obs(FindingKey.BSA_PERCENT, 12.0), medications=(med("methotrexate"),))
    stayed = plan_for(obs(FindingKey.BSA_PERCENT, 5.0), medications=(med("methotrexate"),), profile="nice")
    assert escalated is not None and stayed is not None
    assert "treatment.step.escalate" in {e.rule for e in escalated.rationale}
    assert "treatment.step.continue_current" in {e.rule for e in stayed.rationale}


def test_hold_blocks_escalation_and_immunosuppression() -> None:
    plan = plan_for(obs(FindingKey.BSA_PERCENT, 14.0), conditions=(cond(ConditionKey.TUBERCULOSIS),),
                    medications=(med("methotrexate"),), hold=True)
    assert plan is not None and plan.on_hold and plan.step == "oral_systemic"
    assert "on hold" in plan.step_display and "biologic" not in plan.step_display.lower()
    assert not allowed(plan) & (BIOLOGIC_OPTIONS | {"methotrexate", "cyclosporine"})
    assert "nb_uvb" in allowed(plan) and "topical_corticosteroid" in allowed(plan)


# ---------------------------------------------------------------- psoriatic arthritis

@pytest.mark.parametrize("profile", PROFILES)
def test_psoriatic_arthritis_gets_joint_active_therapy_only(profile: str) -> None:
    plan = plan_for(obs(FindingKey.BSA_PERCENT, 4.0), conditions=(cond(ConditionKey.PSORIATIC_ARTHRITIS),), profile=profile)
    assert plan is not None and plan.step in ("oral_systemic", "biologic")
    drugs = allowed_drugs(plan)
    assert "methotrexate" in drugs
    assert not drugs & {"acitretin", "cyclosporine", "deucravacitinib", "tildrakizumab", "brodalumab"}
    assert all(CATALOGUE[d].joint_active for o in plan.options if not o.adjunct and o.therapy_class != "phototherapy"
               for d in o.drugs)


# ---------------------------------------------------------------- populations and comorbidities

def test_pregnancy_prefers_certolizumab_nb_uvb_and_topicals() -> None:
    plan = plan_for(obs(FindingKey.BSA_PERCENT, 16.0), obs(FindingKey.PREGNANT, True))
    assert plan is not None
    tnf = option(plan, "tnf_inhibitor")
    assert tnf.allowed and tnf.drugs[0] == "certolizumab" and tnf.status == "preferred" and "pregnancy" in tnf.note
    assert option(plan, "nb_uvb").status == "preferred"
    for blocked in ("methotrexate", "acitretin", "apremilast", "deucravacitinib"):
        assert not option(plan, blocked).allowed, blocked
    moderate = plan_for(obs(FindingKey.BSA_PERCENT, 6.0), obs(FindingKey.PREGNANT, True))
    assert moderate is not None and not option(moderate, "puva").allowed
    assert "topical_corticosteroid" in allowed(moderate)


def test_child_sees_only_drugs_licensed_for_their_age() -> None:
    child = PatientInfo("Patient/c", date(2017, 6, 1), "female")
    plan = plan_for(obs(FindingKey.BSA_PERCENT, 12.0), patient=child)
    assert plan is not None
    tnf = option(plan, "tnf_inhibitor")
    assert set(tnf.drugs) == {"adalimumab", "etanercept"} and "infliximab" not in tnf.display
    assert not option(plan, "il23_inhibitor").allowed
    assert set(option(plan, "il17_inhibitor").drugs) == {"secukinumab", "ixekizumab"}


@pytest.mark.parametrize(("condition", "blocked", "still_allowed"), [
    (ConditionKey.HEART_FAILURE, "tnf_inhibitor", "il23_inhibitor"),
    (ConditionKey.INFLAMMATORY_BOWEL_DISEASE, "il17_inhibitor", "il23_inhibitor"),
    (ConditionKey.DEMYELINATING_DISEASE, "tnf_inhibitor", "il17_inhibitor"),
    (ConditionKey.LIVER_DISEASE, "methotrexate", "il23_inhibitor"),
    (ConditionKey.KIDNEY_DISEASE, "cyclosporine", "tnf_inhibitor"),
])
def test_comorbidities_remove_whole_classes(condition: ConditionKey, blocked: str, still_allowed: str) -> None:
    plan = plan_for(obs(FindingKey.BSA_PERCENT, 16.0), conditions=(cond(condition),))
    assert plan is not None
    assert not option(plan, blocked).allowed and option(plan, blocked).contraindications
    assert option(plan, still_allowed).allowed


def test_allowed_options_come_first() -> None:
    plan = plan_for(obs(FindingKey.BSA_PERCENT, 16.0), conditions=(cond(ConditionKey.HEART_FAILURE),))
    assert plan is not None
    flags = [o.allowed for o in plan.options]
    assert flags == sorted(flags, reverse=True)


# ---------------------------------------------------------------- subtypes

def test_inverse_psoriasis_uses_flexural_topicals() -> None:
    plan = plan_for(obs(FindingKey.BSA_PERCENT, 2.0), subtypes=(PsoriasisSubtype.INVERSE,))
    assert plan is not None and plan.step == "topical"
    therapies = [o.therapy for o in plan.options]
    assert therapies[0] == "calcineurin_inhibitor" and "tazarotene" not in therapies
    assert "mild or moderate potency" in option(plan, "topical_corticosteroid").display


def test_guttate_psoriasis_stays_at_phototherapy() -> None:
    plan = plan_for(obs(FindingKey.BSA_PERCENT, 8.0), obs(FindingKey.SPECIAL_AREA, "scalp"), subtypes=(PsoriasisSubtype.GUTTATE,))
    assert plan is not None and plan.step == "phototherapy"
    assert [o.therapy for o in plan.options][0] == "nb_uvb"
    assert not allowed(plan) & BIOLOGIC_OPTIONS


# ---------------------------------------------------------------- codes and checks on options

def test_options_carry_codes_for_the_careplan() -> None:
    plan = plan_for(obs(FindingKey.BSA_PERCENT, 16.0))
    assert plan is not None
    assert ("6851" in {c.code for c in option(plan, "methotrexate").codings if c.system == RXNORM})
    assert any(c.system == SNOMED for c in option(plan, "nb_uvb").codings)
    assert not any(c.system == RXNORM for c in option(plan, "topical_corticosteroid").codings)  # a class, not one ingredient
    assert {c.code for c in option(plan, "tnf_inhibitor").codings if c.system == RXNORM} >= {"327361", "214555"}


def test_pre_treatment_checks_are_only_the_missing_ones() -> None:
    bare = plan_for(obs(FindingKey.BSA_PERCENT, 16.0))
    tested = plan_for(obs(FindingKey.BSA_PERCENT, 16.0), obs(FindingKey.TB_IGRA, False, days_ago=30),
                      obs(FindingKey.HBSAG, False, days_ago=30))
    assert bare is not None and tested is not None
    assert "TB screening (interferon-gamma release assay)" in option(bare, "tnf_inhibitor").pre_treatment_checks
    assert "TB screening (interferon-gamma release assay)" not in option(tested, "tnf_inhibitor").pre_treatment_checks
    assert "Hepatitis B serology (HBsAg, anti-HBc)" not in option(tested, "tnf_inhibitor").pre_treatment_checks


def test_every_profile_offers_known_options_at_every_step() -> None:
    doc = KB.document("treatment")
    for name, profile in doc["profiles"].items():
        for step in ("topical", "phototherapy", "oral_systemic", "biologic"):
            assert profile["steps"][step]["offer"], (name, step)
            assert set(profile["steps"][step]["offer"]) <= set(doc["options"])


@pytest.mark.parametrize(("finding", "withheld"), [
    (obs(FindingKey.ALT, 168.0), True), (obs(FindingKey.NEUTROPHILS, 0.9), True), (obs(FindingKey.ALT, 45.0), False),
])
def test_a_drug_to_withhold_is_not_offered_even_when_current(finding: Finding, withheld: bool) -> None:
    plan = plan_for(obs(FindingKey.BSA_PERCENT, 5.0), finding, medications=(med("methotrexate"),))
    assert plan is not None
    mtx = option(plan, "methotrexate")
    assert mtx.allowed is not withheld
    if withheld:
        assert any("methotrexate" in c.reason.lower() for c in mtx.contraindications)


def test_cyclosporine_with_raised_bp_is_reviewed_not_withheld() -> None:
    plan = plan_for(obs(FindingKey.BSA_PERCENT, 5.0), obs(FindingKey.SYSTOLIC_BP, 164.0), medications=(med("cyclosporine"),))
    assert plan is not None and option(plan, "cyclosporine").allowed


@pytest.mark.parametrize(("pest", "joint_pain", "suspected"), [(4.0, True, True), (4.0, False, False), (2.0, True, False)])
def test_positive_pest_with_joint_pain_is_treated_as_suspected_psoriatic_arthritis(pest: float, joint_pain: bool,
                                                                                   suspected: bool) -> None:
    findings = [obs(FindingKey.BSA_PERCENT, 4.0), obs(FindingKey.PEST_SCORE, pest)]
    if joint_pain:
        findings.append(obs(FindingKey.JOINT_PAIN, True))
    plan = plan_for(*findings)
    assert plan is not None
    assert ("acitretin" not in allowed_drugs(plan) and plan.step == "biologic") is suspected
    assert ("treatment.suspected_psa" in {e.rule for e in plan.rationale}) is suspected


def test_nice_offers_biologics_when_every_systemic_non_biologic_is_contraindicated() -> None:
    # Liver disease (methotrexate, acitretin) and kidney disease (cyclosporine) rule out every systemic non-biologic.
    plan = plan_for(obs(FindingKey.BSA_PERCENT, 16.0),
                    conditions=(cond(ConditionKey.LIVER_DISEASE), cond(ConditionKey.KIDNEY_DISEASE)), profile="nice")
    assert plan is not None and plan.step == "biologic"
    assert "treatment.step.unsuitable" in {e.rule for e in plan.rationale}
    assert allowed(plan) & BIOLOGIC_OPTIONS
    plain = plan_for(obs(FindingKey.BSA_PERCENT, 16.0), profile="nice")
    assert plain is not None and plain.step == "oral_systemic" and not allowed(plain) & BIOLOGIC_OPTIONS
