"""Durable store (cds_hooks.storage) on both engines - the embedded SQLite file and a real
PostgreSQL server: durability across re-open, idempotent feedback, concurrent writers in separate
processes lose nothing, the audit log is append-only and one verifiable chain, replay cache
semantics, migrations and the schema check at start-up."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import stat
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from cds_hooks import migrate
from cds_hooks.database import SchemaBehind, open_database, resolve_url
from cds_hooks.errors import InvalidRequest, ServiceUnavailable
from cds_hooks.storage import DB_FILENAME, SqlStore, Store, open_store

FEEDBACK = {
    "card": "0c9a8f7e-1111-4d2a-9e0b-000000000001",
    "outcome": "accepted",
    "acceptedSuggestions": [{"id": "s1"}],
    "outcomeTimestamp": "2026-11-27T10:00:00Z",
}


def test_store_satisfies_protocol(tmp_path: Path, database_url: str | None) -> None:
    assert isinstance(open_store(tmp_path, database_url), Store)


def test_feedback_survives_reopen(tmp_path: Path, database_url: str | None) -> None:
    store = open_store(tmp_path, database_url)
    assert store.add_feedback("derm-assess", FEEDBACK) is True
    store.close()
    reopened = open_store(tmp_path, database_url)
    assert reopened.list_feedback("derm-assess") == [FEEDBACK]
    assert reopened.list_feedback() == [FEEDBACK]
    assert reopened.list_feedback("other") == []


def test_feedback_is_idempotent(tmp_path: Path, database_url: str | None) -> None:
    store = open_store(tmp_path, database_url)
    assert store.add_feedback("derm-assess", FEEDBACK) is True
    # Same content, different key order: still the same item (EHR retries may re-serialise).
    reordered = dict(reversed(list(FEEDBACK.items())))
    assert store.add_feedback("derm-assess", reordered) is False
    assert open_store(tmp_path, database_url).add_feedback("derm-assess", FEEDBACK) is False
    # The same item for another service is a different record.
    assert store.add_feedback("derm-triage", FEEDBACK) is True
    assert len(store.list_feedback()) == 2


def test_feedback_is_idempotent_by_content_not_by_send_time(tmp_path: Path, database_url: str | None) -> None:
    """Issue 12: the same outcome re-sent later (a new outcomeTimestamp) is one item; a different
    outcome for the same card is another."""
    store = open_store(tmp_path, database_url)
    assert store.add_feedback("derm-assess", FEEDBACK) is True
    assert store.add_feedback("derm-assess", {**FEEDBACK, "outcomeTimestamp": "2026-11-28T09:00:00Z"}) is False
    assert store.add_feedback("derm-assess", {k: v for k, v in FEEDBACK.items() if k != "outcomeTimestamp"}) is False
    assert store.add_feedback("derm-assess", {**FEEDBACK, "outcome": "overridden"}) is True
    assert [item["outcome"] for item in store.list_feedback()] == ["accepted", "overridden"]


def test_issued_cards_are_bound_to_service_and_client(tmp_path: Path, database_url: str | None) -> None:
    store = open_store(tmp_path, database_url)
    store.record_issued_cards("derm-assess", "https://ehr.a", ["c1", "c2", "c1"])  # a repeat is harmless
    store.record_issued_cards("derm-assess", "https://ehr.a", ["c2"])  # so is a second recording
    store.record_issued_cards("derm-assess", None, ["c3"])  # auth off: no issuer
    store.record_issued_cards("derm-assess", "https://ehr.a", [])
    reopened = open_store(tmp_path, database_url)  # another worker or replica sees them
    assert reopened.card_issued_to("c1", "derm-assess", "https://ehr.a")
    assert reopened.card_issued_to("c2", "derm-assess", "https://ehr.a")
    assert not reopened.card_issued_to("c1", "derm-assess", "https://ehr.b")
    assert not reopened.card_issued_to("c1", "derm-triage", "https://ehr.a")
    assert not reopened.card_issued_to("c4", "derm-assess", "https://ehr.a")
    assert reopened.card_issued_to("c3", "derm-assess", None)
    assert not reopened.card_issued_to("c3", "derm-assess", "https://ehr.a")


def test_issued_cards_past_retention_are_refused_and_purged(tmp_path: Path, database_url: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    from cds_hooks import storage

    store = open_store(tmp_path, database_url)
    store.record_issued_cards("derm-assess", "https://ehr.a", ["old"])
    later = time.time() + storage.ISSUED_CARD_RETENTION_SECONDS + 60
    monkeypatch.setattr(storage.time, "time", lambda: later)
    assert not store.card_issued_to("old", "derm-assess", "https://ehr.a")
    store.record_issued_cards("derm-assess", "https://ehr.a", ["new"])  # purges the expired row
    with store.database.transaction(write=False) as conn:
        assert conn.execute(text("SELECT card_uuid FROM issued_card")).scalars().all() == ["new"]


def test_feedback_order_is_arrival_order(tmp_path: Path, database_url: str | None) -> None:
    store = open_store(tmp_path, database_url)
    items = [{**FEEDBACK, "card": f"card-{i}"} for i in range(5)]
    for item in items:
        store.add_feedback("s", item)
    assert store.list_feedback("s") == items


def test_non_json_feedback_is_invalid(tmp_path: Path, database_url: str | None) -> None:
    store = open_store(tmp_path, database_url)
    with pytest.raises(InvalidRequest):
        store.add_feedback("s", {"x": float("nan")})
    with pytest.raises(InvalidRequest):
        store.add_feedback("s", {"x": object()})


def test_sqlite_files_are_private(tmp_path: Path) -> None:
    data = tmp_path / "var"
    open_store(data)
    assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(data / DB_FILENAME).st_mode) == 0o600


def test_sqlite_wal_mode(tmp_path: Path) -> None:
    open_store(tmp_path)
    with sqlite3.connect(tmp_path / DB_FILENAME) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# -- audit -----------------------------------------------------------------------------------------


def test_audit_append_and_list_newest_first(tmp_path: Path, database_url: str | None) -> None:
    store = open_store(tmp_path, database_url)
    for i in range(5):
        store.append_audit({"event": "hook", "n": i})
    assert [r["n"] for r in store.list_audit()] == [4, 3, 2, 1, 0]
    assert [r["n"] for r in store.list_audit(limit=2)] == [4, 3]
    assert store.verify_audit_chain() and store.count_audit() == 5


def test_audit_has_no_update_or_delete_api(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    public = {name for name in dir(store) if not name.startswith("_")}
    assert not {n for n in public if any(w in n for w in ("delete", "update", "remove", "clear", "edit"))}


@pytest.mark.parametrize("statement", ["UPDATE audit SET record = '{}'", "DELETE FROM audit"])
def test_audit_rows_cannot_be_changed_even_with_sql(tmp_path: Path, database_url: str | None, statement: str) -> None:
    store = open_store(tmp_path, database_url)
    store.append_audit({"event": "hook"})
    with pytest.raises(Exception, match="append-only"):
        with store.database.transaction() as conn:
            conn.execute(text(statement))
    assert store.list_audit() == [{"event": "hook"}]


def test_audit_cannot_be_truncated_on_postgres(migrated_postgres_url: str, tmp_path: Path) -> None:
    store = open_store(tmp_path, migrated_postgres_url)
    store.append_audit({"event": "hook"})
    with pytest.raises(Exception, match="append-only"):
        with store.database.transaction() as conn:
            conn.execute(text("TRUNCATE audit"))
    assert store.count_audit() == 1


def test_audit_chain_detects_tampering_that_bypasses_triggers(tmp_path: Path, database_url: str | None) -> None:
    store = open_store(tmp_path, database_url)
    for i in range(3):
        store.append_audit({"n": i})
    trigger = "DROP TRIGGER audit_no_update" if store.database.dialect == "sqlite" else "DROP TRIGGER audit_no_update_delete ON audit"
    with store.database.transaction() as conn:
        conn.execute(text(trigger))
        conn.execute(text("UPDATE audit SET record = :r WHERE id = 2"), {"r": "{\"n\":99}"})
    assert not open_store(tmp_path, database_url).verify_audit_chain()
    assert store.audit_chain_break() == 2


# -- replay cache ----------------------------------------------------------------------------------


def test_jti_seen_semantics(tmp_path: Path, database_url: str | None) -> None:
    store = open_store(tmp_path, database_url)
    later = time.time() + 60
    assert store.jti_seen("iss-a", "j1", later) is False
    assert store.jti_seen("iss-a", "j1", later) is True
    assert store.jti_seen("iss-b", "j1", later) is False  # scoped per issuer


def test_replay_check_skips_fsync_but_feedback_and_audit_stay_full(tmp_path: Path) -> None:
    # The storage docstring's durability decision: only the jti (and review) commits run with
    # synchronous NORMAL (1); every durable transaction runs with FULL (2).
    store = open_store(tmp_path)
    seen: list[int] = []
    store.database.write("probe", lambda conn: seen.append(conn.exec_driver_sql("PRAGMA synchronous").scalar()), durable=False)
    assert store.jti_seen("iss", "j", time.time() + 60) is False
    store.database.write("probe", lambda conn: seen.append(conn.exec_driver_sql("PRAGMA synchronous").scalar()))
    store.append_audit({"event": "hook"})
    assert store.add_feedback("svc", {"card": "c"}) is True
    store.database.read("probe", lambda conn: seen.append(conn.exec_driver_sql("PRAGMA synchronous").scalar()))
    assert seen == [1, 2, 2]
    assert store.jti_seen("iss", "j", time.time() + 60) is True


def test_replay_check_is_asynchronous_commit_on_postgres(migrated_postgres_url: str, tmp_path: Path) -> None:
    store = open_store(tmp_path, migrated_postgres_url)
    show = lambda conn: conn.exec_driver_sql("SHOW synchronous_commit").scalar()  # noqa: E731
    assert store.database.write("probe", show, durable=False) == "off"
    assert store.database.write("probe", show) == "on"


def test_expired_jti_is_purged(tmp_path: Path, database_url: str | None) -> None:
    store = open_store(tmp_path, database_url)
    assert store.jti_seen("iss", "old", time.time() - 1) is False
    # Already expired when recorded: the next call purges it, so it is not a replay.
    assert store.jti_seen("iss", "old", time.time() + 60) is False
    count = store.database.read("probe", lambda conn: conn.exec_driver_sql("SELECT count(*) FROM jti_cache").scalar())
    assert count == 1


# -- schema and connection handling ----------------------------------------------------------------


def test_migrated_schema_matches_the_tables_the_code_uses(tmp_path: Path, database_url: str | None) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from cds_hooks.tables import metadata

    db = open_database(database_url, tmp_path, migrate=True)
    with db.transaction(write=False) as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == []
    assert migrate.current_revision(db) == migrate.head_revision()


def test_postgres_schema_behind_refuses_to_start_until_upgraded(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SchemaBehind, match="derm3r db upgrade"):
        open_store(tmp_path, postgres_url)
    # Upgrading is an explicit step on PostgreSQL (the migration Job), then the service starts.
    from cds_hooks.cli import main

    monkeypatch.setenv("DERM3R_DATABASE_URL", postgres_url)
    assert main(["db", "check"]) == 1
    assert main(["db", "upgrade"]) == 0
    assert main(["db", "check"]) == 0
    out = capsys.readouterr().out
    assert "behind" in out and "upgraded" in out and "current" in out
    assert open_store(tmp_path, postgres_url).add_feedback("s", FEEDBACK) is True


def test_concurrent_upgrades_apply_the_migrations_once(postgres_url: str, tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: migrate.upgrade(_db(postgres_url, tmp_path)), range(4)))
    assert sorted(before is None for before, _ in results) == [False, False, False, True]


def _db(url: str, data_dir: Path):  # an unmigrated handle: open_database would refuse it
    from cds_hooks.database import Database, DatabaseOptions, _postgres_engine

    return Database(_postgres_engine(resolve_url(url, data_dir), DatabaseOptions()), DatabaseOptions())


def test_an_unreachable_database_is_a_503(tmp_path: Path) -> None:
    # Nothing listens on port 9 of loopback: connecting fails at once.
    with pytest.raises(ServiceUnavailable):
        open_store(tmp_path, "postgresql://derm3r@127.0.0.1:9/none")


@pytest.mark.parametrize("url", ["mysql://x@h/db", "postgresql+psycopg2://x@h/db", "not a url"])
def test_unsupported_database_urls_are_refused(tmp_path: Path, url: str) -> None:
    with pytest.raises(ValueError, match="DERM3R_DATABASE_URL"):
        resolve_url(url, tmp_path)


def test_a_pre_migration_sqlite_file_is_adopted(tmp_path: Path) -> None:
    """A data directory from before migrations existed keeps its feedback and audit chain."""
    with sqlite3.connect(tmp_path / DB_FILENAME) as conn:
        conn.executescript(
            "CREATE TABLE feedback (id INTEGER PRIMARY KEY AUTOINCREMENT, service_id TEXT NOT NULL, digest TEXT NOT NULL,"
            " item TEXT NOT NULL, received_at REAL NOT NULL, UNIQUE (service_id, digest));"
            "CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, record TEXT NOT NULL,"
            " prev_hash TEXT NOT NULL, hash TEXT NOT NULL);"
            "INSERT INTO feedback (service_id, digest, item, received_at) VALUES ('s', 'd', '{\"card\":\"old\"}', 1.0);"
        )
    store = open_store(tmp_path)
    assert store.list_feedback() == [{"card": "old"}]
    store.append_audit({"n": 1})
    assert store.verify_audit_chain()


# -- concurrency across processes ------------------------------------------------------------------

WRITERS = 4
ITEMS_PER_WRITER = 40


def _writer(data_dir: str, url: str | None, worker: int) -> None:
    store = open_store(Path(data_dir), url)
    for i in range(ITEMS_PER_WRITER):
        store.add_feedback("derm-assess", {"card": f"w{worker}-{i}", "outcome": "accepted"})
        # Every worker also posts a shared duplicate: exactly one copy must survive.
        store.add_feedback("derm-assess", {"card": f"shared-{i}", "outcome": "overridden"})
        # ... and the same outcome re-sent with its own send time (issue 12): still one copy.
        store.add_feedback("derm-assess", {"card": f"shared-{i}", "outcome": "overridden", "outcomeTimestamp": f"2026-12-02T10:00:0{worker}Z"})
        store.append_audit({"worker": worker, "i": i})


def _replayer(data_dir: str, url: str | None, results: "multiprocessing.Queue[int]") -> None:
    store = open_store(Path(data_dir), url)
    fresh = sum(0 if store.jti_seen("iss", f"jti-{i}", time.time() + 600) else 1 for i in range(100))
    results.put(fresh)


def test_concurrent_writer_processes_lose_nothing(tmp_path: Path, database_url: str | None) -> None:
    open_store(tmp_path, database_url)  # schema in place before the writers start
    ctx = multiprocessing.get_context("spawn")  # fresh interpreters, like gunicorn workers or replicas
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), database_url, w)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=180)
        assert p.exitcode == 0
    store = open_store(tmp_path, database_url)
    cards = [item["card"] for item in store.list_feedback("derm-assess")]
    assert len(cards) == WRITERS * ITEMS_PER_WRITER + ITEMS_PER_WRITER
    assert len(set(cards)) == len(cards)
    assert store.count_audit() == WRITERS * ITEMS_PER_WRITER
    # One chain, although four processes appended at once.
    assert store.verify_audit_chain()


def test_concurrent_replay_checks_admit_each_jti_once(tmp_path: Path, database_url: str | None) -> None:
    open_store(tmp_path, database_url)
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    procs = [ctx.Process(target=_replayer, args=(str(tmp_path), database_url, results)) for _ in range(3)]
    for p in procs:
        p.start()
    fresh = [results.get(timeout=180) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert sum(fresh) == 100  # each jti accepted by exactly one "worker"


def test_db_commands_on_the_sqlite_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from cds_hooks.cli import main

    monkeypatch.delenv("DERM3R_DATABASE_URL", raising=False)
    monkeypatch.setenv("DERM3R_DATA_DIR", str(tmp_path))
    assert main(["db", "check"]) == 1  # a new directory: nothing migrated yet, and `check` changes nothing
    assert main(["db", "upgrade"]) == 0 and main(["db", "check"]) == 0
    store = open_store(tmp_path)
    for i in range(3):
        store.append_audit({"n": i})
    assert main(["db", "verify-audit"]) == 0
    with store.database.transaction() as conn:
        conn.execute(text("DROP TRIGGER audit_no_update"))
        conn.execute(text("UPDATE audit SET ts = ts + 1 WHERE id = 3"))
    assert main(["db", "verify-audit"]) == 1
    out = capsys.readouterr().out
    assert "audit chain verifies (3 records)" in out and "BROKEN at row 3" in out


def test_db_command_on_an_unreachable_database_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from cds_hooks.cli import main

    monkeypatch.setenv("DERM3R_DATABASE_URL", "postgresql://derm3r:s3cret@127.0.0.1:9/none")
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("derm3r db: database unavailable") and "s3cret" not in err and len(err.splitlines()) == 1


def test_a_write_blocked_past_the_timeout_is_retried(tmp_path: Path, database_url: str | None) -> None:
    """Another session holds the table lock a little longer than the lock timeout: the first
    attempt fails (SQLite "database is locked", PostgreSQL lock_not_available 55P03), the retry
    succeeds once the lock is gone, and the failed attempt is reported to the error hook."""
    import threading

    from cds_hooks.database import DatabaseOptions
    from cds_hooks.storage import SqlStore

    errors: list[tuple[str, str]] = []
    db = open_database(database_url, tmp_path, DatabaseOptions(pool_size=2, timeout_seconds=1.0), on_error=lambda op, kind: errors.append((op, kind)))
    store = SqlStore(db)
    holder = open_database(database_url, tmp_path, DatabaseOptions(pool_size=1, timeout_seconds=5.0))
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        with holder.transaction() as conn:  # SQLite: BEGIN IMMEDIATE takes the write lock
            if holder.dialect == "postgresql":
                conn.execute(text("LOCK TABLE feedback IN EXCLUSIVE MODE"))
            locked.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    assert locked.wait(10)
    threading.Timer(1.5, release.set).start()
    try:
        assert store.add_feedback("s", FEEDBACK) is True
    finally:
        release.set()
        thread.join(10)
    assert errors and all(op == "feedback" for op, _ in errors)
    assert store.list_feedback("s") == [FEEDBACK]
