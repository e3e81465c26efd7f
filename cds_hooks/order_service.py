"""The handler behind derm3r-order-select and derm3r-order-sign: draft orders -> the drug knowledge
for this patient -> one card per problem, with an audit record per decision.

No image work happens here (the ordering hooks prefetch no photographs and the case is built with
`max_photos=0`): a clinician is waiting on the order screen. Orders for medicines the knowledge does
not cover are not looked at further, and when no order is recognised the patient's record is not
even read: the answer is the spec's empty `{"cards": []}`."""

from __future__ import annotations

import dataclasses
import logging
import time

from cds_hooks.audit import record_answer
from cds_hooks.deadline import Deadline
from cds_hooks.errors import InvalidRequest, ServiceUnavailable
from cds_hooks.order_cards import OrderCardContext, order_cards
from cds_hooks.order_checks import DrugChecker
from cds_hooks.prefetch import PrefetchResolver
from cds_hooks.registry import ServiceCall
from cds_hooks.runtime import Runtime
from cds_hooks.wire.context import OrderContext
from cds_hooks.wire.response import CdsResponse
from fhir_mapping.case_builder import build_case
from fhir_mapping.draft_orders import DraftOrder, map_draft_orders
from fhir_mapping.errors import FhirError, InvalidResource
from inference.case import Case

log = logging.getLogger(__name__)


def orders_to_check(context: OrderContext) -> tuple[tuple[DraftOrder, ...], tuple[DraftOrder, ...]]:
    """(orders to evaluate, the other orders of the session). order-select looks at what was just
    selected (all drafts when the EHR sent no selections); order-sign at every draft."""
    orders = map_draft_orders(context.draft_orders)
    if not context.selections:
        return orders, ()
    chosen = set(context.selections)
    return tuple(o for o in orders if o.ref in chosen), tuple(o for o in orders if o.ref not in chosen)


def _checker(runtime: Runtime) -> DrugChecker:
    if runtime.drug_checker is None:
        raise RuntimeError("the app factory did not load the drug knowledge")
    return runtime.drug_checker


def _case(call: ServiceCall[OrderContext], runtime: Runtime, deadline: Deadline, checker: DrugChecker) -> tuple[Case, dict[str, str]]:
    request, service = call.request, call.service
    resolver = PrefetchResolver.for_request(runtime.settings, runtime.client_factory, deadline)
    resolved = resolver.resolve(request, service)
    try:
        used = [r for r in resolved.resources if checker.reads(r)]
        case = build_case(used, patient_id=request.context.patient_id, as_of=runtime.clock(), max_photos=0)
    except InvalidResource as exc:
        raise InvalidRequest(f"FHIR data could not be read: {exc.message}", expression="prefetch") from exc
    except FhirError as exc:
        raise ServiceUnavailable(f"FHIR data could not be fetched: {exc.message}") from exc
    if resolved.issues:
        case = dataclasses.replace(case, issues=case.issues + resolved.issues)
    return case, dict(resolved.origins)


def check_orders(call: ServiceCall[OrderContext], runtime: Runtime) -> CdsResponse:
    request = call.request
    context = request.context
    if not isinstance(context, OrderContext):  # the registry pairs this handler with order hooks only (checked: a slip would read no orders)
        raise TypeError("check_orders serves order-select / order-sign only")
    started = time.monotonic()
    checker = _checker(runtime)
    targets, others = orders_to_check(context)
    recognised = [(order, drug) for order in targets if (drug := checker.identify(order)) is not None]

    case: Case | None = None
    origins: dict[str, str] = {}
    if recognised:
        case, origins = _case(call, runtime, Deadline(runtime.settings.request_deadline_seconds), checker)
        problems = checker.problems(recognised, targets + others, case)
        card_context = OrderCardContext(
            hook=request.hook,
            patient_id=context.patient_id,
            user_id=context.user_id,
            encounter_id=context.encounter_id,
            public_base_url=runtime.settings.public_base_url,
        )
        response = CdsResponse(cards=order_cards(problems, card_context))
    else:
        response = CdsResponse(cards=())
    record_answer(runtime, call, origins=origins, case=case, assessment=None, response=response, started=started)
    return response


__all__ = ["check_orders", "orders_to_check"]
