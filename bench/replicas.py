"""Storage engines and replicas under load: the same 3-photo hooks (fresh bytes each, auth on) on

1. one replica on the embedded SQLite file (today's default),
2. one replica on PostgreSQL,
3. two replicas on one PostgreSQL, the clients split between them (what a load balancer does),

each gunicorn with 1 sync worker x 1 ONNX thread, closed-loop clients, a fixed time per cell.
Reported per cell: hooks/s, p50/p95 latency, and CPU ms per hook of the service processes and
of the PostgreSQL server (from /proc, so the numbers do not depend on what else the machine runs).
Each hook also posts one feedback item, so the feedback, audit, replay and review-record writes of a
real encounter are all in the measurement.

    python -m bench.replicas [--seconds 20] [--concurrency 4]

PostgreSQL comes from `tests/pg_server.py` (Debian's postgresql package, throwaway cluster).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests

from bench.context import RESULTS
from bench.patients import prefetch_request
from bench.photos import load, specs_for
from bench.service import Signer, cpu_seconds, tail

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
import pg_server  # noqa: E402

BASE = "http://derm3r.bench"
SERVICE = "derm3r-patient-view"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tree(pid: int) -> list[int]:
    """pid and its descendants (gunicorn master + workers; postmaster + backends)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def _cpu(pids: list[int]) -> float:
    return sum(cpu_seconds(p) for root in pids for p in _tree(root))


def _start(workdir: Path, name: str, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    log = open(workdir / f"{name}.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:cds_hooks.gunicorn_conf", "--workers", "1",
         "--bind", f"127.0.0.1:{port}", "--timeout", "120", "cds_hooks.wsgi:app"],
        cwd=REPO, env=env, stdout=log, stderr=log, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                return proc, url
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(tail(workdir / f"{name}.log"))


def _cell(label: str, urls: list[str], service_pids: list[int], pg_pid: int | None, signer: Signer, request, seconds: float, concurrency: int) -> dict:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(n: int) -> None:
        nonlocal errors
        session = requests.Session()
        url = urls[n % len(urls)]
        while time.monotonic() < stop_at:
            body = request.body(str(uuid.uuid4()), uuid.uuid4().bytes)
            started = time.monotonic()
            r = session.post(f"{url}/cds-services/{SERVICE}", data=body, timeout=120,
                             headers={"Content-Type": "application/json", "Authorization": signer.header(f"{BASE}/cds-services/{SERVICE}")})
            ok = r.status_code == 200
            if ok:
                card = r.json()["cards"][0]["uuid"]
                fb = {"feedback": [{"card": card, "outcome": "overridden", "outcomeTimestamp": "2026-12-02T05:00:00Z"}]}
                ok = session.post(f"{url}/cds-services/{SERVICE}/feedback", json=fb, timeout=60,
                                  headers={"Authorization": signer.header(f"{BASE}/cds-services/{SERVICE}/feedback")}).status_code == 200
            with lock:
                if ok:
                    latencies.append(time.monotonic() - started)
                else:
                    errors += 1

    cpu0, pg0, t0 = _cpu(service_pids), _cpu([pg_pid]) if pg_pid else 0.0, time.monotonic()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    cpu, pg = _cpu(service_pids) - cpu0, (_cpu([pg_pid]) - pg0) if pg_pid else 0.0
    n = len(latencies)
    q = statistics.quantiles(latencies, n=20) if n >= 20 else [float("nan")] * 19
    return {
        "cell": label, "hooks": n, "errors": errors, "hooks_per_s": round(n / wall, 2),
        "p50_ms": round(statistics.median(latencies) * 1000, 1) if n else None, "p95_ms": round(q[18] * 1000, 1),
        "service_cpu_ms_per_hook": round(cpu / n * 1000, 1) if n else None,
        "postgres_cpu_ms_per_hook": round(pg / n * 1000, 1) if n and pg_pid else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args(argv)

    request = prefetch_request(load(specs_for(3, seed=30), RESULTS / "photos"), seed=103)
    signer = Signer()
    workdir = Path(tempfile.mkdtemp(prefix="derm3r-bench-replicas-"))
    pg_dir = Path(tempfile.mkdtemp(prefix="derm3r-bench-pg-"))  # its own: postgres must reach it
    admin = pg_server.start(pg_dir)
    pg_pid = int((pg_dir / "data" / "postmaster.pid").read_text().split()[0])
    rows = []
    try:
        base_env = {k: v for k, v in os.environ.items() if not k.startswith(("DERM3R_", "PROMETHEUS_"))}
        base_env.update(PYTHONPATH=str(REPO), DERM3R_TRUSTED_ISSUERS=str(signer.trust_file(workdir / "trust.json")),
                        DERM3R_PUBLIC_BASE_URL=BASE, DERM3R_LOG_FORMAT="json", DERM3R_DEADLINE="30")
        plans = [("1 replica, SQLite", 1, None), ("1 replica, PostgreSQL", 1, "pg1"), ("2 replicas, one PostgreSQL", 2, "pg2")]
        for label, replicas, db in plans:
            url = None
            if db:
                url = pg_server.create_database(admin, db)
                subprocess.run([sys.executable, "-m", "cds_hooks.cli", "db", "upgrade"], cwd=REPO, check=True, capture_output=True,
                               env={**base_env, "DERM3R_DATABASE_URL": url})
            procs = []
            for i in range(replicas):
                env = {**base_env, "DERM3R_DATA_DIR": str(workdir / f"{label[:1]}-{i}"), "PROMETHEUS_MULTIPROC_DIR": str(workdir / f"prom-{db}-{i}")}
                if url:
                    env["DERM3R_DATABASE_URL"] = url
                procs.append(_start(workdir, f"{db or 'sqlite'}-{i}", env))
            try:
                # Warm-up: one hook per replica (first-use costs are not what is measured).
                _cell("warm-up", [u for _, u in procs], [p.pid for p, _ in procs], None, signer, request, 0.1, len(procs))
                row = _cell(label, [u for _, u in procs], [p.pid for p, _ in procs], pg_pid if db else None, signer, request, args.seconds, args.concurrency)
            finally:
                for p, _ in procs:
                    p.terminate()
                    p.wait(timeout=30)
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        pg_server.stop(pg_dir)
    out = RESULTS / f"replicas-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"load": os.getloadavg(), "seconds": args.seconds, "concurrency": args.concurrency, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
