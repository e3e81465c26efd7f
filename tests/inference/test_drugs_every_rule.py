"""Every rule of drugs.json fires on the case it describes (generated tables: one row per rule), so an
edit that breaks a rule's wiring - a condition no longer read, a threshold on the wrong side, an
interaction partner never recognised - fails here. Clinical spot checks are in test_drugs.py."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from inference.case import Case, ConditionEntry, ConditionKey, Finding, FindingKey, MedicationEntry, PatientInfo
from inference.knowledge_base import load_knowledge
from inference.reason.drugs import ConcernKind, DrugCatalogue, DrugIntent, Population, PopulationStatus

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
DOC = load_knowledge().document("drugs")
CATALOGUE = DrugCatalogue.from_knowledge(load_knowledge())


def _obs(key: FindingKey, value: Any, days_ago: int = 2) -> Finding:
    return Finding(key, value, f"Observation/{key.value}-{days_ago}", effective=NOW - timedelta(days=days_ago))


def _patient(population: str, male: bool = False) -> PatientInfo:
    born = {"child": date(2012, 1, 1), "older_adult": date(1945, 1, 1)}.get(population, date(1988, 1, 1))
    return PatientInfo("Patient/p", born, "male" if male else "female")


def _population_case(population: str, severe: bool = False, male: bool = False) -> Case:
    findings: list[Finding] = []
    conditions: list[ConditionEntry] = []
    if population == "pregnancy":
        findings.append(_obs(FindingKey.PREGNANT, True))
    elif population == "breastfeeding":
        findings.append(_obs(FindingKey.BREASTFEEDING, True))
    elif population == "planning_pregnancy":
        findings.append(_obs(FindingKey.PLANNING_PREGNANCY, True))
    elif population == "renal_impairment":
        findings.append(_obs(FindingKey.EGFR, 20.0 if severe else 45.0))
    elif population == "hepatic_impairment":
        conditions.append(ConditionEntry(ConditionKey.LIVER_DISEASE, "Liver disease", "Condition/liver"))
    return Case(_patient(population, male), NOW, findings=tuple(findings), conditions=tuple(conditions))


POPULATION_ROWS = [
    (drug["id"], name, variant)
    for drug in DOC["drugs"]
    for name, rule in drug["populations"].items()
    for variant in ("base", *(v for v in ("male", "severe") if v in rule))
]


@pytest.mark.parametrize(("drug_id", "population", "variant"), POPULATION_ROWS,
                         ids=[f"{d}-{p}-{v}" for d, p, v in POPULATION_ROWS])
def test_every_population_rule(drug_id: str, population: str, variant: str) -> None:
    raw = next(d for d in DOC["drugs"] if d["id"] == drug_id)["populations"][population]
    rule = raw if variant == "base" else raw[variant]
    case = _population_case(population, severe=variant == "severe", male=variant == "male")
    found, problems = CATALOGUE.populations(case)
    assert problems == ()
    assert Population(population) in {p.population for p in found}
    expected = PopulationStatus(rule["status"])
    if population == "child" and "min_age" in raw:  # the case's child is 14: below the minimum age -> contraindicated
        expected = PopulationStatus.CONTRAINDICATED if 14 < raw["min_age"] else (
            PopulationStatus.CAUTION if expected is PopulationStatus.CONTRAINDICATED else expected)
    statuses = [CATALOGUE.population_status(CATALOGUE[drug_id], p, case) for p in found if p.population is Population(population)]
    assert statuses == [expected]
    concerns = [c for c in CATALOGUE.evaluate(CATALOGUE[drug_id], case, DrugIntent.START, found)
                if c.population is Population(population)]
    kinds = {PopulationStatus.CONTRAINDICATED: [ConcernKind.CONTRAINDICATED], PopulationStatus.CAUTION: [ConcernKind.CAUTION]}
    assert [c.kind for c in concerns] == kinds.get(expected, [])


CONDITION_ROWS = [(drug["id"], rule["condition"], rule["status"], bool(rule.get("hold"))) for drug in DOC["drugs"] for rule in drug["conditions"]]


@pytest.mark.parametrize(("drug_id", "condition", "status", "hold"), CONDITION_ROWS,
                         ids=[f"{d}-{c}" for d, c, _, _ in CONDITION_ROWS])
def test_every_condition_rule(drug_id: str, condition: str, status: str, hold: bool) -> None:
    case = Case(PatientInfo("Patient/p", date(1980, 1, 1), "male"), NOW,
                conditions=(ConditionEntry(ConditionKey(condition), condition, f"Condition/{condition}"),))
    rule_id = f"drugs.{drug_id}.condition.{condition}"
    start = [c for c in CATALOGUE.evaluate(CATALOGUE[drug_id], case, DrugIntent.START) if c.rule_id == rule_id]
    assert [c.kind for c in start] == [ConcernKind.CONTRAINDICATED if status == "contraindicated" else ConcernKind.CAUTION]
    if hold:
        on = [c for c in CATALOGUE.evaluate(CATALOGUE[drug_id], case, DrugIntent.CONTINUE) if c.rule_id == rule_id]
        assert [c.kind for c in on] == [ConcernKind.HOLD]


def _crossing(rule: dict[str, Any]) -> float:
    if "gt" in rule:
        return float(rule["gt"]) * 1.5 + 1
    if "gte" in rule:
        return float(rule["gte"]) + 5
    return float(rule["lt"]) * 0.5


MONITORING_ROWS = [(drug["id"], rule) for drug in DOC["drugs"] for rule in drug["monitoring"]]


@pytest.mark.parametrize(("drug_id", "rule"), MONITORING_ROWS, ids=[r["id"] for _, r in MONITORING_ROWS])
def test_every_monitoring_rule(drug_id: str, rule: dict[str, Any]) -> None:
    started = (NOW - timedelta(days=400)).date()
    medication = MedicationEntry(drug_id, drug_id, f"MedicationStatement/{drug_id}", start=started)
    adult = PatientInfo("Patient/p", date(1975, 1, 1), "male")
    if rule["kind"] == "due":
        findings: tuple[Finding, ...] = ()
    elif rule["kind"] in ("lab_above", "lab_below"):
        findings = (_obs(FindingKey(rule["lab"]), _crossing(rule)),)
    elif rule["kind"] == "lab_above_uln":
        findings = (Finding(FindingKey(rule["lab"]), 40.0 * float(rule["times"]) + 10, "Observation/x",
                            effective=NOW - timedelta(days=2), reference_high=40.0),)
    else:
        base, factor = 100.0, (1 + 2 * float(rule["percent"]) / 100) if rule["kind"] == "rise_from_baseline" else (1 - 2 * float(rule["percent"]) / 100)
        findings = (_obs(FindingKey(rule["lab"]), base, days_ago=420), _obs(FindingKey(rule["lab"]), base * factor))
    case = Case(adult, NOW, findings=findings, medications=(medication,))
    hits = [c for c in CATALOGUE.evaluate(CATALOGUE[drug_id], case, DrugIntent.CONTINUE) if c.rule_id == rule["id"]]
    assert len(hits) == 1
    assert hits[0].kind is (ConcernKind.MONITORING_DUE if rule["kind"] == "due" else ConcernKind.ABNORMAL_MONITORING)
    assert hits[0].withhold is bool(rule.get("withhold", False))


INTERACTION_ROWS = [(drug["id"], rule["with"], rule["status"]) for drug in DOC["drugs"] for rule in drug["interactions"]]


def _partner_name(key: str) -> str:
    item = next((i for i in DOC["interactants"] if i["id"] == key), None)
    return item["names"][0].capitalize() if item else CATALOGUE[key].names[0].capitalize()


@pytest.mark.parametrize(("drug_id", "partner", "status"), INTERACTION_ROWS, ids=[f"{d}+{p}" for d, p, _ in INTERACTION_ROWS])
def test_every_interaction(drug_id: str, partner: str, status: str) -> None:
    other = MedicationEntry("x", f"{_partner_name(partner)} 100 mg tablet", "MedicationStatement/x")
    case = Case(PatientInfo("Patient/p", date(1975, 1, 1), "male"), NOW, medications=(other,))
    hits = [c for c in CATALOGUE.evaluate(CATALOGUE[drug_id], case, DrugIntent.START) if c.kind is ConcernKind.INTERACTION]
    assert [c.rule_id for c in hits] == [f"drugs.{drug_id}.interaction.{partner}"]


CHECK_ROWS = [(drug["id"], check) for drug in DOC["drugs"] for check in drug["checks_before"]]


@pytest.mark.parametrize(("drug_id", "check"), CHECK_ROWS, ids=[f"{d}-{c}" for d, c in CHECK_ROWS])
def test_every_check_before_starting(drug_id: str, check: str) -> None:
    woman = Case(PatientInfo("Patient/p", date(1990, 1, 1), "female"), NOW)
    missing = {c.rule_id: c for c in CATALOGUE.evaluate(CATALOGUE[drug_id], woman, DrugIntent.START)
               if c.kind is ConcernKind.MISSING_CHECK}
    concern = missing[f"drugs.{drug_id}.{check}"]
    assert concern.order is not None and concern.order.code
    result = CATALOGUE.checks[check].finds[0]
    value: Any = False if result in (FindingKey.TB_IGRA, FindingKey.TB_SKIN_TEST, FindingKey.HBSAG, FindingKey.ANTI_HBC,
                                     FindingKey.HCV_ANTIBODY, FindingKey.PREGNANCY_TEST, FindingKey.PREGNANT) else 50.0
    tested = Case(woman.patient, NOW, findings=(_obs(result, value, days_ago=3),))
    assert f"drugs.{drug_id}.{check}" not in {c.rule_id for c in CATALOGUE.evaluate(CATALOGUE[drug_id], tested, DrugIntent.START)}


def test_every_drug_is_found_by_each_of_its_names_and_codes() -> None:
    for drug in CATALOGUE.drugs:
        for name in drug.names:
            found = CATALOGUE.lookup_text(f"{name} 10 mg")
            # A topical corticosteroid name with no dose form reads as topical; every other name finds its drug.
            assert found is not None and found.id == drug.id, (drug.id, name)
        for coding in drug.codings:
            assert CATALOGUE.key_for_code(coding.system, coding.code) is not None
