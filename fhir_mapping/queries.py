"""What derm3r asks of FHIR, in one place: the prefetch keys and their query templates, what each
key holds in words a clinician reads, the resource kinds the case builder reads, and which of them
carry clinical photographs.

A new photo resource type is a change in `fhir_mapping` only: name it in `PHOTO_TYPES` (and in
`VALIDATED_KINDS` if fhir.resources R4B can validate it), give it a prefetch key with a template and
a label here, and a mapper in `case_builder._PHOTO_MAPPERS`. `tests/fhir_mapping/test_queries.py`
checks that these stay in step.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

from inference.i18n import t

# Resource types that carry clinical photographs. Media is R4's; EHRs that follow R5 (which dropped
# Media) put photos in DocumentReference.
PHOTO_TYPES: tuple[str, ...] = ("Media", "DocumentReference")

# Resource kinds the case builder validates against FHIR R4 (fhir.resources R4B) before mapping.
VALIDATED_KINDS: frozenset[str] = frozenset(
    {"Patient", "Observation", "Media", "Condition", "MedicationStatement", "MedicationRequest"}
)
# Resource kinds the case builder reads; everything else in a prefetch (Encounter, Claim ...) is
# ignored. R5-style DocumentReference carries elements R4 does not have: read defensively, not
# validated. A Medication is read only as the target of a medicationReference.
READ_KINDS: frozenset[str] = VALIDATED_KINDS | {"DocumentReference", "Medication"}

# The prefetch keys derm3r requests. Each is a separate key (not one _include query) so that an EHR
# can satisfy any subset, and each uses only the spec's recommended query subset: an instance read,
# or a type-level search by patient reference, with `_sort` newest first where the record grows over
# time, so that whatever the bounded page count (DERM3R_FHIR_MAX_PAGES) cuts is the oldest data.
# Page size is left to the server (no `_count`).
PATIENT_KEY = "patient"
PREFETCH_TEMPLATES: Mapping[str, str] = MappingProxyType(
    {
        PATIENT_KEY: "Patient/{{context.patientId}}",
        "observations": "Observation?patient={{context.patientId}}&_sort=-date",
        "media": "Media?patient={{context.patientId}}&_sort=-created",
        "conditions": "Condition?patient={{context.patientId}}",
        "medicationStatements": "MedicationStatement?patient={{context.patientId}}",
        "medicationRequests": "MedicationRequest?patient={{context.patientId}}",
        "documents": "DocumentReference?patient={{context.patientId}}&_sort=-date",
    }
)

# The ordering hooks read no photographs (no image work while a clinician orders): the patient,
# the problem list, observations (laboratory results, vital signs, pregnancy status) and the
# medicines the patient is on. draftOrders itself is context, never a prefetch token (SHALL NOT).
ORDER_PREFETCH_TEMPLATES: Mapping[str, str] = MappingProxyType(
    {key: PREFETCH_TEMPLATES[key] for key in (PATIENT_KEY, "conditions", "observations", "medicationStatements", "medicationRequests")}
)

# What each key holds, in words a clinician reads on the data-quality card.
KEY_LABELS: Mapping[str, str] = MappingProxyType(
    {
        PATIENT_KEY: t("Patient demographics"),
        "observations": t("Observations (scores, vital signs, laboratory results, TCM findings)"),
        "media": t("Clinical photographs (Media)"),
        "conditions": t("Conditions (problem list)"),
        "medicationStatements": t("Medication statements"),
        "medicationRequests": t("Medication requests"),
        "documents": t("Documents (DocumentReference photographs)"),
    }
)


def key_label(key: str) -> str:
    """The clinician's words for a prefetch key (the key itself for one derm3r does not define)."""
    return KEY_LABELS.get(key, key)


def template_type(template: str) -> str:
    """The resource type a prefetch template asks for ("Media?patient=..." -> "Media")."""
    return template.split("?", 1)[0].split("/", 1)[0]


__all__ = [
    "KEY_LABELS",
    "ORDER_PREFETCH_TEMPLATES",
    "PATIENT_KEY",
    "PHOTO_TYPES",
    "PREFETCH_TEMPLATES",
    "READ_KINDS",
    "VALIDATED_KINDS",
    "key_label",
    "template_type",
]
