"""The database under every store: one SQLAlchemy engine per process, SQLite or PostgreSQL.

`DERM3R_DATABASE_URL` chooses the engine. Unset, the service keeps its embedded default: one SQLite
file (`derm3r.sqlite3` in `DERM3R_DATA_DIR`, WAL mode), nothing to set up. A `postgresql://` URL
(driven by psycopg 3) is for several replicas sharing state. SQLAlchemy Core does the dialect work
(`ON CONFLICT`, types, pooling), Alembic the schema (`cds_hooks/migrations`).

Transactions go through `Database.write` / `Database.read`, which
- serialise writers the way each engine needs: SQLite writers take the write lock up front
  (`BEGIN IMMEDIATE`) so read-then-write sequences are atomic across processes; PostgreSQL runs at
  READ COMMITTED and the stores use constraints (`INSERT ... ON CONFLICT`) or an advisory lock (the
  audit chain) where atomicity matters;
- retry a bounded number of times on the failures a retry cures (serialisation failure, deadlock,
  a lock timeout, a connection dropped by a database fail-over);
- turn any remaining database failure into the service's 503 (`ServiceUnavailable`), logging only
  the error's class and SQLSTATE: statements and parameters may carry patient references.

Durability is per transaction (`durable=False` for data that may lose its last commits on a power
cut, see `cds_hooks.storage`): SQLite switches `synchronous` between FULL and NORMAL, PostgreSQL sets
`synchronous_commit = off` for that transaction only.

Schema: SQLite files are migrated in place when opened (embedded default, no set-up step); a
PostgreSQL database must be migrated explicitly (`derm3r db upgrade`, the Kubernetes migration Job)
and the service refuses to start while it is behind.
"""

from __future__ import annotations

import logging
import os
import random
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.engine.url import URL
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from cds_hooks import migrate as migrations
from cds_hooks.errors import ServiceUnavailable
from cds_hooks.migrate import MIGRATION_LOCK_KEY, SchemaBehind  # noqa: F401 - re-exported (callers know them from here)

log = logging.getLogger(__name__)

T = TypeVar("T")

SQLITE_FILENAME = "derm3r.sqlite3"
# SQLite page size for new files: review photos are multi-MB blobs, which cost ~3x less CPU to
# write with 64 KiB pages than with the default 4 KiB (measured with the bench photos, `python -m bench.run`).
SQLITE_PAGE_SIZE = 65536
# Attempts for a transaction that failed in a way a retry cures (see `_retryable`).
MAX_ATTEMPTS = 4
# PostgreSQL SQLSTATEs worth a retry: serialization_failure, deadlock_detected, lock_not_available.
RETRY_SQLSTATES = frozenset({"40001", "40P01", "55P03"})

ErrorHook = Callable[[str, str], None]


@dataclass(frozen=True)
class DatabaseOptions:
    """Connection settings (from `Settings`): pool size per process and one timeout that bounds
    connecting, waiting for a pooled connection, a lock and a statement."""

    pool_size: int = 5
    timeout_seconds: float = 5.0


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{Path(data_dir) / SQLITE_FILENAME}"


def resolve_url(database_url: str | None, data_dir: Path) -> URL:
    """The URL to connect to: `DERM3R_DATABASE_URL`, or the embedded SQLite file in `data_dir`.
    `postgresql://` means psycopg 3 (SQLAlchemy's own default driver for it is psycopg2)."""
    try:
        url = make_url(database_url or sqlite_url(data_dir))
    except ArgumentError as exc:
        raise ValueError("DERM3R_DATABASE_URL is not a database URL") from exc
    if url.drivername in {"postgresql", "postgres"}:
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in {"sqlite", "postgresql"}:
        raise ValueError(f"DERM3R_DATABASE_URL: unsupported database {url.get_backend_name()!r} (sqlite or postgresql)")
    if url.get_backend_name() == "postgresql" and url.get_driver_name() != "psycopg":
        raise ValueError("DERM3R_DATABASE_URL: PostgreSQL is used through psycopg 3 (postgresql:// or postgresql+psycopg://)")
    return url


class Database:
    """One engine and its pool, for one process. Build it with `open_database`."""

    def __init__(self, engine: Engine, options: DatabaseOptions, on_error: ErrorHook | None = None) -> None:
        self.engine = engine
        self.options = options
        self.dialect: str = engine.dialect.name
        self._on_error = on_error
        self._pid = os.getpid()

    @property
    def path(self) -> Path | None:
        """The SQLite file, or None for a server database."""
        if self.dialect != "sqlite" or not self.engine.url.database:
            return None
        return Path(self.engine.url.database)

    def describe(self) -> str:
        """The URL without its password, for logs and the CLI."""
        return self.engine.url.render_as_string(hide_password=True)

    def set_error_hook(self, on_error: ErrorHook | None) -> None:
        """`on_error(operation, kind)` is called for every failed attempt (metrics)."""
        self._on_error = on_error

    # -- transactions --------------------------------------------------------------------------

    def _fresh_after_fork(self) -> None:
        # Pooled connections must never cross a fork() (gunicorn --preload, multiprocessing): the
        # child drops the parent's pool without closing the parent's connections.
        if os.getpid() != self._pid:
            self.engine.dispose(close=False)
            self._pid = os.getpid()

    @contextmanager
    def transaction(self, *, write: bool = True, durable: bool = True) -> Iterator[Connection]:
        """One transaction, one attempt, raw SQLAlchemy errors. Stores use `write`/`read`."""
        self._fresh_after_fork()
        with self.engine.connect().execution_options(derm3r_write=write, derm3r_durable=durable) as conn:
            with conn.begin():
                if self.dialect == "postgresql" and write and not durable:
                    conn.execute(text("SET LOCAL synchronous_commit = off"))
                yield conn

    def write(self, operation: str, work: Callable[[Connection], T], *, durable: bool = True) -> T:
        """Run `work(conn)` in one write transaction, retried on transient failures. `work` must
        only touch the database (it may run more than once)."""
        return self._run(operation, work, write=True, durable=durable)

    def read(self, operation: str, work: Callable[[Connection], T]) -> T:
        return self._run(operation, work, write=False, durable=True)

    def _run(self, operation: str, work: Callable[[Connection], T], *, write: bool, durable: bool) -> T:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                with self.transaction(write=write, durable=durable) as conn:
                    return work(conn)
            except SQLAlchemyError as exc:
                kind = _error_kind(exc)
                if self._on_error is not None:
                    self._on_error(operation, kind)
                if attempt < MAX_ATTEMPTS and _retryable(exc):
                    # Jittered exponential back-off: replicas that collided must not collide again.
                    time.sleep(0.01 * 2**attempt * (0.5 + random.random()))
                    continue
                log.error("storage %s failed: %s", operation, kind)
                raise ServiceUnavailable("storage unavailable") from exc
        raise AssertionError("unreachable")

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlstate(exc: SQLAlchemyError) -> str | None:
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


def _error_kind(exc: SQLAlchemyError) -> str:
    """A bounded label for logs and metrics: the exception class and SQLSTATE, never the message."""
    state = _sqlstate(exc)
    name = type(getattr(exc, "orig", None) or exc).__name__
    return f"{name}:{state}" if state else name


def _retryable(exc: SQLAlchemyError) -> bool:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True  # the pool has already dropped the dead connection; the next one is fresh
    if _sqlstate(exc) in RETRY_SQLSTATES:
        return True
    message = str(getattr(exc, "orig", exc)).lower()
    return "database is locked" in message or "database is busy" in message


# -- engines ---------------------------------------------------------------------------------------


def _sqlite_engine(url: URL, options: DatabaseOptions) -> Engine:
    path = Path(url.database or "")
    if url.database and url.database != ":memory:":
        # Private to the service user: feedback, audit and review records are about patients' care.
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists():
            # Created 0600 before SQLite does (SQLite would honour the umask, often 0644).
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    busy_ms = int(options.timeout_seconds * 1000)
    engine = create_engine(url, pool_size=options.pool_size, max_overflow=options.pool_size, pool_timeout=options.timeout_seconds,
                           connect_args={"timeout": options.timeout_seconds})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Autocommit at the driver level: transactions are begun explicitly below, so SQLite's
        # locking mode is chosen per transaction instead of by the sqlite3 module's heuristics.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {busy_ms}")
        cur.execute(f"PRAGMA page_size = {SQLITE_PAGE_SIZE}")  # only takes effect on a new file
        _set_wal(cur, options.timeout_seconds)
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        opts = conn.get_execution_options()
        # FULL: acknowledged feedback and audit survive a power cut; NORMAL (durable=False) is
        # still crash-safe in WAL mode and saves an fsync on the hot path.
        conn.exec_driver_sql(f"PRAGMA synchronous = {'FULL' if opts.get('derm3r_durable', True) else 'NORMAL'}")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if opts.get("derm3r_write", True) else "BEGIN")

    return engine


def _set_wal(cur: Any, timeout: float) -> None:
    """Switch to WAL, retrying while other processes open the same new file: that switch can fail
    with SQLITE_BUSY at once, without waiting for the busy timeout (seen with 4 workers starting
    together on a loaded machine)."""
    import sqlite3

    deadline = time.monotonic() + timeout
    while True:
        try:
            cur.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def _postgres_engine(url: URL, options: DatabaseOptions) -> Engine:
    timeout_ms = int(options.timeout_seconds * 1000)
    return create_engine(
        url,
        pool_size=options.pool_size,
        max_overflow=options.pool_size,
        pool_timeout=options.timeout_seconds,
        # A connection killed by a fail-over or an idle timeout is noticed before use, not by a request.
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={
            "connect_timeout": max(1, int(options.timeout_seconds)),
            "application_name": "derm3r",
            # Server-side bounds: no statement or lock wait outlives a request's budget, and a
            # transaction left open by a killed worker does not hold its locks for long. Lock waits
            # give up first (half the budget) with lock_not_available, which is retried, rather
            # than surfacing as a cancelled statement.
            "options": f"-c statement_timeout={timeout_ms} -c lock_timeout={max(100, timeout_ms // 2)}"
            f" -c idle_in_transaction_session_timeout={max(timeout_ms * 6, 30000)}",
        },
    )


def open_database(
    database_url: str | None,
    data_dir: Path,
    options: DatabaseOptions | None = None,
    *,
    migrate: bool | None = None,
    check_schema: bool = True,
    on_error: ErrorHook | None = None,
) -> Database:
    """Connect and make sure the schema is current. `migrate=None` (the default) migrates an
    embedded SQLite file in place and only checks a PostgreSQL database (raising `SchemaBehind`,
    with the command to run, when it is behind). `check_schema=False`: neither (the `db` commands)."""
    options = options or DatabaseOptions()
    url = resolve_url(database_url, data_dir)
    try:
        engine = _sqlite_engine(url, options) if url.get_backend_name() == "sqlite" else _postgres_engine(url, options)
    except OSError as exc:
        raise ServiceUnavailable("storage unavailable") from exc
    db = Database(engine, options, on_error)
    if migrate is None:
        migrate = check_schema and db.dialect == "sqlite"
    try:
        if migrate:
            migrations.upgrade(db)
        elif check_schema:
            migrations.check_current(db)
    except SQLAlchemyError as exc:
        log.error("storage unavailable at start-up: %s", _error_kind(exc))
        db.dispose()
        raise ServiceUnavailable("storage unavailable") from exc
    return db
