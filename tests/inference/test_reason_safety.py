"""DERM-Reason safety behaviour end to end (issue 11): the scope gate, subtypes and red flags, alerts
from current therapy, special populations in the TCM section, record conflicts and the guideline
profile named on every result. One table row per rule."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from inference.case import (
    BodyRegion,
    Case,
    ConditionEntry,
    ConditionKey,
    Finding,
    FindingKey,
    MedicationEntry,
    PatientInfo,
    Photo,
    PsoriasisSubtype,
)
from inference.knowledge_base import KnowledgeError
from inference.reason import DermReason
from inference.results import Evidence, PasiEstimate, PatientRepresentation, RegionFinding, Trend

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
REASON = DermReason.load()
WOMAN = PatientInfo("Patient/w", date(1990, 2, 1), "female")
MAN = PatientInfo("Patient/m", date(1982, 2, 1), "male")


def obs(key: FindingKey, value: float | str | bool, days_ago: int = 2) -> Finding:
    return Finding(key, value, f"Observation/{key.value}", effective=NOW - timedelta(days=days_ago))


def cond(key: ConditionKey, display: str | None = None, subtype: PsoriasisSubtype | None = None,
         verification: str | None = None) -> ConditionEntry:
    return ConditionEntry(key, display or key.value.replace("_", " ").capitalize(), f"Condition/{key.value}",
                          subtype=subtype, verification=verification)


def med(key: str, display: str | None = None) -> MedicationEntry:
    return MedicationEntry(key, display or key.capitalize(), f"MedicationStatement/{key}", start=(NOW - timedelta(days=150)).date())


PSORIASIS = cond(ConditionKey.PSORIASIS, "Psoriasis")


def case(*findings: Finding, conditions=(PSORIASIS,), medications=(), patient: PatientInfo = WOMAN, photos: int = 0) -> Case:
    return Case(patient, NOW, findings=findings, conditions=tuple(conditions), medications=tuple(medications),
                photos=tuple(Photo(f"Media/{i}", b"\xff\xd8", "image/jpeg", BodyRegion.TRUNK) for i in range(photos)))


def representation(probabilities: dict[str, float], pasi: float = 14.0, descriptors: dict[str, float] | None = None) -> PatientRepresentation:
    descriptors = descriptors or {"bright_red": 0.8}
    return PatientRepresentation(
        probabilities=probabilities,
        regions=(RegionFinding(BodyRegion.TRUNK, 3, 2, 3, 4, 0.6, ("Media/0",), 0.7),),
        pasi=PasiEstimate(pasi, pasi - 3, pasi + 3, (BodyRegion.TRUNK,)), trend=Trend("unknown"),
        tcm_descriptors=descriptors, descriptor_evidence={k: (Evidence(k, "Media/0"),) for k in descriptors},
        photos=(), model_version="lesion-test",
    )


# ---------------------------------------------------------------- scope gate

SCOPE = [
    ("eczema recorded", case(obs(FindingKey.BSA_PERCENT, 6.0), obs(FindingKey.DLQI, 11.0), conditions=(cond(ConditionKey.ECZEMA, "Eczema"),)),
     None, "other_diagnosis", "Eczema", "patch testing"),
    ("tinea recorded", case(obs(FindingKey.BSA_PERCENT, 2.0), conditions=(cond(ConditionKey.TINEA, "Tinea corporis"),)),
     None, "other_diagnosis", "Tinea corporis", "KOH microscopy"),
    ("lupus recorded", case(conditions=(cond(ConditionKey.CUTANEOUS_LUPUS, "Discoid lupus"),)), None, "other_diagnosis", "lupus", "biopsy"),
    ("photo only, fungal look", case(photos=1, conditions=()), representation({"fungal_infection": 0.7, "psoriasis": 0.3}),
     "unconfirmed", "fungal infection", "KOH microscopy"),
    ("scores only", case(obs(FindingKey.PASI, 14.0), obs(FindingKey.BSA_PERCENT, 12.0), conditions=()), None, "unconfirmed",
     "No skin diagnosis", None),
    ("psoriasis resolved", case(obs(FindingKey.BSA_PERCENT, 3.0),
                                conditions=(ConditionEntry(ConditionKey.PSORIASIS, "Psoriasis", "Condition/old", active=False),)),
     None, "unconfirmed", "inactive or resolved", None),
    ("psoriasis provisional", case(obs(FindingKey.BSA_PERCENT, 12.0), conditions=(cond(ConditionKey.PSORIASIS, verification="provisional"),)),
     None, "unconfirmed", "not confirmed", None),
]


@pytest.mark.parametrize(("label", "the_case", "rep", "scope", "note_mentions", "test"), SCOPE, ids=[s[0] for s in SCOPE])
def test_scope_gate(label: str, the_case: Case, rep, scope: str, note_mentions: str, test: str | None) -> None:
    a = REASON.assess(the_case, rep)
    assert a.scope == scope
    assert a.severity.level == "not_assessed" and a.treatment is None and a.tcm is None and a.screenings == ()
    assert note_mentions.lower() in a.scope_note.lower() and "confirm the diagnosis" in a.scope_note.lower()
    assert ("(clear|mild|moderate|severe) psoriasis" not in a.summary) and "step:" not in a.summary
    if test:
        assert any(test in t for t in a.suggested_tests)
    else:
        assert a.suggested_tests == ()


def test_confirmed_psoriasis_runs_the_pathway_and_names_the_profile() -> None:
    a = REASON.assess(case(obs(FindingKey.BSA_PERCENT, 5.0)), None)
    assert a.scope == "psoriasis" and a.severity.level == "moderate" and a.treatment is not None
    assert a.guideline_profile == "AAD-NPF 2019-2021" and a.treatment.profile == "aad_npf"


@pytest.mark.parametrize(("profile", "display"), [("nice", "NICE CG153 (2017)"), ("euroguiderm", "EuroGuiDerm 2023")])
def test_profile_is_configurable(profile: str, display: str) -> None:
    a = DermReason.load(guideline_profile=profile).assess(case(obs(FindingKey.BSA_PERCENT, 14.0)), None)
    assert a.guideline_profile == display and a.treatment is not None and a.treatment.step == "oral_systemic"


def test_unknown_profile_fails_at_start_up() -> None:
    with pytest.raises(KnowledgeError):
        DermReason.load(guideline_profile="homeopathy")


# ---------------------------------------------------------------- subtypes and red flags

URGENT = [
    ("erythrodermic coded", case(obs(FindingKey.BSA_PERCENT, 60.0),
                                 conditions=(cond(ConditionKey.PSORIASIS, "Erythrodermic psoriasis", PsoriasisSubtype.ERYTHRODERMIC),)),
     "erythrodermic psoriasis"),
    ("erythroderma by BSA 92", case(obs(FindingKey.BSA_PERCENT, 92.0)), "erythrodermic psoriasis"),
    ("generalised pustular", case(obs(FindingKey.BSA_PERCENT, 30.0),
                                  conditions=(cond(ConditionKey.PSORIASIS, "GPP", PsoriasisSubtype.GENERALISED_PUSTULAR),)),
     "generalised pustular psoriasis"),
]


@pytest.mark.parametrize(("label", "the_case", "subtype"), URGENT, ids=[u[0] for u in URGENT])
def test_emergencies_get_an_urgent_alert_and_no_routine_plan(label: str, the_case: Case, subtype: str) -> None:
    a = REASON.assess(the_case, None)
    assert a.urgent and a.subtypes[0] == subtype
    assert a.treatment is None and a.follow_up is None
    assert a.alerts[0].kind == "urgent_referral" and a.alerts[0].severity == "critical"
    assert "same-day" in a.alerts[0].summary.lower() and "same-day" in a.summary.lower()
    assert "12" not in a.summary and "week" not in a.alerts[0].detail


@pytest.mark.parametrize(("finding", "subtype"), [("scalp", "scalp psoriasis"), ("nails", "nail psoriasis"),
                                                  ("palms_soles", "palmoplantar psoriasis")])
def test_special_areas_are_named_as_subtypes(finding: str, subtype: str) -> None:
    a = REASON.assess(case(obs(FindingKey.BSA_PERCENT, 2.0), obs(FindingKey.SPECIAL_AREA, finding)), None)
    assert subtype in a.subtypes and subtype in a.summary


def test_photos_with_pustules_suggest_examining_but_do_not_decide() -> None:
    a = REASON.assess(case(obs(FindingKey.BSA_PERCENT, 5.0), photos=1),
                      representation({"psoriasis": 0.9, "other": 0.1}, pasi=6.0, descriptors={"pustular": 0.8}))
    assert not a.urgent and a.treatment is not None
    assert any(al.kind == "referral" and al.severity == "info" and "pustul" in al.summary for al in a.alerts)


# ---------------------------------------------------------------- alerts from current therapy

ALERTS = [
    ("ALT 168 on methotrexate", case(obs(FindingKey.BSA_PERCENT, 3.0), obs(FindingKey.ALT, 168.0), obs(FindingKey.AST, 140.0),
                                     obs(FindingKey.WBC, 6.0), obs(FindingKey.PLATELETS, 230.0), obs(FindingKey.CREATININE, 0.9),
                                     medications=(med("methotrexate"),)), "abnormal_monitoring", "warning", "ALT 168"),
    ("active TB on methotrexate", case(obs(FindingKey.BSA_PERCENT, 12.0), conditions=(PSORIASIS, cond(ConditionKey.TUBERCULOSIS, "Tuberculosis")),
                                       medications=(med("methotrexate"),)), "hold_therapy", "warning", "Hold methotrexate"),
    ("co-trimoxazole with methotrexate", case(obs(FindingKey.BSA_PERCENT, 3.0),
                                              medications=(med("methotrexate"), med("trimethoprim", "Co-trimoxazole 960 mg"))),
     "interaction", "warning", "Co-trimoxazole"),
    ("BP 164/102 on cyclosporine", case(obs(FindingKey.BSA_PERCENT, 4.0), obs(FindingKey.SYSTOLIC_BP, 164.0), obs(FindingKey.DIASTOLIC_BP, 102.0),
                                        medications=(med("cyclosporine"),)), "abnormal_monitoring", "warning", "164"),
    ("methotrexate blood tests overdue", case(obs(FindingKey.BSA_PERCENT, 3.0), obs(FindingKey.ALT, 25.0, days_ago=210),
                                              medications=(med("methotrexate"),)), "monitoring_due", "warning", "monitoring due"),
    ("man on methotrexate planning conception", case(obs(FindingKey.BSA_PERCENT, 2.0), obs(FindingKey.PLANNING_PREGNANCY, True),
                                                     medications=(med("methotrexate"),), patient=MAN), "caution_current", "info", "planning pregnancy"),
    ("latent TB before a biologic", case(obs(FindingKey.BSA_PERCENT, 16.0), obs(FindingKey.TB_IGRA, True, days_ago=20),
                                         conditions=(PSORIASIS, cond(ConditionKey.LATENT_TUBERCULOSIS, "Latent tuberculosis"))),
     "latent_tb", "warning", "preventive"),
    ("pregnant on methotrexate", case(obs(FindingKey.BSA_PERCENT, 3.0), obs(FindingKey.PREGNANT, True), medications=(med("methotrexate"),)),
     "contraindicated_current", "critical", "Stop methotrexate: contraindicated in pregnancy"),
    ("cirrhosis on methotrexate", case(obs(FindingKey.BSA_PERCENT, 3.0), conditions=(PSORIASIS, cond(ConditionKey.LIVER_DISEASE, "Cirrhosis")),
                                       medications=(med("methotrexate"),)), "contraindicated_current", "critical", "Cirrhosis"),
    ("psoriatic arthritis", case(obs(FindingKey.BSA_PERCENT, 4.0), conditions=(PSORIASIS, cond(ConditionKey.PSORIATIC_ARTHRITIS))),
     "referral", "info", "rheumatology"),
    ("suspected psoriatic arthritis", case(obs(FindingKey.BSA_PERCENT, 4.0), obs(FindingKey.PEST_SCORE, 4.0), obs(FindingKey.JOINT_PAIN, True)),
     "referral", "info", "rheumatology"),
]


@pytest.mark.parametrize(("label", "the_case", "kind", "severity", "mentions"), ALERTS, ids=[a[0] for a in ALERTS])
def test_alerts(label: str, the_case: Case, kind: str, severity: str, mentions: str) -> None:
    a = REASON.assess(the_case, None)
    hits = [al for al in a.alerts if al.kind == kind]
    assert hits, [al.summary for al in a.alerts]
    assert hits[0].severity == severity and mentions.lower() in (hits[0].summary + hits[0].detail).lower()
    assert len(hits[0].summary) < 100 and not hits[0].summary.endswith(("...", ":", ",", ";", "-"))
    severities = [{"critical": 0, "warning": 1, "info": 2}[al.severity] for al in a.alerts]
    assert severities == sorted(severities)


def test_active_tb_on_methotrexate_never_escalates_to_a_biologic() -> None:
    a = REASON.assess(ALERTS[1][1], None)
    assert a.treatment is not None and a.treatment.on_hold and "biologic" not in a.summary.lower()
    assert not any(o.allowed and o.therapy_class == "biologic" for o in a.treatment.options)


def test_monitoring_on_current_methotrexate_is_not_called_before_starting() -> None:
    a = REASON.assess(ALERTS[4][1], None)
    assert not any(s.kind == "pre_systemic" for s in a.screenings)


# ---------------------------------------------------------------- populations in TCM, record conflicts

@pytest.mark.parametrize("population", [FindingKey.PREGNANT, "breastfeeding"])
def test_no_herbal_formula_is_proposed_in_pregnancy_or_breastfeeding(population) -> None:
    # Per-herb checks alone would still propose e.g. Taohong Siwu Tang (peach kernel and safflower are
    # only "use with caution in pregnancy" in the Pharmacopoeia); a decision-support tool proposes none.
    # Every option stays listed, withheld, with the reason; pattern and principle are still given.
    findings = (obs(FindingKey.BSA_PERCENT, 5.0), obs(FindingKey.TONGUE, "red_yellow_coat"), obs(FindingKey.PULSE, "rapid"))
    plain = REASON.assess(case(*findings), None)
    extra = obs(FindingKey.PREGNANT, True) if population == FindingKey.PREGNANT else None
    special = REASON.assess(case(*findings, extra) if extra else case(*findings, conditions=(PSORIASIS, cond(ConditionKey.BREASTFEEDING))), None)
    assert plain.tcm is not None and plain.tcm.primary is not None and plain.tcm.primary.formulas
    assert special.tcm is not None and special.tcm.primary is not None and special.tcm.primary.treatment_principle
    for pattern in (special.tcm.primary, *special.tcm.ranked):
        assert pattern.formulas == ()
        assert pattern.formula_options and not any(o.proposed for o in (*pattern.formula_options, *pattern.patent_medicines))
    kind = "pregnancy" if extra else "breastfeeding"
    assert all(o.cautions[0].kind == kind and o.cautions[0].level == "contraindicated" for o in special.tcm.primary.formula_options)
    assert kind in special.tcm.note and kind not in plain.tcm.note


def test_pregnant_observation_on_a_man_is_a_data_issue_not_a_pregnancy() -> None:
    a = REASON.assess(case(obs(FindingKey.BSA_PERCENT, 16.0), obs(FindingKey.PREGNANT, True), patient=MAN), None)
    assert "sex_pregnancy_conflict" in {i.code for i in a.issues}
    assert "pregnancy" not in a.populations
    assert a.treatment is not None and next(o for o in a.treatment.options if o.therapy == "methotrexate").allowed


def test_conflicting_record_never_yields_a_confident_escalation() -> None:
    a = REASON.assess(case(obs(FindingKey.PASI, 28.0), obs(FindingKey.BSA_PERCENT, 1.0), obs(FindingKey.PGA, 1.0)), None)
    assert a.severity.level == "mild" and a.severity.confidence < 0.5
    assert a.treatment is not None and a.treatment.step == "topical"
    assert "pasi_bsa_conflict" in {i.code for i in a.issues} and "conflict" in a.summary


def test_stale_measures_give_no_step() -> None:
    a = REASON.assess(case(obs(FindingKey.PASI, 20.0, days_ago=500), obs(FindingKey.BSA_PERCENT, 18.0, days_ago=500)), None)
    assert a.treatment is None and "stale_severity" in {i.code for i in a.issues} and "re-measure" in a.summary
