"""Durable store (cds_hooks.storage): durability across re-open, idempotent feedback, concurrent
writers in separate processes lose nothing, the audit log is append-only, replay cache semantics."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import stat
import time
from pathlib import Path

import pytest

from cds_hooks.errors import InvalidRequest
from cds_hooks.storage import DB_FILENAME, SqliteStore, Store, open_store

FEEDBACK = {
    "card": "0c9a8f7e-1111-4d2a-9e0b-000000000001",
    "outcome": "accepted",
    "acceptedSuggestions": [{"id": "s1"}],
    "outcomeTimestamp": "2026-11-27T10:00:00Z",
}


def test_store_satisfies_protocol(tmp_path: Path) -> None:
    assert isinstance(open_store(tmp_path), Store)


def test_feedback_survives_reopen(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    assert store.add_feedback("derm-assess", FEEDBACK) is True
    store.close()
    reopened = open_store(tmp_path)
    assert reopened.list_feedback("derm-assess") == [FEEDBACK]
    assert reopened.list_feedback() == [FEEDBACK]
    assert reopened.list_feedback("other") == []


def test_feedback_is_idempotent(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    assert store.add_feedback("derm-assess", FEEDBACK) is True
    # Same content, different key order: still the same item (EHR retries may re-serialise).
    reordered = dict(reversed(list(FEEDBACK.items())))
    assert store.add_feedback("derm-assess", reordered) is False
    assert open_store(tmp_path).add_feedback("derm-assess", FEEDBACK) is False
    # The same item for another service is a different record.
    assert store.add_feedback("derm-triage", FEEDBACK) is True
    assert len(store.list_feedback()) == 2


def test_feedback_order_is_arrival_order(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    items = [{**FEEDBACK, "card": f"card-{i}"} for i in range(5)]
    for item in items:
        store.add_feedback("s", item)
    assert store.list_feedback("s") == items


def test_non_json_feedback_is_invalid(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    with pytest.raises(InvalidRequest):
        store.add_feedback("s", {"x": float("nan")})
    with pytest.raises(InvalidRequest):
        store.add_feedback("s", {"x": object()})


def test_files_are_private(tmp_path: Path) -> None:
    data = tmp_path / "var"
    open_store(data)
    assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(data / DB_FILENAME).st_mode) == 0o600


def test_wal_mode(tmp_path: Path) -> None:
    open_store(tmp_path)
    with sqlite3.connect(tmp_path / DB_FILENAME) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# -- audit -----------------------------------------------------------------------------------------


def test_audit_append_and_list_newest_first(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    for i in range(5):
        store.append_audit({"event": "hook", "n": i})
    assert [r["n"] for r in store.list_audit()] == [4, 3, 2, 1, 0]
    assert [r["n"] for r in store.list_audit(limit=2)] == [4, 3]
    assert store.verify_audit_chain()


def test_audit_has_no_update_or_delete_api(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    public = {name for name in dir(store) if not name.startswith("_")}
    assert not {n for n in public if any(w in n for w in ("delete", "update", "remove", "clear", "edit"))}


def test_audit_rows_cannot_be_changed_even_with_sql(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.append_audit({"event": "hook"})
    with sqlite3.connect(tmp_path / DB_FILENAME) as conn:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("UPDATE audit SET record = '{}'")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("DELETE FROM audit")
    assert store.list_audit() == [{"event": "hook"}]


def test_audit_chain_detects_tampering_that_bypasses_triggers(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    for i in range(3):
        store.append_audit({"n": i})
    with sqlite3.connect(tmp_path / DB_FILENAME) as conn:
        conn.execute("DROP TRIGGER audit_no_update")
        conn.execute("""UPDATE audit SET record = '{"n":99}' WHERE id = 2""")
    assert not SqliteStore(tmp_path / DB_FILENAME).verify_audit_chain()


# -- replay cache ----------------------------------------------------------------------------------


def test_jti_seen_semantics(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    later = time.time() + 60
    assert store.jti_seen("iss-a", "j1", later) is False
    assert store.jti_seen("iss-a", "j1", later) is True
    assert store.jti_seen("iss-b", "j1", later) is False  # scoped per issuer


def test_replay_check_skips_fsync_but_feedback_and_audit_stay_full(tmp_path: Path) -> None:
    # The module docstring's durability decision: only the jti commit runs with synchronous NORMAL;
    # the connection is back to FULL (2) for the audit and feedback commits that follow.
    store = open_store(tmp_path)
    assert store.jti_seen("iss", "j", time.time() + 60) is False
    assert store._conn().execute("PRAGMA synchronous").fetchone()[0] == 2
    store.append_audit({"event": "hook"})
    assert store.add_feedback("svc", {"card": "c"}) is True
    assert store._conn().execute("PRAGMA synchronous").fetchone()[0] == 2
    assert store.jti_seen("iss", "j", time.time() + 60) is True


def test_expired_jti_is_purged(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    assert store.jti_seen("iss", "old", time.time() - 1) is False
    # Already expired when recorded: the next call purges it, so it is not a replay.
    assert store.jti_seen("iss", "old", time.time() + 60) is False
    with sqlite3.connect(tmp_path / DB_FILENAME) as conn:
        assert conn.execute("SELECT count(*) FROM jti_cache").fetchone()[0] == 1


# -- concurrency across processes ------------------------------------------------------------------

WRITERS = 4
ITEMS_PER_WRITER = 60


def _writer(data_dir: str, worker: int) -> None:
    store = open_store(Path(data_dir))
    for i in range(ITEMS_PER_WRITER):
        store.add_feedback("derm-assess", {"card": f"w{worker}-{i}", "outcome": "accepted"})
        # Every worker also posts a shared duplicate: exactly one copy must survive.
        store.add_feedback("derm-assess", {"card": f"shared-{i}", "outcome": "overridden"})
        store.append_audit({"worker": worker, "i": i})


def _replayer(data_dir: str, results: "multiprocessing.Queue[int]") -> None:
    store = open_store(Path(data_dir))
    fresh = sum(0 if store.jti_seen("iss", f"jti-{i}", time.time() + 600) else 1 for i in range(100))
    results.put(fresh)


def test_concurrent_writer_processes_lose_nothing(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")  # fresh interpreters, like gunicorn workers
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), w)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    store = open_store(tmp_path)
    cards = [item["card"] for item in store.list_feedback("derm-assess")]
    assert len(cards) == WRITERS * ITEMS_PER_WRITER + ITEMS_PER_WRITER
    assert len(set(cards)) == len(cards)
    assert len(store.list_audit(limit=10_000)) == WRITERS * ITEMS_PER_WRITER
    assert store.verify_audit_chain()


def test_concurrent_replay_checks_admit_each_jti_once(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    procs = [ctx.Process(target=_replayer, args=(str(tmp_path), results)) for _ in range(3)]
    for p in procs:
        p.start()
    fresh = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert sum(fresh) == 100  # each jti accepted by exactly one "worker"
