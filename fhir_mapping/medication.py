"""FHIR R4 MedicationStatement / MedicationRequest -> `inference.case.MedicationEntry`.

The medication is read from medicationCodeableConcept, or from medicationReference (its display, a
contained Medication, or a Medication resource found alongside in the prefetch). The key is the
treatment ladder's vocabulary (`codes.medication_key`); unknown drugs keep their generic name (the
first word of the name) so the clinician still sees them.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Mapping

from inference.case import MedicationEntry

from fhir_mapping import codes
from fhir_mapping.datatypes import Mapped, codings, concept_text, parse_date, reference_string, resource_ref, string

STATEMENT_ACTIVE = frozenset({"active", "intended", "on-hold", "unknown"})
STATEMENT_SKIPPED = frozenset({"entered-in-error", "not-taken"})
REQUEST_ACTIVE = frozenset({"active", "on-hold"})
REQUEST_SKIPPED = frozenset({"entered-in-error", "cancelled"})
REQUEST_SKIPPED_INTENTS = frozenset({"proposal"})  # suggestions (possibly ours), not therapy

_FIRST_WORD = re.compile(r"[a-z][a-z\-]+")


def _medication_concept(resource: dict, medications: Mapping[str, dict]) -> tuple[dict | None, str | None]:
    """(CodeableConcept, display) of the medication a statement/request is about."""
    concept = resource.get("medicationCodeableConcept")
    if isinstance(concept, dict):
        return concept, concept_text(concept)
    reference = resource.get("medicationReference")
    ref = reference_string(reference)
    display = reference.get("display") if isinstance(reference, dict) else None
    target: dict | None = None
    if ref and ref.startswith("#"):
        target = next((c for c in resource.get("contained") or [] if isinstance(c, dict)
                       and c.get("resourceType") == "Medication" and c.get("id") == ref[1:]), None)
    elif ref:
        target = medications.get(ref)
    if target is not None and isinstance(target.get("code"), dict):
        return target["code"], concept_text(target["code"]) or display
    return None, display if isinstance(display, str) else None


def _key(concept: dict | None, display: str | None) -> tuple[str | None, str | None]:
    """(medication key, "system|code") for the concept."""
    code_string = None
    for system, code, coding_display in codings(concept):
        if code_string is None and system and code:
            code_string = f"{system}|{code}"
        key = codes.medication_key_from_code(system, code) or codes.medication_key(coding_display)
        if key is not None:
            return key, f"{system}|{code}" if system and code else code_string
    key = codes.medication_key(display)
    if key is None and display:
        first = _FIRST_WORD.search(display.lower())
        key = first.group(0) if first else None
    return key, code_string


def map_medication(resource: dict, *, full_url: str | None = None,
                   medications: Mapping[str, dict] | None = None) -> Mapped[MedicationEntry]:
    """One MedicationEntry from a MedicationStatement or MedicationRequest (empty if skipped).

    `medications` maps "Medication/id" to Medication resources found alongside, for references.
    """
    ref = resource_ref(resource, full_url)
    status = string(resource.get("status"))
    if resource.get("resourceType") == "MedicationRequest":
        if status in REQUEST_SKIPPED or string(resource.get("intent")) in REQUEST_SKIPPED_INTENTS:
            return Mapped()
        active = status in REQUEST_ACTIVE
    else:
        if status in STATEMENT_SKIPPED:
            return Mapped()
        active = status in STATEMENT_ACTIVE
    concept, display = _medication_concept(resource, medications or {})
    key, code_string = _key(concept, display)
    if key is None:
        return Mapped()  # nothing readable: no name, no code the service knows
    return Mapped((MedicationEntry(key=key, display=display or key, source_ref=ref, active=active, code=code_string,
                                   start=_start(resource)),))


def _start(resource: dict) -> date | None:
    """When therapy began: effectivePeriod.start / effectiveDateTime (statements), authoredOn (requests)."""
    period = resource.get("effectivePeriod")
    if isinstance(period, dict) and parse_date(period.get("start")) is not None:
        return parse_date(period.get("start"))
    return parse_date(resource.get("effectiveDateTime")) or parse_date(resource.get("authoredOn"))
