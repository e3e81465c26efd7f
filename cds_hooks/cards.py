"""Cards derm3r returns (the card catalogue in README.md is the user-facing version of this).

Each card is read in about 20 seconds: the summary starts with the action (< 140 characters, whole
phrases), the detail holds the decision, the one or two reasons that drove it and the red flags
(<= 150 words, `card_text`). Per-photo readings, all evidence, TCM detail and the full source list
live in the review app, linked from the assessment card.

  * safety-alert card  - one per red flag of the assessment (erythroderma, generalised pustular
                         psoriasis, a therapy to hold, an abnormal monitoring result): `critical` or
                         `warning` as the reasoning decided; the only cards that are not `info`.
  * assessment card    - psoriasis on the problem list: treatment step for the severity and
                         subtype, options to offer and to avoid, why, follow-up; suggestion: create
                         the draft CarePlan with preliminary AI Observations and Provenance (the
                         software Device as an `update`: PUT to its fixed id, never duplicated);
                         smart link to the review app.
  * scope card         - no psoriasis on the problem list but photos or skin scores: what the record
                         shows and what would settle the diagnosis; no severity, no plan.
  * screening card     - comorbidity screenings that are due (PsA, cardiometabolic, depression, ...).
  * data-quality card  - missing, conflicting or unusable inputs, unusable photographs with the reason.

Everything AI-derived is labelled preliminary (source label and detail); TCM is one line labelled
integrative and never replaces guideline care. Versions go in the source label and the Provenance."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from cds_hooks.card_text import (
    finding_label,
    fit_blocks,
    fit_summary,
    join_blocks,
    ref_label,
    scrub,
    source_lines,
    within_budget,
)
from cds_hooks.markdown import escape
from cds_hooks.review.feedback import OVERRIDE_REASON_SYSTEM, OVERRIDE_REASONS
from cds_hooks.wire.response import Action, Card, Coding, Link, Source, Suggestion
from inference.case import Case, ConditionKey, DataIssue
from inference.citations import CitationTable
from inference.results import Assessment, Evidence, RecResult, TreatmentOption

TOPIC_SYSTEM = "https://derm3r.org/fhir/CodeSystem/card-topic"
TOPIC_ASSESSMENT = Coding(code="psoriasis-assessment", system=TOPIC_SYSTEM, display="Psoriasis assessment")
TOPIC_SAFETY = Coding(code="safety-alert", system=TOPIC_SYSTEM, display="Safety alert")
TOPIC_SCOPE = Coding(code="diagnosis-not-psoriasis", system=TOPIC_SYSTEM, display="No psoriasis diagnosis on record")
TOPIC_SCREENING = Coding(code="comorbidity-screening", system=TOPIC_SYSTEM, display="Comorbidity screening")
TOPIC_DATA_QUALITY = Coding(code="data-quality", system=TOPIC_SYSTEM, display="Input data quality")

SOURCE_LABEL = "derm3r: preliminary AI decision support (research demonstration)"

PRELIMINARY_LINE = "*Preliminary AI draft for the treating clinician to review; not for clinical use.*"
REVIEW_LINE = "*Photo readings, all evidence and sources: review app.*"
TCM_LABEL = "TCM (integrative, not guideline care)"
_INDICATORS = ("info", "warning", "critical")
_STEP_WORDS = 7  # words of a contraindication reason kept on the card


@dataclass(frozen=True)
class CardInputs:
    """Everything the card builders need for one decision."""

    assessment: Assessment
    case: Case
    resources: tuple[Mapping[str, Any], ...]  # from fhir_mapping.writeback.assessment_resources
    public_base_url: str
    assessment_uuid: str
    review_id: str | None = None  # appContext for the review app; None if the app is not available
    new_uuid: Callable[[], str] = field(default=lambda: str(uuid.uuid4()))
    citations: CitationTable = field(default_factory=CitationTable.load)


def _source(inputs: CardInputs, topic: Coding) -> Source:
    version = inputs.assessment.model_version
    label = SOURCE_LABEL + (f"; model {version}" if version else "")
    return Source(label=label, url=f"{inputs.public_base_url}/about", topic=topic)


def override_reasons() -> tuple[Coding, ...]:
    """The same reasons the review app offers, so feedback from either path is comparable."""
    return tuple(Coding(code=code, system=OVERRIDE_REASON_SYSTEM, display=display) for code, display in OVERRIDE_REASONS.items())


def _sources_line(inputs: CardInputs, citations: Iterable[str | None], limit: int = 2) -> str:
    lines = source_lines(citations, inputs.citations, limit=limit)
    return ("Source: " if len(lines) == 1 else "Sources: ") + "; ".join(lines) if lines else ""


def _statement(item: Evidence) -> str:
    return escape(scrub(item.statement))


# ---------------------------------------------------------------- reading the assessment defensively
# Fields added by the issue-11 reasoning (scope, alerts, subtypes, guideline profile) are read with
# defaults, so the cards work with assessments from before and after them.


def in_scope(a: Assessment) -> bool:
    return str(getattr(a, "scope", "psoriasis") or "psoriasis") == "psoriasis"


def _alerts(a: Assessment) -> tuple[Any, ...]:
    return tuple(getattr(a, "alerts", ()) or ())


def _subtypes(a: Assessment) -> tuple[str, ...]:
    return tuple(str(s) for s in getattr(a, "subtypes", ()) or ())


def _profile(a: Assessment) -> str | None:
    """Display of the guideline profile the plan followed ("AAD-NPF 2019-2021")."""
    profile = getattr(a, "guideline_profile", "") or getattr(a.treatment, "profile_display", "")
    return str(profile) if profile else None


def _headline(a: Assessment) -> str | None:
    """The measure that set the severity ("BSA 24%"): `Assessment.headline`, else the parenthetical
    after "psoriasis" in the agent's one-line summary."""
    headline = getattr(a, "headline", None)
    if headline:
        return str(headline)
    match = re.search(r"psoriasis \(([^()]{1,40})\)", a.summary or "")
    return match.group(1) if match else None


# ---------------------------------------------------------------- safety-alert cards


def _alert_card(inputs: CardInputs, alert: Any) -> Card:
    severity = str(getattr(alert, "severity", "warning"))
    indicator = severity if severity in _INDICATORS else "warning"
    summary = scrub(str(getattr(alert, "summary", "") or getattr(alert, "message", "") or "Safety alert"))
    evidence = tuple(getattr(alert, "evidence", ()) or ())
    blocks = []
    detail_text = getattr(alert, "detail", None) or getattr(alert, "action", None)
    if detail_text:
        blocks.append(escape(scrub(str(detail_text))))
    reasons = [_statement(e) for e in evidence[:3]]
    if reasons:
        blocks.append("\n".join(f"- {r}" for r in reasons if r))
    citations = [getattr(alert, "citation", None), *(e.citation for e in evidence)]
    detail = within_budget([*blocks, _sources_line(inputs, citations)], tail=PRELIMINARY_LINE)
    return Card(
        uuid=inputs.new_uuid(),
        summary=fit_summary([summary]),
        indicator=indicator,
        source=_source(inputs, TOPIC_SAFETY),
        detail=detail,
        override_reasons=override_reasons(),
    )


def alert_cards(inputs: CardInputs) -> list[Card]:
    order = {"critical": 0, "warning": 1, "info": 2}
    alerts = sorted(_alerts(inputs.assessment), key=lambda al: order.get(str(getattr(al, "severity", "warning")), 1))
    return [_alert_card(inputs, alert) for alert in alerts]


# ---------------------------------------------------------------- assessment card


def assessment_summary(a: Assessment) -> str:
    """Action first: "Step: biologic therapy for severe psoriasis (BSA 24%); 3 screenings due"."""
    level = a.severity.level
    subtypes = _subtypes(a)
    disease = subtypes[0] if subtypes and "psoriasis" in subtypes[0].lower() else "psoriasis"
    headline = _headline(a)
    described = f"{level} {disease}" if level not in ("unknown", "not_assessed", "") else disease
    described += f" ({headline})" if headline else ""
    plan = a.treatment
    parts: list[str] = []
    if getattr(a, "urgent", False):
        parts.append(f"Same-day dermatology review or admission: {disease}" + (f" ({headline})" if headline else ""))
    elif plan is not None and getattr(plan, "on_hold", False):
        parts.append(f"Hold current immunosuppression, no step-up: {described}")
    elif level == "unknown":
        parts.append(f"Record BSA or PASI: {disease} severity unknown")
    elif plan is not None:
        parts.append(f"Step: {plan.step_display.lower()} for {described}")
    else:
        parts.append(f"Review: {described}")
    parts += [s for s in subtypes[1:3] if s.lower() not in parts[0].lower()]
    due = sum(1 for s in a.screenings if s.due)
    if due:
        parts.append(f"{due} screening{'s' if due != 1 else ''} due")
    return fit_summary(parts)


def _option_name(option: TreatmentOption) -> str:
    return escape(option.display)


def _option_label(option: TreatmentOption) -> str:
    label = _option_name(option)
    marks = []
    if getattr(option, "current", False):
        marks.append("current")
    status = str(getattr(option, "status", "") or "")
    note = scrub(str(getattr(option, "note", "") or ""))
    if status in ("preferred", "caution"):
        marks.append(escape(note) if note else status)
    return label + (f" ({'; '.join(marks)})" if marks else "")


def _treatment_blocks(a: Assessment) -> list[str]:
    plan = a.treatment
    if plan is None:
        return []
    profile = _profile(a)
    decision = f"**Step: {escape(plan.step_display)}** for {escape(a.severity.level)} disease"
    if profile:
        decision += f" ({escape(profile)} profile)"
    populations = [escape(str(p).replace("_", " ")) for p in getattr(a, "populations", ()) or ()]
    if populations:
        decision += "; adjusted for " + ", ".join(populations)
    confidence = getattr(a.severity, "confidence", 1.0)
    if confidence < 0.7:
        decision += "; low confidence: check the data below"
    blocks = [decision + "."]
    if getattr(plan, "on_hold", False):
        blocks.append("**Hold** current immunosuppression until the red flag is resolved; no escalation now.")
    allowed = [o for o in plan.options if o.allowed]
    offer = [o for o in allowed if not getattr(o, "adjunct", False)]
    adjunct = [o for o in allowed if getattr(o, "adjunct", False)]
    avoid = [o for o in plan.options if not o.allowed]
    caution = [o for o in offer if o.contraindications and str(getattr(o, "status", "")) != "caution"]
    if offer:
        names = [_option_label(o) for o in offer[:8]]
        blocks.append("**Offer:** " + ", ".join(names) + ("" if len(offer) <= 8 else f" and {len(offer) - 8} more"))
    elif not adjunct:
        blocks.append("**Offer:** no option at this step suits the recorded contraindications; discuss with a specialist")
    if adjunct:
        blocks.append("**With:** " + ", ".join(_option_name(o) for o in adjunct[:4]) + " (topical adjunct)")
    if avoid:
        blocks.append("**Avoid:** " + "; ".join(
            f"{_option_name(o)} ({escape(_short_reason(o))})" for o in avoid[:4]))
    if caution:
        blocks.append("**Caution:** " + "; ".join(
            f"{_option_name(o)} ({escape(_short_reason(o))})" for o in caution[:3]))
    return blocks


def _short_reason(option: TreatmentOption) -> str:
    reason = scrub(option.contraindications[0].reason) if option.contraindications else ""
    words = reason.split()
    return " ".join(words[:_STEP_WORDS]) + (" ..." if len(words) > _STEP_WORDS else "")


_NOT_A_REASON = re.compile(r"context only|^systemic candidate|image|photo", re.IGNORECASE)


def _why_block(a: Assessment) -> str:
    """The one or two clinician measures that decided the severity (values and dates, no record
    ids); photo readings and context notes are for the review app."""
    reasons = [e for e in a.severity.basis if not _NOT_A_REASON.search(e.statement)] or list(a.severity.basis)
    picked = [text for text in (_statement(e) for e in reasons[:2]) if text]
    return "**Why:** " + "; ".join(picked) if picked else ""


def _follow_up_block(a: Assessment) -> str:
    if a.follow_up is None:
        return ""
    return f"**Follow-up:** review in {a.follow_up.interval_weeks} weeks."


def _tcm_block(a: Assessment) -> str:
    tcm = a.tcm
    if tcm is None or tcm.primary is None:
        return ""
    return f"*{TCM_LABEL}:* {escape(tcm.primary.display)} pattern ({_confidence_word(tcm.confidence)} confidence)."


def _confidence_word(confidence: float) -> str:
    return "high" if confidence >= 0.75 else "moderate" if confidence >= 0.45 else "low"


def _red_flag_block(a: Assessment) -> str:
    flags = [scrub(str(getattr(al, "summary", "") or "")) for al in _alerts(a)]
    flags = [f for f in flags if f]
    return "**Red flags:** " + "; ".join(escape(f) for f in flags[:3]) if flags else ""


def _plan_citations(a: Assessment) -> list[str | None]:
    cited: list[str | None] = []
    if a.treatment is not None:
        cited += [getattr(a.treatment, "citation", None), *(e.citation for e in a.treatment.rationale)]
    cited += [e.citation for e in a.severity.basis]
    return cited


def assessment_detail(inputs: CardInputs) -> str:
    a = inputs.assessment
    blocks = [*_treatment_blocks(a), _why_block(a), _red_flag_block(a), _follow_up_block(a), _tcm_block(a),
              _sources_line(inputs, _plan_citations(a))]
    if a.treatment is None and a.severity.level == "unknown":
        blocks.insert(0, "No BSA, PASI or PGA recorded by a clinician: assess and record one before a treatment step is set.")
    tail = PRELIMINARY_LINE + (" " + REVIEW_LINE if inputs.review_id else "")
    return within_budget(blocks, tail=tail)


# Fixed descriptions where the resource's own code says little to a clinician.
_ACTION_TEXT = {
    "Device": ("Record the derm3r software (model and knowledge versions) as the author of the AI output; "
               "an update (PUT to its fixed id) so accepting again never duplicates this shared Device"),
    "Provenance": "Record that derm3r generated these resources from the referenced photographs (AI, preliminary)",
}


def _action_description(resource: Mapping[str, Any]) -> str:
    rtype = str(resource.get("resourceType", "resource"))
    if rtype in _ACTION_TEXT:
        return _ACTION_TEXT[rtype]
    status = resource.get("status")
    label = None
    code = resource.get("code")
    if isinstance(code, dict):
        label = code.get("text") or next((c.get("display") for c in code.get("coding") or () if isinstance(c, dict) and c.get("display")), None)
    if label is None and isinstance(resource.get("title"), str):
        label = resource["title"]
    text = f"Create {rtype}"
    if label:
        text += f": {label}"
    if status:
        text += f" (status {status})"
    return text


def assessment_suggestion(inputs: CardInputs) -> Suggestion | None:
    if not inputs.resources:
        return None
    # The Device is shared by every assessment: a plain EHR applying `create` would POST a new one
    # each time (and duplicates break conditional creates on its identifier with 412), so it is an
    # `update` of Device/<deterministic id>, which the EHR applies as an idempotent PUT.
    actions = tuple(Action(type="update" if r.get("resourceType") == "Device" else "create",
                           description=_action_description(r), resource=r) for r in inputs.resources)
    return Suggestion(
        label="Create draft care plan with preliminary AI observations",
        uuid=inputs.new_uuid(),
        actions=actions,
        is_recommended=True,
    )


def review_link(inputs: CardInputs) -> Link | None:
    if inputs.review_id is None:
        return None
    return Link(
        label="Review photographs, measurements and the draft plan (derm3r review app)",
        url=f"{inputs.public_base_url}/app/launch.html",
        type="smart",
        app_context=inputs.review_id,
    )


def assessment_card(inputs: CardInputs) -> Card:
    suggestion = assessment_suggestion(inputs)
    link = review_link(inputs)
    return Card(
        uuid=inputs.assessment_uuid,
        summary=assessment_summary(inputs.assessment),
        # Severity is not an alarm: red flags have their own cards (alert_cards).
        indicator="info",
        source=_source(inputs, TOPIC_ASSESSMENT),
        detail=assessment_detail(inputs),
        suggestions=(suggestion,) if suggestion else (),
        selection_behavior="at-most-one" if suggestion else None,
        override_reasons=override_reasons(),
        links=(link,) if link else (),
    )


# ---------------------------------------------------------------- scope card (no psoriasis on record)


def _other_diagnoses(case: Case) -> list[str]:
    return list(dict.fromkeys(c.display for c in case.conditions if c.active and c.key is ConditionKey.OTHER and c.display))


def scope_card(inputs: CardInputs) -> Card:
    a, case = inputs.assessment, inputs.case
    others = _other_diagnoses(case)
    custom = getattr(a, "scope_summary", None)
    if custom:
        summary = str(custom)
    elif others:
        summary = f"Confirm the diagnosis before any psoriasis plan: {others[0]} on record"
    else:
        summary = "Confirm the diagnosis: no psoriasis on the problem list, so no psoriasis plan"
    blocks = []
    note = getattr(a, "scope_note", None)
    if note:
        blocks.append(escape(scrub(str(note))))
    else:
        shown = []
        if others:
            shown.append("recorded diagnosis: " + ", ".join(escape(o) for o in others[:3]))
        values = [escape(finding_label(f)) for f in _latest_scores(case)]
        if values:
            shown.append("skin scores: " + ", ".join(values))
        if case.photos:
            shown.append(f"{len(case.photos)} photograph{'s' if len(case.photos) != 1 else ''}")
        if shown:
            blocks.append("The record shows " + "; ".join(shown) + ".")
    blocks.append("derm3r proposes a psoriasis severity and treatment only when psoriasis is on the problem list.")
    tests = [escape(scrub(str(t))) for t in getattr(a, "suggested_tests", ()) or ()]
    if tests:
        blocks.append("**To settle it:** " + "; ".join(tests[:3]))
    citations = [getattr(a, "scope_citation", None)]
    detail = within_budget([*blocks, _sources_line(inputs, citations)], tail=PRELIMINARY_LINE)
    link = review_link(inputs)
    return Card(
        uuid=inputs.assessment_uuid,
        summary=fit_summary([scrub(summary)]),
        indicator="info",
        source=_source(inputs, TOPIC_SCOPE),
        detail=detail,
        override_reasons=override_reasons(),
        links=(link,) if link else (),
    )


def _latest_scores(case: Case) -> list:
    from inference.case import FindingKey

    keys = (FindingKey.BSA_PERCENT, FindingKey.PASI, FindingKey.PGA, FindingKey.DLQI)
    return [f for f in (case.latest(k) for k in keys) if f is not None]


# ---------------------------------------------------------------- screening card


def screening_card(inputs: CardInputs) -> Card | None:
    due = [s for s in inputs.assessment.screenings if s.due]
    if not due:
        return None
    lines = [f"- **{escape(scrub(s.display))}**: {escape(scrub(s.action))}" for s in due]
    citations = [e.citation for s in due for e in s.evidence]
    detail = within_budget(["\n".join(lines), _sources_line(inputs, citations)])
    names = ", ".join(scrub(s.display) for s in due)
    return Card(
        uuid=inputs.new_uuid(),
        summary=fit_summary([f"Screen now: {names}", f"{len(due)} screenings due"]),
        indicator="info",
        source=_source(inputs, TOPIC_SCREENING),
        detail=detail,
    )


# ---------------------------------------------------------------- data-quality card


def _unusable_photos(a: Assessment) -> list[RecResult]:
    if a.representation is None:
        return []
    return [r for r in a.representation.photos if not r.quality.usable]


def data_quality_issues(inputs: CardInputs) -> list[DataIssue]:
    """Case issues, prefetch issues and agent issues, without duplicates."""
    seen: dict[tuple[str, str, str | None], DataIssue] = {}
    rep_issues = inputs.assessment.representation.issues if inputs.assessment.representation else ()
    for issue in (*inputs.case.issues, *rep_issues, *inputs.assessment.issues):
        seen.setdefault((issue.code, issue.message, issue.source_ref), issue)
    return list(seen.values())


def _issue_lines(inputs: CardInputs, issues: list[DataIssue]) -> list[str]:
    """One line per distinct message, naming the records it applies to by what they are (a message
    repeated for nine photographs is one line, not nine)."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for issue in issues:
        labels = grouped.setdefault((issue.code, scrub(issue.message)), [])
        label = ref_label(inputs.case, issue.source_ref)
        if label and label not in labels:
            labels.append(label)
    lines = []
    for (_, message), labels in grouped.items():
        if not message:
            continue
        shown = ", ".join(labels[:3]) + (f" and {len(labels) - 3} more" if len(labels) > 3 else "")
        lines.append(escape(message) + (f" ({escape(shown)})" if labels else ""))
    return lines


def _photo_line(inputs: CardInputs, r: RecResult) -> str:
    label = ref_label(inputs.case, r.photo_ref) or f"{r.region.value.replace('_', ' ')} photo"
    return f"{escape(label)}: " + escape(scrub("; ".join(r.quality.reasons) or "failed the quality gate"))


_QUALITY_TAIL = "The assessment used only the data that passed these checks."


def data_quality_card(inputs: CardInputs) -> Card | None:
    issues = data_quality_issues(inputs)
    unusable = _unusable_photos(inputs.assessment)
    if not issues and not unusable:
        return None
    bullets = [f"- {line}" for line in _issue_lines(inputs, issues)]
    bullets += [f"- {_photo_line(inputs, r)}" for r in unusable]
    counts = []
    if unusable:
        counts.append(f"{len(unusable)} photo{'s' if len(unusable) != 1 else ''} not usable")
    distinct = len({(i.code, i.message) for i in issues})
    if distinct:
        counts.append(f"{distinct} data issue{'s' if distinct != 1 else ''}")
    kept, dropped = fit_blocks(bullets, tail=_QUALITY_TAIL + " 99 more in the review app.")
    tail = (f"{dropped} more in the review app. " if dropped else "") + _QUALITY_TAIL
    detail = join_blocks([*kept, tail])
    return Card(
        uuid=inputs.new_uuid(),
        summary=fit_summary(["Check input data: " + ", ".join(counts)]),
        indicator="info",
        source=_source(inputs, TOPIC_DATA_QUALITY),
        detail=detail,
    )


def build_cards(inputs: CardInputs) -> tuple[Card, ...]:
    if in_scope(inputs.assessment):
        main = assessment_card(inputs)
        cards: list[Card | None] = [*alert_cards(inputs), main, screening_card(inputs), data_quality_card(inputs)]
    else:
        # Out of the psoriasis pathway: what the record shows, and the data issues; no plan, no
        # psoriasis screenings.
        cards = [*alert_cards(inputs), scope_card(inputs), data_quality_card(inputs)]
    return tuple(c for c in cards if c is not None)
