"""Hook contexts: the per-hook `context` object of a CDS Hooks request, parsed and validated.

Only the hooks derm3r serves are modelled. Unknown context fields are ignored (hooks may grow
fields in minor versions); the ones we use are checked for presence, type and FHIR id syntax."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from cds_hooks.errors import InvalidRequest
from cds_hooks.wire.fields import require_fhir_id, require_object, require_reference

PATIENT_VIEW = "patient-view"
ENCOUNTER_START = "encounter-start"

# userId reference types each hook allows (hook definitions in the CDS Hooks library).
_PATIENT_VIEW_USERS = ("Practitioner", "PractitionerRole", "Patient", "RelatedPerson")
_ENCOUNTER_START_USERS = ("Practitioner", "PractitionerRole")

# The user tokens the spec defines, keyed by the resource type in context.userId.
_USER_TOKENS = {
    "Practitioner": "userPractitionerId",
    "PractitionerRole": "userPractitionerRoleId",
    "Patient": "userPatientId",
    "RelatedPerson": "userRelatedPersonId",
}


@dataclass(frozen=True)
class HookContext:
    """The context fields derm3r uses. `encounter_id` is optional for patient-view and required for
    encounter-start (enforced by the parser for each hook)."""

    user_id: str  # "Practitioner/123"
    patient_id: str  # FHIR id, no type prefix
    encounter_id: str | None = None

    def tokens(self) -> dict[str, str]:
        """Prefetch token name -> value: root-level primitive context fields as `context.<name>`,
        plus the user identifier token derived from userId."""
        values = {"context.userId": self.user_id, "context.patientId": self.patient_id}
        if self.encounter_id is not None:
            values["context.encounterId"] = self.encounter_id
        rtype, _, rid = self.user_id.partition("/")
        values[_USER_TOKENS[rtype]] = rid
        return values


def _parse_patient_view(raw: Mapping[str, Any]) -> HookContext:
    return HookContext(
        user_id=require_reference(raw, "userId", "context", _PATIENT_VIEW_USERS),
        patient_id=require_fhir_id(raw, "patientId", "context") or "",
        encounter_id=require_fhir_id(raw, "encounterId", "context", required=False),
    )


def _parse_encounter_start(raw: Mapping[str, Any]) -> HookContext:
    return HookContext(
        user_id=require_reference(raw, "userId", "context", _ENCOUNTER_START_USERS),
        patient_id=require_fhir_id(raw, "patientId", "context") or "",
        encounter_id=require_fhir_id(raw, "encounterId", "context"),
    )


CONTEXT_PARSERS: dict[str, Callable[[Mapping[str, Any]], HookContext]] = {
    PATIENT_VIEW: _parse_patient_view,
    ENCOUNTER_START: _parse_encounter_start,
}

# Context fields each hook defines that are root-level primitives, i.e. usable as prefetch tokens.
TOKEN_FIELDS: dict[str, frozenset[str]] = {
    PATIENT_VIEW: frozenset({"context.userId", "context.patientId", "context.encounterId", *_USER_TOKENS.values()}),
    ENCOUNTER_START: frozenset({"context.userId", "context.patientId", "context.encounterId", *_USER_TOKENS.values()}),
}


def parse_context(hook: str, value: Any) -> HookContext:
    parser = CONTEXT_PARSERS.get(hook)
    if parser is None:
        raise InvalidRequest(f"hook {hook!r} is not supported by this service", expression="hook")
    return parser(require_object(value, "context"))
