"""Defensive readers for FHIR JSON data types (dates, CodeableConcept, Reference, Quantity) shared by
the mappers. Input is untrusted: every reader accepts anything and returns None (or empty) when the
shape is wrong, so that a malformed element never crashes a mapping."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Generic, Iterator, TypeVar

from inference.case import DataIssue

T = TypeVar("T")

_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_DATETIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$")


@dataclass(frozen=True)
class Mapped(Generic[T]):
    """What a mapper returns: the items it could read and the issues it found."""

    items: tuple[T, ...] = ()
    issues: tuple[DataIssue, ...] = field(default=())


def parse_date(value: Any) -> date | None:
    """FHIR date (YYYY, YYYY-MM, YYYY-MM-DD, or a dateTime's date part); partial dates take the first day."""
    if not isinstance(value, str):
        return None
    text = value.strip()[:10] if "T" in value else value.strip()
    m = _DATE.match(text)
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1))
    except ValueError:
        return None


def parse_datetime(value: Any) -> datetime | None:
    """FHIR dateTime/instant/date as a timezone-aware datetime (UTC when no zone is given; dates at midnight UTC)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    m = _DATETIME.match(text)
    if m is None:
        d = parse_date(text) if "T" not in text else None
        return datetime(d.year, d.month, d.day, tzinfo=timezone.utc) if d else None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)


def string(value: Any) -> str | None:
    """`value` if it is a string, else None (status codes and the like, before set lookups)."""
    return value if isinstance(value, str) else None


def as_list(value: Any) -> list:
    if isinstance(value, list):
        return value
    return [] if value is None else [value]


def codings(concept: Any) -> Iterator[tuple[str | None, str | None, str | None]]:
    """(system, code, display) of each coding in a CodeableConcept (a Coding is accepted too)."""
    if not isinstance(concept, dict):
        return
    items = concept.get("coding") if "coding" in concept else [concept]
    for coding in as_list(items):
        if isinstance(coding, dict):
            system, code, display = coding.get("system"), coding.get("code"), coding.get("display")
            yield (system if isinstance(system, str) else None, code if isinstance(code, str) else None,
                   display if isinstance(display, str) else None)


def concept_text(concept: Any) -> str | None:
    """Human text of a CodeableConcept: its text, else the first coding display, else the first code."""
    if not isinstance(concept, dict):
        return None
    text = concept.get("text")
    if isinstance(text, str) and text.strip():
        return text.strip()
    first_code = None
    for _, code, display in codings(concept):
        if display and display.strip():
            return display.strip()
        first_code = first_code or code
    return first_code


def reference_string(reference: Any) -> str | None:
    if isinstance(reference, dict):
        ref = reference.get("reference")
        return ref.strip() if isinstance(ref, str) and ref.strip() else None
    return None


def resource_ref(resource: dict, full_url: str | None = None) -> str:
    """"Type/id" for a resource (the form the Case uses as source_ref); fullUrl when it has no id."""
    rtype = resource.get("resourceType") if isinstance(resource.get("resourceType"), str) else "Resource"
    rid = resource.get("id")
    if isinstance(rid, str) and rid:
        return f"{rtype}/{rid}"
    return full_url or f"{rtype}/(no id)"


def referenced_id(reference: str | None, resource_type: str) -> str | None:
    """The logical id a reference string points at, for "Type/id", ".../Type/id/_history/n" or "urn:uuid:id"."""
    if not reference:
        return None
    if reference.startswith("urn:uuid:"):
        return reference[len("urn:uuid:"):]
    parts = reference.split("/")
    for i in range(len(parts) - 1, 0, -1):
        if parts[i - 1] == resource_type and parts[i] and parts[i] != "_history":
            return parts[i]
    return None


def number(value: Any) -> float | None:
    """A JSON number as float (bools are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    result = float(value)
    return result if result == result and abs(result) != float("inf") else None


def is_ai_asserted(resource: dict) -> bool:
    """True if the resource carries the v3 AIAST security tag/label (our own earlier output)."""
    meta = resource.get("meta")
    if not isinstance(meta, dict):
        return False
    for element in ("tag", "security"):
        for coding in as_list(meta.get(element)):
            if isinstance(coding, dict) and coding.get("code") == "AIAST":
                return True
    return False
