"""Hook contexts: the per-hook `context` object of a CDS Hooks request, parsed and validated.

Only the hooks derm3r serves are modelled: patient-view, encounter-start, and the two ordering
hooks (order-select, order-sign), whose context also carries the draft orders (a FHIR Bundle) and,
for order-select, the ids of the orders just selected. Unknown context fields are ignored (hooks may grow
fields in minor versions); the ones we use are checked for presence, type and FHIR id syntax."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from cds_hooks.errors import InvalidRequest
from cds_hooks.wire.fields import FHIR_ID, require_fhir_id, require_object, require_reference

PATIENT_VIEW = "patient-view"
ENCOUNTER_START = "encounter-start"
ORDER_SELECT = "order-select"
ORDER_SIGN = "order-sign"

# Resource types the ordering hooks allow in draftOrders (order-select / order-sign definitions;
# DeviceRequest and friends were added in later versions of the hook library).
DRAFT_ORDER_TYPES = frozenset(
    {
        "MedicationRequest",
        "NutritionOrder",
        "ServiceRequest",
        "VisionPrescription",
        "DeviceRequest",
        "SupplyRequest",
        "ImmunizationRecommendation",
        "CommunicationRequest",
    }
)
MAX_DRAFT_ORDERS = 100  # an ordering session is a handful of orders; thousands is a bug or an attack
_ORDER_USERS = ("Practitioner", "PractitionerRole")

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


@dataclass(frozen=True)
class OrderContext(HookContext):
    """order-select / order-sign context. `draft_orders` are the Bundle's entry resources as sent
    (each a FHIR request resource; the service maps them); `selections` are the `Type/id` references
    of the orders just selected (order-select only; always among `draft_orders`)."""

    draft_orders: tuple[Mapping[str, Any], ...] = field(default=(), repr=False)
    selections: tuple[str, ...] = ()


def _parse_draft_orders(raw: Mapping[str, Any]) -> tuple[Mapping[str, Any], ...]:
    path = "context.draftOrders"
    if "draftOrders" not in raw or raw["draftOrders"] is None:
        raise InvalidRequest(f"{path} is required", expression=path)
    bundle = require_object(raw["draftOrders"], path)
    if bundle.get("resourceType") != "Bundle":
        raise InvalidRequest(f"{path} must be a FHIR Bundle", expression=f"{path}.resourceType")
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        raise InvalidRequest(f"{path}.entry must be an array", expression=f"{path}.entry")
    if len(entries) > MAX_DRAFT_ORDERS:
        raise InvalidRequest(f"{path} holds more than {MAX_DRAFT_ORDERS} orders", expression=f"{path}.entry")
    orders: list[Mapping[str, Any]] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        where = f"{path}.entry[{i}].resource"
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            raise InvalidRequest(f"{where} must be a FHIR resource", expression=where)
        rtype = resource.get("resourceType")
        # A Medication may travel beside the MedicationRequest that references it.
        if rtype not in DRAFT_ORDER_TYPES and rtype != "Medication":
            raise InvalidRequest(f"{where} must be a request resource (e.g. MedicationRequest, ServiceRequest)", expression=f"{where}.resourceType")
        rid = resource.get("id")
        if rid is not None:
            if not isinstance(rid, str) or not FHIR_ID.match(rid):
                raise InvalidRequest(f"{where}.id must be a FHIR id", expression=f"{where}.id")
            if f"{rtype}/{rid}" in seen:
                raise InvalidRequest(f"{path} lists {rtype}/{rid} twice", expression=f"{where}.id")
            seen.add(f"{rtype}/{rid}")
        orders.append(resource)
    return tuple(orders)


def _parse_selections(raw: Mapping[str, Any], orders: tuple[Mapping[str, Any], ...]) -> tuple[str, ...]:
    path = "context.selections"
    value = raw.get("selections")
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidRequest(f"{path} must be an array of strings", expression=path)
    known = {f"{o.get('resourceType')}/{o.get('id')}" for o in orders if o.get("id") is not None}
    for ref in value:
        # The hook defines selections as ids of orders in draftOrders; one that is not there would
        # make us evaluate nothing and answer "all clear", so refuse it instead.
        if ref not in known:
            raise InvalidRequest(f"{path} names {ref[:80]!r}, which is not in context.draftOrders", expression=path)
    return tuple(dict.fromkeys(value))


def _check_subjects(orders: tuple[Mapping[str, Any], ...], patient_id: str) -> None:
    """An order for another patient in this patient's ordering session is a safety problem (it
    would be judged against the wrong record): refuse it rather than guess."""
    for i, order in enumerate(orders):
        subject = order.get("subject")
        ref = subject.get("reference") if isinstance(subject, dict) else None
        if isinstance(ref, str) and ref.startswith("Patient/") and ref != f"Patient/{patient_id}":
            where = f"context.draftOrders.entry[{i}].resource.subject"
            raise InvalidRequest("a draft order is for a different patient than context.patientId", expression=where)


def _parse_order(raw: Mapping[str, Any], *, with_selections: bool) -> OrderContext:
    orders = _parse_draft_orders(raw)
    patient_id = require_fhir_id(raw, "patientId", "context") or ""
    _check_subjects(orders, patient_id)
    return OrderContext(
        user_id=require_reference(raw, "userId", "context", _ORDER_USERS),
        patient_id=patient_id,
        encounter_id=require_fhir_id(raw, "encounterId", "context", required=False),
        draft_orders=orders,
        selections=_parse_selections(raw, orders) if with_selections else (),
    )


def _parse_order_select(raw: Mapping[str, Any]) -> HookContext:
    return _parse_order(raw, with_selections=True)


def _parse_order_sign(raw: Mapping[str, Any]) -> HookContext:
    return _parse_order(raw, with_selections=False)


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
    ORDER_SELECT: _parse_order_select,
    ORDER_SIGN: _parse_order_sign,
}

# Context fields each hook defines that are root-level primitives, i.e. usable as prefetch tokens.
# draftOrders and selections are not: the hook library says services SHALL NOT use them in prefetch.
_PRIMITIVE_TOKENS = frozenset({"context.userId", "context.patientId", "context.encounterId", *_USER_TOKENS.values()})
TOKEN_FIELDS: dict[str, frozenset[str]] = {
    PATIENT_VIEW: _PRIMITIVE_TOKENS,
    ENCOUNTER_START: _PRIMITIVE_TOKENS,
    ORDER_SELECT: _PRIMITIVE_TOKENS,
    ORDER_SIGN: _PRIMITIVE_TOKENS,
}


def parse_context(hook: str, value: Any) -> HookContext:
    parser = CONTEXT_PARSERS.get(hook)
    if parser is None:
        raise InvalidRequest(f"hook {hook!r} is not supported by this service", expression="hook")
    return parser(require_object(value, "context"))
