"""Assessment -> draft CarePlan (status draft, intent proposal): what DERM-Reason proposes, for a
clinician to review, edit and activate.

Treat-to-target goals are contained Goal resources: they only make sense inside this draft and are
accepted or discarded with it. Treatment options become activities (contraindicated ones are kept,
marked doNotPerform, so the clinician sees why they are not proposed); due screenings and the
follow-up visit are activities too. TCM content is a separate activity and note, labelled
integrative and never a substitute for guideline care.

Activity codes come from the drug knowledge (inference/knowledge/drugs.json): RxNorm ingredient and
ATC for drugs, SNOMED CT for phototherapy procedures; a class option (e.g. "IL-17 inhibitor") carries
the ATC group its drugs share. A code the knowledge marks as not checked against a terminology
server keeps an extension saying so, rather than being passed off as verified.

Notes are plain text for a clinician (FHIR `markdown`, escaped): no rule ids, resource ids or file
names; sources as citations; versions are in the Provenance/Device, not here.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Sequence

from inference.citations import CitationTable, clean_free_text
from inference.results import Assessment, Evidence, TherapyClass, TreatmentOption

from fhir_mapping import codes
from fhir_mapping.emit import ai_meta, derm3r_concept, identifier, instant
from fhir_mapping.plain_text import markdown_escape, scrub
from fhir_mapping.tcm_activity import tcm_activity_text, tcm_reason_codes
from inference.i18n import localize, t, tjoin

ATC = "http://www.whocc.no/atc"
# Marks a coding whose code has not been checked against its terminology (knowledge "unverified").
UNVERIFIED_CODE_EXTENSION = codes.CODE_UNVERIFIED_EXTENSION
_SYSTEM_ORDER = {codes.RXNORM: 0, ATC: 1, codes.SNOMED: 0}

DRAFT_NOTE = t("AI-generated draft — preliminary, requires clinician review.")
TCM_NOTE_PREFIX = t("Integrative (traditional Chinese medicine) — not a substitute for guideline-based care.")
_MAX_TEXT = 2000  # keep free text readable in EHR widgets

_CLASS_LABEL = {TherapyClass.TOPICAL: t("Topical therapy"), TherapyClass.PHOTOTHERAPY: t("Phototherapy"),
                TherapyClass.ORAL_SYSTEMIC: t("Oral systemic therapy"), TherapyClass.BIOLOGIC: t("Biologic therapy")}
_ACTIVITY_KIND = {TherapyClass.TOPICAL: "MedicationRequest", TherapyClass.ORAL_SYSTEMIC: "MedicationRequest",
                  TherapyClass.BIOLOGIC: "MedicationRequest", TherapyClass.PHOTOTHERAPY: "ServiceRequest"}


def _clip(text: str) -> str:
    """Free text in the request's language, whitespace collapsed, clipped for EHR widgets."""
    text = " ".join(localize(text).split())
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


def _evidence_text(evidence: Sequence[Evidence]) -> str:
    """Statements as plain text (no record or rule ids), most important first."""
    return tjoin("; ", (t for t in (scrub(item.statement) for item in evidence) if t))


def _sources_text(evidence: Sequence[Evidence], extra: Sequence[str | None] = ()) -> str:
    table = CitationTable.load()
    seen: list[str] = []
    for raw in [*(e.citation for e in evidence), *extra]:
        if not raw:
            continue
        reference = table.resolve(raw)
        if reference is not None and reference.citation.id == "derm3r_default":
            continue
        text = reference.text() if reference is not None else clean_free_text(raw)
        if text and text not in seen:
            seen.append(text)
    return tjoin("; ", seen)


def _coding(system: str, code: str, display: str | None, unverified: bool = False) -> dict:
    out: dict = {"system": system, "code": code}
    if display:
        out["display"] = display
    if unverified:
        out["extension"] = [{"url": UNVERIFIED_CODE_EXTENSION, "valueBoolean": True}]
    return out


def _option_codings(option: TreatmentOption) -> list[dict]:
    """Codings of a treatment option. One drug or procedure: its own codes (attached by the
    reasoning, else from the drug knowledge by id). A class with several member drugs (e.g. "TNF
    inhibitor (adalimumab, etanercept)"): only the ATC group the members share, since a
    CodeableConcept's codings must all mean the same concept."""
    catalogue = codes.drug_catalogue()
    members = option.drugs
    found: list[tuple[str, str, str | None, bool]] = []
    if len(members) <= 1:
        found = [(c.system, c.code, c.display, c.unverified) for c in option.codings]
        drug = catalogue.get(members[0] if members else option.therapy)
        if not found and drug is not None:
            found = [(c.system, c.code, c.display, c.unverified) for c in drug.codings]
    if not found:
        group = [catalogue.get(m) for m in members] if members else \
            [d for d in catalogue.drugs if getattr(d.mechanism, "value", d.mechanism) == option.therapy]
        atc = {c.code[:5] for d in group if d is not None for c in d.codings if c.system == ATC and len(c.code) >= 5}
        if len(atc) == 1:
            found = [(ATC, atc.pop(), None, False)]
    # One code per system (a CodeableConcept's codings must mean the same concept): the first, which
    # the knowledge lists as the primary one; verified codes before unverified ones.
    by_system: dict[str, tuple[str, str, str | None, bool]] = {}
    for item in sorted(found, key=lambda f: f[3]):
        by_system.setdefault(item[0], item)
    ordered = sorted(by_system.values(), key=lambda f: _SYSTEM_ORDER.get(f[0], 2))
    return [_coding(*item) for item in ordered]


def _goals(assessment: Assessment) -> list[dict]:
    follow_up = assessment.follow_up
    if follow_up is None:
        return []
    due = (assessment.as_of + timedelta(weeks=follow_up.interval_weeks)).date().isoformat()
    return [
        {
            "resourceType": "Goal",
            "id": f"goal-{n}",
            "lifecycleStatus": "proposed",
            "description": {"text": _clip(target)},
            "subject": {"reference": assessment.patient_ref},
            "target": [{"dueDate": due}],
            "note": [{"text": t("Treat-to-target goal proposed by derm3r (AI); review before adopting.")}],
        }
        for n, target in enumerate(follow_up.targets, start=1)
    ]


def _treatment_activity(option: TreatmentOption, step_display: str) -> dict:
    # Options of a step can belong to other classes (phototherapy offered beside oral systemics).
    label = _CLASS_LABEL.get(option.therapy_class, step_display)
    description = [t("{label}: {display}.", label=label, display=option.display)]
    if option.pre_treatment_checks:
        description.append(t("Before starting: {checks}.", checks=tjoin(", ", option.pre_treatment_checks)))
    relative = [c for c in option.contraindications if not c.absolute]
    absolute = [c for c in option.contraindications if c.absolute]
    if relative:
        description.append(t("Use with caution: {reasons}.", reasons=tjoin("; ", [scrub(c.reason) for c in relative])))
    concept: dict = {"text": t(option.display)}
    codings = _option_codings(option)
    if codings:
        concept["coding"] = codings
    detail: dict = {
        "code": concept,
        "status": "not-started",
        "doNotPerform": bool(absolute),
        "description": _clip(tjoin(" ", description)),
    }
    kind = _ACTIVITY_KIND.get(option.therapy_class)
    if kind:
        detail["kind"] = kind
    if absolute:
        detail["statusReason"] = {"text": _clip(t("Contraindicated: {reasons}", reasons=tjoin("; ", [scrub(c.reason) for c in absolute])))}
    return {"detail": detail}


def _screening_activities(assessment: Assessment) -> list[dict]:
    return [
        {"detail": {"kind": "ServiceRequest", "code": {"text": t(s.display)}, "status": "not-started",
                    "description": _clip(scrub(s.action))}}
        for s in assessment.screenings if s.due
    ]


def _follow_up_activity(assessment: Assessment, goal_ids: list[str]) -> list[dict]:
    follow_up = assessment.follow_up
    if follow_up is None:
        return []
    detail: dict = {
        "kind": "Appointment",
        "code": {"text": t("Dermatology follow-up visit")},
        "status": "not-started",
        "scheduledString": t("in {interval_weeks} weeks", interval_weeks=follow_up.interval_weeks),
        "description": _clip(t("Review response against the treatment targets: {targets}", targets=tjoin("; ", follow_up.targets)))
        if follow_up.targets else t("Review response to treatment."),
    }
    if goal_ids:
        detail["goal"] = [{"reference": f"#{gid}"} for gid in goal_ids]
    return [{"detail": detail}]


def _tcm_activity(assessment: Assessment) -> list[dict]:
    tcm = assessment.tcm
    if tcm is None or tcm.primary is None:
        return []
    # Citations rendered from the citation table, as everywhere else in the CarePlan (no file names).
    sources = _sources_text((), tuple(tcm.citation.split("; "))) or t("see the review app")
    text = tcm_activity_text(tcm, TCM_NOTE_PREFIX, sources)  # composition, modifications, cautions
    detail = {
        "code": derm3r_concept(codes.D_TCM_INTEGRATIVE, t("Integrative TCM consideration (not guideline care)")),
        "status": "not-started",
        "description": _clip(text),
    }
    reason = tcm_reason_codes(tcm)  # ICD-11 TM1 pattern code where one is equivalent
    if reason:
        detail["reasonCode"] = reason
    return [{"detail": detail}]


def care_plan(assessment: Assessment, *, resource_id: str, supporting_refs: Sequence[str] = (),
              condition_refs: Sequence[str] = ()) -> dict:
    """Draft CarePlan for `assessment`. `supporting_refs` are references (e.g. "urn:uuid:...") of the AI
    Observations written with it; `condition_refs` the psoriasis Condition(s) it addresses."""
    goals = _goals(assessment)
    goal_ids = [g["id"] for g in goals]
    activities: list[dict] = []
    plan = assessment.treatment
    if plan is not None:
        activities += [_treatment_activity(option, plan.step_display) for option in plan.options]
    activities += _screening_activities(assessment)
    activities += _follow_up_activity(assessment, goal_ids)
    activities += _tcm_activity(assessment)

    notes = [DRAFT_NOTE + " " + markdown_escape(scrub(assessment.summary))]
    severity = assessment.severity
    severity_text = t("Severity: {level}", level=severity.level)
    if severity.systemic_candidate:
        severity_text += t(" (candidate for systemic therapy)")
    if severity.basis:
        severity_text += t(". Basis: {evidence_text}", evidence_text=_evidence_text(severity.basis))
    notes.append(markdown_escape(t("{text}.", text=severity_text)))
    if plan is not None and plan.rationale:
        notes.append(markdown_escape(t("Why {step_display}: {evidence_text}.", step_display=plan.step_display, evidence_text=_evidence_text(plan.rationale))))
    if assessment.tcm is not None:
        notes.append(t("{TCM_NOTE_PREFIX} {markdown_escape}", TCM_NOTE_PREFIX=TCM_NOTE_PREFIX, markdown_escape=markdown_escape(scrub(assessment.tcm.note))))
    if assessment.issues:
        notes.append(markdown_escape(t("Data limitations: {issues}", issues=tjoin("; ", [scrub(i.message) for i in assessment.issues]))))
    sources = _sources_text([*severity.basis, *(plan.rationale if plan else ())])
    if sources:
        notes.append(markdown_escape(t("Sources: {sources}.", sources=sources)))

    resource: dict = {
        "resourceType": "CarePlan",
        "id": resource_id,
        "meta": ai_meta(),
        "identifier": [identifier(resource_id)],
        "status": "draft",
        "intent": "proposal",
        "category": [derm3r_concept(codes.D_CARE_PLAN)],
        "title": t("Psoriasis care plan (AI-generated draft)"),
        "description": _clip(assessment.summary or t("Psoriasis care plan draft")),
        "subject": {"reference": assessment.patient_ref},
        "created": instant(assessment.as_of),
        "note": [{"text": _clip(text)} for text in notes],
    }
    if goals:
        resource["contained"] = goals
        resource["goal"] = [{"reference": f"#{gid}"} for gid in goal_ids]
    if condition_refs:
        resource["addresses"] = [{"reference": ref} for ref in dict.fromkeys(condition_refs)]
    if supporting_refs:
        resource["supportingInfo"] = [{"reference": ref} for ref in dict.fromkeys(supporting_refs)]
    if activities:
        resource["activity"] = activities
    return resource
