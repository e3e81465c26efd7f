"""The draft orders of an ordering hook (order-select / order-sign `draftOrders`) -> what is being
ordered, in terms the drug knowledge can look up: the order's reference, its codings (RxNorm for
medicines, SNOMED/LOINC/CPT for procedures such as phototherapy) and its text.

A MedicationRequest names its medicine in medicationCodeableConcept, or by medicationReference to a
contained Medication or one listed alongside in the Bundle; a ServiceRequest names the procedure in
`code`. Orders whose status says they are no longer live (entered-in-error, cancelled, revoked,
completed) are skipped: nothing is being decided about them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from fhir_mapping.datatypes import codings, concept_text, reference_string, string

# Statuses of an order the clinician is still deciding about (draft is the hook's norm; EHRs also
# send active/on-hold for orders signed in the same session).
_SKIPPED_STATUSES = frozenset({"entered-in-error", "cancelled", "revoked", "completed", "stopped"})


@dataclass(frozen=True)
class DraftOrder:
    """One order under review."""

    resource_type: str  # "MedicationRequest", "ServiceRequest", ...
    ref: str | None  # "MedicationRequest/abc" (None when the EHR sent no id: no delete action then)
    codings: tuple[tuple[str | None, str | None, str | None], ...]  # (system, code, display)
    text: str | None  # the name as the clinician sees it
    status: str | None

    @property
    def label(self) -> str:
        """A display name for cards: the text, else a coding display, else the resource type."""
        if self.text:
            return self.text
        for _, _, display in self.codings:
            if display:
                return display
        return self.resource_type


def _medication_concept(order: Mapping[str, Any], medications: Mapping[str, Mapping[str, Any]]) -> tuple[Any, str | None]:
    concept = order.get("medicationCodeableConcept")
    if isinstance(concept, dict):
        return concept, concept_text(concept)
    reference = order.get("medicationReference")
    ref = reference_string(reference)
    display = string(reference.get("display")) if isinstance(reference, dict) else None
    target: Mapping[str, Any] | None = None
    if ref and ref.startswith("#"):
        target = next(
            (c for c in order.get("contained") or [] if isinstance(c, dict) and c.get("resourceType") == "Medication" and c.get("id") == ref[1:]),
            None,
        )
    elif ref:
        target = medications.get(ref)
    if target is not None and isinstance(target.get("code"), dict):
        return target["code"], concept_text(target["code"]) or display
    return None, display


def map_draft_orders(resources: Iterable[Mapping[str, Any]]) -> tuple[DraftOrder, ...]:
    """The live orders among `resources` (the draftOrders Bundle's entries), in Bundle order."""
    resources = list(resources)
    medications = {
        f"Medication/{r['id']}": r for r in resources if r.get("resourceType") == "Medication" and isinstance(r.get("id"), str)
    }
    out: list[DraftOrder] = []
    for order in resources:
        rtype = order.get("resourceType")
        if not isinstance(rtype, str) or rtype == "Medication":
            continue
        status = string(order.get("status"))
        if status in _SKIPPED_STATUSES:
            continue
        if rtype == "MedicationRequest":
            concept, text = _medication_concept(order, medications)
        else:
            concept = order.get("code")
            text = concept_text(concept)
        rid = order.get("id")
        out.append(
            DraftOrder(
                resource_type=rtype,
                ref=f"{rtype}/{rid}" if isinstance(rid, str) and rid else None,
                codings=tuple(codings(concept)),
                text=text,
                status=status,
            )
        )
    return tuple(out)


__all__ = ["DraftOrder", "map_draft_orders"]
