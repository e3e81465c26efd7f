"""Cards for the ordering hooks (order-select, order-sign): one card per problem with a draft order.

A problem is what the drug knowledge found for this patient and this order: a contraindication, a
caution, checks missing before starting, an interaction with a current medicine, or a duplicate of
current therapy. Each card says what and why in one line (with the value and date that triggered
it), cites its guideline, and offers suggestions that act on the draft:

  * `delete` the draft order by its id (resourceId `MedicationRequest/<id>`, spec cds-resp-2);
  * `delete` + `create` a replacement order where the guideline names a preferred alternative;
  * `create` a draft ServiceRequest for each missing pre-treatment check.

order-select is advisory (a contraindication is a warning: the clinician is still choosing);
order-sign is the last chance before the order takes effect, so a contraindication is critical.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from cds_hooks.card_text import DETAIL_UNITS_ZH, DETAIL_WORDS, clip_words, reading_units
from cds_hooks.markdown import escape
from cds_hooks.wire.context import ORDER_SIGN
from cds_hooks.wire.response import SUMMARY_MAX, Action, Card, Coding, Source, Suggestion, truncate_summary
from fhir_mapping import codes
from fhir_mapping.draft_orders import DraftOrder
from inference.i18n import DEFAULT_LANGUAGE, Text, current_language, localize, t, tjoin, upper_first
from inference.reason.drugs import ConcernKind
from inference.results import Indicator

TOPIC_SYSTEM = codes.CARD_TOPIC
TOPIC_PRESCRIBING = Coding(code="prescribing-safety", system=TOPIC_SYSTEM, display=t("Prescribing safety"))
OVERRIDE_SYSTEM = codes.ORDER_OVERRIDE_REASON
SOURCE_LABEL = t("derm3r prescribing check (research demonstration)")
DISCLAIMER = t("*Decision support for a research demonstration, not for clinical use; the prescriber decides.*")
DETAIL_MAX_WORDS = 80

KINDS = tuple(ConcernKind)
SEVERITIES = tuple(Indicator)  # the drug knowledge's own scale is the card indicator's


@dataclass(frozen=True)
class Orderable:
    """Something a suggestion can order: a check (LOINC/SNOMED for a ServiceRequest) or a medicine
    (RxNorm for a MedicationRequest)."""

    display: str
    system: str
    code: str
    resource_type: str = "ServiceRequest"  # MedicationRequest for a medicine


@dataclass(frozen=True)
class OrderProblem:
    """One problem with one draft order, ready for a card (built from the drug knowledge's concerns)."""

    kind: ConcernKind
    severity: Indicator
    order: DraftOrder
    drug: str  # the medicine or procedure by its generic name
    headline: str  # what triggered it, short, with value and date: "Heart failure (recorded 2025-03-02)"
    reason: str  # the knowledge's one-line reason, naming the value and date that triggered it
    citation: str  # human-readable guideline reference
    citation_url: str | None = None
    checks: tuple[Orderable, ...] = ()  # missing_check: what to order
    alternative: Orderable | None = None  # contraindicated: the guideline's preferred option to order
    alternative_names: tuple[str, ...] = ()  # every option the guideline prefers, for the detail
    other: str | None = None  # interaction / duplicate: the current medicine involved

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown problem kind {self.kind!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")
        # Plain strings of the same vocabulary are accepted and held as the enums.
        object.__setattr__(self, "kind", ConcernKind(self.kind))
        object.__setattr__(self, "severity", Indicator(self.severity))


# Reasons a clinician may give for going ahead; per kind, so each list makes sense for the card.
_OVERRIDES: Mapping[str, tuple[tuple[str, str], ...]] = {
    "risk": (
        ("benefit-outweighs-risk", t("Benefit outweighs the risk; discussed with the patient")),
        ("specialist-plan", t("Specialist or shared-care plan in place")),
        ("record-wrong", t("The record is wrong or out of date")),
    ),
    "missing_check": (
        ("done-elsewhere", t("Check done; result not in this record")),
        ("ordered-separately", t("Already ordered")),
        ("not-needed", t("Not needed for this patient")),
    ),
    "duplicate_therapy": (
        ("intentional-switch", t("Intentional switch; the current medicine will be stopped")),
        ("intentional-combination", t("Intentional combination")),
        ("record-wrong", t("The record is wrong or out of date")),
    ),
}


def override_reasons(kind: str) -> tuple[Coding, ...]:
    group = kind if kind in _OVERRIDES else "risk"
    return tuple(Coding(code=code, system=OVERRIDE_SYSTEM, display=display) for code, display in _OVERRIDES[group])


def indicator(problem: OrderProblem, hook: str) -> Indicator:
    """order-sign is the last chance: a contraindication is critical. order-select is advisory (the
    clinician is still choosing): never critical, missing checks only informative."""
    signing = hook == ORDER_SIGN
    if problem.kind is ConcernKind.CONTRAINDICATED:
        return Indicator.CRITICAL if signing else Indicator.WARNING
    if problem.kind is ConcernKind.MISSING_CHECK:
        return Indicator.WARNING if signing else Indicator.INFO
    if problem.severity is Indicator.CRITICAL:
        return Indicator.CRITICAL if signing else Indicator.WARNING
    return problem.severity


def _cap(text: str) -> str:
    return upper_first(text)


def summary(problem: OrderProblem) -> str:
    drug = _cap(problem.drug)
    what = problem.headline
    if problem.kind == "contraindicated":
        text = t("{drug} contraindicated: {what}", drug=drug, what=what)
    elif problem.kind == "hold":
        text = t("Hold {drug}: {what}", drug=problem.drug, what=what)
    elif problem.kind == "caution":
        text = t("{drug} - caution: {what}", drug=drug, what=what)
    elif problem.kind == "missing_check":
        names = tjoin(", ", (c.display for c in problem.checks))
        text = t("Before starting {drug}: no recent {names}", drug=problem.drug, names=names)
        if len(text) > SUMMARY_MAX:
            text = t("Before starting {drug}: {count} checks have no recent result", drug=problem.drug, count=len(problem.checks))
    elif problem.kind == "interaction":
        text = t("{drug} interacts with {other}: {what}", drug=drug, other=problem.other, what=what) if problem.other else t("{drug} interaction: {what}", drug=drug, what=what)
    elif problem.kind == "duplicate_therapy":
        text = t("{drug} duplicates current therapy: {other}", drug=drug, other=problem.other) if problem.other else t("{drug} duplicates current therapy", drug=drug)
    else:  # monitoring on a continued therapy
        text = t("{drug}: {what}", drug=drug, what=what)
    return truncate_summary(text)


def detail(problem: OrderProblem) -> str:
    """The reason, the guideline's alternatives, the source(s), the disclaimer: at most 80 words.
    When the sources would not fit, the first is kept and the rest counted (the cards stay short;
    the knowledge file has them all)."""
    reason = escape(_cap(problem.reason))
    reason += "" if reason.endswith((".", "。")) else ("。" if current_language() == "zh-CN" else ".")
    names = problem.alternative_names or ((problem.alternative.display,) if problem.alternative else ())
    preferred = localize(t("Preferred instead: {items}.", items=escape(tjoin(", ", names)))) if names else None
    sources = _citations(problem.citation)
    # The cap in the language's reading units (card_text: words, or Han characters in Chinese).
    cap = DETAIL_MAX_WORDS if current_language() == DEFAULT_LANGUAGE else round(DETAIL_MAX_WORDS * DETAIL_UNITS_ZH / DETAIL_WORDS)

    def compose(cited: list[str], more: int, with_preferred: bool) -> str:
        listed = tjoin("; ", [escape(s) for s in cited])
        source = t("Source: {items} (and {more} more).", items=listed, more=more) if more else t("Source: {items}.", items=listed)
        parts = [reason, *([preferred] if preferred and with_preferred else []), source, DISCLAIMER]
        return "\n\n".join(localize(p) for p in parts)

    for with_preferred in (True, False):
        for keep in range(len(sources), 0, -1):
            text = compose(sources[:keep], len(sources) - keep, with_preferred)
            if reading_units(text) <= cap:
                return text
    # A reason too long on its own: cut it (the summary already says what matters).
    budget = cap - reading_units(compose(sources[:1], len(sources) - 1, False)) + reading_units(reason) - 1
    reason = clip_words(reason, max(budget, 5)).rstrip(" .") if current_language() != DEFAULT_LANGUAGE else " ".join(reason.split()[: max(budget, 5)]) + "…"
    return compose(sources[:1], len(sources) - 1, False)


def _citations(citation: str) -> list[str]:
    """The problem's citations, one per source (a joined lazy message keeps its parts, so each is
    rendered in the request's language)."""
    if isinstance(citation, Text):
        parts = getattr(citation, "items", None)
        if parts is not None and getattr(citation, "sep", None) == "; ":
            return [p for p in parts if str(p).strip()]
        if ";" not in citation:
            return [citation]
    return [s.strip() for s in str(citation).split(";") if s.strip()]


@dataclass(frozen=True)
class OrderCardContext:
    """What the suggestions need besides the problem: who, for whom, in which encounter."""

    hook: str
    patient_id: str
    user_id: str
    encounter_id: str | None
    public_base_url: str
    new_uuid: Callable[[], str] = field(default=lambda: str(uuid.uuid4()))


def _common(ctx: OrderCardContext, reason: str) -> dict[str, Any]:
    body: dict[str, Any] = {"subject": {"reference": f"Patient/{ctx.patient_id}"}}
    if ctx.encounter_id:
        body["encounter"] = {"reference": f"Encounter/{ctx.encounter_id}"}
    body["requester"] = {"reference": ctx.user_id}
    body["reasonCode"] = [{"text": reason}]
    return body


def check_request(check: Orderable, problem: OrderProblem, ctx: OrderCardContext) -> dict[str, Any]:
    """A draft ServiceRequest for a missing pre-treatment check."""
    return {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "order",
        "code": {"coding": [{"system": check.system, "code": check.code, "display": check.display}], "text": t(check.display)},
        **_common(ctx, t("Before starting {drug}", drug=problem.drug)),
    }


def replacement_request(alternative: Orderable, problem: OrderProblem, ctx: OrderCardContext) -> dict[str, Any]:
    """A draft order for the guideline's alternative: a MedicationRequest for a medicine (dose and
    schedule left to the prescriber), a ServiceRequest for a procedure such as phototherapy."""
    concept = {"coding": [{"system": alternative.system, "code": alternative.code, "display": alternative.display}], "text": t(alternative.display)}
    reason = t("Instead of {drug}: {headline}", drug=problem.drug, headline=problem.headline)
    if alternative.resource_type == "MedicationRequest":
        return {
            "resourceType": "MedicationRequest",
            "status": "draft",
            "intent": "order",
            "medicationCodeableConcept": concept,
            **_common(ctx, reason),
            "note": [{"text": t("Proposed by derm3r's prescribing check; dose and schedule to be completed by the prescriber.")}],
        }
    return {"resourceType": "ServiceRequest", "status": "draft", "intent": "order", "code": concept, **_common(ctx, reason)}


def _delete(problem: OrderProblem) -> Action:
    assert problem.order.ref is not None
    return Action(type="delete", description=t("Remove the draft order for {drug}", drug=problem.drug), resource_id=problem.order.ref)


def suggestions(problem: OrderProblem, ctx: OrderCardContext) -> tuple[tuple[Suggestion, ...], str | None]:
    """(suggestions, selectionBehavior). Deleting needs the draft's id; without one the card only advises."""
    if problem.kind == "missing_check":
        items = tuple(
            Suggestion(
                label=t("Order {display}", display=check.display),
                uuid=ctx.new_uuid(),
                is_recommended=True,
                actions=(Action(type="create", description=t("Order {display} before starting {drug}", display=check.display, drug=problem.drug), resource=check_request(check, problem, ctx)),),
            )
            for check in problem.checks
        )
        return items, ("any" if items else None)
    # A caution, a minor interaction or a monitoring reminder informs; it does not argue for
    # cancelling the order.
    if problem.order.ref is None or problem.kind in ("monitoring_due", "caution"):
        return (), None
    if problem.kind == "interaction" and problem.severity == "info":
        return (), None
    out: list[Suggestion] = []
    strong = problem.kind == "contraindicated"
    out.append(Suggestion(label=t("Remove the {drug} order", drug=problem.drug), uuid=ctx.new_uuid(), is_recommended=strong or None, actions=(_delete(problem),)))
    if problem.alternative is not None:
        resource = replacement_request(problem.alternative, problem, ctx)
        out.append(
            Suggestion(
                label=t("Replace with {display}", display=problem.alternative.display),
                uuid=ctx.new_uuid(),
                actions=(_delete(problem), Action(type="create", description=t("Order {display} instead", display=problem.alternative.display), resource=resource)),
            )
        )
    return tuple(out), "at-most-one"


def order_card(problem: OrderProblem, ctx: OrderCardContext) -> Card:
    items, behaviour = suggestions(problem, ctx)
    return Card(
        uuid=ctx.new_uuid(),
        summary=summary(problem),
        detail=detail(problem),
        indicator=indicator(problem, ctx.hook),
        source=Source(
            label=_source_label(problem.citation),
            url=problem.citation_url or f"{ctx.public_base_url}/about",
            topic=TOPIC_PRESCRIBING,
        ),
        suggestions=items,
        selection_behavior=behaviour,
        override_reasons=override_reasons(problem.kind),
    )


def _source_label(citation: str) -> str:
    """The first citation as the card's source label (rendered now), or derm3r's own when too long."""
    cited = _citations(citation)
    first = localize(cited[0]) if cited else ""
    return first if first and len(first) <= 100 else localize(SOURCE_LABEL)


_ORDER = {Indicator.CRITICAL: 0, Indicator.WARNING: 1, Indicator.INFO: 2}


def order_cards(problems: list[OrderProblem], ctx: OrderCardContext) -> tuple[Card, ...]:
    """One card per problem, most urgent first (stable within an urgency)."""
    cards = [order_card(p, ctx) for p in problems]
    return tuple(sorted(cards, key=lambda c: _ORDER[c.indicator]))


__all__ = ["OrderCardContext", "OrderProblem", "Orderable", "indicator", "order_card", "order_cards", "override_reasons"]
