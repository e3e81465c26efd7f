"""Image attachments shared by the Media and DocumentReference mappers: a `PhotoCandidate` is a photo
found in the record whose bytes may still have to be fetched (the case builder fetches, bounded)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from inference.case import BodyRegion, DataIssue

from fhir_mapping import codes, issues
from fhir_mapping.datatypes import codings, concept_text, number


@dataclass(frozen=True)
class PhotoCandidate:
    ref: str  # "Media/abc" or "DocumentReference/xyz"
    content_type: str | None
    data: bytes | None  # inline bytes, already base64-decoded
    url: str | None  # where to fetch the bytes when not inline (relative "Binary/1" or absolute)
    region: BodyRegion = BodyRegion.UNKNOWN
    body_site: str | None = None
    taken: datetime | None = None
    declared_size: int | None = None  # Attachment.size, if given (lets us refuse before fetching)


def is_image_type(content_type: Any) -> bool:
    return isinstance(content_type, str) and content_type.strip().lower().startswith("image/")


def body_site(concepts: list[Any]) -> tuple[BodyRegion, str | None]:
    """(PASI region, display text) of the first body site concept that maps (codes, then words)."""
    text_seen: str | None = None
    for concept in concepts:
        for system, code, _ in codings(concept):
            region = codes.body_region(system, code)
            if region is not None:
                return region, concept_text(concept)
        text = concept_text(concept)
        text_seen = text_seen or text
        region = codes.body_region_from_text(text)
        if region is not None:
            return region, text
    return BodyRegion.UNKNOWN, text_seen


def is_non_photo_modality(concepts: list[Any]) -> bool:
    return any((system, code) in codes.NON_PHOTO_MODALITIES for concept in concepts
               for system, code, _ in codings(concept) if system and code)


def decode_inline(data: Any, *, ref: str, max_bytes: int) -> tuple[bytes | None, DataIssue | None]:
    """Decode Attachment.data (base64, whitespace tolerated) within `max_bytes`."""
    if not isinstance(data, str):
        return None, issues.issue(issues.ATTACHMENT_INVALID, "The image data is not base64 text.", ref)
    raw = _decode_compact(data) if len(data) * 3 // 4 <= max_bytes else None
    if raw is None:
        # Slow path: whitespace (line-wrapped base64 is valid FHIR) or too long with it counted.
        compact = "".join(data.split())
        # base64 inflates by 4/3: refuse before decoding something far too large.
        if len(compact) * 3 // 4 > max_bytes:
            return None, issues.issue(issues.ATTACHMENT_TOO_LARGE, "The image is larger than the service accepts.", ref)
        try:
            raw = base64.b64decode(compact, validate=True)
        except (binascii.Error, ValueError):
            return None, issues.issue(issues.ATTACHMENT_INVALID, "The image data is not valid base64.", ref)
    if not raw:
        return None, issues.issue(issues.ATTACHMENT_INVALID, "The image data is empty.", ref)
    return raw, None


def _decode_compact(data: str) -> bytes | None:
    """Fast path for base64 without whitespace (what EHRs send): one C pass over the text, no
    whitespace-stripped copy of megabytes. None when strict decoding fails, so the caller falls back
    to the tolerant path, which decides (strict mode accepts a subset of what that path accepts)."""
    try:
        return binascii.a2b_base64(data, strict_mode=True)
    except (binascii.Error, ValueError):  # ValueError: non-ASCII text
        return None


def candidate_from_attachment(attachment: dict, *, ref: str, region: BodyRegion, site_text: str | None,
                              taken: datetime | None, max_bytes: int) -> tuple[PhotoCandidate | None, DataIssue | None]:
    """A PhotoCandidate from an image Attachment (inline data preferred over url)."""
    content_type = attachment.get("contentType") if isinstance(attachment.get("contentType"), str) else None
    size = number(attachment.get("size"))
    if "data" in attachment:
        data, problem = decode_inline(attachment.get("data"), ref=ref, max_bytes=max_bytes)
        if problem is not None:
            return None, problem
        return PhotoCandidate(ref, content_type, data, None, region, site_text, taken), None
    url = attachment.get("url")
    if isinstance(url, str) and url.strip():
        if size is not None and size > max_bytes:
            return None, issues.issue(issues.ATTACHMENT_TOO_LARGE, "The image is larger than the service accepts.", ref)
        return PhotoCandidate(ref, content_type, None, url.strip(), region, site_text, taken,
                              int(size) if size is not None else None), None
    return None, issues.issue(issues.ATTACHMENT_MISSING, "The image has neither inline data nor a URL.", ref)
