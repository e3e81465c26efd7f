"""FHIR R4 Patient -> `inference.case.PatientInfo` (demographics the agents use: age and sex only)."""

from __future__ import annotations

from inference.case import PatientInfo

from fhir_mapping.datatypes import parse_date, resource_ref

_GENDERS = frozenset({"male", "female", "other", "unknown"})


def map_patient(resource: dict, *, full_url: str | None = None) -> PatientInfo:
    """PatientInfo from a Patient resource; unreadable birthDate/gender become None."""
    gender = resource.get("gender")
    return PatientInfo(
        ref=resource_ref(resource, full_url),
        birth_date=parse_date(resource.get("birthDate")),
        sex=gender if isinstance(gender, str) and gender in _GENDERS else None,
    )
