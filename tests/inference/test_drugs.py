"""Drug knowledge (drugs.json via inference.reason.drugs): lookups, special populations, conditions,
checks before starting, monitoring on therapy, interactions and duplicates - one table row per rule."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

import inference

from inference.case import Case, ConditionEntry, ConditionKey, Finding, FindingKey, MedicationEntry, PatientInfo
from inference.knowledge_base import load_knowledge
from inference.reason.drugs import (
    RXNORM,
    SNOMED,
    ConcernKind,
    ConcernSeverity,
    DrugCatalogue,
    DrugIntent,
    Population,
    PopulationStatus,
    TherapyClass,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
ADULT_F = PatientInfo("Patient/f", date(1990, 3, 1), "female")
ADULT_M = PatientInfo("Patient/m", date(1985, 3, 1), "male")
CHILD = PatientInfo("Patient/c", date(2017, 6, 1), "female")  # 9 years old
OLDER = PatientInfo("Patient/o", date(1950, 1, 1), "male")


@pytest.fixture(scope="module")
def catalogue() -> DrugCatalogue:
    return DrugCatalogue.from_knowledge(load_knowledge())


def obs(key: FindingKey, value: float | bool, days_ago: float = 3, ref: str | None = None, **kw: float) -> Finding:
    return Finding(key, value, ref or f"Observation/{key.value}-{days_ago:g}", effective=NOW - timedelta(days=days_ago), **kw)


def cond(key: ConditionKey) -> ConditionEntry:
    return ConditionEntry(key, key.value.replace("_", " ").capitalize(), f"Condition/{key.value}")


def med(key: str, display: str | None = None, start_days_ago: int = 200) -> MedicationEntry:
    return MedicationEntry(key, display or key.capitalize(), f"MedicationStatement/{key}",
                           start=(NOW - timedelta(days=start_days_ago)).date())


def case(patient: PatientInfo = ADULT_F, findings=(), conditions=(), medications=()) -> Case:
    return Case(patient, NOW, findings=tuple(findings), conditions=tuple(conditions), medications=tuple(medications))


def kinds(concerns) -> set[tuple[str, str]]:
    return {(c.kind.value, c.rule_id) for c in concerns}


# ---------------------------------------------------------------- lookups

@pytest.mark.parametrize("system, code, drug", [
    (RXNORM, "6851", "methotrexate"), (RXNORM, "3008", "cyclosporine"), (RXNORM, "327361", "adalimumab"),
    (RXNORM, "214555", "etanercept"), (RXNORM, "191831", "infliximab"), ("http://www.whocc.no/atc", "L04AB05", "certolizumab"),
    (SNOMED, "413162004", "nb_uvb"), (RXNORM, "999999", None), (None, "6851", None),
])
def test_lookup_code(catalogue: DrugCatalogue, system, code, drug) -> None:
    found = catalogue.lookup_code(system, code)
    assert (found.id if found else None) == drug


@pytest.mark.parametrize("text, drug", [
    ("Methotrexate 2.5 MG Oral Tablet", "methotrexate"), ("Humira 40 mg pen", "adalimumab"), ("Cimzia 200 mg", "certolizumab"),
    ("Neoral 100 mg capsule", "cyclosporine"), ("Otezla 30 mg", "apremilast"), ("Skyrizi 150 mg", "risankizumab"),
    ("Clobetasol propionate 0.05% shampoo", "topical_corticosteroid"), ("Protopic 0.1% ointment", "calcineurin_inhibitor"),
    ("tacrolimus 1 mg capsule", None), ("Prednisolone 5 mg tablet", None), ("Paracetamol 500 mg", None), ("", None),
    ("Narrowband UVB phototherapy", "nb_uvb"), ("methotrexatefoo", None),
])
def test_lookup_text(catalogue: DrugCatalogue, text, drug) -> None:
    found = catalogue.lookup_text(text)
    assert (found.id if found else None) == drug


@pytest.mark.parametrize("text, key", [
    ("Bactrim DS", "trimethoprim"), ("Ibuprofen 400 mg", "nsaid"), ("Simvastatin 40 mg", "statin"),
    ("Doxycycline 100 mg", "tetracycline"), ("Triamcinolone injection", "systemic_corticosteroid"),
])
def test_interacting_drugs_are_recognised(catalogue: DrugCatalogue, text, key) -> None:
    assert catalogue.key_for_text(text) == key


def test_every_drug_is_coded_and_every_biologic_and_oral_has_rxnorm(catalogue: DrugCatalogue) -> None:
    for drug in catalogue.drugs:
        assert drug.codings, drug.id
        if drug.therapy_class in (TherapyClass.BIOLOGIC, TherapyClass.ORAL_SYSTEMIC):
            assert drug.rxnorm is not None, drug.id
        if drug.therapy_class is TherapyClass.PHOTOTHERAPY:
            assert drug.coding(SNOMED) is not None, drug.id
        assert set(drug.populations) == set(Population), drug.id


def test_contract_drugs_present(catalogue: DrugCatalogue) -> None:
    wanted = {"topical_corticosteroid", "vitamin_d_analogue", "tazarotene", "calcineurin_inhibitor", "nb_uvb", "puva", "excimer",
              "methotrexate", "cyclosporine", "acitretin", "apremilast", "deucravacitinib", "certolizumab", "adalimumab",
              "etanercept", "infliximab", "ustekinumab", "secukinumab", "ixekizumab", "brodalumab", "bimekizumab",
              "guselkumab", "risankizumab", "tildrakizumab"}
    assert wanted <= {d.id for d in catalogue.drugs}


def test_unverified_markers_are_fields_not_text(catalogue: DrugCatalogue) -> None:
    assert catalogue["acitretin"].rxnorm.unverified is True
    assert catalogue["methotrexate"].rxnorm.unverified is False
    for drug in catalogue.drugs:
        for rule in drug.populations.values():
            assert "unverified" not in rule.note.lower() and "unverified" not in rule.citation.text.lower()


# ---------------------------------------------------------------- populations

def pregnant(patient: PatientInfo = ADULT_F) -> Case:
    return case(patient, findings=[obs(FindingKey.PREGNANT, True, 2)])


@pytest.mark.parametrize("drug, status", [
    ("methotrexate", PopulationStatus.CONTRAINDICATED), ("acitretin", PopulationStatus.CONTRAINDICATED),
    ("apremilast", PopulationStatus.CONTRAINDICATED), ("puva", PopulationStatus.CONTRAINDICATED),
    ("tazarotene", PopulationStatus.CONTRAINDICATED), ("topical_corticosteroid", PopulationStatus.PREFERRED),
    ("nb_uvb", PopulationStatus.PREFERRED), ("certolizumab", PopulationStatus.PREFERRED),
    ("adalimumab", PopulationStatus.CAUTION), ("cyclosporine", PopulationStatus.CAUTION),
])
def test_pregnancy_status(catalogue: DrugCatalogue, drug, status) -> None:
    c = pregnant()
    found, problems = catalogue.populations(c)
    assert [p.population for p in found] == [Population.PREGNANCY] and problems == ()
    assert catalogue.status_for(catalogue[drug], found, c) is status


def test_pregnancy_contraindication_names_alternatives(catalogue: DrugCatalogue) -> None:
    concerns = catalogue.evaluate(catalogue["methotrexate"], pregnant(), DrugIntent.START)
    top = concerns[0]
    assert top.kind is ConcernKind.CONTRAINDICATED and top.severity is ConcernSeverity.CRITICAL
    assert "certolizumab" in top.alternatives and "nb_uvb" in top.alternatives
    assert top.population is Population.PREGNANCY and top.source_ref == "Observation/pregnant-2"


def test_pregnant_observation_on_a_male_is_a_conflict_not_a_pregnancy(catalogue: DrugCatalogue) -> None:
    found, problems = catalogue.populations(pregnant(ADULT_M))
    assert Population.PREGNANCY not in {p.population for p in found}
    assert [p.code for p in problems] == ["sex_pregnancy_conflict"]
    assert not any(c.population is Population.PREGNANCY for c in catalogue.evaluate(catalogue["methotrexate"], pregnant(ADULT_M)))


def test_newer_negative_pregnancy_test_wins(catalogue: DrugCatalogue) -> None:
    c = case(findings=[obs(FindingKey.PREGNANT, True, 300), obs(FindingKey.PREGNANCY_TEST, False, 2)])
    assert catalogue.populations(c)[0] == ()


@pytest.mark.parametrize("patient, drug, kind", [
    (ADULT_F, "methotrexate", ConcernKind.CONTRAINDICATED),  # women stop 3 months before conception
    (ADULT_M, "methotrexate", ConcernKind.CAUTION),  # men: discuss (guidelines differ)
    (ADULT_F, "acitretin", ConcernKind.CONTRAINDICATED),
    (ADULT_M, "acitretin", None),
])
def test_planning_pregnancy(catalogue: DrugCatalogue, patient, drug, kind) -> None:
    c = case(patient, findings=[obs(FindingKey.PLANNING_PREGNANCY, True, 5)])
    found = [x for x in catalogue.evaluate(catalogue[drug], c, DrugIntent.CONTINUE) if x.population is Population.PLANNING_PREGNANCY]
    assert ([x.kind for x in found] or [None]) == [kind]


@pytest.mark.parametrize("drug, kind", [
    ("methotrexate", ConcernKind.CONTRAINDICATED), ("acitretin", ConcernKind.CONTRAINDICATED), ("puva", ConcernKind.CONTRAINDICATED),
    ("apremilast", ConcernKind.CONTRAINDICATED), ("certolizumab", None), ("nb_uvb", None),
])
def test_breastfeeding(catalogue: DrugCatalogue, drug, kind) -> None:
    c = case(conditions=[cond(ConditionKey.BREASTFEEDING)])
    found = [x for x in catalogue.evaluate(catalogue[drug], c, DrugIntent.START) if x.population is Population.BREASTFEEDING]
    assert ([x.kind for x in found] or [None]) == [kind]


@pytest.mark.parametrize("drug, allowed", [
    ("etanercept", True), ("adalimumab", True), ("ustekinumab", True), ("secukinumab", True), ("methotrexate", True),
    ("apremilast", True), ("infliximab", False), ("guselkumab", False), ("deucravacitinib", False), ("tazarotene", False),
    ("puva", False), ("topical_corticosteroid", True),
])
def test_child_age_limits(catalogue: DrugCatalogue, drug, allowed) -> None:
    c = case(CHILD)
    concerns = catalogue.evaluate(catalogue[drug], c, DrugIntent.START)
    contraindicated = any(x.kind is ConcernKind.CONTRAINDICATED and x.population is Population.CHILD for x in concerns)
    assert contraindicated is not allowed


def test_no_pregnancy_test_for_a_child_or_a_man(catalogue: DrugCatalogue) -> None:
    for patient in (CHILD, ADULT_M):
        concerns = catalogue.evaluate(catalogue["methotrexate"], case(patient), DrugIntent.START)
        assert "drugs.methotrexate.check.pregnancy_test" not in {c.rule_id for c in concerns}
    concerns = catalogue.evaluate(catalogue["methotrexate"], case(ADULT_F), DrugIntent.START)
    assert "drugs.methotrexate.check.pregnancy_test" in {c.rule_id for c in concerns}


def test_paediatric_bp_is_not_judged_by_the_adult_cutoff(catalogue: DrugCatalogue) -> None:
    child = case(CHILD, findings=[obs(FindingKey.SYSTOLIC_BP, 142), obs(FindingKey.DIASTOLIC_BP, 88)])
    concerns = catalogue.evaluate(catalogue["cyclosporine"], child, DrugIntent.START)
    assert not any(c.kind is ConcernKind.CONTRAINDICATED for c in concerns)
    assert any(c.rule_id == "drugs.cyclosporine.paediatric_bp" for c in concerns)
    adult = case(ADULT_F, findings=[obs(FindingKey.SYSTOLIC_BP, 152), obs(FindingKey.DIASTOLIC_BP, 88)])
    assert any(c.kind is ConcernKind.CONTRAINDICATED for c in catalogue.evaluate(catalogue["cyclosporine"], adult, DrugIntent.START))


@pytest.mark.parametrize("egfr, drug, kind", [
    (45, "cyclosporine", ConcernKind.CONTRAINDICATED), (45, "methotrexate", ConcernKind.CAUTION),
    (25, "methotrexate", ConcernKind.CONTRAINDICATED), (25, "apremilast", ConcernKind.CAUTION), (75, "cyclosporine", None),
])
def test_renal_impairment(catalogue: DrugCatalogue, egfr, drug, kind) -> None:
    c = case(OLDER, findings=[obs(FindingKey.EGFR, egfr)])
    found = [x.kind for x in catalogue.evaluate(catalogue[drug], c, DrugIntent.START) if x.population is Population.RENAL_IMPAIRMENT]
    assert (found or [None]) == [kind]


def test_older_adult_and_hepatic(catalogue: DrugCatalogue) -> None:
    c = case(OLDER, conditions=[cond(ConditionKey.LIVER_DISEASE)])
    found = {p.population for p in catalogue.populations(c)[0]}
    assert {Population.OLDER_ADULT, Population.HEPATIC_IMPAIRMENT} <= found
    rules = kinds(catalogue.evaluate(catalogue["methotrexate"], c, DrugIntent.START))
    assert ("contraindicated", "drugs.methotrexate.hepatic_impairment") in rules
    assert ("caution", "drugs.methotrexate.older_adult") in rules


# ---------------------------------------------------------------- conditions, tests

@pytest.mark.parametrize("condition, drug, intent, kind", [
    (ConditionKey.TUBERCULOSIS, "methotrexate", DrugIntent.CONTINUE, ConcernKind.HOLD),
    (ConditionKey.TUBERCULOSIS, "adalimumab", DrugIntent.START, ConcernKind.CONTRAINDICATED),
    (ConditionKey.ACTIVE_INFECTION, "secukinumab", DrugIntent.CONTINUE, ConcernKind.HOLD),
    (ConditionKey.LATENT_TUBERCULOSIS, "ustekinumab", DrugIntent.START, ConcernKind.CAUTION),
    (ConditionKey.HEART_FAILURE, "infliximab", DrugIntent.START, ConcernKind.CONTRAINDICATED),
    (ConditionKey.HEART_FAILURE, "ustekinumab", DrugIntent.START, None),
    (ConditionKey.INFLAMMATORY_BOWEL_DISEASE, "ixekizumab", DrugIntent.START, ConcernKind.CONTRAINDICATED),
    (ConditionKey.DEMYELINATING_DISEASE, "etanercept", DrugIntent.START, ConcernKind.CONTRAINDICATED),
    (ConditionKey.KIDNEY_DISEASE, "cyclosporine", DrugIntent.START, ConcernKind.CONTRAINDICATED),
    (ConditionKey.ALCOHOL_MISUSE, "methotrexate", DrugIntent.START, ConcernKind.CONTRAINDICATED),
    (ConditionKey.DEPRESSION, "apremilast", DrugIntent.START, ConcernKind.CAUTION),
    (ConditionKey.HEPATITIS_B, "adalimumab", DrugIntent.START, ConcernKind.CAUTION),
    (ConditionKey.MALIGNANCY, "cyclosporine", DrugIntent.START, ConcernKind.CONTRAINDICATED),
])
def test_condition_rules(catalogue: DrugCatalogue, condition, drug, intent, kind) -> None:
    c = case(conditions=[cond(condition)])
    found = [x.kind for x in catalogue.evaluate(catalogue[drug], c, intent) if x.rule_id.endswith(f"condition.{condition.value}")]
    assert (found or [None]) == [kind]


def test_positive_igra_without_a_tb_diagnosis_asks_to_exclude_active_tb(catalogue: DrugCatalogue) -> None:
    c = case(findings=[obs(FindingKey.TB_IGRA, True, 20)])
    concerns = catalogue.evaluate(catalogue["adalimumab"], c, DrugIntent.START)
    hit = next(x for x in concerns if x.rule_id == "drugs.adalimumab.positive_tb_test")
    assert hit.severity is ConcernSeverity.WARNING and "preventive" in hit.reason
    assert "drugs.adalimumab.check.tb" not in {x.rule_id for x in concerns}  # a result is on record


# ---------------------------------------------------------------- checks before starting

def test_missing_checks_carry_the_code_to_order(catalogue: DrugCatalogue) -> None:
    concerns = catalogue.evaluate(catalogue["adalimumab"], case(), DrugIntent.START)
    missing = {c.rule_id: c.order.code for c in concerns if c.kind is ConcernKind.MISSING_CHECK}
    assert missing["drugs.adalimumab.check.tb"] == "71773-6"
    assert missing["drugs.adalimumab.check.hbv"] == "5196-1"


def test_recent_results_satisfy_checks_and_old_ones_do_not(catalogue: DrugCatalogue) -> None:
    fresh = case(findings=[obs(FindingKey.WBC, 6.0, 10), obs(FindingKey.ALT, 20, 10)])
    stale = case(findings=[obs(FindingKey.WBC, 6.0, 400), obs(FindingKey.ALT, 20, 400)])
    rules = {"drugs.methotrexate.check.cbc", "drugs.methotrexate.check.liver"}
    assert not rules & {c.rule_id for c in catalogue.evaluate(catalogue["methotrexate"], fresh, DrugIntent.START)}
    assert rules <= {c.rule_id for c in catalogue.evaluate(catalogue["methotrexate"], stale, DrugIntent.START)}


# ---------------------------------------------------------------- monitoring on therapy

@pytest.mark.parametrize("drug, finding, rule, fires", [
    ("methotrexate", obs(FindingKey.ALT, 168), "drugs.methotrexate.alt", True),
    ("methotrexate", obs(FindingKey.ALT, 60), "drugs.methotrexate.alt", False),
    ("methotrexate", obs(FindingKey.AST, 140), "drugs.methotrexate.ast", True),
    ("methotrexate", obs(FindingKey.NEUTROPHILS, 1.1), "drugs.methotrexate.neutrophils", True),
    ("methotrexate", obs(FindingKey.PLATELETS, 95), "drugs.methotrexate.platelets", True),
    ("methotrexate", obs(FindingKey.WBC, 3.1), "drugs.methotrexate.wbc", True),
    ("methotrexate", obs(FindingKey.WBC, 5.1), "drugs.methotrexate.wbc", False),
    ("methotrexate", obs(FindingKey.ALT, 168, 300), "drugs.methotrexate.alt", False),  # before the drug was started
    ("cyclosporine", obs(FindingKey.SYSTOLIC_BP, 158), "drugs.cyclosporine.systolic", True),
    ("cyclosporine", obs(FindingKey.DIASTOLIC_BP, 95), "drugs.cyclosporine.diastolic", True),
    ("acitretin", obs(FindingKey.ALT, 150, reference_high=35.0), "drugs.acitretin.alt", True),
    ("acitretin", obs(FindingKey.ALT, 100, reference_high=35.0), "drugs.acitretin.alt", False),
    ("acitretin", obs(FindingKey.TRIGLYCERIDES, 900), "drugs.acitretin.triglycerides", True),
])
def test_abnormal_monitoring(catalogue: DrugCatalogue, drug, finding, rule, fires) -> None:
    c = case(findings=[finding], medications=[med(drug)])
    hits = [x for x in catalogue.evaluate(catalogue[drug], c) if x.rule_id == rule]
    assert bool(hits) is fires
    if fires:
        hit = hits[0]
        assert hit.kind is ConcernKind.ABNORMAL_MONITORING and hit.severity is ConcernSeverity.WARNING
        assert hit.withhold is (drug != "cyclosporine") and hit.threshold and hit.finding
        assert hit.source_ref == finding.source_ref and finding.effective.date().isoformat() in hit.reason


def test_falling_egfr_and_rising_creatinine_on_cyclosporine(catalogue: DrugCatalogue) -> None:
    c = case(findings=[obs(FindingKey.EGFR, 92, 250), obs(FindingKey.EGFR, 61, 5), obs(FindingKey.CREATININE, 0.8, 250),
                       obs(FindingKey.CREATININE, 1.15, 5)], medications=[med("cyclosporine", start_days_ago=200)])
    rules = {x.rule_id: x for x in catalogue.evaluate(catalogue["cyclosporine"], c)}
    assert "drugs.cyclosporine.egfr_fall" in rules and "-33.7%" in rules["drugs.cyclosporine.egfr_fall"].reason
    assert "drugs.cyclosporine.creatinine_rise" in rules


def test_monitoring_due_and_not_before_starting(catalogue: DrugCatalogue) -> None:
    c = case(findings=[obs(FindingKey.WBC, 6.0, 120), obs(FindingKey.ALT, 20, 120), obs(FindingKey.CREATININE, 0.8, 120)],
             medications=[med("methotrexate")])
    concerns = catalogue.evaluate(catalogue["methotrexate"], c)
    due = [x for x in concerns if x.kind is ConcernKind.MONITORING_DUE]
    assert due and due[0].reason.startswith("on Methotrexate: monitoring due")
    assert not any(x.kind is ConcernKind.MISSING_CHECK for x in concerns)
    fresh = case(findings=[obs(FindingKey.WBC, 6.0, 20), obs(FindingKey.ALT, 20, 20), obs(FindingKey.CREATININE, 0.8, 20)],
                 medications=[med("methotrexate")])
    assert not any(x.kind is ConcernKind.MONITORING_DUE for x in catalogue.evaluate(catalogue["methotrexate"], fresh))


# ---------------------------------------------------------------- interactions, duplicates

@pytest.mark.parametrize("drug, other, display, severity", [
    ("methotrexate", "trimethoprim", "Co-trimoxazole 960 mg", ConcernSeverity.WARNING),
    ("methotrexate", "naproxen", "Naproxen 500 mg oral tablet", ConcernSeverity.INFO),
    ("cyclosporine", "simvastatin", "Simvastatin 40 mg", ConcernSeverity.INFO),
    ("acitretin", "doxycycline", "Doxycycline 100 mg", ConcernSeverity.WARNING),
    ("acitretin", "methotrexate", "Methotrexate 2.5 mg", ConcernSeverity.WARNING),
    ("apremilast", "rifampin", "Rifampicin 600 mg", ConcernSeverity.INFO),
])
def test_interactions(catalogue: DrugCatalogue, drug, other, display, severity) -> None:
    c = case(medications=[med(other, display)])
    found = [x for x in catalogue.evaluate(catalogue[drug], c, DrugIntent.START) if x.kind is ConcernKind.INTERACTION]
    assert len(found) == 1 and found[0].severity is severity and display in found[0].reason


def test_two_biologics_are_a_duplicate(catalogue: DrugCatalogue) -> None:
    c = case(medications=[med("adalimumab")])
    found = [x for x in catalogue.evaluate(catalogue["secukinumab"], c, DrugIntent.START) if x.kind is ConcernKind.DUPLICATE_THERAPY]
    assert found and "Adalimumab" in found[0].reason


def test_current_drugs_and_intent(catalogue: DrugCatalogue) -> None:
    c = case(medications=[med("methotrexate"), MedicationEntry("paracetamol", "Paracetamol", "MedicationStatement/x"),
                          MedicationEntry("adalimumab", "Humira", "MedicationStatement/h", active=False)])
    assert [x.drug.id for x in catalogue.current(c)] == ["methotrexate"]
    assert catalogue.intent_for(catalogue["methotrexate"], c) is DrugIntent.CONTINUE
    assert catalogue.intent_for(catalogue["adalimumab"], c) is DrugIntent.START


def test_concerns_sorted_most_severe_first(catalogue: DrugCatalogue) -> None:
    c = case(findings=[obs(FindingKey.PREGNANT, True, 2), obs(FindingKey.ALT, 168)], medications=[med("methotrexate")])
    severities = [x.severity for x in catalogue.evaluate(catalogue["methotrexate"], c)]
    order = [ConcernSeverity.CRITICAL, ConcernSeverity.WARNING, ConcernSeverity.INFO]
    assert severities == sorted(severities, key=order.index)


def test_every_lab_a_rule_reads_has_a_clinician_label() -> None:
    """A lab rule without a `labs` entry would print its internal key ("phq2 3 >= 3") on a card."""
    doc = json.loads((Path(inference.__file__).parent / "knowledge" / "drugs.json").read_text())
    read = {rule["lab"] for drug in doc["drugs"] for rule in (*drug.get("lab_conditions", ()), *drug["monitoring"]) if "lab" in rule}
    assert read <= set(doc["labs"]), sorted(read - set(doc["labs"]))


@pytest.mark.parametrize("alt, hepatic", [(168.0, True), (110.0, False)])
def test_transaminases_above_three_times_the_limit_are_hepatic_impairment(catalogue: DrugCatalogue, alt, hepatic) -> None:
    # ALT 168 on methotrexate (review vignette mtx-alt): acitretin is hepatotoxic and must not be offered.
    c = case(findings=[obs(FindingKey.ALT, alt)])
    assert any(p.population.value == "hepatic_impairment" for p in catalogue.populations(c)[0]) is hepatic
    acitretin = catalogue.evaluate(catalogue.get("acitretin"), c)
    assert any(x.kind.value == "contraindicated" for x in acitretin) is hepatic
