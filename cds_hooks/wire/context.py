"""Hook contexts: the per-hook `context` object of a CDS Hooks request, parsed and validated.

Only the hooks derm3r serves are modelled: patient-view, encounter-start, and the two ordering
hooks (order-select, order-sign), whose context also carries the draft orders (a FHIR Bundle) and,
for order-select, the ids of the orders just selected. Unknown context fields are ignored (hooks may grow
fields in minor versions); the ones we use are checked for presence, type and FHIR id syntax."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, Mapping

from cds_hooks.errors import InvalidRequest
from cds_hooks.wire.fields import FHIR_ID, require_fhir_id, require_object, require_reference
from fhir_mapping.errors import MalformedBundle
from fhir_mapping.searchset import entry_resources

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


# Context fields each hook defines that are root-level primitives, i.e. usable as prefetch tokens.
# draftOrders and selections are not: the hook library says services SHALL NOT use them in prefetch.
_PRIMITIVE_TOKENS = frozenset({"context.userId", "context.patientId", "context.encounterId", *_USER_TOKENS.values()})


@dataclass(frozen=True)
class HookContext:
    """What every hook's context has: the user, the patient and (optional here) the encounter.
    Each hook has its own subclass below, with its own parser and prefetch tokens; a handler is
    given the subclass of its hook (see `CONTEXTS`)."""

    HOOK: ClassVar[str]
    # Prefetch tokens the hook defines (root-level primitive context fields plus the user tokens).
    TOKENS: ClassVar[frozenset[str]] = _PRIMITIVE_TOKENS

    user_id: str  # "Practitioner/123"
    patient_id: str  # FHIR id, no type prefix
    encounter_id: str | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> "HookContext":
        raise NotImplementedError(f"{cls.__name__} is not a hook's context")

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
class PatientViewContext(HookContext):
    """patient-view: a chart is opened (encounterId optional)."""

    HOOK: ClassVar[str] = PATIENT_VIEW

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> "PatientViewContext":
        return cls(
            user_id=require_reference(raw, "userId", "context", _PATIENT_VIEW_USERS),
            patient_id=require_fhir_id(raw, "patientId", "context") or "",
            encounter_id=require_fhir_id(raw, "encounterId", "context", required=False),
        )


@dataclass(frozen=True)
class EncounterStartContext(HookContext):
    """encounter-start: an encounter begins (encounterId required)."""

    HOOK: ClassVar[str] = ENCOUNTER_START

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> "EncounterStartContext":
        return cls(
            user_id=require_reference(raw, "userId", "context", _ENCOUNTER_START_USERS),
            patient_id=require_fhir_id(raw, "patientId", "context") or "",
            encounter_id=require_fhir_id(raw, "encounterId", "context"),
        )


@dataclass(frozen=True)
class OrderContext(HookContext):
    """What the ordering hooks share. `draft_orders` are the Bundle's entry resources as sent (each a
    FHIR request resource; the service maps them); `selections` are the `Type/id` references of the
    orders just selected (order-select only; always among `draft_orders`)."""

    draft_orders: tuple[Mapping[str, Any], ...] = field(default=(), repr=False)
    selections: tuple[str, ...] = ()

    @classmethod
    def _parse_order(cls, raw: Mapping[str, Any], *, with_selections: bool) -> Any:
        orders = _parse_draft_orders(raw)
        patient_id = require_fhir_id(raw, "patientId", "context") or ""
        _check_subjects(orders, patient_id)
        return cls(
            user_id=require_reference(raw, "userId", "context", _ORDER_USERS),
            patient_id=patient_id,
            encounter_id=require_fhir_id(raw, "encounterId", "context", required=False),
            draft_orders=orders,
            selections=_parse_selections(raw, orders) if with_selections else (),
        )


@dataclass(frozen=True)
class OrderSelectContext(OrderContext):
    """order-select: orders were just chosen (`selections`) among the session's draft orders."""

    HOOK: ClassVar[str] = ORDER_SELECT

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> "OrderSelectContext":
        return cls._parse_order(raw, with_selections=True)


@dataclass(frozen=True)
class OrderSignContext(OrderContext):
    """order-sign: the draft orders are about to be signed (no selections)."""

    HOOK: ClassVar[str] = ORDER_SIGN

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> "OrderSignContext":
        return cls._parse_order(raw, with_selections=False)


def _parse_draft_orders(raw: Mapping[str, Any]) -> tuple[Mapping[str, Any], ...]:
    path = "context.draftOrders"
    if "draftOrders" not in raw or raw["draftOrders"] is None:
        raise InvalidRequest(f"{path} is required", expression=path)
    bundle = require_object(raw["draftOrders"], path)
    if bundle.get("resourceType") != "Bundle":
        raise InvalidRequest(f"{path} must be a FHIR Bundle", expression=f"{path}.resourceType")
    try:
        resources = entry_resources(bundle)
    except MalformedBundle as exc:
        raise InvalidRequest(f"{path}.{exc.message}", expression=f"{path}.{exc.element}") from exc
    if len(resources) > MAX_DRAFT_ORDERS:
        raise InvalidRequest(f"{path} holds more than {MAX_DRAFT_ORDERS} orders", expression=f"{path}.entry")
    orders: list[Mapping[str, Any]] = []
    seen: set[str] = set()
    for i, resource in enumerate(resources):
        where = f"{path}.entry[{i}].resource"
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


# The one table of hooks derm3r understands: hook -> its context class (parser and tokens).
CONTEXTS: Mapping[str, type[HookContext]] = MappingProxyType(
    {c.HOOK: c for c in (PatientViewContext, EncounterStartContext, OrderSelectContext, OrderSignContext)}
)
TOKEN_FIELDS: Mapping[str, frozenset[str]] = MappingProxyType({hook: c.TOKENS for hook, c in CONTEXTS.items()})


def parse_context(hook: str, value: Any) -> HookContext:
    """The context of `hook`, parsed by its class (an instance of `CONTEXTS[hook]`)."""
    cls = CONTEXTS.get(hook)
    if cls is None:
        raise InvalidRequest(f"hook {hook!r} is not supported by this service", expression="hook")
    return cls.parse(require_object(value, "context"))
