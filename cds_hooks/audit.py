"""Audit records: one per decision, with references and versions only - never PHI values, prefetch
content or tokens. The store chains them (append-only, hash-linked)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Mapping

from inference.case import Case
from inference.results import Assessment
from cds_hooks.wire.response import CdsResponse


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
