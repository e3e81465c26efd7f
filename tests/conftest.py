"""Fixtures shared by every test folder: the two storage engines.

`postgres_admin_url` is a real PostgreSQL server: the one `.ci/run` started (its URL in
DERM3R_TEST_POSTGRES_URL), or else one started here for the session (tests/pg_server.py). Without
PostgreSQL binaries the PostgreSQL cases are skipped locally and fail under CI (CI=true)."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path
from typing import Iterator

import pytest

import pg_server

ENGINES = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: a heavy test (multi-process, > 30 s); run with DERM3R_SLOW_TESTS=1 or -m slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Slow tests stay out of the default run (CI's plain `pytest -q`) unless asked for."""
    if os.environ.get("DERM3R_SLOW_TESTS") or "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="slow: set DERM3R_SLOW_TESTS=1 or run with -m slow")
    for item in items:
        if item.get_closest_marker("slow") is not None:  # a marker, not a parametrize id named "slow"
            item.add_marker(skip)


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    url = os.environ.get("DERM3R_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    if pg_server.bin_dir() is None:
        message = "PostgreSQL binaries not installed (apt-get install postgresql; .ci/run does it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    base = Path(tempfile.mkdtemp(prefix="derm3r-pg-"))
    try:
        yield pg_server.start(base)
    finally:
        pg_server.stop(base)


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty database on the test server, dropped afterwards."""
    name = "t_" + uuid.uuid4().hex[:16]
    url = pg_server.create_database(postgres_admin_url, name)
    yield url
    pg_server.drop_database(postgres_admin_url, name)


@pytest.fixture
def migrated_postgres_url(postgres_url: str, tmp_path: Path) -> str:
    """A fresh PostgreSQL database with the current schema (as after `derm3r db upgrade`)."""
    from cds_hooks.database import open_database

    open_database(postgres_url, tmp_path, migrate=True).dispose()
    return postgres_url


@pytest.fixture(params=ENGINES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    """Each storage test runs on both engines: None (the embedded SQLite file in tmp_path, the
    default) and a fresh PostgreSQL database, migrated as `derm3r db upgrade` would."""
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("migrated_postgres_url")
