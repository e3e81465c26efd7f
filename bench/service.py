"""The service under test: gunicorn running `cds_hooks.wsgi:app` on loopback, its cold start and the
peak resident memory of each worker.

Process helpers (free port, worker pids, RSS) are the soak test's (`bench.soak`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import ec

from bench.soak import LOOPBACK, children_of, free_port, rss_mb

ISSUER = "https://ehr.derm3r-bench.invalid"
KEY_ID = "derm3r-bench-1"
START_TIMEOUT_S = 60.0


@dataclass
class Signer:
    """The EHR's side of CDS Hooks auth: ES384 client JWTs, one fresh jti per request."""

    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP384R1()))
    issuer: str = ISSUER
    kid: str = KEY_ID

    def trust_file(self, path: Path) -> Path:
        """Write the service's trusted-issuers file (DERM3R_TRUSTED_ISSUERS) for this key."""
        public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.key.public_key()))
        public.update({"kid": self.kid, "alg": "ES384", "use": "sig"})
        path.write_text(json.dumps({self.issuer: {"jwks": {"keys": [public]}, "algorithms": ["ES384"]}}))
        return path

    def header(self, audience: str) -> str:
        import uuid

        now = int(time.time())
        claims = {"iss": self.issuer, "sub": "derm3r-bench", "aud": audience, "iat": now, "exp": now + 300,
                  "jti": str(uuid.uuid4())}
        return "Bearer " + jwt.encode(claims, self.key, algorithm="ES384", headers={"kid": self.kid, "typ": "JWT"})


@dataclass(frozen=True)
class ServerConfig:
    workers: int
    onnx_threads: int
    auth: bool = True
    model_dir: Path | None = None
    wsgi: str = "cds_hooks.wsgi:app"  # bench/wsgi_no_arena.py swaps in a variant

    @property
    def label(self) -> str:
        return f"{self.workers}x{self.onnx_threads}" + ("" if self.wsgi == "cds_hooks.wsgi:app" else f" ({self.wsgi})")

    def describe(self) -> str:
        return (f"gunicorn sync, {self.workers} worker(s) x 1 thread, DERM3R_ONNX_THREADS={self.onnx_threads}, "
                f"auth {'on (ES384 JWT per request)' if self.auth else 'OFF (DERM3R_AUTH=off)'}")


@dataclass
class RssSampler:
    """Samples RSS of the gunicorn master and workers; VmHWM (the kernel's own peak) is read too,
    so a short spike between samples is not missed."""

    master: int
    interval_s: float = 0.25
    peaks: dict[int, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="rss", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval_s)

    def sample(self) -> None:
        for pid in children_of(self.master):
            mb = max(filter(None, (rss_mb(pid), hwm_mb(pid))), default=None)
            if mb is not None:
                self.peaks[pid] = max(self.peaks.get(pid, 0.0), mb)

    def stop(self) -> dict[int, float]:
        self.sample()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        return dict(self.peaks)


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # After the command name: state is field 3, utime 14 and stime 15 (1-based) -> index 11, 12.
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def workers_cpu_seconds(master: int) -> float:
    """CPU seconds used by gunicorn's workers: the service's own cost, whatever else the machine runs."""
    return sum(cpu_seconds(pid) for pid in children_of(master))


def hwm_mb(pid: int) -> float | None:
    """Peak resident set size of a process (VmHWM), in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@dataclass
class Service:
    config: ServerConfig
    base: str
    process: subprocess.Popen[bytes]
    log_path: Path
    started: float  # time.monotonic() just before the process was spawned
    signer: Signer
    rss: RssSampler | None = None

    def hook_url(self, service_id: str) -> str:
        return f"{self.base}/cds-services/{service_id}"

    def stop(self) -> dict[int, float]:
        """Stop gunicorn (its own process group) and return peak RSS per worker pid."""
        peaks = self.rss.stop() if self.rss is not None else {}
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        return peaks


def start(config: ServerConfig, workdir: Path, signer: Signer, fhir_allowlist: tuple[str, ...] = ()) -> Service:
    """Spawn gunicorn with the production wsgi app; returns at once (see `wait_first_hook`)."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"http://{LOOPBACK}:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DERM3R_")}
    env.update({
        "DERM3R_AUTH": "on" if config.auth else "off",
        "DERM3R_TRUSTED_ISSUERS": str(signer.trust_file(workdir / "trusted-issuers.json")),
        "DERM3R_PUBLIC_BASE_URL": base,
        "DERM3R_DATA_DIR": str(workdir / "var"),
        "DERM3R_ONNX_THREADS": str(config.onnx_threads),
        "DERM3R_FHIR_ALLOWLIST": ",".join(fhir_allowlist),
        "DERM3R_ALLOW_PRIVATE_FHIR": "1" if fhir_allowlist else "",  # the test FHIR server is on loopback
        # 8 photographs at c=16 queue behind each other on 2 cores; the deadline must not turn
        # queueing into 503s that would hide the latency being measured.
        "DERM3R_DEADLINE": "30",
        "DERM3R_FHIR_TIMEOUT": "10",
        # onnxruntime and numpy must not spawn a thread per core on top of gunicorn's workers.
        "OMP_NUM_THREADS": "1",
    })
    if config.model_dir is not None:
        env["DERM3R_MODEL_DIR"] = str(config.model_dir)
    cmd = [
        sys.executable, "-m", "gunicorn",
        "--workers", str(config.workers),
        "--worker-class", "sync",
        "--bind", f"{LOOPBACK}:{port}",
        "--timeout", "120",
        "--graceful-timeout", "10",
        "--backlog", "256",
        config.wsgi,
    ]
    log_path = workdir / f"gunicorn-{config.label}-{port}.log"
    with log_path.open("wb") as log:
        started = time.monotonic()
        # New session: gunicorn and its workers are stopped together by process-group id.
        process = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    service = Service(config=config, base=base, process=process, log_path=log_path, started=started, signer=signer)
    service.rss = RssSampler(process.pid)
    service.rss.start()
    return service


def wait_first_hook(service: Service, send: Callable[[requests.Session], requests.Response],
                    timeout: float = START_TIMEOUT_S) -> dict[str, float]:
    """Poll until a hook is answered 200; returns seconds from spawn to listening, to healthy and to
    the first answered hook (the cold start)."""
    session = requests.Session()
    session.trust_env = False
    marks: dict[str, float] = {}
    deadline = service.started + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited during start-up; see {service.log_path}:\n{tail(service.log_path)}")
        try:
            if "healthy_s" not in marks:
                health = session.get(f"{service.base}/healthz", timeout=5)
                marks.setdefault("listening_s", time.monotonic() - service.started)
                if health.status_code != 200:
                    raise requests.ConnectionError("not healthy yet")
                marks["healthy_s"] = time.monotonic() - service.started
            response = send(session)
            if response.status_code == 200:
                marks["first_hook_s"] = time.monotonic() - service.started
                return marks
            raise RuntimeError(f"first hook answered HTTP {response.status_code}: {response.text[:500]}")
        except requests.ConnectionError:
            time.sleep(0.02)
    raise RuntimeError(f"gunicorn did not answer a hook within {timeout:.0f} s; see {service.log_path}:\n{tail(service.log_path)}")


def tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""
