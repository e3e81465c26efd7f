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

Everything AI-derived is labelled preliminary (source label and detail); TCM is one or two lines
(pattern line, then its herb-safety caution) labelled integrative and never replaces guideline care. Versions go in the source label and the Provenance."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from cds_hooks.card_text import (
    clip_words,
    finding_label,
    fit_blocks,
    fit_summary,
    join_blocks,
    readable_message,
    reading_units,
    ref_label,
    scrub,
    source_lines,
    within_budget,
    within_budget_by_priority,
)
from cds_hooks.markdown import escape
from cds_hooks.review.feedback import OVERRIDE_REASON_SYSTEM, OVERRIDE_REASONS
from cds_hooks.wire.response import Action, Card, Coding, Link, Source, Suggestion
from fhir_mapping import codes
from inference.case import OTHER_SKIN_DIAGNOSES, Case, ConditionKey, DataIssue
from inference.citations import CitationTable
from inference.results import Alert, Assessment, Evidence, Indicator, PopulationStatus, RecResult, Scope, SeverityLevel, TreatmentOption
from inference.i18n import DEFAULT_LANGUAGE, current_language, t, tjoin

TOPIC_SYSTEM = codes.CARD_TOPIC
TOPIC_ASSESSMENT = Coding(code="psoriasis-assessment", system=TOPIC_SYSTEM, display=t("Psoriasis assessment"))
TOPIC_SAFETY = Coding(code="safety-alert", system=TOPIC_SYSTEM, display=t("Safety alert"))
TOPIC_SCOPE = Coding(code="diagnosis-not-psoriasis", system=TOPIC_SYSTEM, display=t("No psoriasis diagnosis on record"))
TOPIC_SCREENING = Coding(code="comorbidity-screening", system=TOPIC_SYSTEM, display=t("Comorbidity screening"))
TOPIC_DATA_QUALITY = Coding(code="data-quality", system=TOPIC_SYSTEM, display=t("Input data quality"))

SOURCE_LABEL = t("derm3r: preliminary AI decision support (research demonstration)")

PRELIMINARY_LINE = t("*Preliminary AI draft for the treating clinician to review; not for clinical use.*")
REVIEW_LINE = t("*Photo readings, all evidence and sources: review app.*")
TCM_LABEL = t("TCM (integrative, not guideline care)")
_INDICATORS = tuple(Indicator)
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
    label = SOURCE_LABEL + (t("; model {version}", version=version) if version else "")
    return Source(label=label, url=f"{inputs.public_base_url}/about", topic=topic)


def override_reasons() -> tuple[Coding, ...]:
    """The same reasons the review app offers, so feedback from either path is comparable."""
    return tuple(Coding(code=code, system=OVERRIDE_REASON_SYSTEM, display=display) for code, display in OVERRIDE_REASONS.items())


def _sources_line(inputs: CardInputs, citations: Iterable[str | None], limit: int = 2) -> str:
    lines = source_lines(citations, inputs.citations, limit=limit)
    if not lines:
        return ""
    return t("Source: {items}", items=lines[0]) if len(lines) == 1 else t("Sources: {items}", items=tjoin("; ", lines))


def _statement(item: Evidence) -> str:
    return escape(scrub(item.statement))


# ---------------------------------------------------------------- reading the assessment


def in_scope(a: Assessment) -> bool:
    """The psoriasis pathway ran (psoriasis on the problem list); otherwise only the scope card."""
    return a.scope == Scope.PSORIASIS.value


def _alerts(a: Assessment) -> tuple[Alert, ...]:
    return a.alerts


def _subtypes(a: Assessment) -> tuple[str, ...]:
    return a.subtypes


def _profile(a: Assessment) -> str | None:
    """Display of the guideline profile the plan followed ("AAD-NPF 2019-2021")."""
    profile = a.guideline_profile or (a.treatment.profile_display if a.treatment is not None else "")
    return profile or None


def _headline(a: Assessment) -> str | None:
    """The measure that set the severity ("BSA 24%"): `Assessment.headline`, else the parenthetical
    after "psoriasis" in the agent's one-line summary."""
    if a.headline:
        return a.headline
    match = re.search(r"psoriasis \(([^()]{1,40})\)", a.summary or "")
    return match.group(1) if match else None


# ---------------------------------------------------------------- safety-alert cards


def _alert_text(text: str) -> str:
    return scrub(text or "")


def _alert_card(inputs: CardInputs, group: list[Alert]) -> Card:
    """One card for alerts of the same kind about the same drug (ALT and AST on methotrexate):
    the first alert's summary, its detail, the others' summaries as bullets, the evidence not yet
    said, the source."""
    first = group[0]
    indicator = first.severity if first.severity in _INDICATORS else Indicator.WARNING
    summary = _alert_text(first.summary) or t("Safety alert")
    detail_text = _alert_text(first.detail)
    blocks = [escape(detail_text)] if detail_text else []
    others = [_alert_text(al.summary) for al in group[1:]]
    said = " ".join([summary, detail_text, *others]).lower()
    evidence = list(first.evidence)
    reasons = [scrub(e.statement) for e in evidence]
    bullets = [*(o for o in others if o), *(r for r in dict.fromkeys(reasons) if r and r.lower() not in said)][:4]
    if bullets:
        blocks.append(tjoin("\n", [t("- {b}", b=escape(b)) for b in bullets]))
    citations = [al.citation for al in group] + [e.citation for e in evidence]
    # (the other alerts' own evidence repeats their summaries; the review app has it)
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
    """One card per red flag (alerts of one kind about one drug share a card), most severe first.
    `info` alerts (cautions, referrals) are a line on the assessment card instead: a separate card
    is for what must not be missed."""
    order = {Indicator.CRITICAL: 0, Indicator.WARNING: 1}
    alerts = [al for al in _alerts(inputs.assessment) if al.severity in order or not in_scope(inputs.assessment)]
    groups: dict[tuple[str, str, str], list[Alert]] = {}
    for n, alert in enumerate(alerts):
        key = (alert.severity, alert.kind, alert.drug or f"#{n}")
        groups.setdefault(key, []).append(alert)
    ordered = sorted(groups.values(), key=lambda g: order.get(g[0].severity, 2))
    return [_alert_card(inputs, group) for group in ordered]


# ---------------------------------------------------------------- assessment card


def assessment_summary(a: Assessment) -> str:
    """Action first: "Step: biologic therapy for severe psoriasis (BSA 24%); 3 screenings due"."""
    level = a.severity.level
    subtypes = _subtypes(a)
    disease = subtypes[0] if subtypes and "psoriasis" in subtypes[0].lower() else t("psoriasis")
    headline = _headline(a)
    described = t("{level} {disease}", level=level, disease=disease) if level not in ("unknown", "not_assessed", "") else disease
    described += t(" ({headline})", headline=headline) if headline else ""
    plan = a.treatment
    parts: list[str] = []
    if a.urgent:
        parts.append(t("Same-day dermatology review or admission: {disease}", disease=disease) + (t(" ({headline})", headline=headline) if headline else ""))
    elif plan is not None and plan.on_hold:
        parts.append(t("Hold current immunosuppression, no step-up: {described}", described=described))
    elif level == SeverityLevel.UNKNOWN:
        parts.append(t("Record BSA or PASI: {disease} severity unknown", disease=disease))
    elif plan is not None:
        parts.append(t("Step: {step_display} for {described}", step_display=t(plan.step_display).lower(), described=described))
    else:
        parts.append(t("Review: {described}", described=described))
    populations = _populations(a)
    if populations:
        parts.append(t("adjusted for {populations}", populations=tjoin(", ", populations)))
    parts += [s for s in subtypes[1:3] if s.lower() not in parts[0].lower()]
    due = sum(1 for s in a.screenings if s.due)
    if due:
        parts.append(t("1 screening due") if due == 1 else t("{count} screenings due", count=due))
    return fit_summary(parts)


def _option_name(option: TreatmentOption) -> str:
    return escape(option.display)


def _option_label(option: TreatmentOption, populations: list[str]) -> str:
    """The option's name with at most a short mark: current, preferred (in pregnancy), caution."""
    marks = []
    if option.current:
        marks.append(t("current"))
    status = option.status
    if status == PopulationStatus.PREFERRED:
        marks.append(t("preferred in {population}", population=populations[0]) if populations else t("preferred"))
    elif status == PopulationStatus.CAUTION:
        marks.append(t("caution"))
    return t("{option} ({marks})", option=_option_name(option), marks=tjoin(", ", marks)) if marks else _option_name(option)


def _avoid_reason(option: TreatmentOption) -> str:
    """Why an option is contraindicated or cautioned, in a few words:
    "Methotrexate in renal impairment (eGFR 22 ...): do not start" -> "renal impairment";
    "Acitretin with Methotrexate 2.5 mg tablet ...: additive ..." -> "with methotrexate";
    "Adalimumab: Heart failure recorded - do not start ..." -> "Heart failure";
    "on Methotrexate: ALT 168 U/L (2026-11-28) > 100 U/L - withhold ..." -> "ALT 168 U/L > 100 U/L"."""
    reason = scrub(option.contraindications[0].reason) if option.contraindications else ""
    if current_language() != DEFAULT_LANGUAGE:
        return _avoid_reason_zh(reason)
    head = reason.split(":", 1)[0]
    population = re.search(r"\bin\s+([a-z][a-z ]*?)\s*(?:\(|$)", head)
    if population:
        return population.group(1)
    partner = re.search(r"\bwith\s+([A-Za-z][\w-]*)", head)
    if partner:
        return t("with {group}", group=partner.group(1).lower())
    if ":" in reason:
        finding = re.split(r" - |;", reason.split(":", 1)[1], maxsplit=1)[0]
        finding = re.sub(r"\s*\([^()]*\)", "", finding).strip(" .,")
        finding = re.sub(r"\s+recorded$", "", finding)
        if finding and len(finding.split()) <= 8:
            return finding
    words = reason.split()
    return " ".join(words[:_STEP_WORDS]) + (" ..." if len(words) > _STEP_WORDS else "")


def _avoid_reason_zh(reason: str) -> str:
    """The Chinese twin of `_avoid_reason`: the catalogue writes the same sentences with full-width
    marks ("{display}用于{label}（...）：...", "{display}与{display2}（...）：...", "正在使用{display}：
    {finding}——{action}"), so the same few words are cut out of the translated reason."""
    head, _, rest = reason.partition("：")
    population = re.search(r"用于(.+?)(?:（|$)", head)
    if population:
        return population.group(1)
    partner = re.search(r"与([A-Za-z][\w-]*|[^（]+)", head)
    if partner:
        # As in English, the first word of a record's medicine ("Methotrexate 2.5 mg ..."), which the
        # catalogue translates when it is a drug derm3r knows.
        return t("with {group}", group=partner.group(1))
    finding = re.split(r"——|；", rest, maxsplit=1)[0]
    finding = re.sub(r"\s+", " ", re.sub(r"（[^（）]*）", " ", finding)).strip(" 。，")
    finding = re.sub(r"^记录有", "", finding)
    if finding and reading_units(finding) <= 2 * _STEP_WORDS:
        return finding
    return clip_words(reason, _STEP_WORDS)


def _grouped(options: list[TreatmentOption], limit: int) -> str:
    """ "Methotrexate, Acitretin (pregnancy); Cyclosporine (kidney disease)": options sharing a reason
    are listed together."""
    by_reason: dict[str, list[str]] = {}
    for option in options:
        by_reason.setdefault(_avoid_reason(option), []).append(_option_name(option))
    parts = [t("{items} ({reason})", items=tjoin(", ", names), reason=escape(reason)) if reason else tjoin(", ", names) for reason, names in by_reason.items()]
    return tjoin("; ", parts[:limit])


def _treatment_blocks(a: Assessment) -> list[str]:
    plan = a.treatment
    if plan is None:
        return []
    profile = _profile(a)
    decision = t("**Step: {step_display}** for {level} disease", step_display=escape(plan.step_display), level=escape(a.severity.level))
    if profile:
        decision += t(" ({profile} profile)", profile=escape(profile))
    populations = _populations(a)
    if populations:
        decision += t("; adjusted for {populations}", populations=tjoin(", ", populations))
    confidence = a.severity.confidence
    if confidence < 0.7:
        decision += t("; low confidence: check the data below")
    blocks = [t("{text}.", text=decision)]
    if plan.on_hold:
        blocks.append(t("**Hold** current immunosuppression until the red flag is resolved; no escalation now."))
    allowed = [o for o in plan.options if o.allowed]
    adjunct = [o for o in allowed if o.adjunct]
    main = [o for o in allowed if not o.adjunct]
    avoid = [o for o in plan.options if not o.allowed]

    def cautioned(o: TreatmentOption) -> bool:
        return o.status == PopulationStatus.CAUTION or (o.status != PopulationStatus.PREFERRED and bool(o.contraindications))

    offer = [o for o in main if not cautioned(o)]
    caution = [o for o in main if cautioned(o)]
    if offer:
        names = [_option_label(o, populations) for o in offer[:8]]
        listed = tjoin(", ", names) if len(offer) <= 8 else t("{items} and {count} more", items=tjoin(", ", names), count=len(offer) - 8)
        blocks.append(t("**Offer:** {items}", items=listed))
    elif not adjunct and not caution:
        blocks.append(t("**Offer:** no option at this step suits the recorded contraindications; discuss with a specialist"))
    if adjunct:
        blocks.append(t("**With:** {items} (topical adjunct)", items=tjoin(", ", [_option_name(o) for o in adjunct[:4]])))
    if avoid:
        blocks.append(t("**Avoid:** {items}", items=_grouped(avoid, 4)))
    if caution:
        blocks.append(t("**Caution:** {items}", items=_grouped(caution, 3)))
    notes = [escape(scrub(al.summary)) for al in _alerts(a) if al.severity == Indicator.INFO]
    if notes:
        blocks.append(t("**Note:** {items}", items=tjoin("; ", [n for n in notes[:3] if n])))
    return blocks


def _populations(a: Assessment) -> list[str]:
    return [escape(str(p).replace("_", " ")) for p in a.populations]


_NOT_A_REASON = re.compile(r"context only|^systemic candidate|image|photo", re.IGNORECASE)


def _why_block(a: Assessment) -> str:
    """The one or two clinician measures that decided the severity (values and dates, no record
    ids); photo readings and context notes are for the review app."""
    reasons = [e for e in a.severity.basis if not _NOT_A_REASON.search(e.statement)] or list(a.severity.basis)
    picked = [text for text in (_statement(e) for e in reasons[:2]) if text]
    return t("**Why:** {items}", items=tjoin("; ", picked)) if picked else ""


def _follow_up_block(a: Assessment) -> str:
    if a.follow_up is None:
        return ""
    return t("**Follow-up:** review in {interval_weeks} weeks.", interval_weeks=a.follow_up.interval_weeks)


# The herb-safety line can be long (several withheld formulas, the heat-toxin emergency note first):
# its opening carries the point, the full list is in the review app and the CarePlan.
TCM_CAUTION_WORDS = 40


def _tcm_block(a: Assessment) -> str:
    """The integrative TCM section: one line (pattern with hanzi and pinyin, principle, first proposed
    formula, confidence) and, when this patient's safety facts say something, a second line with them.
    One block, so a caution never shows without the pattern it belongs to."""
    tcm = a.tcm
    if tcm is None or tcm.primary is None:
        return ""
    p = tcm.primary
    if tcm.formula_caution_populations:
        # Herbal safety is not established in this population: pattern and principle only; the
        # herb-by-herb check (what is withheld, what needs caution) is in the review app and CarePlan.
        who = tjoin(" and ", tcm.formula_caution_populations)
        line = t("{display} {hanzi} ({pinyin}): {treatment_principle}", display=p.display, hanzi=p.hanzi, pinyin=p.pinyin, treatment_principle=p.treatment_principle.lower()).replace(" ()", "")
        return (t("*{TCM_LABEL}:* {line} ({confidence_word} confidence).  \n", TCM_LABEL=TCM_LABEL, line=escape(scrub(line)), confidence_word=_confidence_word(tcm.confidence))
                + escape(t("No herbal formula suggested here: safety not established in {who}.", who=who)))
    line = tcm.card_line or t("{display} pattern", display=p.display)
    text = t("*{TCM_LABEL}:* {line} ({confidence_word} confidence).", TCM_LABEL=TCM_LABEL, line=escape(scrub(line)), confidence_word=_confidence_word(tcm.confidence))
    if tcm.card_caution:
        text += "  \n" + escape(clip_words(scrub(tcm.card_caution), TCM_CAUTION_WORDS))
    return text


def _confidence_word(confidence: float) -> str:
    return t("high") if confidence >= 0.75 else t("moderate") if confidence >= 0.45 else t("low")


def _red_flag_block(a: Assessment) -> str:
    """The first two warning/critical alerts in one line (each also has its own card)."""
    flags = [scrub(al.summary) for al in _alerts(a) if al.severity != Indicator.INFO]
    flags = list(dict.fromkeys(f for f in flags if f))
    if not flags:
        return ""
    more = t(" (+{value} more)", value=len(flags) - 2) if len(flags) > 2 else ""
    return t("**Red flags:** {items}{more}", items=tjoin("; ", [escape(f) for f in flags[:2]]), more=more)


def _plan_citations(a: Assessment) -> list[str | None]:
    """The guideline profile the plan followed first, then the rules behind the step and the severity."""
    cited: list[str | None] = [_profile(a)]
    if a.treatment is not None:
        cited += [e.citation for e in a.treatment.rationale]
    cited += [e.citation for e in a.severity.basis]
    return cited


# What stays when the 150 words run short: the decision and red flags first, TCM last.
_BLOCK_PRIORITY = (("**Step", 0), ("No BSA", 0), ("**Hold**", 1), ("**Red flags", 1), ("**Offer", 2), ("**Avoid", 3),
                   ("**Why", 4), ("Source", 5), ("**Caution", 6), ("**Note", 7), ("**With", 8), ("**Follow-up", 9))


def _priority(block: str) -> int:
    return next((p for prefix, p in _BLOCK_PRIORITY if block.startswith(prefix)), 10)


def assessment_detail(inputs: CardInputs) -> str:
    a = inputs.assessment
    blocks = [*_treatment_blocks(a), _why_block(a), _red_flag_block(a), _follow_up_block(a), _tcm_block(a),
              _sources_line(inputs, _plan_citations(a))]
    if a.treatment is None and a.severity.level == SeverityLevel.UNKNOWN:
        blocks.insert(0, t("No BSA, PASI or PGA recorded by a clinician: assess and record one before a treatment step is set."))
    tail = PRELIMINARY_LINE + (" " + REVIEW_LINE if inputs.review_id else "")
    return within_budget_by_priority([(_priority(b), b) for b in blocks if b], tail=tail)


# Fixed descriptions where the resource's own code says little to a clinician.
_ACTION_TEXT = {
    "Device": (t("Record the derm3r software (model and knowledge versions) as the author of the AI output; an update (PUT to its fixed id) so accepting again never duplicates this shared Device")),
    "Provenance": t("Record that derm3r generated these resources from the referenced photographs (AI, preliminary)"),
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
    text = t("Create {rtype}: {label}", rtype=t(rtype), label=label) if label else t("Create {rtype}", rtype=t(rtype))
    if status:
        text = t("{action} (status {status})", action=text, status=t(status))
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
        label=t("Create draft care plan with preliminary AI observations"),
        uuid=inputs.new_uuid(),
        actions=actions,
        is_recommended=True,
    )


def review_link(inputs: CardInputs) -> Link | None:
    if inputs.review_id is None:
        return None
    return Link(
        label=t("Review photographs, measurements and the draft plan (derm3r review app)"),
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
        indicator=Indicator.INFO,
        source=_source(inputs, TOPIC_ASSESSMENT),
        detail=assessment_detail(inputs),
        suggestions=(suggestion,) if suggestion else (),
        selection_behavior="at-most-one" if suggestion else None,
        override_reasons=override_reasons(),
        links=(link,) if link else (),
    )


# ---------------------------------------------------------------- scope card (no psoriasis on record)


def _other_diagnoses(case: Case) -> list[str]:
    """Active skin diagnoses other than psoriasis, as recorded."""
    keys = OTHER_SKIN_DIAGNOSES | {ConditionKey.OTHER}
    return list(dict.fromkeys(c.display for c in case.conditions if c.active and c.key in keys and c.display))


def scope_card(inputs: CardInputs) -> Card:
    a, case = inputs.assessment, inputs.case
    others = _other_diagnoses(case)
    if others:
        summary = t("Confirm the diagnosis before any psoriasis plan: {others} on record", others=others[0])
    else:
        summary = t("Confirm the diagnosis: no psoriasis on the problem list, so no psoriasis plan")
    blocks = []
    note = a.scope_note
    if note:
        blocks.append(escape(scrub(note)))
    else:
        shown = []
        if others:
            shown.append(t("recorded diagnosis: {items}", items=tjoin(", ", [escape(o) for o in others[:3]])))
        values = [escape(finding_label(f)) for f in _latest_scores(case)]
        if values:
            shown.append(t("skin scores: {items}", items=tjoin(", ", values)))
        if case.photos:
            shown.append(t("1 photograph") if len(case.photos) == 1 else t("{count} photographs", count=len(case.photos)))
        if shown:
            blocks.append(t("The record shows {items}.", items=tjoin("; ", shown)))
    if not note:
        blocks.append(t("derm3r proposes a psoriasis severity and treatment only when psoriasis is on the problem list."))
    tests = [escape(scrub(t)) for t in a.suggested_tests]
    if tests:
        blocks.append(t("**To settle it:** {items}", items=tjoin("; ", tests[:3])))
    detail = within_budget(blocks, tail=PRELIMINARY_LINE)
    link = review_link(inputs)
    return Card(
        uuid=inputs.assessment_uuid,
        summary=fit_summary([scrub(summary)]),
        indicator=Indicator.INFO,
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
    lines = [t("- **{display}**: {action}", display=escape(scrub(s.display)), action=escape(scrub(s.action))) for s in due]
    citations = [e.citation for s in due for e in s.evidence]
    detail = within_budget([tjoin("\n", lines), _sources_line(inputs, citations)])
    names = tjoin(", ", (scrub(s.display) for s in due))
    return Card(
        uuid=inputs.new_uuid(),
        summary=fit_summary([t("Screen now: {names}", names=names)]),
        indicator=Indicator.INFO,
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
        labels = grouped.setdefault((issue.code, scrub(readable_message(issue.message))), [])
        label = ref_label(inputs.case, issue.source_ref)
        if label and label not in labels:
            labels.append(label)
    lines = []
    for (_, message), labels in grouped.items():
        if not message:
            continue
        shown = tjoin(", ", labels[:3]) if len(labels) <= 3 else t("{items} and {count} more", items=tjoin(", ", labels[:3]), count=len(labels) - 3)
        lines.append(t("{message} ({records})", message=escape(message), records=escape(shown)) if labels else escape(message))
    return lines


def _photo_line(inputs: CardInputs, r: RecResult) -> str:
    label = ref_label(inputs.case, r.photo_ref) or t("{region} photo", region=r.region.value.replace('_', ' '))
    return t("{label}: {reasons}", label=escape(label), reasons=escape(scrub(tjoin("; ", r.quality.reasons) or t("failed the quality gate"))))


_QUALITY_TAIL = t("The assessment used only the data that passed these checks.")


def data_quality_card(inputs: CardInputs) -> Card | None:
    issues = data_quality_issues(inputs)
    unusable = _unusable_photos(inputs.assessment)
    if not issues and not unusable:
        return None
    bullets = [t("- {line}", line=line) for line in _issue_lines(inputs, issues)]
    bullets += [t("- {photo_line}", photo_line=_photo_line(inputs, r)) for r in unusable]
    counts = []
    if unusable:
        counts.append(t("1 photo not usable") if len(unusable) == 1 else t("{count} photos not usable", count=len(unusable)))
    distinct = len({(i.code, i.message) for i in issues})
    if distinct:
        counts.append(t("1 data issue") if distinct == 1 else t("{count} data issues", count=distinct))
    kept, dropped = fit_blocks(bullets, tail=_QUALITY_TAIL + t(" 99 more in the review app."))
    tail = (t("{dropped} more in the review app. ", dropped=dropped) if dropped else "") + _QUALITY_TAIL
    detail = join_blocks([*kept, tail])
    return Card(
        uuid=inputs.new_uuid(),
        summary=fit_summary([t("Check input data: {items}", items=tjoin(", ", counts))]),
        indicator=Indicator.INFO,
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
