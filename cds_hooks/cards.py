"""Cards derm3r returns (the card catalogue in README.md is the user-facing version of this).

  * assessment card   - severity, PASI estimate, trend, treatment step with contraindications,
                        follow-up, integrative TCM section; suggestion: create the draft CarePlan with
                        preliminary AI Observations and Provenance (the software Device as an
                        `update`: PUT to its fixed id, so it is never duplicated); smart link to the review app.
  * screening card    - comorbidity screenings that are due (PsA, cardiometabolic, depression, ...).
  * data-quality card - missing or unusable inputs, unusable photographs with the reason.

Everything AI-derived is labelled PRELIMINARY; the TCM section is labelled integrative and never
replaces guideline care."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from cds_hooks.markdown import bullets, citations, escape, evidence_bullets, percent, section
from cds_hooks.review.feedback import OVERRIDE_REASON_SYSTEM, OVERRIDE_REASONS
from cds_hooks.wire.response import Action, Card, Coding, Link, Source, Suggestion, truncate_summary
from inference.case import Case, DataIssue
from inference.results import Assessment, PatientRepresentation, RecResult, TcmDifferentiation, TreatmentPlan

TOPIC_SYSTEM = "https://derm3r.org/fhir/CodeSystem/card-topic"
TOPIC_ASSESSMENT = Coding(code="psoriasis-assessment", system=TOPIC_SYSTEM, display="Psoriasis assessment")
TOPIC_SCREENING = Coding(code="comorbidity-screening", system=TOPIC_SYSTEM, display="Comorbidity screening")
TOPIC_DATA_QUALITY = Coding(code="data-quality", system=TOPIC_SYSTEM, display="Input data quality")

SOURCE_LABEL = "derm3r (DERM-3R agents, research demonstration)"

# Severity -> indicator. `critical` is deliberately never used: it interrupts the clinician's
# workflow in most EHRs, and preliminary AI output must not do that.
INDICATOR_BY_SEVERITY: Mapping[str, str] = {
    "clear": "info",
    "mild": "info",
    "unknown": "info",
    "moderate": "warning",
    "severe": "warning",
}

PRELIMINARY_BANNER = (
    "**PRELIMINARY - AI-generated decision support for a research demonstration, not for clinical use.** "
    "Every value below needs review by the treating clinician before it is acted on."
)
TCM_BANNER = (
    "*Integrative perspective only.* Traditional Chinese Medicine pattern differentiation is offered "
    "beside, never instead of, guideline-based care."
)
MODEL_LIMITS = (
    "Model limits: photo readings estimate erythema, scale and lesional area from ordinary photographs; "
    "plaque thickness (induration) cannot be seen reliably in a photo and has low confidence; body regions "
    "not photographed are not scored; lighting, skin tone and camera affect colour measures; the lesion "
    "classifier was trained on a small public data set and is not validated for diagnosis."
)


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


def _source(base_url: str, topic: Coding) -> Source:
    return Source(label=SOURCE_LABEL, url=f"{base_url}/about", topic=topic)


def override_reasons() -> tuple[Coding, ...]:
    """The same reasons the review app offers, so feedback from either path is comparable."""
    return tuple(Coding(code=code, system=OVERRIDE_REASON_SYSTEM, display=display) for code, display in OVERRIDE_REASONS.items())


# ---------------------------------------------------------------- assessment card


def _severity_md(a: Assessment) -> str:
    lines = [f"**Severity: {escape(a.severity.level)}**" + (" - candidate for systemic therapy" if a.severity.systemic_candidate else "")]
    if a.severity.basis:
        lines.append("")
        lines.append(evidence_bullets(a.severity.basis))
    return "\n".join(lines)


def _representation_md(rep: PatientRepresentation) -> str:
    parts: list[str] = []
    if rep.pasi is not None:
        p = rep.pasi
        regions = ", ".join(r.value.replace("_", " ") for r in p.regions_seen) or "none"
        line = f"PASI estimated from photographs: **{p.value:.1f}** (plausible range {p.low:.1f}-{p.high:.1f}; regions photographed: {escape(regions)})"
        parts.append(line)
        if p.clinician_value is not None:
            parts.append(
                f"Clinician-recorded PASI {p.clinician_value:.1f} ({escape(p.clinician_ref or 'record')}) takes precedence"
                + (f"; the photo estimate differs by {p.discrepancy:+.1f}" if p.discrepancy is not None else "")
            )
    t = rep.trend
    if t.direction != "unknown":
        change = f" ({t.percent_change:+.0f}% since {t.baseline_date.date().isoformat()})" if t.percent_change is not None and t.baseline_date else ""
        parts.append(f"Trend: **{escape(t.direction)}**{change}")
    if rep.probabilities:
        top = sorted(rep.probabilities.items(), key=lambda kv: kv[1], reverse=True)[:3]
        parts.append("Lesion classifier (patient level): " + ", ".join(f"{escape(k.replace('_', ' '))} {percent(v)}" for k, v in top))
    body = bullets(parts)
    photos = [_photo_line(r) for r in rep.photos]
    if photos:
        body += "\n\nPer photograph:\n\n" + bullets(photos)
    return body


def _photo_line(r: RecResult) -> str:
    ref = escape(r.photo_ref)
    where = escape(r.region.value.replace("_", " "))
    if not r.quality.usable or r.attributes is None:
        return f"{ref} ({where}): not used - " + escape("; ".join(r.quality.reasons) or "failed the quality gate")
    at = r.attributes
    return (
        f"{ref} ({where}): erythema {at.erythema.value:.1f}/4, scale {at.scale.value:.1f}/4, "
        f"thickness {at.thickness.value:.1f}/4 (confidence {percent(at.thickness.confidence)}), "
        f"lesional area {percent(at.area_fraction.value)} of visible skin"
    )


def _treatment_md(plan: TreatmentPlan) -> str:
    lines = [f"Guideline step: **{escape(plan.step_display)}**", ""]
    option_lines = []
    for option in plan.options:
        text = f"{escape(option.display)} ({escape(option.therapy_class.replace('_', ' '))})"
        if option.contraindications:
            kinds = "; ".join(
                f"{'CONTRAINDICATED' if c.absolute else 'caution'}: {escape(c.reason)}" for c in option.contraindications
            )
            text += f" - {kinds}"
        if option.pre_treatment_checks:
            text += " - before starting: " + escape(", ".join(option.pre_treatment_checks))
        option_lines.append(text)
    lines.append(bullets(option_lines) if option_lines else "- no option is appropriate with the recorded contraindications")
    if plan.rationale:
        lines += ["", "Why:", "", evidence_bullets(plan.rationale)]
    return "\n".join(lines)


def _tcm_md(tcm: TcmDifferentiation) -> str:
    lines = [TCM_BANNER, ""]
    if tcm.primary is None:
        lines.append(f"No pattern is supported well enough to name (confidence {percent(tcm.confidence)}).")
        return "\n".join(lines)
    p = tcm.primary
    lines.append(f"Most supported pattern: **{escape(p.display)}** (support {percent(p.score)}, overall confidence {percent(tcm.confidence)})")
    lines.append("")
    lines.append(f"- Treatment principle: {escape(p.treatment_principle)}")
    if p.formulas:
        lines.append(f"- Classical formulas to consider with a qualified practitioner: {escape(', '.join(p.formulas))}")
    if p.evidence_for:
        lines += ["", "Supporting findings:", "", evidence_bullets(p.evidence_for, limit=5)]
    if p.evidence_against:
        lines += ["", "Against:", "", evidence_bullets(p.evidence_against, limit=3)]
    others = [f"{escape(x.display)} {percent(x.score)}" for x in tcm.ranked if x is not p][:3]
    if others:
        lines += ["", "Other patterns considered: " + ", ".join(others)]
    if tcm.note:
        lines += ["", f"*{escape(tcm.note)}*"]
    return "\n".join(lines)


def _all_evidence(a: Assessment) -> list:
    items = list(a.severity.basis)
    if a.treatment:
        items += list(a.treatment.rationale)
        for option in a.treatment.options:
            for c in option.contraindications:
                items += list(c.evidence)
    if a.follow_up:
        items += list(a.follow_up.evidence)
    if a.representation and a.representation.pasi:
        items += list(a.representation.pasi.evidence)
    if a.tcm and a.tcm.primary:
        items += list(a.tcm.primary.evidence_for)
    return items


def assessment_detail(a: Assessment) -> str:
    parts = [PRELIMINARY_BANNER, "", _severity_md(a), ""]
    if a.representation is not None:
        parts.append(section("Photographs (DERM-Rec, DERM-Rep)", _representation_md(a.representation)))
    if a.treatment is not None:
        parts.append(section("Treatment (guideline-based)", _treatment_md(a.treatment)))
    if a.follow_up is not None:
        fu = a.follow_up
        body = f"Review in {fu.interval_weeks} weeks." + ("\n\nTargets:\n\n" + bullets(escape(t) for t in fu.targets) if fu.targets else "")
        parts.append(section("Follow-up", body))
    if a.tcm is not None:
        parts.append(section("Traditional Chinese Medicine (integrative)", _tcm_md(a.tcm)))
    sources = citations(_all_evidence(a))
    if a.tcm is not None and a.tcm.citation:
        sources.append(a.tcm.citation)
    if sources:
        parts.append(section("Sources", bullets(escape(s) for s in dict.fromkeys(sources))))
    parts.append(
        section(
            "About this output",
            f"{MODEL_LIMITS}\n\nModel {escape(a.model_version or 'n/a')}; knowledge base {escape(a.knowledge_version or 'n/a')}.",
        )
    )
    return "\n".join(p for p in parts if p is not None).strip()


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
    a = inputs.assessment
    suggestion = assessment_suggestion(inputs)
    link = review_link(inputs)
    return Card(
        uuid=inputs.assessment_uuid,
        summary=truncate_summary(f"PRELIMINARY AI: {a.summary}"),
        indicator=INDICATOR_BY_SEVERITY.get(a.severity.level, "info"),
        source=_source(inputs.public_base_url, TOPIC_ASSESSMENT),
        detail=assessment_detail(a),
        suggestions=(suggestion,) if suggestion else (),
        selection_behavior="at-most-one" if suggestion else None,
        override_reasons=override_reasons(),
        links=(link,) if link else (),
    )


# ---------------------------------------------------------------- screening card


def screening_card(inputs: CardInputs) -> Card | None:
    due = [s for s in inputs.assessment.screenings if s.due]
    if not due:
        return None
    names = ", ".join(s.display for s in due)
    lines = []
    for s in due:
        lines.append(f"**{escape(s.display)}**: {escape(s.action)}")
        if s.evidence:
            lines.append("\n".join("  " + line for line in evidence_bullets(s.evidence, limit=4).splitlines()))
    detail = "Screenings recommended for people with psoriasis that are due now:\n\n" + "\n".join(
        f"- {line}" if not line.startswith("  ") else line for line in lines
    )
    sources = citations(e for s in due for e in s.evidence)
    if sources:
        detail += "\n\n" + section("Sources", bullets(escape(c) for c in sources))
    return Card(
        uuid=inputs.new_uuid(),
        summary=truncate_summary(f"Comorbidity screening due: {names}"),
        indicator="info",
        source=_source(inputs.public_base_url, TOPIC_SCREENING),
        detail=detail.strip(),
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


def _issue_lines(issues: list[DataIssue]) -> list[str]:
    """One line per distinct message, naming every record it applies to (a message repeated for
    nine photographs is one line, not nine)."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for issue in issues:
        refs = grouped.setdefault((issue.code, issue.message), [])
        if issue.source_ref and issue.source_ref not in refs:
            refs.append(issue.source_ref)
    lines = []
    for (_, message), refs in grouped.items():
        lines.append(escape(message) + (f" ({escape(', '.join(refs))})" if refs else ""))
    return lines


def data_quality_card(inputs: CardInputs) -> Card | None:
    issues = data_quality_issues(inputs)
    unusable = _unusable_photos(inputs.assessment)
    if not issues and not unusable:
        return None
    photo_lines = [
        f"{escape(r.photo_ref)}: " + escape("; ".join(r.quality.reasons) or "failed the quality gate") for r in unusable
    ]
    parts = []
    if issues:
        parts.append(section("Missing or unusable data", bullets(_issue_lines(issues))))
    if photo_lines:
        parts.append(section("Photographs not used", bullets(photo_lines)))
    parts.append("The assessment above used only the data that passed these checks.")
    counts = []
    if unusable:
        counts.append(f"{len(unusable)} photo{'s' if len(unusable) != 1 else ''} unusable")
    if issues:
        distinct = len({(i.code, i.message) for i in issues})
        counts.append(f"{distinct} data issue{'s' if distinct != 1 else ''}")
    return Card(
        uuid=inputs.new_uuid(),
        summary=truncate_summary("Input data quality: " + ", ".join(counts)),
        indicator="info",
        source=_source(inputs.public_base_url, TOPIC_DATA_QUALITY),
        detail="\n".join(parts).strip(),
    )


def build_cards(inputs: CardInputs) -> tuple[Card, ...]:
    cards: list[Card | None] = [assessment_card(inputs), screening_card(inputs), data_quality_card(inputs)]
    return tuple(c for c in cards if c is not None)


