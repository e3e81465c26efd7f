"""FHIR R4 Media (clinical photographs) -> `PhotoCandidate`.

Only completed still images are kept. Video/audio, radiology images and diagrams are ignored with a
DataIssue so the clinician knows why a picture was not analysed. bodySite maps to a PASI region
(codes first, then words in the text); createdDateTime is when the photo was taken.
"""

from __future__ import annotations

from datetime import datetime

from fhir_mapping import codes, issues
from fhir_mapping.attachment import PhotoCandidate, body_site, candidate_from_attachment, is_image_type, is_non_photo_modality
from fhir_mapping.datatypes import Mapped, as_list, codings, parse_datetime, resource_ref, string
from inference.i18n import t

USABLE_STATUSES = frozenset({"completed", "unknown"})
DEFAULT_MAX_PHOTO_BYTES = 15_000_000


def _taken(resource: dict, content: dict) -> datetime | None:
    period = resource.get("createdPeriod")
    return (parse_datetime(resource.get("createdDateTime"))
            or (parse_datetime(period.get("start")) if isinstance(period, dict) else None)
            or parse_datetime(content.get("creation"))
            or parse_datetime(resource.get("issued")))


def map_media(resource: dict, *, full_url: str | None = None,
              max_bytes: int = DEFAULT_MAX_PHOTO_BYTES) -> Mapped[PhotoCandidate]:
    ref = resource_ref(resource, full_url)
    status = string(resource.get("status"))
    if status == "entered-in-error":
        return Mapped()
    if status not in USABLE_STATUSES:
        return Mapped(issues=(issues.issue(issues.MEDIA_NOT_COMPLETED,
                                           t("A photo is not marked completed; it was not analysed."), ref),))
    content = resource.get("content") if isinstance(resource.get("content"), dict) else {}
    media_types = [(s, c) for s, c, _ in codings(resource.get("type")) if s == codes.MEDIA_TYPE]
    declared_image = any(c == "image" for _, c in media_types)
    if (media_types and not declared_image) or (content.get("contentType") and not is_image_type(content.get("contentType"))):
        return Mapped(issues=(issues.issue(issues.NOT_AN_IMAGE, t("A media item is not a still image; ignored."), ref),))
    if not declared_image and not is_image_type(content.get("contentType")):
        return Mapped(issues=(issues.issue(issues.NOT_AN_IMAGE, t("A media item does not say it is an image; ignored."), ref),))
    if is_non_photo_modality(as_list(resource.get("modality"))):
        return Mapped(issues=(issues.issue(issues.NOT_A_PHOTOGRAPH,
                                           t("An image is not a clinical skin photograph (e.g. X-ray or diagram); ignored."), ref),))
    region, site_text = body_site(as_list(resource.get("bodySite")))
    candidate, problem = candidate_from_attachment(content, ref=ref, region=region, site_text=site_text,
                                                   taken=_taken(resource, content), max_bytes=max_bytes)
    return Mapped((candidate,) if candidate else (), (problem,) if problem else ())
