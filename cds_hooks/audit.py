"""Audit records: one per decision, with references and versions only - never PHI values, prefetch
content or tokens. The store chains them (append-only, hash-linked)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from inference.case import Case
from inference.results import Assessment
from cds_hooks.wire.response import CdsResponse

if TYPE_CHECKING:
    from cds_hooks.registry import ServiceCall
    from cds_hooks.runtime import Runtime


def decision_record(
    *,
    at: datetime,
    service_id: str,
    hook: str,
    hook_instance: str,
    client_issuer: str | None,
    origins: Mapping[str, str],
    case: Case | None,
    assessment: Assessment | None,
    response: CdsResponse,
    duration_ms: float,
) -> dict[str, Any]:
    """The audit record of one service call. Input references name *which* resources were used
    ("Observation/7"), not what they say."""
    inputs: list[str] = []
    if case is not None:
        inputs = sorted(
            {case.patient.ref}
            | {f.source_ref for f in case.findings}
            | {c.source_ref for c in case.conditions}
            | {m.source_ref for m in case.medications}
            | {p.ref for p in case.photos}
        )
    record: dict[str, Any] = {
        "type": "cds-decision",
        "at": at.isoformat(),
        "service": service_id,
        "hook": hook,
        "hookInstance": hook_instance,
        "client": client_issuer,
        "prefetch": dict(origins),
        "inputs": inputs,
        "cards": [c.uuid for c in response.cards],
        "suggestions": [s.uuid for c in response.cards for s in c.suggestions],
        "durationMs": round(duration_ms, 1),
    }
    if assessment is not None:
        record["modelVersion"] = assessment.model_version
        record["knowledgeVersion"] = assessment.knowledge_version
    return record


def feedback_record(*, at: datetime, service_id: str, client_issuer: str | None, cards: Iterable[str], stored: int, duplicates: int) -> dict[str, Any]:
    return {
        "type": "cds-feedback",
        "at": at.isoformat(),
        "service": service_id,
        "client": client_issuer,
        "cards": sorted(set(cards)),
        "stored": stored,
        "duplicates": duplicates,
    }


def record_answer(runtime: "Runtime", call: "ServiceCall", *, origins: Mapping[str, str], case: Case | None,
                  assessment: Assessment | None, response: CdsResponse, started: float) -> None:
    """What every hook answer leaves behind: its cards registered as issued to this client (feedback
    is accepted for those alone) and one audit record. `started` is a time.monotonic() reading."""
    request, service = call.request, call.service
    runtime.store.record_issued_cards(service.id, call.client_issuer, [card.uuid for card in response.cards if card.uuid])
    runtime.store.append_audit(
        decision_record(
            at=runtime.clock(),
            service_id=service.id,
            hook=request.hook,
            hook_instance=request.hook_instance,
            client_issuer=call.client_issuer,
            origins=origins,
            case=case,
            assessment=assessment,
            response=response,
            duration_ms=(time.monotonic() - started) * 1000.0,
        )
    )
