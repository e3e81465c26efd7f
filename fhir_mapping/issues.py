"""Stable machine keys of the DataIssues `fhir_mapping` reports (shown on the data-quality card).

Messages are plain English for a clinician and never quote resource content; `source_ref` says
which resource the issue is about.
"""

from __future__ import annotations

from inference.case import DataIssue

INVALID_RESOURCE = "invalid_resource"  # failed FHIR R4 validation; what could be read was used
UNREADABLE_RESOURCE = "unreadable_resource"  # not a JSON object / no resourceType
OTHER_PATIENT = "other_patient"  # subject is a different patient: ignored
PATIENT_MISSING = "patient_missing"
FUTURE_DATED = "future_dated"  # dated after the assessment time: ignored
MISSING_VALUE = "missing_value"
UNEXPECTED_UNIT = "unexpected_unit"
OUT_OF_RANGE = "out_of_range"
UNKNOWN_VALUE_CODE = "unknown_value_code"
NOT_AN_IMAGE = "not_an_image"
NOT_A_PHOTOGRAPH = "not_a_photograph"  # an X-ray, diagram, scan ... not a skin photograph
MEDIA_NOT_COMPLETED = "media_not_completed"
ATTACHMENT_MISSING = "attachment_missing"
ATTACHMENT_UNAVAILABLE = "attachment_unavailable"
ATTACHMENT_INVALID = "attachment_invalid"
ATTACHMENT_TOO_LARGE = "attachment_too_large"
EXTRA_ATTACHMENTS = "extra_attachments_ignored"
DUPLICATE_PHOTO = "duplicate_photo"
TOO_MANY_PHOTOS = "too_many_photos"
CONDITION_UNCODED = "condition_uncoded"
UNINTERPRETABLE_LAB = "uninterpretable_lab"  # a laboratory result exists but cannot be read as a value the rules use
INDETERMINATE_RESULT = "indeterminate_result"  # e.g. an indeterminate IGRA: neither positive nor negative


def issue(code: str, message: str, source_ref: str | None = None) -> DataIssue:
    return DataIssue(code=code, message=message, source_ref=source_ref)
