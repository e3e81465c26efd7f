"""Building `Evidence` for DERM-Reason: from a recorded finding, or from a knowledge rule with its citation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inference.case import Finding
from inference.results import Evidence
from inference.i18n import t

UNVERIFIED_SUFFIX = " [(unverified) configurable default]"  # internal marker, scrubbed from clinician text


def format_number(value: float) -> str:
    """12.0 -> "12", 14.25 -> "14.2": one decimal at most, as clinicians write scores."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def format_value(value: float | str | bool) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return format_number(float(value))
    return value.replace("_", " ")


def describe_finding(label: str, finding: Finding, unit: str = "") -> str:
    """"BSA 12% (Observation/3, 2026-10-01)"."""
    where = finding.source_ref
    if finding.effective is not None:
        where += t(", {date}", date=finding.effective.date().isoformat())
    return t("{label} {format_value}{unit} ({where})", label=label, format_value=format_value(finding.value), unit=unit, where=where)


def citation(sources: Mapping[str, Any], rule: Mapping[str, Any], source_key: str = "source") -> str:
    """The citation text of a rule, marked when the knowledge file flags it as an unverified default."""
    text = str(sources[rule[source_key]])
    return text + UNVERIFIED_SUFFIX if rule.get("unverified", False) else text


def rule_evidence(
    statement: str,
    rule: Mapping[str, Any],
    sources: Mapping[str, Any],
    source_ref: str | None = None,
    weight: float = 0.0,
) -> Evidence:
    """Evidence that names the knowledge rule applied (its id and citation) and, if any, the input it rests on."""
    return Evidence(
        statement=statement,
        source_ref=source_ref,
        rule=str(rule["id"]),
        citation=citation(sources, rule),
        weight=weight,
    )
