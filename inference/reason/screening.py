"""Comorbidity screening due (screening.json, AAD-NPF 2019 comorbidities): psoriatic arthritis (PEST),
depression (PHQ-2), cardiometabolic risk (BP, HbA1c, lipids, BMI: stricter when BSA > 10% or a systemic
candidate), and the checks due before systemic therapy."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from inference.case import Case, ConditionKey, Finding, FindingKey
from inference.knowledge_base import KnowledgeError
from inference.reason.evidence import UNVERIFIED_SUFFIX, describe_finding, format_number, rule_evidence
from inference.reason.severity import SeverityOutcome
from inference.reason.drugs import DrugCatalogue, age_years
from inference.results import Evidence, Screening, TreatmentPlan
from inference.i18n import t, tjoin, upper_first

_DAYS_PER_MONTH = 365.25 / 12


def check_screening_knowledge(doc: Mapping[str, Any]) -> None:
    """Keys must exist in the case model and action templates must format (caught at load, not per request)."""
    try:
        for questionnaire in doc["questionnaires"]:
            FindingKey(questionnaire["measure"])
            for name in questionnaire["supporting_findings"]:
                FindingKey(name)
            for name in questionnaire["known_conditions"]:
                ConditionKey(name)
            for outcome in questionnaire["outcomes"].values():
                outcome["action"].format(value=1.0, months=12)
        for measure in doc["cardiometabolic"]["measures"]:
            for name in measure["findings"]:
                FindingKey(name)
            for trigger in measure["abnormal"]:
                FindingKey(trigger["finding"])
            for name in measure["known_conditions"]:
                ConditionKey(name)
    except (ValueError, KeyError, IndexError) as exc:
        raise KnowledgeError(f"screening.json: {exc}") from exc


def screenings(
    case: Case,
    severity: SeverityOutcome,
    plan: TreatmentPlan | None,
    doc: Mapping[str, Any],
    catalogue: DrugCatalogue | None = None,
) -> tuple[Screening, ...]:
    found = [questionnaire(case, q, doc["sources"]) for q in doc["questionnaires"]]
    paediatric_bp_age = float(catalogue.population_rules["paediatric_bp_age_lt"]) if catalogue is not None else 13.0
    found.append(cardiometabolic(case, severity, doc["cardiometabolic"], doc["sources"], paediatric_bp_age))
    pre = pre_systemic(plan, doc["pre_systemic"], doc["sources"], catalogue)
    if pre is not None:
        found.append(pre)
    return tuple(found)


def _age_months(as_of: datetime, finding: Finding) -> float | None:
    if finding.effective is None:
        return None
    return (as_of - finding.effective) / timedelta(days=_DAYS_PER_MONTH)


def questionnaire(case: Case, q: Mapping[str, Any], sources: Mapping[str, Any]) -> Screening:
    outcomes = q["outcomes"]
    kind, display = str(q["kind"]), str(q["display"])

    def result(outcome: str, evidence: list[Evidence], value: float | None = None, extra: str = "") -> Screening:
        rule = outcomes[outcome]
        template: str = rule["action"]  # a knowledge-file template, e.g. "PEST {value:g} (>= 3): ..."
        action = t(template, value=value if value is not None else 0.0, months=q["rescreen_months"]) + extra
        evidence.append(rule_evidence(action, rule, sources, evidence[0].source_ref if evidence else None))
        return Screening(kind=kind, display=display, due=bool(rule["due"]), action=action, evidence=tuple(evidence))

    for condition in case.conditions:
        if condition.active and condition.key.value in q["known_conditions"]:
            return result("known", [Evidence(t("{display} recorded ({source_ref})", display=condition.display, source_ref=condition.source_ref), condition.source_ref)])

    supporting = [
        f for name in q["supporting_findings"] if (f := case.latest(FindingKey(name))) is not None and f.value is True
    ]
    finding = case.latest(FindingKey(q["measure"]))
    label = display.split("(")[-1].rstrip(")") if "(" in display else display
    if finding is None or isinstance(finding.value, bool) or not isinstance(finding.value, (int, float)):
        if supporting and "supporting" in outcomes:
            return result("supporting", [Evidence(describe_finding(t("joint pain"), supporting[0]), supporting[0].source_ref)])
        return result("missing", [])
    value = float(finding.value)
    evidence = [Evidence(describe_finding(label, finding), finding.source_ref)]
    age = _age_months(case.as_of, finding)
    if value >= float(q["positive_gte"]):
        return result("positive", evidence, value)
    if age is None or age > float(q["rescreen_months"]):
        return result("overdue", evidence, value)
    if supporting and "supporting" in outcomes:
        evidence.append(Evidence(describe_finding(t("joint pain"), supporting[0]), supporting[0].source_ref))
        return result("supporting", evidence, value)
    return result("negative", evidence, value)


def cardiometabolic(case: Case, severity: SeverityOutcome, rules: Mapping[str, Any], sources: Mapping[str, Any],
                    paediatric_bp_age: float = 13.0) -> Screening:
    """Adult cut-offs are not applied to a child's blood pressure (AAP 2017: percentiles by age, sex, height)."""
    age = age_years(case)
    child_bp = age is not None and age < paediatric_bp_age
    strict_rule = rules["strict"]
    bsa = severity.bsa
    strict_evidence: list[Evidence] = []
    if bsa is not None and bsa > float(strict_rule["bsa_gt"]):
        strict_evidence.append(rule_evidence(t("BSA {bsa}%: {statement}", bsa=format_number(bsa), statement=strict_rule['statement']), strict_rule, sources))
    elif strict_rule["systemic_candidate"] and severity.severity.systemic_candidate:
        strict_evidence.append(rule_evidence(t("systemic candidate: {statement}", statement=strict_rule['statement']), strict_rule, sources))
    interval = int(strict_rule["interval_months"] if strict_evidence else rules["interval_months"])

    evidence: list[Evidence] = list(strict_evidence)
    missing: list[str] = []
    overdue: list[str] = []
    abnormal: list[str] = []
    for measure in rules["measures"]:
        latest = [f for name in measure["findings"] if (f := case.latest(FindingKey(name))) is not None]
        known = [c for c in case.conditions if c.active and c.key.value in measure["known_conditions"]]
        for condition in known:
            evidence.append(Evidence(t("{display} recorded ({source_ref}): monitor", display=condition.display, source_ref=condition.source_ref), condition.source_ref))
        if not latest:
            missing.append(str(measure["display"]))
            evidence.append(rule_evidence(t("no {display} on record", display=measure['display']), measure, sources))
            continue
        for finding in latest:
            label = finding.display or finding.key.value.replace("_", " ")
            evidence.append(rule_evidence(describe_finding(label, finding), measure, sources, finding.source_ref))
        ages = [_age_months(case.as_of, f) for f in latest]
        if any(a is None or a > interval for a in ages):
            overdue.append(str(measure["display"]))
            evidence.append(rule_evidence(t("{display} older than {interval} months", display=measure['display'], interval=interval), measure, sources))
        if child_bp and set(measure["findings"]) & {"systolic_bp", "diastolic_bp"}:
            evidence.append(Evidence(t("age {age}: blood pressure judged against age, sex and height percentiles, not the adult cut-off", age=age)))
            continue
        for trigger in measure["abnormal"]:
            value = case.latest(FindingKey(trigger["finding"]))
            if (
                value is not None and isinstance(value.value, (int, float)) and not isinstance(value.value, bool)
                and value.value >= float(trigger["gte"])
            ):
                abnormal.append(str(measure["abnormal_action"]))
                evidence.append(rule_evidence(
                    t("{value} >= {gte}", value=describe_finding(value.key.value.replace('_', ' '), value), gte=format_number(float(trigger['gte']))),
                    measure, sources, value.source_ref,
                ))
                break

    parts: list[str] = []
    if missing:
        parts.append(t("record {items}", items=tjoin(", ", missing)))
    if overdue:
        parts.append(t("repeat {items} (every {interval} months)", items=tjoin(", ", overdue), interval=interval))
    parts.extend(abnormal)
    if strict_evidence and parts:
        parts.append(t("multiply risk-score results by 1.5"))
    due = bool(missing or overdue or abnormal)
    action = tjoin("; ", parts) if parts else t("up to date (screen every {interval} months)", interval=interval)
    return Screening(kind=str(rules["kind"]), display=str(rules["display"]), due=due,
                     action=upper_first(action), evidence=tuple(evidence))


def pre_systemic(plan: TreatmentPlan | None, rule: Mapping[str, Any], sources: Mapping[str, Any],
                 catalogue: DrugCatalogue | None = None) -> Screening | None:
    """Only when the step is systemic or biologic: the checks still missing (no recent result on record)
    for the allowed options the patient is NOT already taking - a current drug is monitored, not
    "started" (drugs.json decides which checks, how recent, and for whom)."""
    if plan is None or plan.step not in rule["steps"] or plan.on_hold:
        return None
    order = ("topical", "phototherapy", "oral_systemic", "biologic")
    current = [o.therapy_class for o in plan.options if o.current]
    floor = max((order.index(c) for c in current), default=-1)
    if floor >= order.index(plan.step):
        return None  # staying on the current step: its drugs are monitored, nothing new is started
    checks: list[str] = []
    for option in plan.options:
        if not option.allowed or option.current or option.adjunct or option.therapy_class not in ("oral_systemic", "biologic"):
            continue
        if order.index(option.therapy_class) <= floor:
            continue
        checks.extend(c for c in option.pre_treatment_checks if c not in checks)
    if not checks:
        return None
    action = t("Before starting systemic therapy: ") + tjoin("; ", checks)
    evidence = [rule_evidence(t("{step_display} step", step_display=plan.step_display), rule, sources)]
    known = {c.display: c for c in catalogue.checks.values()} if catalogue is not None else {}
    for name in checks:
        check = known.get(name)
        citation = None
        if check is not None:
            citation = check.citation.text + (UNVERIFIED_SUFFIX if check.citation.unverified else "")
        evidence.append(Evidence(statement=t("before starting: {name}", name=name), rule=check.id if check else None, citation=citation))
    return Screening(kind=str(rule["kind"]), display=str(rule["display"]), due=True, action=action, evidence=tuple(evidence))
