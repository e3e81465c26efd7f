"""Between the ordering hooks and DERM-Reason's drug knowledge (`inference.reason.drugs`):
recognise what a draft order names, evaluate it for this patient, and turn the knowledge's concerns
into `OrderProblem`s for the cards.

The knowledge decides (what is contraindicated, which checks are due, which medicines interact);
this module only translates: which orders are "current therapy" during an ordering session, which
record entry triggered a concern (for its value and date), and clinician text without record ids."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from cds_hooks.order_cards import OrderProblem, Orderable
from fhir_mapping.datatypes import codings
from fhir_mapping.draft_orders import DraftOrder
from fhir_mapping import codes
from inference.case import Case, ConditionEntry, Finding, FindingKey, MedicationEntry
from inference.results import Indicator
from inference.citations import CitationTable, clean_free_text
from inference.reason.drugs import (
    RXNORM,
    SNOMED,
    ConcernKind,
    Drug,
    DrugCatalogue,
    DrugConcern,
    DrugIntent,
    Population,
    TherapyClass,
    age_years,
)
from inference.i18n import localize, t, tjoin

_URGENCY = (Indicator.CRITICAL, Indicator.WARNING, Indicator.INFO)  # most urgent first

if TYPE_CHECKING:
    from cds_hooks.settings import Settings

# "(Condition/abc-1)", "Observation/7" and the like: record ids are not clinician text.
_TYPES = r"(?:Condition|Observation|MedicationStatement|MedicationRequest|Patient|Procedure|ServiceRequest|Encounter)"
# ASCII and full-width (Chinese) brackets and commas alike; a reference may follow a Han character.
_REF_IN_PARENS = re.compile(r"\s*[(（]\s*" + _TYPES + r"/[A-Za-z0-9\-.]{1,64}\s*[)）]")
_REF = re.compile(r"(?:[,，]\s*|\s+)?(?<![A-Za-z0-9])" + _TYPES + r"/[A-Za-z0-9\-.]{1,64}")
_EMPTY_PARENS = re.compile(r"[(（]\s*[,;:，；：]?\s*[)）]")

# Findings that put the patient in a population or are monitored, besides laboratory results.
_STATUS_FINDINGS = frozenset(
    {
        FindingKey.PREGNANT,
        FindingKey.PREGNANCY_TEST,
        FindingKey.BREASTFEEDING,
        FindingKey.PLANNING_PREGNANCY,
        FindingKey.SYSTOLIC_BP,
        FindingKey.DIASTOLIC_BP,
    }
)

_POPULATION_LABELS = {
    Population.PREGNANCY: "pregnancy",
    Population.BREASTFEEDING: "breastfeeding",
    Population.PLANNING_PREGNANCY: t("planning a pregnancy"),
    Population.CHILD: "child",
    Population.OLDER_ADULT: t("older adult"),
    Population.RENAL_IMPAIRMENT: t("renal impairment"),
    Population.HEPATIC_IMPAIRMENT: t("hepatic impairment"),
}


def clinician_text(text: str) -> str:
    """The knowledge's reason without FHIR references, on one line."""
    cleaned = _EMPTY_PARENS.sub("", _REF.sub("", _REF_IN_PARENS.sub("", localize(text))))
    return " ".join(cleaned.replace(" ,", ",").replace(" :", ":").split())


def _day(value: datetime | date | None) -> str | None:
    if value is None:
        return None
    return (value.date() if isinstance(value, datetime) else value).isoformat()


def _number(value: float) -> str:
    return f"{value:g}"


def _evidence(case: Case, ref: str | None) -> ConditionEntry | Finding | MedicationEntry | None:
    if ref is None:
        return None
    for item in (*case.conditions, *case.findings, *case.medications):
        if getattr(item, "source_ref", None) == ref:
            return item
    return None


def headline(concern: DrugConcern, case: Case) -> str:
    """What triggered the concern, short, with its value and date, e.g. "heart failure recorded
    2025-03-02", "eGFR 24 mL/min/1.73m2 on 2026-11-20", "pregnancy (pregnancy test positive 2026-11-01)"."""
    item = _evidence(case, concern.source_ref)
    population = _POPULATION_LABELS.get(concern.population) if concern.population is not None else None
    if isinstance(item, ConditionEntry):
        when = _day(item.onset)
        what = t("{display} since {when}", display=item.display, when=when) if when else t("{display} recorded", display=item.display)
    elif isinstance(item, Finding):
        value = item.value
        if isinstance(value, bool):
            shown = t("positive") if value else t("negative")
        elif isinstance(value, (int, float)):
            shown = t("{number} {unit}", number=_number(float(value)), unit=_unit(item.unit)).strip()
        else:
            shown = str(value).replace("_", " ")
        label = item.display or item.key.value.replace("_", " ")
        when = _day(item.effective)
        what = t("{label} {shown}", label=label, shown=shown) + (t(" on {when}", when=when) if when else "")
    elif isinstance(item, MedicationEntry):
        what = t("on {display}", display=item.display)
    else:
        what = ""
    if not what and concern.population in (Population.CHILD, Population.OLDER_ADULT):
        age = age_years(case)
        what = t("age {age}", age=age) if age is not None else ""
    if population and what:
        return t("{population} ({what})", population=population, what=what)
    return population or what or clinician_text(concern.reason)


def _unit(unit: str | None) -> str:
    """A UCUM unit for reading: annotations unwrapped ("mL/min/{1.73_m2}" -> "mL/min/1.73 m2")."""
    return (unit or "").replace("{", "").replace("}", "").replace("_", " ")


@dataclass(frozen=True)
class DrugChecker:
    """Drug knowledge bound to one process (built once by the app factory)."""

    catalogue: DrugCatalogue
    citations: CitationTable

    @classmethod
    def from_settings(cls, settings: "Settings") -> "DrugChecker":
        from inference.knowledge_base import load_knowledge

        return cls(DrugCatalogue.from_knowledge(load_knowledge(settings.knowledge_dir)), CitationTable.load(settings.knowledge_dir))

    def cite(self, text: str) -> tuple[str, str | None]:
        """(short label with year, link) of a rule's source from the citation table; the full
        reference text (minus internal notes) when the table does not know it."""
        reference = self.citations.resolve(text)
        if reference is not None:
            return reference.text(), reference.citation.url
        return clean_free_text(text) or t("a local default of this service (not from a guideline)"), None

    def reads(self, resource: Mapping[str, Any]) -> bool:
        """Whether the drug checks use this resource. Observations are kept only when coded as a
        laboratory result, blood pressure or pregnancy / breastfeeding status: a long record of
        skin scores and photographs costs FHIR validation time and changes nothing at ordering."""
        if resource.get("resourceType") != "Observation":
            return True
        findings = self._findings()
        for system, code, _ in codings(resource.get("code")):
            if (system, code) in codes.BP_PANEL_CODES or codes.finding_key(system, code) in findings:
                return True
        return False

    def _findings(self) -> frozenset[FindingKey]:
        return frozenset(
            {f for check in self.catalogue.checks.values() for f in check.finds}
            | codes.LAB_FINDINGS
            | _STATUS_FINDINGS
        )

    def identify(self, order: DraftOrder) -> Drug | None:
        """The psoriasis therapy an order names: by code (RxNorm ingredient, SNOMED procedure,
        ATC), else by the text the clinician sees (brand names included)."""
        for system, code, _ in order.codings:
            drug = self.catalogue.lookup_code(system, code)
            if drug is not None:
                return drug
        for text in (order.text, *(display for _, _, display in order.codings)):
            drug = self.catalogue.lookup_text(text)
            if drug is not None:
                return drug
        return None

    def _session_case(self, case: Case, order: DraftOrder, session_orders: Sequence[DraftOrder]) -> Case:
        """The record as it will be once the session's orders are signed, seen from `order`: the
        order itself is not yet therapy (a copy of it in the record is dropped, so a new order is
        not its own duplicate), while the session's other medicine orders count as current
        medicines (so ordering methotrexate and co-trimoxazole together is caught)."""
        in_session = {o.ref for o in session_orders if o.ref}
        kept = tuple(m for m in case.medications if m.source_ref not in in_session)
        added = tuple(
            MedicationEntry(
                key=(drug.id if (drug := self.identify(o)) else o.label.lower()),
                display=o.label,
                source_ref=o.ref or o.label,
                active=True,
                code=next((f"{s}|{c}" for s, c, _ in o.codings if s and c), None),
            )
            for o in session_orders
            if o is not order and o.resource_type == "MedicationRequest"
        )
        return dataclasses.replace(case, medications=kept + added)

    def problems(self, recognised: Sequence[tuple[DraftOrder, Drug]], session_orders: Sequence[DraftOrder], case: Case) -> list[OrderProblem]:
        """The problems with each recognised order; `session_orders` are all the draft orders of the
        ordering session (the recognised ones included)."""
        in_session = {o.ref for o in session_orders if o.ref}
        record = dataclasses.replace(case, medications=tuple(m for m in case.medications if m.source_ref not in in_session))
        on_record = {c.drug.id for c in self.catalogue.current(record)}
        found: list[OrderProblem] = []
        for order, drug in recognised:
            session = self._session_case(case, order, session_orders)
            # Renewing a medicine the patient is already on is a continuation: monitoring applies,
            # not the checks before starting.
            intent = DrugIntent.CONTINUE if drug.id in on_record else DrugIntent.START
            concerns = _one_per_trigger(self.catalogue.evaluate(drug, session, intent))
            found.extend(self._to_problems(order, drug, concerns, session))
        return found

    def _to_problems(self, order: DraftOrder, drug: Drug, concerns: Sequence[DrugConcern], case: Case) -> list[OrderProblem]:
        out: list[OrderProblem] = []
        missing = [c for c in concerns if c.kind is ConcernKind.MISSING_CHECK]
        for concern in concerns:
            if concern.kind is ConcernKind.MISSING_CHECK:
                continue
            alternative = self._alternative(concern, drug)
            cited = self.cite(concern.citation.text)
            other = None
            severity = concern.severity
            if concern.kind is ConcernKind.INTERACTION and self._contraindicated_combination(drug, concern):
                # A combination the label contraindicates is a contraindication: critical at order-sign.
                severity = Indicator.CRITICAL
            if concern.kind in (ConcernKind.INTERACTION, ConcernKind.DUPLICATE_THERAPY):
                partner = _evidence(case, concern.source_ref)
                other = partner.display if isinstance(partner, MedicationEntry) else None
            out.append(
                OrderProblem(
                    kind=concern.kind,
                    severity=severity,
                    order=order,
                    drug=_generic(drug.display),
                    headline=headline(concern, case) if concern.kind not in (ConcernKind.INTERACTION,) else _interaction_headline(concern),
                    reason=clinician_text(concern.reason),
                    citation=cited[0],
                    citation_url=cited[1],
                    alternative=alternative,
                    alternative_names=self._alternative_names(concern, drug),
                    other=other,
                )
            )
        if missing:
            # One card for all the checks missing before one medicine: each check is a suggestion.
            checks = tuple(self._check(c) for c in missing)
            worst = min(missing, key=lambda c: _URGENCY.index(c.severity))
            out.append(
                OrderProblem(
                    kind=ConcernKind.MISSING_CHECK,
                    severity=worst.severity,
                    order=order,
                    drug=_generic(drug.display),
                    headline=tjoin(", ", (c.display for c in checks)),
                    reason=t("No recent result on record for: {items}", items=tjoin(", ", (c.display for c in checks))),
                    citation=tjoin("; ", dict.fromkeys(self.cite(c.citation.text)[0] for c in missing)),
                    citation_url=next((url for c in missing if (url := self.cite(c.citation.text)[1])), None),
                    checks=checks,
                )
            )
        return out

    @staticmethod
    def _contraindicated_combination(drug: Drug, concern: DrugConcern) -> bool:
        """Whether the knowledge marks this interaction "contraindicated" (not just "caution"). The
        rule id names the partner group; it is matched here and never shown."""
        partner = concern.rule_id.rsplit(".", 1)[-1]
        return any(rule.get("with") == partner and rule.get("status") == "contraindicated" for rule in drug.rule.get("interactions", ()))

    def _check(self, concern: DrugConcern) -> Orderable:
        check = next((c for c in self.catalogue.checks.values() if concern.rule_id.endswith(f".{c.id}")), None)
        display = check.display if check is not None else (concern.order.display if concern.order else concern.reason)
        assert concern.order is not None, "a missing check names what to order"
        return Orderable(display=display, system=concern.order.system, code=concern.order.code)

    def _alternative_names(self, concern: DrugConcern, drug: Drug) -> tuple[str, ...]:
        if concern.kind is not ConcernKind.CONTRAINDICATED:
            return ()
        return tuple(alt.display for alt_id in concern.alternatives if (alt := self.catalogue.get(alt_id)) is not None and alt.id != drug.id)

    def _alternative(self, concern: DrugConcern, drug: Drug) -> Orderable | None:
        """The first of the guideline's preferred alternatives that one order can carry: a single
        medicine (one RxNorm ingredient) or a phototherapy procedure (SNOMED). A class such as
        "topical corticosteroid" is named in the detail but not ordered on the clinician's behalf."""
        if concern.kind is not ConcernKind.CONTRAINDICATED:
            return None
        for alt_id in concern.alternatives:
            alt = self.catalogue.get(alt_id)
            if alt is None or alt.id == drug.id:
                continue
            rxnorm = [c for c in alt.codings if c.system == RXNORM]
            if alt.therapy_class is TherapyClass.PHOTOTHERAPY:
                snomed = alt.coding(SNOMED)
                if snomed is not None:
                    return Orderable(display=alt.display, system=snomed.system, code=snomed.code, resource_type="ServiceRequest")
            elif len(rxnorm) == 1:
                return Orderable(display=alt.display, system=RXNORM, code=rxnorm[0].code, resource_type="MedicationRequest")
        return None


def _generic(display: str) -> str:
    """A drug's name as it reads mid-sentence: "Methotrexate" -> "methotrexate", acronyms kept
    ("PUVA", "NB-UVB")."""
    if len(display) > 1 and display[1].isupper():
        return display
    return t(display).lower_first()  # still the drug's name in the catalogue (甲氨蝶呤 in Chinese)


def _one_per_trigger(concerns: Sequence[DrugConcern]) -> list[DrugConcern]:
    """One concern per kind and record entry: cirrhosis is both "hepatic impairment" (a population)
    and "liver disease" (a condition) to the knowledge, but one problem to the prescriber. The
    concerns come most severe first, so the first one is kept."""
    seen: set[tuple[str, str]] = set()
    kept: list[DrugConcern] = []
    for concern in concerns:
        if concern.source_ref is not None:
            key = (concern.kind.value, concern.source_ref)
            if key in seen:
                continue
            seen.add(key)
        kept.append(concern)
    return kept


def _interaction_headline(concern: DrugConcern) -> str:
    """The interaction's note, without the "X with Y (ref):" preamble the card's summary already has."""
    text = clinician_text(concern.reason)
    return re.split(r": |：", text)[-1]


__all__ = ["DrugChecker", "clinician_text", "headline"]
