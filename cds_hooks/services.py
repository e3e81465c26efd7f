"""derm3r's CDS Services, declared once: id, hook, title, description, prefetch templates and the
handler of each. Discovery, routing and feedback are derived from `default_registry()`.

Adding a hook is an entry here, a handler, and (if its context differs) a context class in
`cds_hooks.wire.context`. This module sits above the handlers it names; nothing on the request path
imports it, so the registry and the handlers never import each other."""

from __future__ import annotations

from cds_hooks.assessment_service import assess
from cds_hooks.order_service import check_orders
from cds_hooks.registry import Registry, ServiceDefinition
from cds_hooks.wire.context import ENCOUNTER_START, ORDER_SELECT, ORDER_SIGN, PATIENT_VIEW
from fhir_mapping.queries import ORDER_PREFETCH_TEMPLATES, PHOTO_TYPES

_USAGE = (
    "Research demonstration, not for clinical use. Send the prefetch keys (or fhirServer + "
    f"fhirAuthorization with read access to them); photographs as {' or '.join(PHOTO_TYPES)} with "
    "inline data or Binary references. AI output is preliminary and needs clinician review."
)


_ORDER_USAGE = (
    "Research demonstration, not for clinical use. Send draftOrders (MedicationRequest coded with "
    "RxNorm or named in text; ServiceRequest for phototherapy) and the prefetch keys (or fhirServer + "
    "fhirAuthorization with read access to them). No photographs are read."
)


def default_registry() -> Registry:
    """derm3r's services. Built by the app factory (not at import time)."""
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


__all__ = ["default_registry"]
