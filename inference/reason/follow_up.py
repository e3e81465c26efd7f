"""Follow-up interval and treat-to-target goals (follow_up.json; NPF treat-to-target 2017, configurable)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inference.reason.evidence import rule_evidence
from inference.results import Evidence, FollowUp


def _matches(rule: Mapping[str, Any], level: str, step: str | None) -> bool:
    """A rule with both `levels` and `steps` needs both to match; one with a single key needs that one."""
    if "levels" in rule and level not in rule["levels"]:
        return False
    if "steps" in rule and step not in rule["steps"]:
        return False
    return True


def plan_follow_up(level: str, step: str | None, doc: Mapping[str, Any]) -> FollowUp | None:
    """The first matching interval rule (file order is priority); targets are every matching target."""
    sources = doc["sources"]
    interval = next((r for r in doc["intervals"] if _matches(r, level, step)), None)
    if interval is None:
        return None
    evidence: list[Evidence] = [rule_evidence(f"follow up in {interval['weeks']} weeks: {interval['statement']}", interval, sources)]
    targets: list[str] = []
    for target in doc["targets"]:
        by_level = "levels" in target and level in target["levels"]
        by_step = "steps" in target and step in target["steps"]
        if by_level or by_step:
            targets.append(str(target["text"]))
            evidence.append(rule_evidence(f"target: {target['text']}", target, sources))
    return FollowUp(interval_weeks=int(interval["weeks"]), targets=tuple(targets), evidence=tuple(evidence))
