"""Follow-up interval and treat-to-target goals (follow_up.json; NPF treat-to-target 2017, configurable)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inference.case import Case, FindingKey
from inference.reason.evidence import format_number, rule_evidence
from inference.results import Evidence, FollowUp, PatientRepresentation, TrendDirection
from inference.i18n import t


def _matches(rule: Mapping[str, Any], level: str, step: str | None) -> bool:
    """A rule with both `levels` and `steps` needs both to match; one with a single key needs that one."""
    if "levels" in rule and level not in rule["levels"]:
        return False
    if "steps" in rule and step not in rule["steps"]:
        return False
    return True


def plan_follow_up(
    level: str, step: str | None, doc: Mapping[str, Any], progress: tuple[Evidence, ...] = ()
) -> FollowUp | None:
    """The first matching interval rule (file order is priority); targets are every matching target."""
    sources = doc["sources"]
    interval = next((r for r in doc["intervals"] if _matches(r, level, step)), None)
    if interval is None:
        return None
    evidence: list[Evidence] = [rule_evidence(t("follow up in {weeks} weeks: {statement}", weeks=interval['weeks'], statement=interval['statement']), interval, sources)]
    targets: list[str] = []
    for target in doc["targets"]:
        by_level = "levels" in target and level in target["levels"]
        by_step = "steps" in target and step in target["steps"]
        if by_level or by_step:
            targets.append(str(target["text"]))
            evidence.append(rule_evidence(t("target: {text}", text=target['text']), target, sources))
    evidence.extend(progress)
    return FollowUp(interval_weeks=int(interval["weeks"]), targets=tuple(targets), evidence=tuple(evidence))


def progress_evidence(case: Case, representation: PatientRepresentation | None) -> tuple[Evidence, ...]:
    """Where the patient stands against the targets: first vs latest recorded PASI and BSA, and the
    photographs' trend. Facts only; the targets themselves come from the knowledge file."""
    found: list[Evidence] = []
    for key, label, unit in ((FindingKey.PASI, "PASI", ""), (FindingKey.BSA_PERCENT, "BSA", "%")):
        history = [f for f in case.history(key) if isinstance(f.value, (int, float)) and not isinstance(f.value, bool)]
        if len(history) < 2:
            continue
        first, last = history[0], history[-1]
        if first.effective is None:  # history() returns dated findings only; this keeps the type checker honest
            continue
        baseline, current = float(first.value), float(last.value)
        change = ""
        if baseline > 0:
            improvement = (baseline - current) / baseline * 100
            change = t(": {improvement}% {value}", improvement=format_number(abs(improvement)), value='improvement' if improvement >= 0 else 'worsening')
        found.append(Evidence(
            statement=(
                t("{label} {baseline}{unit} ({date}) -> {current}{unit} ({source_ref}){change}", label=label, baseline=format_number(baseline), unit=unit, date=first.effective.date().isoformat(), current=format_number(current), source_ref=last.source_ref, change=change)
            ),
            source_ref=last.source_ref,
        ))
    if representation is not None and representation.trend.direction != TrendDirection.UNKNOWN:
        trend = representation.trend
        detail = t(" ({percent_change:+.0f}%)", percent_change=trend.percent_change) if trend.percent_change is not None else ""
        ref = next((e.source_ref for e in trend.evidence if e.source_ref), None)
        found.append(Evidence(statement=t("photographs: {direction}{detail}", direction=trend.direction, detail=detail), source_ref=ref))
    return tuple(found)
