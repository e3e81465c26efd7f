"""Real replicas for the scale-out tests: gunicorn processes of the production entry point
(`cds_hooks.wsgi:app` with `cds_hooks.gunicorn_conf`) on one PostgreSQL database, a loopback FHIR
server that answers the review app's token check, and a JWT issuer the replicas trust."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[2]
PUBLIC_BASE = "http://derm3r.test"  # one external URL for all replicas, as behind a load balancer
METRICS_TOKEN = "scrape-secret-for-tests"
GOOD_SMART_TOKEN = "smart-token-for-tests"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _PatientOnly(BaseHTTPRequestHandler):
    """GET /fhir/Patient/<id> with the good bearer token -> that Patient; anything else 401/404."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.headers.get("Authorization") != f"Bearer {GOOD_SMART_TOKEN}":
            self.send_response(401)
            self.end_headers()
            return
        parts = self.path.strip("/").split("/")
        if len(parts) != 3 or parts[:2] != ["fhir", "Patient"]:
            self.send_response(404)
            self.end_headers()
            return
        body = json.dumps({"resourceType": "Patient", "id": parts[2]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class TokenCheckServer:
    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _PatientOnly)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}/fhir"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Replica:
    name: str
    env: dict[str, str]
    workdir: Path
    workers: int = 1
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def start(self, timeout: float = 180.0) -> None:
        self.starts += 1
        log = open(self.log_path, "ab")
        cmd = [
            sys.executable, "-m", "gunicorn", "-c", "python:cds_hooks.gunicorn_conf",
            "--workers", str(self.workers), "--bind", f"127.0.0.1:{self.port}", "--timeout", "120",
            "cds_hooks.wsgi:app",
        ]
        # Own session: the replica (master and workers) can be killed as one process group.
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=self.env, stdout=log, stderr=log, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"replica {self.name} exited: {self.log_path.read_text()[-3000:]}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"replica {self.name} did not become healthy: {self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the whole replica (master and workers): a crashed node, no graceful shutdown."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def replica_env(name: str, workdir: Path, database_url: str, trust_file: Path, fhir_base: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DERM3R_", "PROMETHEUS_"))}
    metrics_dir = workdir / f"prom-{name}"
    metrics_dir.mkdir(parents=True, exist_ok=True)
    env.update(
        PYTHONPATH=str(REPO),
        DERM3R_DATABASE_URL=database_url,
        DERM3R_DATA_DIR=str(workdir / f"data-{name}"),
        DERM3R_TRUSTED_ISSUERS=str(trust_file),
        DERM3R_PUBLIC_BASE_URL=PUBLIC_BASE,
        DERM3R_FHIR_ALLOWLIST=fhir_base,
        DERM3R_ALLOW_PRIVATE_FHIR="1",
        DERM3R_METRICS_TOKEN=METRICS_TOKEN,
        DERM3R_LOG_FORMAT="json",
        DERM3R_DB_POOL_SIZE="4",
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
    )
    return env


def scrape(replica: Replica) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """One replica's /metrics as {(sample name, sorted labels): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    response = requests.get(f"{replica.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10)
    response.raise_for_status()
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)
