"""Turning a FHIR Bundle of one patient's record into a CDS Hooks request with prefetch, the way an
EHR would satisfy derm3r's prefetch templates, and draft orders into an ordering hook's context.
Used by `derm3r assess`, `derm3r demo`, tests and benchmarks; never by the service itself."""

from __future__ import annotations

import uuid
from typing import Any, Iterator, Mapping

from cds_hooks.registry import ServiceDefinition
from cds_hooks.wire.context import ORDER_SELECT


def bundle_resources(bundle: Mapping[str, Any]) -> Iterator[dict]:
    if bundle.get("resourceType") != "Bundle":
        raise ValueError("expected a FHIR Bundle")
    for entry in bundle.get("entry") or ():
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and "resourceType" in resource:
            yield resource


def bundle_patient_id(bundle: Mapping[str, Any]) -> str:
    patients = [r for r in bundle_resources(bundle) if r["resourceType"] == "Patient"]
    if len(patients) != 1 or not isinstance(patients[0].get("id"), str):
        raise ValueError("the Bundle must hold exactly one Patient with an id")
    return patients[0]["id"]


def _template_type(template: str) -> str:
    return template.split("?", 1)[0].split("/", 1)[0]


def prefetch_from_bundle(bundle: Mapping[str, Any], service: ServiceDefinition) -> dict[str, Any]:
    """One value per prefetch key: the Patient for the read template, a searchset Bundle (possibly
    empty) for each search template. Binary resources referenced by photos are not prefetchable (no
    template asks for them), so photos in the Bundle should carry inline data."""
    resources = list(bundle_resources(bundle))
    prefetch: dict[str, Any] = {}
    for key, template in service.prefetch.items():
        rtype = _template_type(template)
        matching = [r for r in resources if r["resourceType"] == rtype]
        if "?" not in template:
            prefetch[key] = matching[0] if matching else None
        else:
            prefetch[key] = {
                "resourceType": "Bundle",
                "type": "searchset",
                "total": len(matching),
                "entry": [{"fullUrl": f"{rtype}/{r.get('id', '')}", "resource": r, "search": {"mode": "match"}} for r in matching],
            }
    return prefetch


def hook_request(
    service: ServiceDefinition,
    patient_id: str,
    *,
    prefetch: Mapping[str, Any] | None = None,
    user_id: str = "Practitioner/derm3r-demo",
    encounter_id: str | None = None,
    fhir_server: str | None = None,
    fhir_authorization: Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A CDS Hooks request body for `service`; `context` adds hook-specific fields (e.g. the
    draftOrders of order-sign)."""
    context = {"userId": user_id, "patientId": patient_id, **(context or {})}
    if encounter_id is not None:
        context["encounterId"] = encounter_id
    body: dict[str, Any] = {"hook": service.hook, "hookInstance": str(uuid.uuid4()), "context": context}
    if fhir_server is not None:
        body["fhirServer"] = fhir_server
    if fhir_authorization is not None:
        body["fhirAuthorization"] = dict(fhir_authorization)
    if prefetch is not None:
        body["prefetch"] = dict(prefetch)
    return body


def order_context(hook: str, orders: Mapping[str, Any]) -> dict[str, Any]:
    """The ordering hooks' context as an EHR sends it: `draftOrders` (a Bundle) from one FHIR request
    resource or a Bundle of them; for order-select also `selections` = every order (Medication
    resources referenced by the orders are not orders)."""
    bundle = dict(orders) if orders.get("resourceType") == "Bundle" else {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": dict(orders)}]}
    context: dict[str, Any] = {"draftOrders": bundle}
    if hook == ORDER_SELECT:
        context["selections"] = [
            f"{e['resource']['resourceType']}/{e['resource']['id']}"
            for e in bundle.get("entry") or []
            if isinstance(e, dict) and isinstance(e.get("resource"), dict) and e["resource"].get("id") and e["resource"].get("resourceType") != "Medication"
        ]
    return context
