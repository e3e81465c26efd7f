"""The one plain-English line (< 140 characters, CDS Hooks card summary limit) for the assessment."""

from __future__ import annotations

from inference.reason.severity import SeverityOutcome
from inference.results import Screening, TcmDifferentiation, TreatmentPlan

MAX_CHARS = 139  # CDS Hooks: summary SHALL be < 140 characters


def summarise(
    severity: SeverityOutcome,
    plan: TreatmentPlan | None,
    screenings: tuple[Screening, ...],
    tcm: TcmDifferentiation | None,
    issue_count: int,
) -> str:
    """Most important first; trailing parts are dropped (never cut mid-word) until the line fits."""
    level = severity.severity.level
    if level == "unknown":
        head = "Psoriasis severity unknown: record BSA or PASI"
    else:
        head = f"{level.capitalize()} psoriasis"
        if severity.headline:
            head += f" ({severity.headline})"
    parts = [head]
    if severity.differential_open:
        parts.insert(0, "Differential open")
    if plan is not None:
        parts.append(f"step: {plan.step_display.lower()}")
    due = sum(1 for s in screenings if s.due)
    if due:
        parts.append(f"{due} screening{'s' if due != 1 else ''} due")
    if tcm is not None and tcm.primary is not None:
        parts.append(f"TCM: {tcm.primary.display.lower()} ({_confidence_word(tcm.confidence)} confidence)")
    if issue_count:
        parts.append(f"{issue_count} data issue{'s' if issue_count != 1 else ''}")
    while len(parts) > 1 and len("; ".join(parts)) > MAX_CHARS:
        parts.pop()
    line = "; ".join(parts)
    return line if len(line) <= MAX_CHARS else line[: MAX_CHARS - 3].rsplit(" ", 1)[0] + "..."


def _confidence_word(confidence: float) -> str:
    if confidence >= 0.75:
        return "high"
    if confidence >= 0.45:
        return "moderate"
    return "low"
