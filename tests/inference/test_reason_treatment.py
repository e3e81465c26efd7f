"""DERM-Reason treatment ladder: step selection (severity, IPC candidacy, PsA, current medication),
contraindication rules and pre-treatment checks."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from inference.case import Case, ConditionEntry, ConditionKey, Finding, FindingKey, MedicationEntry, PatientInfo
from inference.knowledge_base import load_knowledge
from inference.reason.severity import assess_severity
from inference.reason.treatment import plan_treatment
from inference.results import TreatmentOption, TreatmentPlan

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)

# The BSA that puts a patient on each step without medication history (and the medication that moves
# severe disease to the biologic step).
STEP_BSA = {"topical": 2.0, "phototherapy": 5.0, "oral_systemic": 12.0, "biologic": 12.0}


def obs(key: FindingKey, value: float | str | bool) -> Finding:
    return Finding(key, value, f"Observation/{key.value}", effective=NOW - timedelta(days=1))


def condition(key: ConditionKey, active: bool = True) -> ConditionEntry:
    return ConditionEntry(key, key.value.replace("_", " ").capitalize(), f"Condition/{key.value}", active=active)


def medication(key: str, active: bool = True) -> MedicationEntry:
    return MedicationEntry(key, key.capitalize(), f"MedicationStatement/{key}", active=active)


def plan_for(
    findings: tuple[Finding, ...] = (),
    conditions: tuple[ConditionEntry, ...] = (),
    medications: tuple[MedicationEntry, ...] = (),
) -> TreatmentPlan | None:
    kb = load_knowledge()
    case = Case(PatientInfo("Patient/p1"), NOW, findings=findings, conditions=conditions, medications=medications)
    severity = assess_severity(case, None, kb.document("severity"))
    return plan_treatment(case, severity, kb.document("treatment"))


def on_step(step: str, *extra: Finding, conditions: tuple[ConditionEntry, ...] = ()) -> TreatmentPlan:
    medications = (medication("methotrexate"),) if step == "biologic" else ()
    plan = plan_for((obs(FindingKey.BSA_PERCENT, STEP_BSA[step]), *extra), conditions, medications)
    assert plan is not None and plan.step == step
    return plan


def option(plan: TreatmentPlan, therapy: str) -> TreatmentOption:
    return next(o for o in plan.options if o.therapy == therapy)


STEPS = [
    ("clear -> topical", (obs(FindingKey.BSA_PERCENT, 0.0),), (), (), "topical"),
    ("mild -> topical", (obs(FindingKey.BSA_PERCENT, 2.0),), (), (), "topical"),
    ("moderate -> phototherapy", (obs(FindingKey.BSA_PERCENT, 5.0),), (), (), "phototherapy"),
    ("severe -> oral systemic", (obs(FindingKey.BSA_PERCENT, 12.0),), (), (), "oral_systemic"),
    ("PASI > 10 -> oral systemic", (obs(FindingKey.PASI, 14.0),), (), (), "oral_systemic"),
    ("mild + scalp (IPC) -> oral systemic", (obs(FindingKey.BSA_PERCENT, 2.0), obs(FindingKey.SPECIAL_AREA, "scalp")), (), (), "oral_systemic"),
    ("mild + topical failure (IPC) -> oral systemic", (obs(FindingKey.BSA_PERCENT, 2.0), obs(FindingKey.TOPICAL_FAILURE, True)), (), (), "oral_systemic"),
    ("mild + PsA -> oral systemic", (obs(FindingKey.BSA_PERCENT, 2.0),), (condition(ConditionKey.PSORIATIC_ARTHRITIS),), (), "oral_systemic"),
    ("moderate on NB-UVB -> oral systemic", (obs(FindingKey.BSA_PERCENT, 5.0),), (), (medication("nb_uvb"),), "oral_systemic"),
    ("moderate on methotrexate -> biologic", (obs(FindingKey.BSA_PERCENT, 5.0),), (), (medication("methotrexate"),), "biologic"),
    ("severe on methotrexate -> biologic", (obs(FindingKey.BSA_PERCENT, 12.0),), (), (medication("methotrexate"),), "biologic"),
    ("mild on methotrexate stays", (obs(FindingKey.BSA_PERCENT, 1.0),), (), (medication("methotrexate"),), "oral_systemic"),
    ("clear on adalimumab stays", (obs(FindingKey.BSA_PERCENT, 0.0),), (), (medication("adalimumab"),), "biologic"),
    ("stopped methotrexate does not count", (obs(FindingKey.BSA_PERCENT, 5.0),), (), (medication("methotrexate", active=False),), "phototherapy"),
    ("unknown medication ignored", (obs(FindingKey.BSA_PERCENT, 5.0),), (), (medication("ibuprofen"),), "phototherapy"),
]


@pytest.mark.parametrize(("label", "findings", "conditions", "medications", "step"), STEPS, ids=[s[0] for s in STEPS])
def test_ladder_step(
    label: str,
    findings: tuple[Finding, ...],
    conditions: tuple[ConditionEntry, ...],
    medications: tuple[MedicationEntry, ...],
    step: str,
) -> None:
    plan = plan_for(findings, conditions, medications)
    assert plan is not None
    assert plan.step == step
    assert all(o.therapy_class == step for o in plan.options)
    assert plan.rationale and all(e.rule and e.citation for e in plan.rationale)


def test_escalation_cites_the_current_medication() -> None:
    plan = plan_for((obs(FindingKey.BSA_PERCENT, 12.0),), medications=(medication("methotrexate"),))
    assert plan is not None
    escalation = next(e for e in plan.rationale if e.rule == "treatment.step.after_oral_systemic")
    assert escalation.source_ref == "MedicationStatement/methotrexate"


def test_unknown_severity_gives_no_step() -> None:
    assert plan_for() is None


# (label, conditions, extra findings, step, therapy, absolute, rule id)
CONTRAINDICATIONS = [
    ("pregnancy: methotrexate", (ConditionKey.PREGNANCY,), (), "oral_systemic", "methotrexate", True, "contra.pregnancy.teratogens"),
    ("pregnancy: acitretin", (ConditionKey.PREGNANCY,), (), "oral_systemic", "acitretin", True, "contra.pregnancy.teratogens"),
    ("pregnant finding: methotrexate", (), (obs(FindingKey.PREGNANT, True),), "oral_systemic", "methotrexate", True, "contra.pregnancy.teratogens"),
    ("pregnancy: tazarotene", (ConditionKey.PREGNANCY,), (), "topical", "tazarotene", False, "contra.pregnancy.tazarotene"),
    ("liver disease: methotrexate", (ConditionKey.LIVER_DISEASE,), (), "oral_systemic", "methotrexate", True, "contra.liver.methotrexate"),
    ("alcohol misuse: methotrexate", (ConditionKey.ALCOHOL_MISUSE,), (), "oral_systemic", "methotrexate", True, "contra.liver.methotrexate"),
    ("liver disease: acitretin", (ConditionKey.LIVER_DISEASE,), (), "oral_systemic", "acitretin", False, "contra.liver.acitretin"),
    ("active TB: TNF", (ConditionKey.TUBERCULOSIS,), (), "biologic", "tnf_inhibitor", True, "contra.tb_active"),
    ("active TB: IL-23", (ConditionKey.TUBERCULOSIS,), (), "biologic", "il23_inhibitor", True, "contra.tb_active"),
    ("active TB: methotrexate", (ConditionKey.TUBERCULOSIS,), (), "oral_systemic", "methotrexate", True, "contra.tb_active"),
    ("latent TB: IL-17", (ConditionKey.LATENT_TUBERCULOSIS,), (), "biologic", "il17_inhibitor", False, "contra.tb_latent"),
    ("heart failure: TNF", (ConditionKey.HEART_FAILURE,), (), "biologic", "tnf_inhibitor", True, "contra.heart_failure.tnf"),
    ("IBD: IL-17", (ConditionKey.INFLAMMATORY_BOWEL_DISEASE,), (), "biologic", "il17_inhibitor", False, "contra.ibd.il17"),
    ("infection: IL-12/23", (ConditionKey.ACTIVE_INFECTION,), (), "biologic", "il12_23_inhibitor", True, "contra.active_infection"),
    ("infection: cyclosporine", (ConditionKey.ACTIVE_INFECTION,), (), "oral_systemic", "cyclosporine", True, "contra.active_infection"),
    ("hepatitis B: methotrexate", (ConditionKey.HEPATITIS_B,), (), "oral_systemic", "methotrexate", True, "contra.hepatitis.methotrexate"),
    ("hepatitis C: methotrexate", (ConditionKey.HEPATITIS_C,), (), "oral_systemic", "methotrexate", True, "contra.hepatitis.methotrexate"),
    ("hepatitis B: TNF", (ConditionKey.HEPATITIS_B,), (), "biologic", "tnf_inhibitor", False, "contra.hepatitis.immunosuppression"),
    ("hepatitis C: cyclosporine", (ConditionKey.HEPATITIS_C,), (), "oral_systemic", "cyclosporine", False, "contra.hepatitis.immunosuppression"),
    ("kidney disease: cyclosporine", (ConditionKey.KIDNEY_DISEASE,), (), "oral_systemic", "cyclosporine", True, "contra.kidney.cyclosporine"),
    ("kidney disease: methotrexate", (ConditionKey.KIDNEY_DISEASE,), (), "oral_systemic", "methotrexate", False, "contra.kidney.methotrexate"),
    ("hypertension: cyclosporine", (ConditionKey.HYPERTENSION,), (), "oral_systemic", "cyclosporine", False, "contra.hypertension.cyclosporine"),
    ("systolic 150: cyclosporine", (), (obs(FindingKey.SYSTOLIC_BP, 150.0),), "oral_systemic", "cyclosporine", True, "contra.hypertension_uncontrolled.cyclosporine"),
    ("diastolic 95: cyclosporine", (), (obs(FindingKey.DIASTOLIC_BP, 95.0),), "oral_systemic", "cyclosporine", True, "contra.hypertension_uncontrolled.cyclosporine"),
    ("malignancy: cyclosporine", (ConditionKey.MALIGNANCY,), (), "oral_systemic", "cyclosporine", True, "contra.malignancy.cyclosporine"),
    ("malignancy: TNF", (ConditionKey.MALIGNANCY,), (), "biologic", "tnf_inhibitor", False, "contra.malignancy.biologic_puva"),
    ("malignancy: PUVA", (ConditionKey.MALIGNANCY,), (), "phototherapy", "puva", False, "contra.malignancy.biologic_puva"),
    ("depression: apremilast", (ConditionKey.DEPRESSION,), (), "oral_systemic", "apremilast", False, "contra.depression.apremilast"),
    ("PHQ-2 positive: apremilast", (), (obs(FindingKey.PHQ2, 4.0),), "oral_systemic", "apremilast", False, "contra.depression.apremilast"),
    ("demyelinating: TNF", (ConditionKey.DEMYELINATING_DISEASE,), (), "biologic", "tnf_inhibitor", True, "contra.demyelinating.tnf"),
]


@pytest.mark.parametrize(
    ("label", "conditions", "findings", "step", "therapy", "absolute", "rule"),
    CONTRAINDICATIONS,
    ids=[c[0] for c in CONTRAINDICATIONS],
)
def test_contraindication_rule(
    label: str,
    conditions: tuple[ConditionKey, ...],
    findings: tuple[Finding, ...],
    step: str,
    therapy: str,
    absolute: bool,
    rule: str,
) -> None:
    plan = on_step(step, *findings, conditions=tuple(condition(k) for k in conditions))
    chosen = option(plan, therapy)
    hit = next(c for c in chosen.contraindications if c.evidence[0].rule == rule)
    assert hit.absolute is absolute
    if absolute:
        assert not chosen.allowed
    assert hit.evidence[0].citation
    expected_ref = f"Condition/{conditions[0].value}" if conditions else findings[0].source_ref
    assert hit.evidence[0].source_ref == expected_ref


@pytest.mark.parametrize(
    ("step", "therapy", "key"),
    [
        ("oral_systemic", "apremilast", ConditionKey.PREGNANCY),
        ("oral_systemic", "methotrexate", ConditionKey.DEPRESSION),
        ("biologic", "il23_inhibitor", ConditionKey.HEART_FAILURE),
        ("biologic", "tnf_inhibitor", ConditionKey.INFLAMMATORY_BOWEL_DISEASE),
        ("phototherapy", "nb_uvb", ConditionKey.ACTIVE_INFECTION),
    ],
)
def test_rule_does_not_spill_onto_other_therapies(step: str, therapy: str, key: ConditionKey) -> None:
    assert option(on_step(step, conditions=(condition(key),)), therapy).contraindications == ()


def test_inactive_condition_does_not_contraindicate() -> None:
    plan = on_step("oral_systemic", conditions=(condition(ConditionKey.PREGNANCY, active=False),))
    assert option(plan, "methotrexate").allowed
    assert option(plan, "methotrexate").contraindications == ()


def test_blood_pressure_below_threshold_does_not_contraindicate() -> None:
    plan = on_step("oral_systemic", obs(FindingKey.SYSTOLIC_BP, 128.0), obs(FindingKey.DIASTOLIC_BP, 78.0))
    assert option(plan, "cyclosporine").contraindications == ()


def test_allowed_options_come_first() -> None:
    plan = on_step("oral_systemic", conditions=(condition(ConditionKey.PREGNANCY),))
    allowed = [o.allowed for o in plan.options]
    assert allowed == sorted(allowed, reverse=True)
    assert [o.therapy for o in plan.options if not o.allowed] == ["methotrexate", "acitretin"]


@pytest.mark.parametrize(
    ("step", "therapy", "check"),
    [
        ("biologic", "tnf_inhibitor", "TB screening"),
        ("biologic", "il17_inhibitor", "Hepatitis B and C"),
        ("oral_systemic", "methotrexate", "CBC and liver tests"),
        ("oral_systemic", "methotrexate", "Pregnancy status"),
        ("oral_systemic", "acitretin", "Pregnancy status"),
        ("oral_systemic", "cyclosporine", "Renal function and blood pressure"),
    ],
)
def test_pre_treatment_checks(step: str, therapy: str, check: str) -> None:
    assert any(c.startswith(check) for c in option(on_step(step), therapy).pre_treatment_checks)


def test_staying_on_the_current_step_is_not_claimed_after_escalation() -> None:
    escalated = plan_for((obs(FindingKey.BSA_PERCENT, 12.0),), medications=(medication("methotrexate"),))
    stayed = plan_for((obs(FindingKey.BSA_PERCENT, 1.0),), medications=(medication("methotrexate"),))
    assert escalated is not None and stayed is not None
    assert "treatment.step.continue_current" not in {e.rule for e in escalated.rationale}
    assert "treatment.step.continue_current" in {e.rule for e in stayed.rationale}


# Medication keys fhir_mapping may emit that are deliberately not on the psoriasis ladder.
NOT_ON_THE_LADDER = {"systemic_corticosteroid", "tacrolimus"}


def test_every_mapped_medication_key_is_placed_on_the_ladder() -> None:
    """Contract with fhir_mapping.codes: a medication it recognises must move the ladder, or be listed above."""
    codes = pytest.importorskip("fhir_mapping.codes")
    ladder = set(load_knowledge().document("treatment")["medications"])
    assert set(getattr(codes, "MEDICATION_KEYS", ())) - NOT_ON_THE_LADDER <= ladder


def test_every_contraindication_rule_has_a_test_row() -> None:
    rules = {r["id"] for r in load_knowledge().document("treatment")["contraindications"]}
    assert rules == {row[-1] for row in CONTRAINDICATIONS}
