"""Durable service state: card feedback, the append-only audit log and the JWT replay cache.

One SQLite database (`derm3r.sqlite3` in `settings.data_dir`) in WAL mode. SQLite's own file
locking makes it safe across gunicorn worker processes; each process (and each thread) gets its own
connection because SQLite connections must not cross a `fork()` or be shared between threads.
Writes that must be atomic (replay check, audit hash chain) run in `BEGIN IMMEDIATE` transactions,
which take the database write lock up front so two workers cannot interleave read-then-write.

Durability, decided per table (WAL mode throughout):
- feedback and audit commit with `synchronous = FULL`: once acknowledged they survive a power cut,
  not only a process crash. They must never be lost.
- the JWT replay cache (`jti_seen`) commits with `synchronous = NORMAL`: no fsync of its own. In WAL
  mode that is still durable against a process crash (the commit is in the WAL file, in the OS page
  cache); only a power cut or kernel crash can lose the last such commits. And every hook appends an
  audit record right after its replay check, on the same WAL, whose FULL commit fsyncs the WAL up to
  and including the jti entry, so in practice the window is the few milliseconds between the two.
  The worst case, a lost entry, re-opens a replay window bounded by that token's remaining lifetime
  (`exp`, minutes) - and only after a power failure, when the service restarts anyway. That is
  accepted: it saves one fsync (~4 ms wall) per hook. Feedback and audit are unaffected.

The rest of the service codes against the `Store` protocol, so a different backend (e.g. Postgres)
can replace this one without touching callers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Protocol, runtime_checkable
from contextlib import contextmanager

from .errors import InvalidRequest, ServiceUnavailable

log = logging.getLogger(__name__)

DB_FILENAME = "derm3r.sqlite3"
# How long a writer waits for another process's write lock before giving up. Long enough to ride
# out a burst of concurrent feedback posts; short enough to stay inside the request deadline class.
BUSY_TIMEOUT_MS = 5000
# Genesis value for the audit hash chain (any fixed value works; it just anchors the first link).
AUDIT_GENESIS = "0" * 64

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id  TEXT    NOT NULL,
    digest      TEXT    NOT NULL,
    item        TEXT    NOT NULL,
    received_at REAL    NOT NULL,
    UNIQUE (service_id, digest)
);
CREATE TABLE IF NOT EXISTS audit (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    ts        REAL    NOT NULL,
    record    TEXT    NOT NULL,
    prev_hash TEXT    NOT NULL,
    hash      TEXT    NOT NULL
);
-- Append-only is enforced by the database itself, not only by the absence of an API: any UPDATE
-- or DELETE on the audit table aborts.
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS jti_cache (
    issuer     TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (issuer, jti)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS jti_cache_expires ON jti_cache (expires_at);
-- Issue 12: cards this service issued, and to which client (JWT iss; '' with auth off), so that
-- feedback is accepted only for our own cards from the client that received them. Rows older than
-- ISSUED_CARD_RETENTION_SECONDS are purged when new cards are recorded. (Port note for the
-- SQLAlchemy store: one table, one insert per hook, one lookup per feedback item.)
CREATE TABLE IF NOT EXISTS issued_card (
    card_uuid     TEXT NOT NULL,
    service_id    TEXT NOT NULL,
    client_issuer TEXT NOT NULL,
    issued_at     REAL NOT NULL,
    PRIMARY KEY (card_uuid, service_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS issued_card_issued_at ON issued_card (issued_at);
"""

# Feedback for a card older than this is refused as unknown: EHRs send feedback within the
# encounter, and the table stays bounded by (hook rate x retention).
ISSUED_CARD_RETENTION_SECONDS = 30 * 24 * 3600


@runtime_checkable
class Store(Protocol):
    """What the service needs from durable storage."""

    def add_feedback(self, service_id: str, item: dict[str, Any]) -> bool:
        """Store one feedback item durably. False if an identical item (same service, same JSON
        content) was stored before: EHRs retry, so duplicates are expected and harmless."""
        ...

    def list_feedback(self, service_id: str | None = None) -> list[dict[str, Any]]:
        """Feedback items in the order received, optionally only for one service."""
        ...

    def append_audit(self, record: dict[str, Any]) -> None:
        """Append one record to the audit log. There is no update or delete."""
        ...

    def list_audit(self, limit: int = 100) -> list[dict[str, Any]]:
        """The most recent `limit` audit records, newest first."""
        ...

    def record_issued_cards(self, service_id: str, client_issuer: str | None, card_uuids: list[str]) -> None:
        """Remember that these cards went to this client (feedback is only accepted for them)."""
        ...

    def card_issued_to(self, card_uuid: str, service_id: str, client_issuer: str | None) -> bool:
        """True if `card_uuid` was issued by `service_id` to `client_issuer` within the retention."""
        ...

    def jti_seen(self, issuer: str, jti: str, expires_at: float) -> bool:
        """Atomically record (issuer, jti) until `expires_at` (epoch seconds). True if the pair was
        already recorded and has not expired (a replay). Purges expired entries."""
        ...


def canonical_json(value: Any) -> str:
    """Deterministic JSON text (sorted keys, no whitespace, no NaN) used for storage and hashing."""
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidRequest("value is not representable as JSON") from exc


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _rollback(conn: sqlite3.Connection) -> None:
    # SQLite may already have rolled back on its own (e.g. SQLITE_FULL); a second ROLLBACK then
    # fails with "no transaction is active", which must not mask the original error.
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            log.warning("storage rollback failed")


def _set_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL, retrying while other processes open the same new file: that switch can fail
    with SQLITE_BUSY at once, without waiting for the busy timeout (seen with 4 workers starting
    together on a loaded machine)."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


class SqliteStore:
    """`Store` backed by one SQLite file; safe to use from many threads and processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        # Idempotent (IF NOT EXISTS), so every worker may run it; executescript manages its own
        # transaction, which is why it is not wrapped in _transaction().
        try:
            self._conn().executescript(_SCHEMA)
        except sqlite3.Error as exc:
            log.error("storage schema setup failed: %s", type(exc).__name__)
            raise ServiceUnavailable("storage unavailable") from exc

    # -- connections -------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=True)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _set_wal(conn)
        # FULL: a feedback post acknowledged to the EHR must survive a power cut, not only a crash.
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def _conn(self) -> sqlite3.Connection:
        # A connection inherited through fork() (e.g. gunicorn --preload) must never be reused:
        # SQLite's locks are per-process, so sharing one would corrupt the database.
        conn = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            conn = self._connect()
            self._local.conn = conn
            self._local.pid = os.getpid()
        return conn

    @contextmanager
    def _transaction(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """A write transaction holding the database write lock from the start (BEGIN IMMEDIATE),
        so read-then-write sequences are atomic across processes. Storage failures surface as
        ServiceUnavailable (503): the caller may retry, and no SQL detail reaches the client.

        `durable=False` commits without an fsync (synchronous NORMAL; see the module docstring for
        which data may use it). The connection is back to FULL afterwards, whatever happens."""
        try:
            conn = self._conn()
            if not durable:
                conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self._restore_sync(durable)
            log.error("storage unavailable: %s", type(exc).__name__)
            raise ServiceUnavailable("storage unavailable") from exc
        try:
            try:
                yield conn
            except BaseException:
                _rollback(conn)
                raise
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                _rollback(conn)
                log.error("storage commit failed: %s", type(exc).__name__)
                raise ServiceUnavailable("storage unavailable") from exc
        finally:
            self._restore_sync(durable)

    def _restore_sync(self, durable: bool) -> None:
        if durable:
            return
        try:
            self._conn().execute("PRAGMA synchronous = FULL")
        except sqlite3.Error:
            # Cannot leave a connection that might commit feedback without fsync: drop it, the next
            # call opens a fresh one with FULL.
            log.warning("storage: could not restore synchronous=FULL; reconnecting")
            self.close()

    def _read(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        try:
            return self._conn().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            log.error("storage read failed: %s", type(exc).__name__)
            raise ServiceUnavailable("storage unavailable") from exc

    def close(self) -> None:
        """Close this thread's connection (others close when their thread or process ends)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "pid", None) == os.getpid():
            conn.close()
        self._local.conn = None

    # -- feedback ----------------------------------------------------------------------------

    def add_feedback(self, service_id: str, item: dict[str, Any]) -> bool:
        text = canonical_json(item)
        # Idempotent by content, not by second (issue 12): the timestamp is when the client (or the
        # review app) sent it, so a re-send a second later used to be stored again. The same
        # outcome for the same card with the same details is one piece of feedback.
        digest = _sha256(canonical_json({k: v for k, v in item.items() if k != "outcomeTimestamp"}))
        try:
            with self._transaction() as conn:
                cur = conn.execute(
                    "INSERT OR IGNORE INTO feedback (service_id, digest, item, received_at) VALUES (?, ?, ?, ?)",
                    (service_id, digest, text, time.time()),
                )
                return cur.rowcount == 1
        except sqlite3.Error as exc:
            raise ServiceUnavailable("storage unavailable") from exc

    def list_feedback(self, service_id: str | None = None) -> list[dict[str, Any]]:
        if service_id is None:
            rows = self._read("SELECT item FROM feedback ORDER BY id", ())
        else:
            rows = self._read("SELECT item FROM feedback WHERE service_id = ? ORDER BY id", (service_id,))
        return [json.loads(r[0]) for r in rows]

    # -- audit -------------------------------------------------------------------------------

    def append_audit(self, record: dict[str, Any]) -> None:
        text = canonical_json(record)
        ts = time.time()
        try:
            with self._transaction() as conn:
                row = conn.execute("SELECT hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
                prev = row[0] if row else AUDIT_GENESIS
                # Hash chain: each record commits to its predecessor, so editing or removing a row
                # with an external tool (bypassing the triggers) is detectable by verify_audit_chain.
                link = _sha256(f"{prev}|{ts!r}|{text}")
                conn.execute(
                    "INSERT INTO audit (ts, record, prev_hash, hash) VALUES (?, ?, ?, ?)", (ts, text, prev, link)
                )
        except sqlite3.Error as exc:
            raise ServiceUnavailable("storage unavailable") from exc

    def list_audit(self, limit: int = 100) -> list[dict[str, Any]]:
        limit = max(0, min(int(limit), 10_000))
        rows = self._read("SELECT record FROM audit ORDER BY id DESC LIMIT ?", (limit,))
        return [json.loads(r[0]) for r in rows]

    def verify_audit_chain(self) -> bool:
        """True if every audit row still links to its predecessor (no row edited or removed)."""
        prev = AUDIT_GENESIS
        for ts, text, prev_hash, link in self._read("SELECT ts, record, prev_hash, hash FROM audit ORDER BY id", ()):
            if prev_hash != prev or _sha256(f"{prev}|{ts!r}|{text}") != link:
                return False
            prev = link
        return True

    # -- issued cards (issue 12) -------------------------------------------------------------

    def record_issued_cards(self, service_id: str, client_issuer: str | None, card_uuids: list[str]) -> None:
        if not card_uuids:
            return
        now = time.time()
        try:
            # Not fsync'd: losing the last few on a power cut only makes their feedback refused.
            with self._transaction(durable=False) as conn:
                conn.execute("DELETE FROM issued_card WHERE issued_at < ?", (now - ISSUED_CARD_RETENTION_SECONDS,))
                conn.executemany(
                    "INSERT OR IGNORE INTO issued_card (card_uuid, service_id, client_issuer, issued_at) VALUES (?, ?, ?, ?)",
                    [(uuid, service_id, client_issuer or "", now) for uuid in card_uuids],
                )
        except sqlite3.Error as exc:
            raise ServiceUnavailable("storage unavailable") from exc

    def card_issued_to(self, card_uuid: str, service_id: str, client_issuer: str | None) -> bool:
        rows = self._read(
            "SELECT 1 FROM issued_card WHERE card_uuid = ? AND service_id = ? AND client_issuer = ? AND issued_at >= ?",
            (card_uuid, service_id, client_issuer or "", time.time() - ISSUED_CARD_RETENTION_SECONDS),
        )
        return bool(rows)

    # -- JWT replay cache --------------------------------------------------------------------

    def jti_seen(self, issuer: str, jti: str, expires_at: float) -> bool:
        now = time.time()
        try:
            # Not fsync'd on its own: see the module docstring (durability, replay cache).
            with self._transaction(durable=False) as conn:
                # Purging first means an expired entry never counts as a replay, and keeps the
                # table bounded by (request rate x token lifetime).
                conn.execute("DELETE FROM jti_cache WHERE expires_at <= ?", (now,))
                cur = conn.execute(
                    "INSERT OR IGNORE INTO jti_cache (issuer, jti, expires_at) VALUES (?, ?, ?)",
                    (issuer, jti, float(expires_at)),
                )
                return cur.rowcount == 0
        except sqlite3.Error as exc:
            raise ServiceUnavailable("storage unavailable") from exc


def open_store(data_dir: Path) -> SqliteStore:
    """Open (creating if needed) the store in `data_dir`. The directory and database file are
    private to the service user: they hold feedback and audit records about patients' care."""
    data_dir = Path(data_dir)
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = data_dir / DB_FILENAME
    if not path.exists():
        # Create with 0600 before SQLite does (SQLite would honour the umask, often 0644).
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
    try:
        return SqliteStore(path)
    except sqlite3.Error as exc:
        raise ServiceUnavailable("storage unavailable") from exc
