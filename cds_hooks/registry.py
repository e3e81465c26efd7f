"""The service registry: every CDS Service derm3r offers is declared once here (id, hook, title,
description, prefetch templates, handler). Discovery, routing and feedback are derived from it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping

from cds_hooks.errors import UnknownService
from cds_hooks.wire.context import ENCOUNTER_START, ORDER_SELECT, ORDER_SIGN, PATIENT_VIEW, TOKEN_FIELDS
from cds_hooks.wire.request import HookRequest
from cds_hooks.wire.response import CdsResponse, compact

if TYPE_CHECKING:
    from cds_hooks.runtime import Runtime



@dataclass(frozen=True)
class ServiceCall:
    """One validated call of a service: what a handler receives (never the raw JSON)."""

    request: HookRequest
    service: "ServiceDefinition"
    client_issuer: str | None = None  # `iss` of the verified client JWT (None with auth off)


Handler = Callable[[ServiceCall, "Runtime"], CdsResponse]

_TOKEN = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")
_SERVICE_ID = re.compile(r"^[A-Za-z0-9\-_.]{1,64}$")

# The prefetch keys derm3r requests. Each is a separate key (not one _include query) so that an EHR
# can satisfy any subset, and each uses only the spec's recommended query subset: an instance read,
# or a type-level search by patient reference, with `_sort` newest first where the record grows over
# time, so that whatever the bounded page count (DERM3R_FHIR_MAX_PAGES) cuts is the oldest data.
# Page size is left to the server (no `_count`).
PATIENT_KEY = "patient"
PREFETCH_TEMPLATES: Mapping[str, str] = MappingProxyType(
    {
        PATIENT_KEY: "Patient/{{context.patientId}}",
        "observations": "Observation?patient={{context.patientId}}&_sort=-date",
        "media": "Media?patient={{context.patientId}}&_sort=-created",
        "conditions": "Condition?patient={{context.patientId}}",
        "medicationStatements": "MedicationStatement?patient={{context.patientId}}",
        "medicationRequests": "MedicationRequest?patient={{context.patientId}}",
        "documents": "DocumentReference?patient={{context.patientId}}&_sort=-date",
    }
)

# The ordering hooks read no photographs (no image work while a clinician orders): the patient,
# the problem list, observations (laboratory results, vital signs, pregnancy status) and the
# medicines the patient is on. draftOrders itself is context, never a prefetch token (SHALL NOT).
ORDER_PREFETCH_TEMPLATES: Mapping[str, str] = MappingProxyType(
    {key: PREFETCH_TEMPLATES[key] for key in (PATIENT_KEY, "conditions", "observations", "medicationStatements", "medicationRequests")}
)


@dataclass(frozen=True)
class ServiceDefinition:
    id: str
    hook: str
    title: str
    description: str
    handler: Handler = field(repr=False)
    prefetch: Mapping[str, str] = field(default_factory=lambda: PREFETCH_TEMPLATES)
    # Keys without which no assessment is possible: missing and unobtainable -> 412.
    required_prefetch: frozenset[str] = frozenset({PATIENT_KEY})
    usage_requirements: str | None = None

    def __post_init__(self) -> None:
        if not _SERVICE_ID.match(self.id):
            raise ValueError(f"service id {self.id!r} is not URL-safe")
        allowed = TOKEN_FIELDS.get(self.hook)
        if allowed is None:
            raise ValueError(f"no context model for hook {self.hook!r}")
        for key, template in self.prefetch.items():
            for token in _TOKEN.findall(template):
                if token not in allowed:
                    raise ValueError(f"prefetch {key!r} uses {token!r}, not a root-level {self.hook} context token")
        missing = self.required_prefetch - set(self.prefetch)
        if missing:
            raise ValueError(f"required prefetch keys without a template: {sorted(missing)}")

    def to_discovery(self) -> dict[str, Any]:
        return compact(
            {
                "hook": self.hook,
                "title": self.title,
                "description": self.description,
                "id": self.id,
                "prefetch": dict(self.prefetch),
                "usageRequirements": self.usage_requirements,
            }
        )


def render_template(template: str, tokens: Mapping[str, str]) -> str | None:
    """Replace prefetch tokens; None if a token has no value in this request's context (the
    template then cannot be run, e.g. an optional encounterId that was not sent)."""
    missing = False

    def substitute(match: re.Match[str]) -> str:
        nonlocal missing
        value = tokens.get(match.group(1))
        if value is None:
            missing = True
            return ""
        return value

    rendered = _TOKEN.sub(substitute, template)
    return None if missing else rendered


class Registry:
    """An ordered, immutable set of services keyed by id."""

    def __init__(self, services: Iterable[ServiceDefinition]) -> None:
        by_id: dict[str, ServiceDefinition] = {}
        for service in services:
            if service.id in by_id:
                raise ValueError(f"duplicate service id {service.id!r}")
            by_id[service.id] = service
        self._by_id = MappingProxyType(by_id)

    def __iter__(self) -> Iterator[ServiceDefinition]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, service_id: str) -> ServiceDefinition:
        try:
            return self._by_id[service_id]
        except KeyError:
            raise UnknownService(f"no CDS Service with id {service_id!r}", expression="id") from None

    def discovery(self) -> dict[str, Any]:
        # `services` is the one array the spec wants even when empty.
        return {"services": [s.to_discovery() for s in self]}


_USAGE = (
    "Research demonstration, not for clinical use. Send the prefetch keys (or fhirServer + "
    "fhirAuthorization with read access to them); photographs as Media or DocumentReference with "
    "inline data or Binary references. AI output is preliminary and needs clinician review."
)


_ORDER_USAGE = (
    "Research demonstration, not for clinical use. Send draftOrders (MedicationRequest coded with "
    "RxNorm or named in text; ServiceRequest for phototherapy) and the prefetch keys (or fhirServer + "
    "fhirAuthorization with read access to them). No photographs are read."
)


def default_registry() -> Registry:
    """derm3r's services. Built by the app factory (not at import time)."""
    from cds_hooks.assessment_service import assess  # the handler imports the heavy layers
    from cds_hooks.order_service import check_orders

    return Registry(
        [
            ServiceDefinition(
                id="derm3r-patient-view",
                hook=PATIENT_VIEW,
                title="derm3r psoriasis assessment (DERM-3R agents)",
                description=(
                    "When a chart is opened: reads clinical photographs, scores and history, estimates "
                    "psoriasis severity (PASI from photos, PRELIMINARY), proposes guideline treatment steps "
                    "with contraindication checks, due comorbidity screenings and an integrative TCM "
                    "perspective, and offers a draft CarePlan."
                ),
                handler=assess,
                usage_requirements=_USAGE,
            ),
            ServiceDefinition(
                id="derm3r-encounter-start",
                hook=ENCOUNTER_START,
                title="derm3r psoriasis assessment at encounter start",
                description=(
                    "At the start of an encounter: the same DERM-3R assessment as derm3r-patient-view, "
                    "so the clinician sees severity, trend, screenings due and a draft CarePlan for the visit."
                ),
                handler=assess,
                usage_requirements=_USAGE,
            ),
            ServiceDefinition(
                id="derm3r-order-select",
                hook=ORDER_SELECT,
                title="derm3r psoriasis prescribing check (as an order is chosen)",
                description=(
                    "When a psoriasis medicine or phototherapy is selected: checks it against this patient's "
                    "record (pregnancy, tuberculosis, heart failure, bowel disease, liver and kidney function, "
                    "infection, age), the checks due before starting, interactions with current medicines and "
                    "duplicate therapy. Advisory; suggests removing or replacing the order and ordering missing checks."
                ),
                handler=check_orders,
                prefetch=ORDER_PREFETCH_TEMPLATES,
                usage_requirements=_ORDER_USAGE,
            ),
            ServiceDefinition(
                id="derm3r-order-sign",
                hook=ORDER_SIGN,
                title="derm3r psoriasis prescribing check (before signing)",
                description=(
                    "Before orders are signed: the same drug-safety checks as derm3r-order-select on every "
                    "draft order; a contraindication for this patient is flagged as critical."
                ),
                handler=check_orders,
                prefetch=ORDER_PREFETCH_TEMPLATES,
                usage_requirements=_ORDER_USAGE,
            ),
        ]
    )
