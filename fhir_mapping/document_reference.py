"""DocumentReference image attachments -> `PhotoCandidate`.

EHRs that follow FHIR R5 put photos in DocumentReference (R5 dropped Media), with `bodySite`
(CodeableReference) and `modality` on the resource. We read those R5 elements when present and the
R4 ones otherwise; the resource is not validated against R4 for that reason. Non-image documents
(notes, PDFs) are ignored silently: they are normal in a prefetch.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from inference.case import BodyRegion

from fhir_mapping import codes, issues
from fhir_mapping.attachment import PhotoCandidate, body_site, candidate_from_attachment, is_image_type, is_non_photo_modality
from fhir_mapping.datatypes import Mapped, as_list, parse_datetime, resource_ref, string
from fhir_mapping.media import DEFAULT_MAX_PHOTO_BYTES
from inference.i18n import t

SKIPPED_STATUSES = frozenset({"entered-in-error", "superseded"})


def _concept_of(site: Any) -> Any:
    # R5: CodeableReference {concept, reference}; tolerate a bare CodeableConcept.
    if isinstance(site, dict) and isinstance(site.get("concept"), dict):
        return site["concept"]
    return site


def _body_site_concepts(resource: dict) -> list[Any]:
    concepts: list[Any] = [_concept_of(site) for site in as_list(resource.get("bodySite")) if isinstance(site, dict)]
    # R5 bodySite sent to an R4 server travels as the cross-version extension.
    for extension in as_list(resource.get("extension")):
        if isinstance(extension, dict) and extension.get("url") == codes.DOCUMENT_REFERENCE_BODY_SITE_EXTENSION:
            value = extension.get("valueCodeableConcept") or extension.get("valueCodeableReference")
            if isinstance(value, dict):
                concepts.append(_concept_of(value))
    return concepts


def _taken(resource: dict, attachment: dict) -> datetime | None:
    context = resource.get("context") if isinstance(resource.get("context"), dict) else {}
    period = resource.get("period") or context.get("period")
    return (parse_datetime(attachment.get("creation"))
            or (parse_datetime(period.get("start")) if isinstance(period, dict) else None)
            or parse_datetime(resource.get("date")))


def map_document_reference(resource: dict, *, full_url: str | None = None,
                           max_bytes: int = DEFAULT_MAX_PHOTO_BYTES) -> Mapped[PhotoCandidate]:
    ref = resource_ref(resource, full_url)
    if string(resource.get("status")) in SKIPPED_STATUSES or resource.get("docStatus") == "entered-in-error":
        return Mapped()
    images = [c["attachment"] for c in as_list(resource.get("content"))
              if isinstance(c, dict) and isinstance(c.get("attachment"), dict) and is_image_type(c["attachment"].get("contentType"))]
    if not images:
        return Mapped()
    if is_non_photo_modality(as_list(resource.get("modality"))):
        return Mapped(issues=(issues.issue(issues.NOT_A_PHOTOGRAPH,
                                           t("An image document is not a clinical skin photograph; ignored."), ref),))
    found_issues = []
    if len(images) > 1:
        # One reference can only point at one analysed photo (derivedFrom); keep the first.
        found_issues.append(issues.issue(issues.EXTRA_ATTACHMENTS,
                                         t("A document holds several images; only the first was analysed."), ref))
    attachment = images[0]
    region, site_text = body_site(_body_site_concepts(resource))
    if region is BodyRegion.UNKNOWN:
        # Photos filed as documents often name the site only in their title or description.
        for text in (attachment.get("title"), resource.get("description")):
            guess = codes.body_region_from_text(text if isinstance(text, str) else None)
            if guess is not None:
                region, site_text = guess, site_text or text
                break
    candidate, problem = candidate_from_attachment(attachment, ref=ref, region=region, site_text=site_text,
                                                   taken=_taken(resource, attachment), max_bytes=max_bytes)
    if problem is not None:
        found_issues.append(problem)
    return Mapped((candidate,) if candidate else (), tuple(found_issues))
