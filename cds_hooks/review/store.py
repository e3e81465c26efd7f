"""Short-lived review records: what the SMART review app shows for one assessment card.

The service calls `ReviewStore.put` while answering a hook and puts the returned id in the card's
SMART link as `appContext`. The app later reads the record through the review API. Records live in
one SQLite file under `data_dir` (WAL mode) so that any gunicorn worker can answer for a record
another worker wrote, and they expire after `ttl_seconds`: the review app is for the encounter at
hand, not an archive of patient data.

The id is 256 bits from `secrets` and carries no PHI: it is the only thing that travels through the
EHR, the browser's URL bar and the logs.

Photos are stored once per content: `review_image` holds each distinct photo's bytes keyed by their
SHA-256, and `review_photo_ref` only points at it. An EHR re-sends a chart's photos on every view, so
a repeat hook writes no photo bytes at all (the hash, ~1 ms per MB, replaces a multi-MB copy into
the WAL); an image no record points at any more is deleted when the records that used it expire.
New database files use 64 KiB pages: a multi-MB blob then costs ~3x less CPU to write than with
SQLite's default 4 KiB pages (3 bench photos: 10.3 -> 3.4 ms). The original bytes are kept, not a
downscaled copy: re-encoding would cost a decode + encode per photo (more CPU than the copy it
saves) and the overlays are rendered from what DERM-Rec read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import secrets
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from cds_hooks.errors import ServiceUnavailable
from fhir_mapping.safe_text import strip_unsafe_everywhere
from inference.case import Case, FindingKey
from inference.results import Assessment
from inference.serialize import to_jsonable

log = logging.getLogger(__name__)

DB_FILENAME = "review.sqlite3"
BUSY_TIMEOUT_MS = 5000
# Trend series the app charts (clinician-entered findings over visits).
TREND_KEYS: tuple[FindingKey, ...] = (FindingKey.PASI, FindingKey.BSA_PERCENT, FindingKey.DLQI)

# Set before the first table is created (SQLite ignores it afterwards); see the module docstring.
PAGE_SIZE = 65536

_SCHEMA = """
CREATE TABLE IF NOT EXISTS review_record (
    id          TEXT PRIMARY KEY,
    patient_ref TEXT NOT NULL,
    fhir_server TEXT,
    created_at  REAL NOT NULL,
    expires_at  REAL NOT NULL,
    payload     TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS review_record_expires ON review_record (expires_at);
-- A rowid table: large blobs belong in rowid tables, not in WITHOUT ROWID b-trees.
CREATE TABLE IF NOT EXISTS review_image (
    sha256 TEXT NOT NULL UNIQUE,
    data   BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS review_photo_ref (
    record_id    TEXT    NOT NULL REFERENCES review_record (id) ON DELETE CASCADE,
    idx          INTEGER NOT NULL,
    content_type TEXT,
    sha256       TEXT    NOT NULL,
    PRIMARY KEY (record_id, idx)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS review_photo_ref_sha256 ON review_photo_ref (sha256);
CREATE TABLE IF NOT EXISTS review_overlay (
    record_id    TEXT    NOT NULL REFERENCES review_record (id) ON DELETE CASCADE,
    idx          INTEGER NOT NULL,
    kind         TEXT    NOT NULL,
    data         BLOB    NOT NULL,
    PRIMARY KEY (record_id, idx, kind)
) WITHOUT ROWID;
-- Files written before photos were stored once per content held a full copy per record; those
-- records are at most ttl_seconds old review copies, so the table is simply dropped.
DROP TABLE IF EXISTS review_photo;
"""


@dataclass(frozen=True)
class StoredImage:
    data: bytes
    content_type: str


class ReviewStore:
    """Records for the review app, keyed by an opaque random id, expiring after `ttl_seconds`."""

    def __init__(self, data_dir: Path, ttl_seconds: int = 3600) -> None:
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self.path = Path(data_dir) / DB_FILENAME
        self.ttl_seconds = ttl_seconds
        self._local = threading.local()
        # Private to the service user, like the service's own store: records hold patient data.
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        # executescript runs its own implicit transaction; every statement is IF NOT EXISTS, so
        # workers starting together are safe.
        with _translated():
            self._conn().executescript(_SCHEMA)

    # ------------------------------------------------------------------ connections

    def _conn(self) -> sqlite3.Connection:
        # One connection per thread and per process: a connection must not cross a fork() into a
        # gunicorn worker, so the pid is checked too.
        key = os.getpid()
        conn = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != key:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            # Before journal_mode: a file's page size is fixed once it is in WAL mode (no-op then).
            conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL is durable against application crashes in WAL mode; a power cut may lose the
            # last few records, which are short-lived review copies (the hook can be re-run). It
            # saves an fsync per write on the hook's hot path.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            self._local.conn, self._local.pid = conn, key
        return conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with _translated():
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _read(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with _translated():
            return self._conn().execute(sql, params).fetchall()

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
        payload = {
            "patient": case.patient.ref,
            "asOf": case.as_of.isoformat(),
            "serviceId": service_id,
            "cardUuid": card_uuid,
            "assessment": _finite(to_jsonable(assessment)),
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
        with self._transaction() as conn:
            self._purge(conn, now)
            conn.execute(
                "INSERT INTO review_record (id, patient_ref, fhir_server, created_at, expires_at, payload)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (record_id, case.patient.ref, fhir_server.rstrip("/") if fhir_server else None, now,
                 now + self.ttl_seconds, text),
            )
            # Bytes already stored (a repeat view, or the same image on two Media) are not written
            # again: UNIQUE(sha256) makes the insert a no-op.
            conn.executemany(
                "INSERT OR IGNORE INTO review_image (sha256, data) VALUES (?, ?)",
                [(digest, p.data) for digest, p in zip(digests, case.photos, strict=True)],
            )
            conn.executemany(
                "INSERT INTO review_photo_ref (record_id, idx, content_type, sha256) VALUES (?, ?, ?, ?)",
                [(record_id, i, _declared_image_type(p.content_type), digest) for i, (digest, p) in enumerate(zip(digests, case.photos, strict=True))],
            )
        return record_id

    def get(self, context_id: str) -> dict | None:
        """The record as stored (plain JSON values), with `id`, `fhirServer` and `expiresAt`; None
        when unknown or expired."""
        rows = self._read(
            "SELECT payload, fhir_server, expires_at FROM review_record WHERE id = ? AND expires_at > ?",
            (context_id, time.time()),
        )
        if not rows:
            return None
        payload, fhir_server, expires_at = rows[0]
        record: dict[str, Any] = json.loads(payload)
        record.update(id=context_id, fhirServer=fhir_server, expiresAt=expires_at)
        return record

    def photo(self, context_id: str, index: int) -> StoredImage | None:
        rows = self._read(
            "SELECT i.data, p.content_type FROM review_photo_ref p JOIN review_record r ON r.id = p.record_id"
            " JOIN review_image i ON i.sha256 = p.sha256 WHERE p.record_id = ? AND p.idx = ? AND r.expires_at > ?",
            (context_id, index, time.time()),
        )
        if not rows:
            return None
        data, content_type = rows[0]
        # The declared type is kept for the record only; what is served is judged on the bytes.
        return StoredImage(bytes(data), served_image_type(bytes(data)))

    def overlays(self, context_id: str, index: int) -> dict[str, StoredImage] | None:
        """Overlay images of what DERM-Rec measured on one photo, rendered on first request and then
        kept with the record. {} when the renderer is not available or fails on this photo."""
        cached = self._read("SELECT kind, data FROM review_overlay WHERE record_id = ? AND idx = ?", (context_id, index))
        if cached:
            return {kind: StoredImage(bytes(data), _sniff_type(data)) for kind, data in cached if kind != "_none"}
        photo = self.photo(context_id, index)
        if photo is None:
            return None
        rendered = render_overlays_safely(photo.data, photo.content_type)
        # "_none" marks a photo that has no overlays, so the renderer is not retried on every request.
        rows = [(context_id, index, kind, data) for kind, data in rendered.items()] or [(context_id, index, "_none", b"")]
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM review_record WHERE id = ?", (context_id,)).fetchone():
                conn.executemany("INSERT OR REPLACE INTO review_overlay VALUES (?, ?, ?, ?)", rows)
        return {kind: StoredImage(data, _sniff_type(data)) for kind, data in rendered.items()}

    def purge_expired(self) -> int:
        with self._transaction() as conn:
            return self._purge(conn, time.time())

    @staticmethod
    def _purge(conn: sqlite3.Connection, now: float) -> int:
        """Delete expired records (their photo refs and overlays cascade), then the images that no
        remaining record points at. Only the images of the purged records are looked at, so the
        cost per hook does not grow with the size of the store."""
        digests = [row[0] for row in conn.execute(
            "SELECT DISTINCT p.sha256 FROM review_photo_ref p JOIN review_record r ON r.id = p.record_id"
            " WHERE r.expires_at <= ?", (now,))]
        purged = conn.execute("DELETE FROM review_record WHERE expires_at <= ?", (now,)).rowcount
        conn.executemany(
            "DELETE FROM review_image WHERE sha256 = ?1"
            " AND NOT EXISTS (SELECT 1 FROM review_photo_ref WHERE sha256 = ?1)",
            [(digest,) for digest in digests],
        )
        return purged


@contextmanager
def _translated() -> Iterator[None]:
    """SQLite failures (disk full, locked past the busy timeout, corrupt file) become the service's
    503, at this boundary."""
    try:
        yield
    except sqlite3.Error as exc:
        log.warning("review storage error: %s", type(exc).__name__)
        raise ServiceUnavailable("review storage unavailable") from exc


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
