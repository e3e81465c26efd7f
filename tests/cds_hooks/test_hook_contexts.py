"""One context class per hook (`cds_hooks.wire.context.CONTEXTS`): each parses its own hook's
context, declares its prefetch tokens, and is what the hook's handler receives."""

from __future__ import annotations

from typing import Any

import pytest

from cds_hooks.errors import InvalidRequest
from cds_hooks.registry import ServiceDefinition
from cds_hooks.services import default_registry
from cds_hooks.wire.context import (
    CONTEXTS,
    ENCOUNTER_START,
    ORDER_SELECT,
    ORDER_SIGN,
    PATIENT_VIEW,
    TOKEN_FIELDS,
    EncounterStartContext,
    HookContext,
    OrderContext,
    OrderSelectContext,
    OrderSignContext,
    PatientViewContext,
    parse_context,
)
from cds_hooks.wire.response import CdsResponse

ORDER = {"resourceType": "MedicationRequest", "id": "mr1", "status": "draft", "intent": "order", "subject": {"reference": "Patient/p1"}}
BASE = {"userId": "Practitioner/u1", "patientId": "p1"}
DRAFTS = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": ORDER}]}


def test_the_table_names_one_class_per_hook_and_each_class_its_hook() -> None:
    assert dict(CONTEXTS) == {
        PATIENT_VIEW: PatientViewContext,
        ENCOUNTER_START: EncounterStartContext,
        ORDER_SELECT: OrderSelectContext,
        ORDER_SIGN: OrderSignContext,
    }
    assert all(cls.HOOK == hook and TOKEN_FIELDS[hook] == cls.TOKENS for hook, cls in CONTEXTS.items())


def test_every_registered_service_has_a_context_class() -> None:
    assert {s.hook for s in default_registry()} <= set(CONTEXTS)


@pytest.mark.parametrize(
    "hook,raw,cls",
    [
        (PATIENT_VIEW, BASE, PatientViewContext),
        (ENCOUNTER_START, {**BASE, "encounterId": "e1"}, EncounterStartContext),
        (ORDER_SELECT, {**BASE, "draftOrders": DRAFTS, "selections": ["MedicationRequest/mr1"]}, OrderSelectContext),
        (ORDER_SIGN, {**BASE, "draftOrders": DRAFTS}, OrderSignContext),
    ],
)
def test_each_hook_is_parsed_into_its_own_class(hook: str, raw: dict, cls: type[HookContext]) -> None:
    context = parse_context(hook, raw)
    assert type(context) is cls
    assert context.tokens()["context.patientId"] == "p1"


def test_order_contexts_carry_orders_and_only_order_select_carries_selections() -> None:
    select = parse_context(ORDER_SELECT, {**BASE, "draftOrders": DRAFTS, "selections": ["MedicationRequest/mr1"]})
    sign = parse_context(ORDER_SIGN, {**BASE, "draftOrders": DRAFTS, "selections": ["MedicationRequest/mr1"]})
    assert isinstance(select, OrderContext) and isinstance(sign, OrderContext)
    assert select.draft_orders == (ORDER,) and select.selections == ("MedicationRequest/mr1",)
    assert sign.draft_orders == (ORDER,) and sign.selections == ()


@pytest.mark.parametrize(
    "entry,message,expression",
    [
        ({"resource": ORDER}, "context.draftOrders.entry must be an array", "context.draftOrders.entry"),
        (None, "context.draftOrders.entry must be an array", "context.draftOrders.entry"),
    ],
)
def test_a_malformed_draft_orders_bundle_is_a_400_at_its_path(entry: Any, message: str, expression: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_context(ORDER_SIGN, {**BASE, "draftOrders": {"resourceType": "Bundle", "entry": entry}})
    assert caught.value.message == message and caught.value.expression == expression


def test_encounter_start_needs_its_encounter_and_an_unknown_hook_is_refused() -> None:
    with pytest.raises(InvalidRequest):
        parse_context(ENCOUNTER_START, BASE)
    with pytest.raises(InvalidRequest):
        parse_context("appointment-book", BASE)


def test_a_service_for_a_hook_without_a_context_class_is_refused() -> None:
    def handler(call: Any, runtime: Any) -> CdsResponse:
        return CdsResponse(cards=())

    with pytest.raises(ValueError, match="no context model"):
        ServiceDefinition(id="x", hook="appointment-book", title="t", description="d", handler=handler)
