"""Schema migrations (Alembic, scripts in `cds_hooks/migrations`): apply them, or check that the
database is current before serving.

Both run under a lock, so replicas and the migration Job starting together never race: SQLite's
write lock (`BEGIN IMMEDIATE`), PostgreSQL's transaction-scoped advisory lock. PostgreSQL DDL is
transactional, so a failed migration leaves the schema as it was."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import ContextManager, Protocol

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

log = logging.getLogger(__name__)

SCRIPTS = Path(__file__).with_name("migrations")
# Key of the advisory lock that serialises migrations across replicas and Jobs (any constant).
MIGRATION_LOCK_KEY = 0x6465726D33720001


class SchemaBehind(RuntimeError):
    """The database schema is older than this code: run `derm3r db upgrade` first."""


class Database(Protocol):
    """What migrations need of `cds_hooks.database.Database` (which runs them when it opens, so it
    imports this module and not the other way round)."""

    dialect: str

    def transaction(self, *, write: bool = True, durable: bool = True) -> ContextManager[Connection]: ...

    def describe(self) -> str: ...


def _config(conn: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    if conn is not None:
        cfg.attributes["connection"] = conn
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "no migrations shipped"
    return head


def current_revision(db: Database) -> str | None:
    with db.transaction(write=False) as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _lock(conn: Connection, db: Database) -> None:
    if db.dialect == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})


def upgrade(db: Database) -> tuple[str | None, str]:
    """Bring the schema to the newest revision; (revision before, revision after)."""
    head = head_revision()
    with db.transaction(write=True) as conn:
        _lock(conn, db)
        before = MigrationContext.configure(conn).get_current_revision()
        if before != head:
            command.upgrade(_config(conn), "head")
            log.info("database schema upgraded from %s to %s", before or "empty", head)
    return before, head


def check_current(db: Database) -> None:
    """Refuse to serve on a schema that is behind this code (missing tables or columns would fail
    requests one by one, mid-traffic). A schema *ahead* of this code is accepted with a warning:
    during a rolling update the new release's migration runs before the old pods are gone, and
    migrations are written to be backward compatible for one release."""
    head = head_revision()
    current = current_revision(db)
    if current == head:
        return
    scripts = ScriptDirectory.from_config(_config())
    known = {rev.revision for rev in scripts.walk_revisions()}
    if current is None or current in known:
        raise SchemaBehind(
            f"database schema at {db.describe()} is at revision {current or 'none (empty database)'}, "
            f"this derm3r needs {head}: run `derm3r db upgrade` (the migration Job in Kubernetes) before starting the service"
        )
    log.warning("database schema revision %s is newer than this derm3r (%s); continuing", current, head)
