"""Durable service state: card feedback, the append-only audit log, the JWT replay cache and the
cards issued (feedback is accepted only for those).

Stored through `cds_hooks.database` (SQLite file by default, PostgreSQL for replicas); the schema is
`cds_hooks.tables`, created by migrations. Correct with many writers, whether gunicorn workers on
one SQLite file or replicas on one PostgreSQL:
- feedback: a unique constraint on (service, content digest) with `INSERT ... ON CONFLICT DO
  NOTHING`: a re-sent item is stored once, whichever replica receives each copy. The digest leaves
  out `outcomeTimestamp` (when it was sent), so a re-send seconds or days later is the same item;
- issued cards: keyed by (card uuid, service); recorded with `ON CONFLICT DO NOTHING`, looked up
  by the replica that receives the feedback, whichever replica issued the card;
- JWT replay: the same on (issuer, jti), so the check-and-record is one atomic statement - of two
  replicas receiving one token at the same moment, exactly one inserts the row and accepts it;
- audit: ONE hash chain for the whole service. Appends are serialised (SQLite's write lock,
  PostgreSQL's transaction-scoped advisory lock), so each record links to the one committed just
  before it and `verify_audit_chain` (`derm3r db verify-audit`) checks a single sequence. Chosen over
  per-replica chains because an auditor then verifies one ordered log without knowing how many
  replicas ran; an append costs one short lock (well under a millisecond held), far below the hook rate.

Durability, decided per table:
- feedback and audit commit fully durable (SQLite `synchronous = FULL`, PostgreSQL's default
  synchronous commit): once acknowledged they survive a power cut, not only a process crash.
- issued cards commit without their own flush too (see below): losing the last few on a power cut
  only makes feedback on those cards refused as unknown.
- the JWT replay cache (`jti_cache`) commits without waiting for its own flush (SQLite NORMAL,
  PostgreSQL `synchronous_commit = off`). That is still durable against a process crash; only a
  power cut or a database crash can lose the last few entries, and every hook appends an audit
  record right after its replay check, whose durable commit flushes the log up to and including the
  jti entry, so in practice the window is the few milliseconds between the two. The worst case, a
  lost entry, re-opens a replay window bounded by that token's remaining lifetime (`exp`, minutes).
  Accepted: it saves one fsync per hook (its cost is measured by `python -m bench.run`).

The rest of the service codes against the `Store` protocol.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.sql.expression import Insert

from cds_hooks.database import SQLITE_FILENAME, Database, DatabaseOptions, open_database
from cds_hooks.errors import InvalidRequest
from cds_hooks.tables import audit, feedback, issued_card, jti_cache

log = logging.getLogger(__name__)

DB_FILENAME = SQLITE_FILENAME
# Genesis value for the audit hash chain (any fixed value works; it just anchors the first link).
AUDIT_GENESIS = "0" * 64
# Advisory lock key that serialises audit appends across PostgreSQL sessions (any constant).
AUDIT_LOCK_KEY = 0x6465726D33720002

# Feedback for a card older than this is refused as unknown: EHRs send feedback within the
# encounter, and the table stays bounded by (hook rate x retention).
ISSUED_CARD_RETENTION_SECONDS = 30 * 24 * 3600


@runtime_checkable
class Store(Protocol):
    """What the service needs from durable storage."""

    def add_feedback(self, service_id: str, item: dict[str, Any]) -> bool:
        """Store one feedback item durably. False if an identical item (same service, same JSON
        content apart from `outcomeTimestamp`) was stored before: EHRs retry, so duplicates are
        expected and harmless."""
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


def _sha256(text_: str) -> str:
    return hashlib.sha256(text_.encode("utf-8", "surrogatepass")).hexdigest()


def feedback_digest(item: dict[str, Any]) -> str:
    """The identity of one feedback item: its canonical JSON without `outcomeTimestamp`."""
    return _sha256(canonical_json({k: v for k, v in item.items() if k != "outcomeTimestamp"}))


def audit_link(prev: str, ts: float, record_text: str) -> str:
    """The chain link of one audit row: it commits to its predecessor, its time and its content."""
    return _sha256(f"{prev}|{ts!r}|{record_text}")


def dialect_insert(db: Database, table: Any) -> Insert:
    """`INSERT` in the database's dialect, for its `ON CONFLICT` forms (both engines spell them
    alike; only the construct differs). The one place that picks it, for every store."""
    dialect = postgresql if db.dialect == "postgresql" else sqlite
    return dialect.insert(table)


def insert_ignoring_duplicates(db: Database, table: Any) -> Insert:
    """`INSERT ... ON CONFLICT DO NOTHING` in the database's dialect."""
    return dialect_insert(db, table).on_conflict_do_nothing()


class SqlStore:
    """`Store` on a `Database`; safe to use from many threads, processes and replicas."""

    def __init__(self, database: Database) -> None:
        self.database = database

    @property
    def path(self) -> Path | None:
        return self.database.path

    def close(self) -> None:
        """Close pooled connections (they reopen on next use)."""
        self.database.dispose()

    # -- feedback ------------------------------------------------------------------------------

    def add_feedback(self, service_id: str, item: dict[str, Any]) -> bool:
        text_ = canonical_json(item)
        # Idempotent by content, not by second (issue 12): the timestamp is when the client (or the
        # review app) sent it, so a re-send a second later used to be stored again. The same
        # outcome for the same card with the same details is one piece of feedback. The digest is
        # the unique key, so two replicas receiving the two copies still store one.
        digest = feedback_digest(item)
        row = {"service_id": service_id, "digest": digest, "item": text_, "received_at": time.time()}
        # RETURNING, not rowcount: drivers report -1 for an INSERT whose primary key they fetch.
        stmt = insert_ignoring_duplicates(self.database, feedback).returning(feedback.c.id)
        return self.database.write("feedback", lambda conn: conn.execute(stmt, row).first() is not None)

    def list_feedback(self, service_id: str | None = None) -> list[dict[str, Any]]:
        query = select(feedback.c.item).order_by(feedback.c.id)
        if service_id is not None:
            query = query.where(feedback.c.service_id == service_id)
        rows = self.database.read("feedback", lambda conn: conn.execute(query).all())
        return [json.loads(r[0]) for r in rows]

    # -- audit ---------------------------------------------------------------------------------

    def append_audit(self, record: dict[str, Any]) -> None:
        text_ = canonical_json(record)

        def append(conn: Connection) -> None:
            if self.database.dialect == "postgresql":
                # One chain across replicas: held until this transaction ends (see module docstring).
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_LOCK_KEY})
            prev = conn.execute(select(audit.c.hash).order_by(audit.c.id.desc()).limit(1)).scalar() or AUDIT_GENESIS
            ts = time.time()
            conn.execute(audit.insert().values(ts=ts, record=text_, prev_hash=prev, hash=audit_link(prev, ts, text_)))

        self.database.write("audit", append)

    def list_audit(self, limit: int = 100) -> list[dict[str, Any]]:
        limit = max(0, min(int(limit), 10_000))
        query = select(audit.c.record).order_by(audit.c.id.desc()).limit(limit)
        rows = self.database.read("audit", lambda conn: conn.execute(query).all())
        return [json.loads(r[0]) for r in rows]

    def count_audit(self) -> int:
        return int(self.database.read("audit", lambda conn: conn.execute(select(func.count()).select_from(audit)).scalar_one()))

    def verify_audit_chain(self) -> bool:
        """True if every audit row still links to its predecessor (no row edited or removed)."""
        return self.audit_chain_break() is None

    def audit_chain_break(self) -> int | None:
        """The id of the first row whose link does not verify, or None when the chain is intact.
        Streams the table, so a long log does not need to fit in memory."""

        def walk(conn: Connection) -> int | None:
            prev = AUDIT_GENESIS
            rows = conn.execution_options(yield_per=1000).execute(
                select(audit.c.id, audit.c.ts, audit.c.record, audit.c.prev_hash, audit.c.hash).order_by(audit.c.id)
            )
            for row_id, ts, record_text, prev_hash, link in rows:
                if prev_hash != prev or audit_link(prev, ts, record_text) != link:
                    return int(row_id)
                prev = link
            return None

        return self.database.read("audit", walk)

    # -- issued cards (issue 12) ---------------------------------------------------------------

    def record_issued_cards(self, service_id: str, client_issuer: str | None, card_uuids: list[str]) -> None:
        if not card_uuids:
            return
        now = time.time()
        rows = [{"card_uuid": uuid, "service_id": service_id, "client_issuer": client_issuer or "", "issued_at": now}
                for uuid in dict.fromkeys(card_uuids)]
        stmt = insert_ignoring_duplicates(self.database, issued_card)

        def record(conn: Connection) -> None:
            conn.execute(delete(issued_card).where(issued_card.c.issued_at < now - ISSUED_CARD_RETENTION_SECONDS))
            conn.execute(stmt, rows)

        # Not flushed on its own: losing the last few on a power cut only makes their feedback refused.
        self.database.write("issued_card", record, durable=False)

    def card_issued_to(self, card_uuid: str, service_id: str, client_issuer: str | None) -> bool:
        query = (
            select(issued_card.c.card_uuid)
            .where(
                issued_card.c.card_uuid == card_uuid,
                issued_card.c.service_id == service_id,
                issued_card.c.client_issuer == (client_issuer or ""),
                issued_card.c.issued_at >= time.time() - ISSUED_CARD_RETENTION_SECONDS,
            )
            .limit(1)
        )
        return self.database.read("issued_card", lambda conn: conn.execute(query).first() is not None)

    # -- JWT replay cache ----------------------------------------------------------------------

    def jti_seen(self, issuer: str, jti: str, expires_at: float) -> bool:
        stmt = insert_ignoring_duplicates(self.database, jti_cache).returning(jti_cache.c.jti)

        def check(conn: Connection) -> bool:
            # Purging first means an expired entry never counts as a replay, and keeps the table
            # bounded by (request rate x token lifetime).
            conn.execute(delete(jti_cache).where(jti_cache.c.expires_at <= time.time()))
            inserted = conn.execute(stmt, {"issuer": issuer, "jti": jti, "expires_at": float(expires_at)}).first()
            return inserted is None

        # Not flushed on its own: see the module docstring (durability, replay cache).
        return self.database.write("jti", check, durable=False)


# The name callers and tests used when SQLite was the only engine.
SqliteStore = SqlStore


def open_store(
    data_dir: Path,
    database_url: str | None = None,
    options: DatabaseOptions | None = None,
) -> SqlStore:
    """Open the store: `database_url` (DERM3R_DATABASE_URL), or the embedded SQLite file in
    `data_dir`, created private to the service user (0700 directory, 0600 file)."""
    return SqlStore(open_database(database_url, Path(data_dir), options))
