"""Short-lived review records: what the SMART review app shows for one assessment card.

The service calls `ReviewStore.put` while answering a hook and puts the returned id in the card's
SMART link as `appContext`. The app later reads the record through the review API. Records live in
the service's database (`cds_hooks.database`: the SQLite file, or PostgreSQL shared by replicas) so
that any gunicorn worker or replica can answer for a record another one wrote, and they expire after
`ttl_seconds`: the review app is for the encounter at hand, not an archive of patient data.

The id is 256 bits from `secrets` and carries no PHI: it is the only thing that travels through the
EHR, the browser's URL bar and the logs.

Photos are stored once per content: `review_image` holds each distinct photo's bytes keyed by their
SHA-256, and `review_photo_ref` only points at it. An EHR re-sends a chart's photos on every view, so
a repeat hook writes no photo bytes at all (hashing the bytes, far cheaper than the copy, replaces a multi-MB copy into
the WAL); an image no record points at any more is deleted when the records that used it expire.
(New SQLite files use 64 KiB pages for these blobs; PostgreSQL stores them uncompressed out of line;
see `cds_hooks.database` and the migration.) The original bytes are kept, not a downscaled copy:
re-encoding would cost a decode + encode per photo (more CPU than the copy it saves) and the
overlays are rendered from what DERM-Rec read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import and_, delete, exists, select
from sqlalchemy.engine import Connection

from cds_hooks.database import Database, open_database
from cds_hooks.storage import dialect_insert, insert_ignoring_duplicates
from cds_hooks.tables import review_image, review_overlay, review_photo_ref, review_record
from cds_hooks.card_text import clinician_citations
from fhir_mapping.safe_text import strip_unsafe_everywhere
from inference.case import Case, FindingKey
from inference.citations import CitationTable
from inference.i18n import DEFAULT_LANGUAGE, LANGUAGES, Text, localize
from inference.results import Assessment
from inference.serialize import to_jsonable

log = logging.getLogger(__name__)

# Trend series the app charts (clinician-entered findings over visits).
TREND_KEYS: tuple[FindingKey, ...] = (FindingKey.PASI, FindingKey.BSA_PERCENT, FindingKey.DLQI)

@dataclass(frozen=True)
class StoredImage:
    data: bytes
    content_type: str


class ReviewStore:
    """Records for the review app, keyed by an opaque random id, expiring after `ttl_seconds`."""

    def __init__(self, database: Database | Path, ttl_seconds: int = 3600) -> None:
        """`database`: the service's `Database`, or a data directory for its embedded SQLite file."""
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self.database = database if isinstance(database, Database) else open_database(None, Path(database))
        self.ttl_seconds = ttl_seconds

    @property
    def path(self) -> Path | None:
        """The SQLite file holding the records (None on PostgreSQL)."""
        return self.database.path

    def _write(self, operation: str, work: Any) -> Any:
        # Not durable against a power cut (still against a crash): records are short-lived review
        # copies (the hook can be re-run), and the hook's hot path saves an fsync.
        return self.database.write(operation, work, durable=False)

    # ------------------------------------------------------------------ records

    def put(
        self,
        assessment: Assessment,
        case: Case,
        resources: list[dict],
        *,
        fhir_server: str | None = None,
        service_id: str | None = None,
        card_uuid: str | None = None,
    ) -> str:
        """Store what the app shows for one assessment; return its opaque id.

        `fhir_server` (the hook request's `fhirServer`) binds the record to that server: the review
        API then only accepts SMART tokens that this server honours. `service_id` and `card_uuid`
        let clinician feedback from the app be filed as CDS Hooks feedback on that card."""
        now = time.time()
        record_id = secrets.token_urlsafe(32)
        # Citations as a clinician reads them (the app shows them beside the evidence).
        assessment_json = _finite(clinician_citations(to_jsonable(assessment), CitationTable.load()))
        payload = {
            "patient": case.patient.ref,
            "asOf": case.as_of.isoformat(),
            "serviceId": service_id,
            "cardUuid": card_uuid,
            "assessment": review_text(assessment_json, DEFAULT_LANGUAGE),
            # The same in every other language (the API answers in the one the app asks for).
            "translations": {language: {"assessment": review_text(assessment_json, language)}
                             for language in LANGUAGES if language != DEFAULT_LANGUAGE},
            "resources": _finite(resources),
            "photos": [
                {
                    "index": i,
                    "ref": p.ref,
                    "region": p.region.value,
                    "bodySite": p.body_site,
                    "taken": p.taken.isoformat() if p.taken else None,
                    "contentType": _declared_image_type(p.content_type),
                }
                for i, p in enumerate(case.photos)
            ],
            "history": {key.value: _series(case, key) for key in TREND_KEYS},
            "conditions": [
                {"key": c.key.value, "display": c.display, "ref": c.source_ref, "active": c.active}
                for c in case.conditions
            ],
            "medications": [
                {"key": m.key, "display": m.display, "ref": m.source_ref, "active": m.active} for m in case.medications
            ],
        }
        # No control or bidi-override character reaches the review app, whichever field carries it.
        text = json.dumps(strip_unsafe_everywhere(payload), separators=(",", ":"), allow_nan=False)
        digests = [hashlib.sha256(p.data).hexdigest() for p in case.photos]  # outside the write lock
        record_row = {
            "id": record_id, "patient_ref": case.patient.ref, "fhir_server": fhir_server.rstrip("/") if fhir_server else None,
            "created_at": now, "expires_at": now + self.ttl_seconds, "payload": text,
        }
        images = [{"sha256": digest, "data": p.data} for digest, p in zip(digests, case.photos, strict=True)]
        refs = [
            {"record_id": record_id, "idx": i, "content_type": _declared_image_type(p.content_type), "sha256": digest}
            for i, (digest, p) in enumerate(zip(digests, case.photos, strict=True))
        ]
        add_images = insert_ignoring_duplicates(self.database, review_image)

        def store(conn: Connection) -> None:
            self._purge(conn, now)
            conn.execute(review_record.insert(), record_row)
            # Bytes already stored (a repeat view, or the same image on two Media) are not written
            # again: the conflict on sha256 makes the insert a no-op.
            if images:
                conn.execute(add_images, images)
                conn.execute(review_photo_ref.insert(), refs)

        self._write("review", store)
        return record_id

    def get(self, context_id: str) -> dict | None:
        """The record as stored (plain JSON values), with `id`, `fhirServer` and `expiresAt`; None
        when unknown or expired."""
        query = select(review_record.c.payload, review_record.c.fhir_server, review_record.c.expires_at).where(
            review_record.c.id == context_id, review_record.c.expires_at > time.time()
        )
        rows = self.database.read("review", lambda conn: conn.execute(query).all())
        if not rows:
            return None
        payload, fhir_server, expires_at = rows[0]
        record: dict[str, Any] = json.loads(payload)
        record.update(id=context_id, fhirServer=fhir_server, expiresAt=expires_at)
        return record

    def photo(self, context_id: str, index: int) -> StoredImage | None:
        ref, record, image = review_photo_ref, review_record, review_image
        query = (
            select(image.c.data, ref.c.content_type)
            .select_from(ref.join(record, record.c.id == ref.c.record_id).join(image, image.c.sha256 == ref.c.sha256))
            .where(ref.c.record_id == context_id, ref.c.idx == index, record.c.expires_at > time.time())
        )
        rows = self.database.read("review", lambda conn: conn.execute(query).all())
        if not rows:
            return None
        data, content_type = rows[0]
        # The declared type is kept for the record only; what is served is judged on the bytes.
        return StoredImage(bytes(data), served_image_type(bytes(data)))

    def overlays(self, context_id: str, index: int) -> dict[str, StoredImage] | None:
        """Overlay images of what DERM-Rec measured on one photo, rendered on first request and then
        kept with the record. {} when the renderer is not available or fails on this photo."""
        query = select(review_overlay.c.kind, review_overlay.c.data).where(
            review_overlay.c.record_id == context_id, review_overlay.c.idx == index
        )
        cached = self.database.read("review", lambda conn: conn.execute(query).all())
        if cached:
            return {kind: StoredImage(bytes(data), _sniff_type(data)) for kind, data in cached if kind != "_none"}
        photo = self.photo(context_id, index)
        if photo is None:
            return None
        rendered = render_overlays_safely(photo.data, photo.content_type)
        # "_none" marks a photo that has no overlays, so the renderer is not retried on every request.
        rows = [{"record_id": context_id, "idx": index, "kind": kind, "data": data} for kind, data in rendered.items()]
        rows = rows or [{"record_id": context_id, "idx": index, "kind": "_none", "data": b""}]
        # Two workers may render the same photo at once: the second write replaces the first.
        upsert = dialect_insert(self.database, review_overlay)
        upsert = upsert.on_conflict_do_update(
            index_elements=[review_overlay.c.record_id, review_overlay.c.idx, review_overlay.c.kind],
            set_={"data": upsert.excluded.data},
        )

        def store(conn: Connection) -> None:
            # The record may have expired (and been purged) while rendering.
            if conn.execute(select(review_record.c.id).where(review_record.c.id == context_id)).first():
                conn.execute(upsert, rows)

        self._write("review", store)
        return {kind: StoredImage(data, _sniff_type(data)) for kind, data in rendered.items()}

    def purge_expired(self) -> int:
        return int(self._write("review", lambda conn: self._purge(conn, time.time())))

    @staticmethod
    def _purge(conn: Connection, now: float) -> int:
        """Delete expired records (their photo refs and overlays cascade), then the images that no
        remaining record points at. Only the images of the purged records are looked at, so the
        cost per hook does not grow with the size of the store."""
        ref, record = review_photo_ref, review_record
        digests = conn.execute(
            select(ref.c.sha256).distinct().select_from(ref.join(record, record.c.id == ref.c.record_id)).where(record.c.expires_at <= now)
        ).scalars().all()
        purged = conn.execute(delete(record).where(record.c.expires_at <= now)).rowcount
        if digests:
            orphaned = and_(review_image.c.sha256.in_(digests), ~exists().where(ref.c.sha256 == review_image.c.sha256))
            conn.execute(delete(review_image).where(orphaned))
        return purged


# Keys of the assessment JSON whose strings a clinician reads (their values are rendered in the
# language; knowledge-file texts looked up in the catalogue). Everything else - ids, codes, kinds,
# levels and statuses the app's code compares, references, dates - is left as it is.
_HUMAN_KEYS = frozenset({
    "statement", "display", "summary", "detail", "note", "action", "reason", "reasons", "treatment_principle",
    "pathogenesis", "principle_detail", "use", "label", "message", "scope_note", "suggested_tests", "targets",
    "step_display", "profile_display", "guideline_profile", "headline", "subtypes", "substitution", "origin",
    "unverified_note", "citation", "card_line", "card_caution", "urgent_note", "formulas", "populations",
    "finding", "text", "pre_treatment_checks", "english",
})


def review_text(value: Any, language: str, key: str | None = None) -> Any:
    """The assessment JSON with its clinician text in `language`: lazy messages rendered anywhere,
    plain strings under `_HUMAN_KEYS` looked up as msgids (knowledge text)."""
    if isinstance(value, Text):
        return localize(value, language)
    if isinstance(value, str):
        return localize(value, language) if key in _HUMAN_KEYS else str(value)
    if isinstance(value, dict):
        return {k: review_text(v, language, k) for k, v in value.items()}
    if isinstance(value, list):
        return [review_text(v, language, key) for v in value]
    return value


def _finite(value: Any) -> Any:
    """JSON has no NaN or Infinity: a measurement that could not be made (e.g. sharpness of a
    2-pixel image) is stored as null, which the app shows as "n/a", instead of failing the hook."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _series(case: Case, key: FindingKey) -> list[dict]:
    return [
        {"date": f.effective.isoformat() if f.effective else None, "value": f.value, "ref": f.source_ref}
        for f in case.history(key)
        if isinstance(f.value, (int, float)) and not isinstance(f.value, bool)
    ]


SERVED_IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")


def served_image_type(data: bytes) -> str:
    """The Content-Type to serve stored image bytes with: one of SERVED_IMAGE_TYPES recognised
    from the magic bytes, else application/octet-stream (never a type taken from the EHR's data:
    an `image/svg+xml` "photo" would run script in the app's origin)."""
    return _sniff_type(data)


def _declared_image_type(content_type: str | None) -> str | None:
    """The EHR's declared type if it is one we serve (parameters dropped), else None."""
    base = (content_type or "").split(";", 1)[0].strip().lower()
    return base if base in SERVED_IMAGE_TYPES else None


def _sniff_type(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


def render_overlays_safely(data: bytes, content_type: str | None = None) -> dict[str, bytes]:
    """Call the image engineer's `inference.overlays.render_overlays` if it is installed.

    Overlays are an aid, never a reason to fail the review: a missing module or a photo the renderer
    rejects yields no overlays (the app then shows the photograph alone)."""
    try:
        from inference.overlays import render_overlays
    except ImportError:
        return {}
    try:
        result = render_overlays(data, content_type)
    except (ValueError, OSError, RuntimeError) as exc:  # imaging.ImageError is a ValueError: undecodable photo
        log.info("overlay rendering failed: %s", type(exc).__name__)
        return {}
    return {str(k): bytes(v) for k, v in result.items() if isinstance(v, (bytes, bytearray)) and v}
