"""The handler behind both derm3r services: resolve data -> build the case -> run the agents ->
cards, with an audit record per decision."""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
import time
import uuid
from cds_hooks.audit import record_answer
from cds_hooks.cards import CardInputs, build_cards
from cds_hooks.deadline import Deadline
from cds_hooks.errors import CdsError, InvalidRequest, ServiceUnavailable
from cds_hooks.limits import MAX_IMAGES, check_images
from cds_hooks.prefetch import FhirReader, PrefetchResolver, ResolvedData, is_allowed_server
from cds_hooks.registry import ServiceCall, ServiceDefinition
from cds_hooks.runtime import Runtime
from cds_hooks.wire.context import HookContext
from cds_hooks.wire.request import HookRequest
from cds_hooks.wire.response import CdsResponse
from fhir_mapping.case_builder import build_case, psoriasis_condition_refs
from fhir_mapping.errors import FhirError, FhirUnavailable, InvalidResource
from fhir_mapping.writeback import assessment_resources
from inference.case import Case, ConditionKey, FindingKey
from inference.results import Assessment
from inference.time_budget import photo_time_budget

log = logging.getLogger(__name__)

# Findings that make a record dermatologically relevant even without a psoriasis diagnosis.
_DERM_FINDINGS = frozenset({FindingKey.PASI, FindingKey.BSA_PERCENT, FindingKey.PGA, FindingKey.DLQI})


def is_relevant(case: Case) -> bool:
    """Only charts with psoriasis, photographs or skin scores get cards; everyone else gets the
    spec's empty answer instead of noise."""
    return (
        case.has_condition(ConditionKey.PSORIASIS)
        or bool(case.photos)
        or any(f.key in _DERM_FINDINGS for f in case.findings)
    )


class _AttachmentFetcher:
    """`fetch_attachment` for the case builder: one FHIR client, opened on the first referenced
    photo (inline photos need none), bounded by the request deadline, closed by `close`."""

    def __init__(self, resolved: ResolvedData, deadline: Deadline) -> None:
        self._open = resolved.open_reader
        self._deadline = deadline
        self._reader: FhirReader | None = None

    def __call__(self, url: str) -> bytes:
        if self._open is None:
            raise FhirUnavailable("the request has no fhirServer to fetch the photograph from")
        if self._deadline.expired():
            raise FhirUnavailable("request deadline passed before the photograph could be fetched")
        if self._reader is None:
            self._reader = self._open()
        return self._reader.attachment(url)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()


def build_case_for(request: HookRequest, resolved: ResolvedData, runtime: Runtime, deadline: Deadline) -> Case:
    fetcher = _AttachmentFetcher(resolved, deadline)
    try:
        case = build_case(
            list(resolved.resources),
            patient_id=request.context.patient_id,
            as_of=runtime.clock(),
            fetch_attachment=fetcher,
            # Never more photos than the per-request image budget allows.
            max_photos=min(runtime.settings.max_photos, MAX_IMAGES),
        )
    except InvalidResource as exc:
        raise InvalidRequest(f"FHIR data could not be read: {exc.message}", expression="prefetch") from exc
    except FhirError as exc:
        raise ServiceUnavailable(f"FHIR data could not be fetched: {exc.message}") from exc
    finally:
        fetcher.close()
    check_images(len(p.data) for p in case.photos)
    if resolved.issues:
        case = dataclasses.replace(case, issues=case.issues + resolved.issues)
    return case


def assess(call: ServiceCall[HookContext], runtime: Runtime) -> CdsResponse:
    """patient-view and encounter-start: it reads only what every hook context has (patient, user)."""
    request, service = call.request, call.service
    started = time.monotonic()
    settings = runtime.settings
    # Two clocks: FHIR calls share DERM3R_DEADLINE; the whole request (FHIR, photo decoding, agents)
    # shares DERM3R_REQUEST_BUDGET, so a hostile photo or a slow chart cannot hold a worker for long.
    budget = Deadline(max(settings.request_budget_seconds, settings.request_deadline_seconds))
    deadline = Deadline(settings.request_deadline_seconds)
    resolver = PrefetchResolver.for_request(settings, runtime.client_factory, deadline)
    resolved = resolver.resolve(request, service)
    case = build_case_for(request, resolved, runtime, deadline)

    assessment: Assessment | None = None
    if is_relevant(case):
        inference_started = time.monotonic()
        # Photos not read before the budget runs out are reported as such on the card.
        with photo_time_budget(budget.remaining()):
            assessment = runtime.pipeline.assess(case)
        if runtime.metrics is not None:
            runtime.metrics.inference.observe(time.monotonic() - inference_started)
        response = respond(assessment, case, request, service, runtime)
    else:
        response = CdsResponse(cards=())
    record_answer(runtime, call, origins=resolved.origins, case=case, assessment=assessment, response=response, started=started)
    return response


def _review_record(
    assessment: Assessment, case: Case, resources: list[dict], request: HookRequest, service: ServiceDefinition, runtime: Runtime, card_uuid: str
) -> str | None:
    """The review app's record id, or None: the review link is an extra, so a failure to store the
    record costs the card its link, not the clinician the whole answer."""
    if runtime.review_store is None:
        return None
    # Bind the record to the hook's FHIR server, checked against the allow-list here (issue 12): the
    # review API sends the clinician's SMART token to that server. Without an allow-listed server
    # there is nobody to check a token with, so no record (the card goes out without the link).
    if request.fhir_server is None or not is_allowed_server(request.fhir_server, runtime.settings.fhir_allowlist):
        log.info("no review record: the request's fhirServer is absent or not on the allow-list")
        return None
    try:
        return runtime.review_store.put(
            assessment, case, resources, fhir_server=request.fhir_server, service_id=service.id, card_uuid=card_uuid
        )
    except (ValueError, OSError, sqlite3.Error, CdsError) as exc:
        log.warning("review record not stored (%s); the card goes out without its review link", type(exc).__name__)
        return None


def respond(assessment: Assessment, case: Case, request: HookRequest, service: ServiceDefinition, runtime: Runtime) -> CdsResponse:
    resources = assessment_resources(assessment, condition_refs=psoriasis_condition_refs(case))
    card_uuid = str(uuid.uuid4())
    review_id = _review_record(assessment, case, resources, request, service, runtime, card_uuid)
    inputs = CardInputs(
        assessment=assessment,
        case=case,
        resources=tuple(resources),
        public_base_url=runtime.settings.public_base_url,
        assessment_uuid=card_uuid,
        review_id=review_id,
    )
    return CdsResponse(cards=build_cards(inputs))
