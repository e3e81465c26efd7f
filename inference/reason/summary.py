"""The one plain-English line (< 140 characters, CDS Hooks card summary limit) for the assessment:
action first, complete words, most important part first."""

from __future__ import annotations

from collections.abc import Sequence

from inference.case import OTHER_SKIN_DIAGNOSES, Case
from inference.reason.severity import SeverityOutcome
from inference.results import Scope, Screening, TcmDifferentiation, TreatmentPlan
from inference.i18n import t, tjoin

MAX_CHARS = 139  # CDS Hooks: summary SHALL be < 140 characters


def _fit(parts: list[str]) -> str:
    """Trailing parts are dropped (never cut mid-word) until the line fits."""
    while len(parts) > 1 and len("; ".join(parts)) > MAX_CHARS:
        parts.pop()
    line = tjoin("; ", parts)
    return line if len(line) <= MAX_CHARS else line[: MAX_CHARS - 3].rsplit(" ", 1)[0] + "..."


def summarise(
    severity: SeverityOutcome,
    plan: TreatmentPlan | None,
    screenings: tuple[Screening, ...],
    tcm: TcmDifferentiation | None,
    issue_count: int,
    subtypes: Sequence[str] = (),
    urgent: str | None = None,
) -> str:
    level = severity.severity.level
    if urgent is not None:
        return _fit([urgent, *(s for s in subtypes[1:2])])
    if level == "unknown":
        if severity.image_pasi is not None:
            head = t("Psoriasis severity not graded: photographs only, assess and record BSA or PASI")
        else:
            head = t("Psoriasis severity unknown: assess and record BSA or PASI")
    else:
        head = t("{level} psoriasis", level=level.capitalize())
        if severity.headline:
            head += t(" ({headline})", headline=severity.headline)
    parts = [head]
    if subtypes:
        parts.append(tjoin(", ", subtypes[:2]))
    if severity.differential_open:
        parts.insert(0, t("Differential open"))
    if severity.conflict:
        parts.append(t("measures conflict, re-measure"))
    if severity.stale and level != "unknown":
        parts.append(t("measures out of date: re-measure before a treatment step"))
    if plan is not None:
        parts.append(t("step: {step_display}", step_display=t(plan.step_display).lower()))
    due = sum(1 for s in screenings if s.due)
    if due:
        parts.append(t("{due} screening{value} due", due=due, value='s' if due != 1 else ''))
    if tcm is not None and tcm.primary is not None:
        parts.append(t("TCM: {display} ({confidence_word} confidence)", display=t(tcm.primary.display).lower(), confidence_word=_confidence_word(tcm.confidence)))
    if issue_count:
        parts.append(t("{issue_count} data issue{value}", issue_count=issue_count, value='s' if issue_count != 1 else ''))
    return _fit(parts)


def out_of_scope_line(case: Case, scope: Scope, tests: Sequence[str]) -> str:
    """E.g. "Tinea corporis recorded, not psoriasis: no psoriasis plan; KOH microscopy ... would settle it"."""
    others = [c for c in case.conditions if c.active and c.key in OTHER_SKIN_DIAGNOSES]
    if scope is Scope.OTHER_DIAGNOSIS and others:
        parts = [t("{display} recorded, not psoriasis: no psoriasis plan", display=others[0].display)]
    elif scope is Scope.UNCONFIRMED and any(c.key.value in ("psoriasis", "psoriatic_arthritis") for c in case.conditions):
        parts = [t("Psoriasis not confirmed: confirm the diagnosis before a psoriasis plan")]
    else:
        parts = [t("No skin diagnosis on record: confirm the diagnosis before a psoriasis plan")]
    if tests:
        parts.append(t("{tests} would settle it", tests=tests[0]))
    return _fit(parts)


def _confidence_word(confidence: float) -> str:
    if confidence >= 0.75:
        return "high"
    if confidence >= 0.45:
        return "moderate"
    return "low"
