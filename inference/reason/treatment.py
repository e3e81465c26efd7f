"""Treatment ladder step, options, contraindications and pre-treatment checks (treatment.json).

The step is the highest ladder step any matching rule asks for: severity and IPC candidacy set a
floor, psoriatic arthritis needs systemic care, and current medication moves the step up when disease
persists on it (e.g. moderate-to-severe disease on methotrexate -> biologic). Nothing steps a patient
down automatically. Contraindications are data: each rule names the therapies, classes or groups it
applies to and the conditions or findings that trigger it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from inference.case import Case, ConditionKey, FindingKey
from inference.knowledge_base import KnowledgeError
from inference.reason.evidence import citation, describe_finding, rule_evidence
from inference.reason.severity import SeverityOutcome
from inference.results import Contraindication, Evidence, TreatmentOption, TreatmentPlan

STEP_ORDER: tuple[str, ...] = ("topical", "phototherapy", "oral_systemic", "biologic")


@dataclass(frozen=True)
class CurrentTherapy:
    key: str
    display: str
    step: str
    source_ref: str


def check_treatment_knowledge(doc: Mapping[str, Any]) -> None:
    """Cross-checks the schema cannot express: condition/finding keys exist in the case model, every
    referenced pre-treatment check is defined, and contraindications name known therapies/classes/groups."""
    check_ids = {c["id"] for c in doc["checks"]}
    tokens = set(STEP_ORDER)
    for step in doc["steps"]:
        for option in step["options"]:
            tokens.add(option["therapy"])
            tokens.update(option["groups"])
            for check in option.get("checks", ()):
                if check not in check_ids:
                    raise KnowledgeError(f"treatment.json: option {option['therapy']!r} uses unknown check {check!r}")
    for rule in doc["step_rules"]:
        if "condition" in rule:
            _condition_key(rule["condition"], rule["id"])
    for rule in doc["contraindications"]:
        unknown = [t for t in rule["applies_to"] if t not in tokens]
        if unknown:
            raise KnowledgeError(f"treatment.json: {rule['id']} applies to unknown therapies {unknown}")
        for trigger in rule["when"]:
            if "condition" in trigger:
                _condition_key(trigger["condition"], rule["id"])
            else:
                _finding_key(trigger["finding"], rule["id"])


def current_therapies(case: Case, doc: Mapping[str, Any]) -> tuple[CurrentTherapy, ...]:
    """Active medications the ladder knows, in record order."""
    classes = doc["medications"]
    return tuple(
        CurrentTherapy(m.key, m.display, str(classes[m.key]), m.source_ref)
        for m in case.medications
        if m.active and m.key in classes
    )


def plan_treatment(case: Case, severity: SeverityOutcome, doc: Mapping[str, Any]) -> TreatmentPlan | None:
    """None when severity is unknown: no step is suggested without a severity measure."""
    level = severity.severity.level
    if level not in ("clear", "mild", "moderate", "severe"):
        return None
    sources = doc["sources"]
    current = current_therapies(case, doc)
    current_steps = {t.step for t in current}
    chosen: list[tuple[str, Evidence]] = []
    for rule in doc["step_rules"]:
        if level not in rule["levels"]:
            continue
        kind = rule["kind"]
        if kind == "severity":
            chosen.append((rule["step"], rule_evidence(rule["statement"], rule, sources)))
        elif kind == "systemic_candidate" and severity.severity.systemic_candidate:
            chosen.append((rule["step"], rule_evidence(rule["statement"], rule, sources)))
        elif kind == "condition":
            for condition in case.conditions:
                if condition.active and condition.key is _condition_key(rule["condition"], rule["id"]):
                    chosen.append((rule["step"], rule_evidence(
                        f"{condition.display} ({condition.source_ref}): {rule['statement']}",
                        rule, sources, condition.source_ref,
                    )))
                    break
        elif kind == "current_class" and rule["current_class"] in current_steps:
            therapy = next(t for t in current if t.step == rule["current_class"])
            chosen.append((rule["step"], rule_evidence(
                f"on {therapy.display} ({therapy.source_ref}) with {level} disease: {rule['statement']}",
                rule, sources, therapy.source_ref,
            )))
        elif kind == "continue_current" and current:
            therapy = max(current, key=lambda t: STEP_ORDER.index(t.step))
            chosen.append((therapy.step, rule_evidence(
                f"on {therapy.display} ({therapy.source_ref}): {rule['statement']}", rule, sources, therapy.source_ref,
            )))
    if not chosen:
        return None
    step_id = max(chosen, key=lambda item: STEP_ORDER.index(item[0]))[0]
    step = next(s for s in doc["steps"] if s["id"] == step_id)
    # "Stay on the current step" only explains the outcome when no rule moved the patient past it.
    rationale = [evidence for step, evidence in chosen if step == step_id or evidence.rule not in _continue_ids(doc)]
    if severity.differential_open and severity.differential is not None:
        rationale.append(severity.differential)
    options = tuple(_option(case, step, option, doc) for option in step["options"])
    # Allowed options first, knowledge-file order otherwise (sorted is stable): deterministic.
    options = tuple(sorted(options, key=lambda o: not o.allowed))
    return TreatmentPlan(step=step_id, step_display=str(step["display"]), options=options, rationale=tuple(rationale))


def _option(case: Case, step: Mapping[str, Any], option: Mapping[str, Any], doc: Mapping[str, Any]) -> TreatmentOption:
    tokens = {option["therapy"], step["id"], *option["groups"]}
    contraindications = []
    for rule in doc["contraindications"]:
        if not tokens.intersection(rule["applies_to"]):
            continue
        evidence = _triggers(case, rule, doc["sources"])
        if evidence:
            contraindications.append(Contraindication(
                therapy=str(option["therapy"]), reason=str(rule["reason"]), absolute=bool(rule["absolute"]),
                evidence=tuple(evidence),
            ))
    checks = {c["id"]: c for c in doc["checks"]}
    return TreatmentOption(
        therapy=str(option["therapy"]),
        display=str(option["display"]),
        therapy_class=str(step["id"]),
        contraindications=tuple(contraindications),
        pre_treatment_checks=tuple(str(checks[c]["display"]) for c in option.get("checks", ())),
    )


def _triggers(case: Case, rule: Mapping[str, Any], sources: Mapping[str, Any]) -> list[Evidence]:
    """Evidence for every trigger of `rule` present in the case (empty: the rule does not apply)."""
    found: list[Evidence] = []
    for trigger in rule["when"]:
        if "condition" in trigger:
            key = _condition_key(trigger["condition"], rule["id"])
            for condition in case.conditions:
                if condition.active and condition.key is key:
                    found.append(rule_evidence(
                        f"{condition.display} recorded ({condition.source_ref})", rule, sources, condition.source_ref,
                    ))
            continue
        finding = case.latest(_finding_key(trigger["finding"], rule["id"]))
        if finding is None:
            continue
        if "equals" in trigger:
            hit = finding.value == trigger["equals"] and type(finding.value) is type(trigger["equals"])
        else:
            hit = isinstance(finding.value, (int, float)) and not isinstance(finding.value, bool) and finding.value >= trigger["gte"]
        if hit:
            label = finding.display or finding.key.value.replace("_", " ")
            found.append(rule_evidence(describe_finding(label, finding), rule, sources, finding.source_ref))
    return found


def check_evidence(step: str, options: tuple[TreatmentOption, ...], doc: Mapping[str, Any]) -> list[Evidence]:
    """One Evidence per distinct pre-treatment check of the step's allowed options (for the pre-systemic screening)."""
    by_display = {c["display"]: c for c in doc["checks"]}
    seen: list[str] = []
    for option in options:
        if option.allowed:
            seen.extend(c for c in option.pre_treatment_checks if c not in seen)
    return [
        Evidence(statement=f"before {step.replace('_', ' ')} therapy: {display}", rule=str(by_display[display]["id"]),
                 citation=citation(doc["sources"], by_display[display]))
        for display in seen
    ]


def _continue_ids(doc: Mapping[str, Any]) -> set[str]:
    return {str(r["id"]) for r in doc["step_rules"] if r["kind"] == "continue_current"}


def _condition_key(name: str, rule_id: str) -> ConditionKey:
    try:
        return ConditionKey(name)
    except ValueError:
        raise KnowledgeError(f"{rule_id}: {name!r} is not a ConditionKey") from None


def _finding_key(name: str, rule_id: str) -> FindingKey:
    try:
        return FindingKey(name)
    except ValueError:
        raise KnowledgeError(f"{rule_id}: {name!r} is not a FindingKey") from None
