"""A throwaway PostgreSQL server for the tests: Debian's `postgresql` binaries, `initdb` in a
temporary directory, listening on a free loopback port, stopped (and deleted) at the end.

Used by the `postgres_url` fixture (tests/conftest.py) and by `.ci/run`:

    python tests/pg_server.py start DIR   # prints the server's URL (admin database "postgres")
    python tests/pg_server.py stop DIR

`initdb` refuses to run as root, so as root the cluster belongs to the `postgres` account that the
Debian package creates (`runuser -u postgres`)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

USER = "derm3r"
URL_FILE = "url"


def bin_dir() -> Path | None:
    """Newest installed server's bin directory (/usr/lib/postgresql/<major>/bin), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_owner(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


def start(base: Path) -> str:
    """Create and start a cluster under `base` (created if needed; as root, every directory above
    it must be traversable by the postgres account, e.g. a fresh `mktemp -d`); return its URL."""
    bindir = bin_dir()
    if bindir is None:
        raise RuntimeError("PostgreSQL server binaries not found (Debian: apt-get install postgresql)")
    base.mkdir(parents=True, exist_ok=True)
    data = base / "data"
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(base, pw.pw_uid, pw.pw_gid)

    def run(cmd: list[str]) -> None:
        done = subprocess.run(_as_owner(cmd), capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{Path(cmd[0]).name} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")

    # trust on loopback only (listen_addresses below): a test server with no data worth a password.
    run([str(bindir / "initdb"), "-D", str(data), "-U", USER, "-A", "trust", "-E", "UTF8", "--no-sync"])
    port = _free_port()
    # fsync off: a test server's data need not survive a power cut, and the machine is shared.
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    run([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(base / "server.log"), "-o", options, "-w", "-t", "60", "start"])
    url = f"postgresql://{USER}@127.0.0.1:{port}/postgres"
    (base / URL_FILE).write_text(url)
    return url


def stop(base: Path) -> None:
    bindir = bin_dir()
    data = base / "data"
    if bindir is not None and (data / "postmaster.pid").exists():
        subprocess.run(_as_owner([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]), check=False, capture_output=True)
    shutil.rmtree(base, ignore_errors=True)


def create_database(admin_url: str, name: str) -> str:
    """A new empty database on the server; its URL."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name


def drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in {"start", "stop"}:
        sys.exit("usage: pg_server.py start|stop DIR")
    target = Path(sys.argv[2]) if sys.argv[2] != "-" else Path(tempfile.mkdtemp(prefix="derm3r-pg-"))
    if sys.argv[1] == "start":
        print(start(target))
    else:
        stop(target)
