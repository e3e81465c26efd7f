"""Shared pieces of every resource the service writes: deterministic ids, `urn:uuid:` references,
the AI-asserted tag and FHIR date formats.

Ids are uuid5 of (patient reference, as_of, kind) in a fixed namespace, so a retried request produces
the same resources and a conditional create (`ifNoneExist` on the identifier) makes it idempotent.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from fhir_mapping import codes
from inference.i18n import DEFAULT_LANGUAGE, current_language, localize

# Fixed forever: changing it would change every id the service has ever written.
NAMESPACE = uuid.UUID("3c8b1f9e-5d0a-5b7e-9a44-6f2d8e1c0b37")


def resource_id(patient_ref: str, as_of: datetime, kind: str) -> str:
    """Deterministic id for the resource of `kind` written for `patient_ref` at `as_of`."""
    return str(uuid.uuid5(NAMESPACE, f"{patient_ref}|{instant(as_of)}|{kind}"))


def urn(rid: str) -> str:
    return f"urn:uuid:{rid}"


def reference(rid: str, display: str | None = None, *, resource_type: str | None = None) -> dict[str, str]:
    """`urn:uuid:<rid>` (resolved by a transaction's fullUrl), or the literal "Type/<rid>" when
    `resource_type` is given (for a resource written with its own id, like the software Device)."""
    ref = {"reference": f"{resource_type}/{rid}" if resource_type else urn(rid)}
    if display:
        ref["display"] = display
    return ref


def identifier(rid: str) -> dict[str, str]:
    """Business identifier holding the bare uuid: the key of the conditional create. (Not the
    `urn:uuid:` fullUrl itself: servers rewrite urn references on write, so a conditional create
    keyed on one would never match the stored resource and a retried transaction would duplicate.)"""
    return {"system": codes.DERM3R_IDENTIFIER, "value": rid}


def ai_meta() -> dict:
    system, code, display = codes.AI_TAG
    return {"tag": [codes.coding(system, code, display)]}


def concept(system_code_display: tuple[str, str, str], text: str | None = None) -> dict:
    system, code, display = system_code_display
    result: dict = {"coding": [codes.coding(system, code, display)]}
    if text:
        result["text"] = text
    return result


def derm3r_concept(code: str, text: str | None = None) -> dict:
    """A concept of derm3r's own CodeSystem. In a language other than English the clinician reads
    `text` (the display translated: inference.i18n.vocabulary); the coding keeps its display."""
    display = codes.derm3r_display(code)
    if text is None and current_language() != DEFAULT_LANGUAGE:
        text = localize(display)
    return concept((codes.DERM3R, code, display), text)


def instant(moment: datetime) -> str:
    """FHIR instant (UTC, seconds precision). `moment` must be timezone-aware."""
    if moment.tzinfo is None:
        raise ValueError("datetimes written to FHIR must be timezone-aware")
    return moment.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def is_literal_reference(ref: str | None, *types: str) -> bool:
    """True for "Type/id" references of the given types (inputs we can point back at)."""
    if not ref or "/" not in ref or ref.startswith(("urn:", "#", "http")):
        return False
    rtype, _, rid = ref.partition("/")
    return bool(rid) and "/" not in rid and (not types or rtype in types)


def score_quantity(value: float, *, decimals: int = 1) -> dict:
    return {"value": round(float(value), decimals), "unit": "score", "system": codes.UCUM, "code": "{score}"}


def percent_quantity(value: float, *, decimals: int = 1) -> dict:
    return {"value": round(float(value), decimals), "unit": "%", "system": codes.UCUM, "code": "%"}
