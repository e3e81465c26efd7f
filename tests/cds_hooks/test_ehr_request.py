"""The EHR side used by `derm3r assess`, the demo and tests: draft orders -> an ordering hook's context."""

from __future__ import annotations

from cds_hooks.demo.ehr_request import order_context
from cds_hooks.wire.context import ORDER_SELECT, ORDER_SIGN

ORDER = {"resourceType": "MedicationRequest", "id": "mr-1", "status": "draft", "intent": "order"}
MEDICATION = {"resourceType": "Medication", "id": "med-1"}
SERVICE_REQUEST = {"resourceType": "ServiceRequest", "id": "sr-1", "status": "draft", "intent": "order"}


def test_one_order_becomes_a_collection_bundle_without_selections_at_order_sign() -> None:
    context = order_context(ORDER_SIGN, ORDER)
    assert context == {"draftOrders": {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": ORDER}]}}


def test_order_select_selects_every_order_but_not_referenced_medications() -> None:
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": ORDER}, {"resource": MEDICATION}, {"resource": SERVICE_REQUEST}, {"resource": {"resourceType": "MedicationRequest"}}]}
    context = order_context(ORDER_SELECT, bundle)
    assert context["draftOrders"] == bundle
    assert context["selections"] == ["MedicationRequest/mr-1", "ServiceRequest/sr-1"]
