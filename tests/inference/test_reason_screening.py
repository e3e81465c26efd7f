"""DERM-Reason comorbidity screening: PsA (PEST), depression (PHQ-2), cardiometabolic, pre-systemic checks."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from inference.case import Case, ConditionEntry, ConditionKey, Finding, FindingKey, MedicationEntry, PatientInfo
from inference.knowledge_base import load_knowledge
from datetime import date

from inference.reason.drugs import DrugCatalogue
from inference.reason.screening import screenings
from inference.reason.severity import assess_severity
from inference.reason.treatment import PlanContext, plan_treatment
from inference.results import Screening

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
NORMAL_CARDIOMETABOLIC = (
    (FindingKey.SYSTOLIC_BP, 122.0), (FindingKey.DIASTOLIC_BP, 76.0), (FindingKey.HBA1C, 5.4),
    (FindingKey.LDL, 110.0), (FindingKey.TOTAL_CHOLESTEROL, 180.0), (FindingKey.BMI, 24.0),
)


def obs(key: FindingKey, value: float | str | bool, days_ago: int = 10) -> Finding:
    return Finding(key, value, f"Observation/{key.value}", effective=NOW - timedelta(days=days_ago))


def screen(
    *findings: Finding,
    conditions: tuple[ConditionKey, ...] = (),
    medications: tuple[str, ...] = (),
    patient: PatientInfo | None = None,
) -> dict[str, Screening]:
    kb = load_knowledge()
    catalogue = DrugCatalogue.from_knowledge(kb)
    case = Case(
        patient or PatientInfo("Patient/p1", date(1980, 1, 1), "female"), NOW, findings=findings,
        conditions=tuple(ConditionEntry(k, k.value, f"Condition/{k.value}") for k in (ConditionKey.PSORIASIS, *conditions)),
        medications=tuple(MedicationEntry(m, m, f"MedicationStatement/{m}") for m in medications),
    )
    severity = assess_severity(case, None, kb.document("severity"))
    plan = plan_treatment(case, severity, kb.document("treatment"),
                          PlanContext(catalogue, "aad_npf", catalogue.populations(case)[0]))
    found = screenings(case, severity, plan, kb.document("screening"), catalogue)
    return {s.kind: s for s in found}


def rule_ids(screening: Screening) -> set[str]:
    return {e.rule for e in screening.evidence if e.rule}


QUESTIONNAIRES = [
    ("PEST 3 -> referral", "psoriatic_arthritis", (obs(FindingKey.PEST_SCORE, 3.0),), (), True, "screen.psa.positive", "rheumatology"),
    ("PEST 5 -> referral", "psoriatic_arthritis", (obs(FindingKey.PEST_SCORE, 5.0),), (), True, "screen.psa.positive", "rheumatology"),
    ("PEST 2 -> negative", "psoriatic_arthritis", (obs(FindingKey.PEST_SCORE, 2.0),), (), False, "screen.psa.negative", "yearly"),
    ("PEST missing -> ask", "psoriatic_arthritis", (), (), True, "screen.psa.missing", "PEST questionnaire"),
    ("PEST missing, joint pain", "psoriatic_arthritis", (obs(FindingKey.JOINT_PAIN, True),), (), True, "screen.psa.joint_pain", "examine joints"),
    ("PEST 2 with joint pain", "psoriatic_arthritis", (obs(FindingKey.PEST_SCORE, 2.0), obs(FindingKey.JOINT_PAIN, True)), (), True, "screen.psa.joint_pain", "examine joints"),
    ("PEST 1 old -> repeat", "psoriatic_arthritis", (obs(FindingKey.PEST_SCORE, 1.0, days_ago=400),), (), True, "screen.psa.overdue", "repeat"),
    ("PEST 4 old still positive", "psoriatic_arthritis", (obs(FindingKey.PEST_SCORE, 4.0, days_ago=400),), (), True, "screen.psa.positive", "rheumatology"),
    ("PsA known", "psoriatic_arthritis", (), (ConditionKey.PSORIATIC_ARTHRITIS,), False, "screen.psa.known", "rheumatology"),
    ("PHQ-2 3 -> positive", "depression", (obs(FindingKey.PHQ2, 3.0),), (), True, "screen.depression.positive", "PHQ-9"),
    ("PHQ-2 2 -> negative", "depression", (obs(FindingKey.PHQ2, 2.0),), (), False, "screen.depression.negative", "rescreen"),
    ("PHQ-2 missing -> screen", "depression", (), (), True, "screen.depression.missing", "PHQ-2"),
    ("PHQ-2 old -> rescreen", "depression", (obs(FindingKey.PHQ2, 0.0, days_ago=500),), (), True, "screen.depression.overdue", "rescreen"),
    ("depression known", "depression", (), (ConditionKey.DEPRESSION,), False, "screen.depression.known", "managed"),
]


@pytest.mark.parametrize(
    ("label", "kind", "findings", "conditions", "due", "rule", "action_mentions"),
    QUESTIONNAIRES,
    ids=[q[0] for q in QUESTIONNAIRES],
)
def test_questionnaire_screening(
    label: str,
    kind: str,
    findings: tuple[Finding, ...],
    conditions: tuple[ConditionKey, ...],
    due: bool,
    rule: str,
    action_mentions: str,
) -> None:
    result = screen(*findings, conditions=conditions)[kind]
    assert result.due is due
    assert rule in rule_ids(result)
    assert action_mentions in result.action
    assert all(e.citation for e in result.evidence if e.rule)


def test_pest_value_is_in_the_action_and_evidence_points_at_the_observation() -> None:
    result = screen(obs(FindingKey.PEST_SCORE, 3.0))["psoriatic_arthritis"]
    assert "PEST 3" in result.action
    assert result.evidence[0].source_ref == "Observation/pest_score"


def normal(days_ago: int = 10) -> tuple[Finding, ...]:
    return tuple(obs(k, v, days_ago) for k, v in NORMAL_CARDIOMETABOLIC)


def replace(findings: tuple[Finding, ...], key: FindingKey, value: float) -> tuple[Finding, ...]:
    return tuple(f for f in findings if f.key is not key) + (obs(key, value),)


CARDIOMETABOLIC = [
    ("all normal and recent", normal(), False, "Up to date"),
    ("nothing recorded", (), True, "Record blood pressure, HbA1c, lipids, BMI"),
    ("raised systolic", replace(normal(), FindingKey.SYSTOLIC_BP, 150.0), True, "blood pressure raised"),
    ("raised diastolic", replace(normal(), FindingKey.DIASTOLIC_BP, 95.0), True, "blood pressure raised"),
    ("diabetic HbA1c", replace(normal(), FindingKey.HBA1C, 7.1), True, "HbA1c in the diabetes range"),
    ("raised LDL", replace(normal(), FindingKey.LDL, 170.0), True, "lipids raised"),
    ("raised total cholesterol", replace(normal(), FindingKey.TOTAL_CHOLESTEROL, 250.0), True, "lipids raised"),
    ("obese BMI", replace(normal(), FindingKey.BMI, 32.0), True, "obese range"),
    ("18 months old, default interval", normal(days_ago=540), False, "Up to date"),
    ("30 months old", normal(days_ago=900), True, "every 24 months"),
]


@pytest.mark.parametrize(("label", "findings", "due", "action_mentions"), CARDIOMETABOLIC, ids=[c[0] for c in CARDIOMETABOLIC])
def test_cardiometabolic(label: str, findings: tuple[Finding, ...], due: bool, action_mentions: str) -> None:
    result = screen(obs(FindingKey.BSA_PERCENT, 5.0), *findings)["cardiometabolic"]
    assert result.due is due
    assert action_mentions.lower() in result.action.lower()


@pytest.mark.parametrize(
    "triggers",
    [
        (obs(FindingKey.BSA_PERCENT, 12.0),),
        (obs(FindingKey.BSA_PERCENT, 2.0), obs(FindingKey.SPECIAL_AREA, "scalp")),
    ],
    ids=["BSA > 10", "systemic candidate"],
)
def test_stricter_cardiometabolic_interval_for_severe_or_systemic_candidates(triggers: tuple[Finding, ...]) -> None:
    result = screen(*triggers, *normal(days_ago=540))["cardiometabolic"]
    assert result.due
    assert "every 12 months" in result.action
    assert "1.5" in result.action
    assert "screen.cardiometabolic.strict" in rule_ids(result)


def test_known_condition_is_noted_but_measure_still_required() -> None:
    result = screen(obs(FindingKey.BSA_PERCENT, 5.0), conditions=(ConditionKey.HYPERTENSION,))["cardiometabolic"]
    assert result.due
    assert any(e.source_ref == "Condition/hypertension" for e in result.evidence)


def test_pre_systemic_checks_due_when_escalating_to_a_biologic() -> None:
    result = screen(obs(FindingKey.BSA_PERCENT, 12.0), medications=("methotrexate",))["pre_systemic"]
    assert result.due
    assert "TB screening" in result.action and "Hepatitis B serology" in result.action
    assert {"screen.pre_systemic", "check.tb", "check.hbv"} <= rule_ids(result)
    assert "Pregnancy test" not in result.action  # only methotrexate/acitretin need it, and methotrexate is current


def test_no_before_starting_checks_for_the_drug_already_taken() -> None:
    # On methotrexate with moderate disease: stays on the step, its drug is monitored, nothing is "started".
    assert "pre_systemic" not in screen(obs(FindingKey.BSA_PERCENT, 5.0), medications=("methotrexate",))


def test_pre_systemic_checks_follow_allowed_options_only() -> None:
    result = screen(obs(FindingKey.BSA_PERCENT, 12.0), conditions=(ConditionKey.PREGNANCY,))["pre_systemic"]
    assert "Blood pressure (two readings)" in result.action  # cyclosporine still allowed (caution)
    assert "Pregnancy test" not in result.action  # she is pregnant: teratogens are contraindicated, not tested for


@pytest.mark.parametrize(("patient", "wanted"), [
    (PatientInfo("Patient/f", date(1990, 1, 1), "female"), True),
    (PatientInfo("Patient/m", date(1990, 1, 1), "male"), False),
    (PatientInfo("Patient/c", date(2017, 1, 1), "female"), False),
])
def test_pregnancy_test_only_for_women_of_childbearing_age(patient: PatientInfo, wanted: bool) -> None:
    result = screen(obs(FindingKey.BSA_PERCENT, 12.0), patient=patient)["pre_systemic"]
    assert ("Pregnancy test" in result.action) is wanted


def test_child_blood_pressure_is_not_judged_by_the_adult_cutoff() -> None:
    child = PatientInfo("Patient/c", date(2017, 1, 1), "female")
    findings = replace(normal(), FindingKey.SYSTOLIC_BP, 142.0)
    result = screen(obs(FindingKey.BSA_PERCENT, 5.0), *findings, patient=child)["cardiometabolic"]
    assert "blood pressure raised" not in result.action
    assert any("percentiles" in e.statement for e in result.evidence)


@pytest.mark.parametrize("bsa", [0.0, 2.0, 5.0])
def test_no_pre_systemic_screening_below_the_systemic_step(bsa: float) -> None:
    assert "pre_systemic" not in screen(obs(FindingKey.BSA_PERCENT, bsa))


def test_screenings_present_even_without_severity() -> None:
    kinds = screen()
    assert {"psoriatic_arthritis", "depression", "cardiometabolic"} <= set(kinds)
    assert all(kinds[k].due for k in ("psoriatic_arthritis", "depression", "cardiometabolic"))


def test_every_questionnaire_outcome_has_a_test_row() -> None:
    doc = load_knowledge().document("screening")
    outcomes = {o["id"] for q in doc["questionnaires"] for o in q["outcomes"].values()}
    assert outcomes == {row[5] for row in QUESTIONNAIRES}
