"""Soak test: gunicorn (2 workers) serving derm3r on loopback under sustained hook traffic with
photographs, while the FHIR server it fetches from misbehaves.

    python bench/soak.py --duration 180 --max-requests 3000 --concurrency 4 --fault-rate 0.25

Everything runs on 127.0.0.1: a fault-injecting FHIR server (this process, a thread), gunicorn
(a subprocess) and the load generator (threads). The run is bounded by --duration and
--max-requests, whichever comes first. Reports requests served, error rate (5xx and transport
failures), latency percentiles, worker RSS over time and feedback records lost (acknowledged by
the service but missing from its store afterwards). Exit status 1 if any feedback was lost or the
error rate exceeds --max-error-rate.

Request mix (per request, seeded): 45 % full prefetch with inline photographs, 35 % partial
prefetch (only Patient sent; Observations, Media and Binary photographs fetched from the faulty
FHIR server), 10 % no prefetch at all (everything fetched), 10 % feedback posts on cards the
service issued (a fifth of them re-sends with a later timestamp, which must be recognised as
duplicates; a quarter forged, for cards never issued, which must be refused with 400).

Hostile traffic (issue 12), mixed in with --hostile-rate (default 0.15): a hook of that share
carries hostile photographs next to the patient's own (the red team's 8000x8000 progressive JPEG
with one AC scan repeated 1,500 times, a PNG decompression bomb, a truncated JPEG, an SVG with
script, random bytes); a twentieth of those is instead a 24 MB body of 8 million empty arrays
(must be 413, answered without building the arrays).

FHIR faults (each FHIR response, with probability --fault-rate, one of): HTTP 500, HTTP 503, a
response slower than the service's FHIR timeout, a connection closed without a response,
malformed JSON, a body cut short of its Content-Length; and hostile answers: JSON nested 100,000
deep, a Bundle of a million tiny values, a page of 20,000 Observations, NaN, duplicate keys, and
the scan-bomb JPEG in place of a Binary photograph.

Reports the worst request (client-side time, kind, status) and the worst server-side decision time
(audit durationMs) besides the percentiles.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import ec

LOOPBACK = "127.0.0.1"
ISSUER = "https://soak-ehr.invalid"
SERVICE_ID = "derm3r-patient-view"
FAULTS = ("http500", "http503", "slow", "reset", "garbage", "truncated",
          "deep_json", "tiny_values", "huge_page", "nan", "dup_keys", "bomb_photo")
MAX_DURATION_S = 900  # hard ceiling whatever the arguments say: this is a shared machine
MAX_REQUESTS = 20_000


# -- fault-injecting FHIR server --------------------------------------------------------------------


@dataclass
class FhirData:
    """Synthetic patients indexed for reads and `?patient=` searches."""

    by_ref: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_patient: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    binaries: dict[str, tuple[str, bytes]] = field(default_factory=dict)

    def add_bundle(self, bundle: dict[str, Any]) -> None:
        import base64

        for entry in bundle["entry"]:
            resource = entry["resource"]
            rtype, rid = resource["resourceType"], resource["id"]
            if rtype == "Binary":
                self.binaries[rid] = (resource.get("contentType", "image/jpeg"), base64.b64decode(resource["data"]))
                continue
            self.by_ref[f"{rtype}/{rid}"] = resource
            subject = (resource.get("subject") or resource.get("patient") or {}).get("reference", "")
            if subject.startswith("Patient/"):
                self.by_patient.setdefault((rtype, subject.split("/", 1)[1]), []).append(resource)


@dataclass
class FaultStats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    served: int = 0
    faults: dict[str, int] = field(default_factory=lambda: {f: 0 for f in FAULTS})

    def count(self, fault: str | None) -> None:
        with self.lock:
            self.served += 1
            if fault:
                self.faults[fault] += 1


# -- hostile inputs (issue 12) -----------------------------------------------------------------------


def scan_bomb_jpeg(side: int = 8000, repeats: int = 1500) -> bytes:
    """The red team's photo: a blank-ish progressive JPEG whose first AC scan is repeated."""
    import io

    import numpy as np
    from PIL import Image

    ramp = np.linspace(60, 200, side, dtype=np.float32)[None, :].repeat(side, axis=0).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(ramp, "L").convert("RGB").save(out, "JPEG", quality=75, progressive=True)
    data = out.getvalue()
    scans, i = [], 2
    while i < len(data) - 1 and data[i + 1] != 0xD9:
        end = i + 2 + int.from_bytes(data[i + 2 : i + 4], "big")
        if data[i + 1] == 0xDA:
            # Entropy-coded data runs to the next marker: an FF not followed by 00 (stuffing) or RSTn.
            j = data.index(b"\xff", end)
            while data[j + 1] == 0x00 or 0xD0 <= data[j + 1] <= 0xD7:
                j = data.index(b"\xff", j + 2)
            scans.append((i, j))
            end = j
        i = end
    start, end = scans[1]
    return data[:end] + data[start:end] * repeats + data[end:]


def png_bomb() -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)

    side = 16000
    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + side // 8)
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@dataclass(frozen=True)
class Hostile:
    photos: tuple[tuple[bytes, str], ...]
    fhir: dict[str, bytes]
    tiny_values_body: bytes


def build_hostile(seed: int) -> Hostile:
    import io

    from PIL import Image

    bomb = scan_bomb_jpeg()
    jpeg = io.BytesIO()
    Image.new("RGB", (800, 600), (190, 90, 80)).save(jpeg, "JPEG")
    rng = random.Random(seed)
    page = {"resourceType": "Bundle", "type": "searchset", "entry": [
        {"resource": {"resourceType": "Observation", "id": f"h{i}", "status": "final",
                      "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                      "subject": {"reference": "Patient/someone-else"}, "valueQuantity": {"value": 70}}} for i in range(20_000)]}
    return Hostile(
        photos=(
            (bomb, "image/jpeg"),
            (png_bomb(), "image/png"),
            (jpeg.getvalue()[: len(jpeg.getvalue()) // 2], "image/jpeg"),
            (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "image/svg+xml"),
            (bytes(rng.getrandbits(8) for _ in range(50_000)), "image/jpeg"),
        ),
        fhir={
            "deep_json": b'{"resourceType": "Bundle", "entry": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            "tiny_values": b'{"resourceType": "Bundle", "type": "searchset", "x": [' + b"[]," * 999_999 + b"[]]}",
            "huge_page": json.dumps(page).encode(),
            "nan": b'{"resourceType": "Bundle", "type": "searchset", "total": NaN, "entry": []}',
            "dup_keys": b'{"resourceType": "Bundle", "resourceType": "Patient", "id": "x"}',
            "bomb_photo": bomb,
        },
        tiny_values_body=b'{"hook": "patient-view", "extension": [' + b"[]," * 7_999_999 + b"[]]}",
    )


def start_fhir_server(data: FhirData, fault_rate: float, slow_seconds: float, seed: int,
                      hostile: Hostile | None = None) -> tuple[ThreadingHTTPServer, FaultStats]:
    stats = FaultStats()
    rng = random.Random(seed)
    rng_lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, content_type: str = "application/fhir+json", *, declared: int | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body) if declared is None else declared))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 (http.server API)
            with rng_lock:
                fault = rng.choice(FAULTS if hostile else FAULTS[:6]) if rng.random() < fault_rate else None
            stats.count(fault)
            if hostile is not None and fault in hostile.fhir:
                if fault == "bomb_photo":
                    if "/Binary/" in self.path:
                        return self._send(200, hostile.fhir[fault], "image/jpeg")
                else:
                    return self._send(200, hostile.fhir[fault])
            if fault == "reset":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if fault == "http500":
                return self._send(500, b'{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"exception"}]}')
            if fault == "http503":
                return self._send(503, b"")
            if fault == "slow":
                time.sleep(slow_seconds)
            status, body, ctype = self._answer()
            if fault == "garbage":
                return self._send(200, b'{"resourceType": "Bundle", "entry": [', ctype)
            if fault == "truncated":
                self.close_connection = True
                return self._send(status, body[: len(body) // 2], ctype, declared=len(body))
            self._send(status, body, ctype)

        def _answer(self) -> tuple[int, bytes, str]:
            parts = urlsplit(self.path)
            path = parts.path.removeprefix("/fhir/").strip("/")
            segments = path.split("/")
            if len(segments) == 2 and segments[0] == "Binary" and segments[1] in data.binaries:
                ctype, raw = data.binaries[segments[1]]
                return 200, raw, ctype
            if len(segments) == 2 and path in data.by_ref:
                return 200, json.dumps(data.by_ref[path]).encode(), "application/fhir+json"
            if len(segments) == 1:
                query = parse_qs(parts.query)
                patient = (query.get("patient") or query.get("subject") or [""])[0].removeprefix("Patient/")
                matches = data.by_patient.get((segments[0], patient), [])
                bundle = {
                    "resourceType": "Bundle",
                    "type": "searchset",
                    "total": len(matches),
                    "entry": [{"fullUrl": f"{segments[0]}/{r['id']}", "resource": r, "search": {"mode": "match"}} for r in matches],
                }
                return 200, json.dumps(bundle).encode(), "application/fhir+json"
            outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "not-found"}]}
            return 404, json.dumps(outcome).encode(), "application/fhir+json"

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            # The service hanging up on a slow or broken answer is the point of the fault; only
            # unexpected errors are worth a traceback.
            if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
                super().handle_error(request, client_address)

    server = Server((LOOPBACK, 0), Handler)
    threading.Thread(target=server.serve_forever, name="fhir", daemon=True).start()
    return server, stats


# -- gunicorn ----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def start_gunicorn(port: int, workers: int, env: dict[str, str], log_path: Path, app: str) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable, "-m", "gunicorn",
        "--workers", str(workers),
        "--bind", f"{LOOPBACK}:{port}",
        "--timeout", "60",
        "--graceful-timeout", "10",
        "--access-logfile", "-",
        "--logger-class", "cds_hooks.access_log.GunicornLogger",
        app,
    ]
    log = log_path.open("wb")
    # New session: the whole gunicorn process group can be stopped by its id at the end.
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("gunicorn exited during start-up (see its log)")
        try:
            if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError("gunicorn did not become ready")


def children_of(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(entry.name))
    return sorted(out)


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


# -- load ---------------------------------------------------------------------------------------------


@dataclass
class Results:
    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: dict[str, list[float]] = field(default_factory=dict)  # kind -> seconds
    statuses: dict[str, dict[int, int]] = field(default_factory=dict)  # kind -> status -> count
    transport_errors: int = 0
    feedback_acked: dict[str, dict[str, Any]] = field(default_factory=dict)  # card -> item acknowledged as stored or duplicate
    feedback_duplicates_expected: int = 0
    feedback_duplicates_reported: int = 0
    issued_cards: list[str] = field(default_factory=list)  # card uuids from hook answers
    forged_feedback: dict[int, int] = field(default_factory=dict)  # status -> count (must be 400)
    worst: tuple[float, str, int] = (0.0, "", 0)  # seconds, kind, status
    rss: list[tuple[float, dict[int, float]]] = field(default_factory=list)

    def record(self, kind: str, status: int, seconds: float) -> None:
        with self.lock:
            self.latencies.setdefault(kind, []).append(seconds)
            if seconds > self.worst[0]:
                self.worst = (seconds, kind, status)
            by_status = self.statuses.setdefault(kind, {})
            by_status[status] = by_status.get(status, 0) + 1


class Client:
    def __init__(self, base: str, key: ec.EllipticCurvePrivateKey, fhir_base: str, patients: list[dict[str, Any]], prefetches: list[dict[str, Any]],
                 hostile: Hostile | None = None) -> None:
        self.hostile = hostile
        self.base = base
        self.key = key
        self.fhir_base = fhir_base
        self.patients = patients
        self.prefetches = prefetches
        self.local = threading.local()

    def session(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
            self.local.session.trust_env = False
        session: requests.Session = self.local.session
        return session

    def auth(self, path: str) -> dict[str, str]:
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": self.base + path, "iat": now, "exp": now + 120, "jti": str(uuid.uuid4())}
        return {"Authorization": "Bearer " + jwt.encode(claims, self.key, algorithm="ES384", headers={"kid": "soak", "typ": "JWT"})}

    def hook(self, rng: random.Random, mode: str) -> tuple[int, float, Any]:
        i = rng.randrange(len(self.patients))
        patient = self.patients[i]
        body: dict[str, Any] = {
            "hook": "patient-view",
            "hookInstance": str(uuid.uuid4()),
            "context": {"userId": "Practitioner/soak", "patientId": patient["id"]},
            "fhirServer": self.fhir_base,
            "fhirAuthorization": {"access_token": "soak-token", "token_type": "Bearer", "expires_in": 300, "scope": "patient/*.read", "subject": "derm3r"},
        }
        if mode == "full":
            body["prefetch"] = self.prefetches[i]
        elif mode == "hostile_photo" and self.hostile is not None:
            import base64

            prefetch = dict(self.prefetches[i])
            chosen = rng.sample(self.hostile.photos, k=rng.randint(1, 3))
            extra = [{"fullUrl": f"Media/hostile-{n}", "resource": {
                "resourceType": "Media", "id": f"hostile-{n}-{rng.randrange(10**9)}", "status": "completed",
                "subject": {"reference": f"Patient/{patient['id']}"}, "createdDateTime": "2026-11-30T10:00:00Z",
                "content": {"contentType": ctype, "data": base64.b64encode(raw).decode()}}} for n, (raw, ctype) in enumerate(chosen)]
            media = prefetch["media"]
            prefetch["media"] = {**media, "entry": list(media["entry"]) + extra}
            body["prefetch"] = prefetch
        elif mode == "partial":
            body["prefetch"] = {"patient": patient}
        path = f"/cds-services/{SERVICE_ID}"
        return self.post(path, body)

    def post(self, path: str, body: dict[str, Any] | bytes) -> tuple[int, float, Any]:
        """(status, seconds, decoded JSON body or None)."""
        started = time.perf_counter()
        headers = self.auth(path)
        if isinstance(body, bytes):
            response = self.session().post(self.base + path, data=body, headers={**headers, "Content-Type": "application/json"}, timeout=60)
        else:
            response = self.session().post(self.base + path, json=body, headers=headers, timeout=60)
        seconds = time.perf_counter() - started
        decoded = None
        if response.headers.get("Content-Type", "").startswith("application/json"):
            try:
                decoded = response.json()
            except ValueError:
                decoded = None
        return response.status_code, seconds, decoded


def one_request(client: Client, results: Results, seed: int, hostile_rate: float = 0.0) -> None:
    rng = random.Random(seed)
    roll = rng.random()
    kind = "full" if roll < 0.45 else "partial" if roll < 0.80 else "none" if roll < 0.90 else "feedback"
    if kind != "feedback" and client.hostile is not None and rng.random() < hostile_rate:
        kind = "tiny_body" if rng.random() < 0.05 else "hostile_photo"
    try:
        if kind == "tiny_body" and client.hostile is not None:
            status, seconds, _ = client.post(f"/cds-services/{SERVICE_ID}", client.hostile.tiny_values_body)
        elif kind == "feedback":
            resend = rng.random() < 0.2
            forged = not resend and rng.random() < 0.25
            with results.lock:
                previous = list(results.feedback_acked.values())
                cards = list(results.issued_cards)
            if resend and previous:
                # Same content, a later timestamp: idempotency is by content, not by second.
                item = {**rng.choice(previous), "outcomeTimestamp": f"2026-11-27T10:{rng.randrange(60):02d}:{rng.randrange(60):02d}Z"}
            elif forged or not cards:
                forged, resend = True, False
                item = {"card": str(uuid.uuid4()), "outcome": "overridden", "outcomeTimestamp": "2026-11-27T10:00:00Z"}
            else:
                resend = False
                item = {"card": rng.choice(cards), "outcome": "overridden", "outcomeTimestamp": "2026-11-27T10:00:00Z"}
            path = f"/cds-services/{SERVICE_ID}/feedback"
            status, seconds, body = client.post(path, {"feedback": [item]})
            if forged:
                kind = "forged_feedback"
                with results.lock:
                    results.forged_feedback[status] = results.forged_feedback.get(status, 0) + 1
            elif status == 200 and isinstance(body, dict):
                with results.lock:
                    results.feedback_acked[item["card"]] = item
                    if resend:
                        results.feedback_duplicates_expected += 1
                    results.feedback_duplicates_reported += int(body.get("duplicates", 0))
        else:
            status, seconds, answer = client.hook(rng, kind)
            if status == 200 and isinstance(answer, dict):
                with results.lock:
                    results.issued_cards.extend(c["uuid"] for c in answer.get("cards", []) if c.get("uuid"))
                    del results.issued_cards[:-500]
        results.record(kind, status, seconds)
    except requests.RequestException:
        with results.lock:
            results.transport_errors += 1


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of load (max %d)" % MAX_DURATION_S)
    parser.add_argument("--max-requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--fault-rate", type=float, default=0.25)
    parser.add_argument("--hostile-rate", type=float, default=0.15, help="share of hooks with hostile photos / bodies; 0: none, and no hostile FHIR answers")
    parser.add_argument("--patients", type=int, default=4)
    parser.add_argument("--fhir-timeout", type=float, default=1.0, help="DERM3R_FHIR_TIMEOUT for the service")
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--max-error-rate", type=float, default=0.01)
    parser.add_argument("--app", default="cds_hooks.wsgi:app", help="WSGI app for gunicorn (default: the production entry point)")
    parser.add_argument("--json", type=Path, help="write the report here as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, database)")
    args = parser.parse_args(argv)
    duration = min(args.duration, MAX_DURATION_S)
    max_requests = min(args.max_requests, MAX_REQUESTS)

    from cds_hooks.storage import open_store
    from cds_hooks.demo.synthetic import patient_bundle, resources

    work = Path(tempfile.mkdtemp(prefix="derm3r-soak-"))
    key = ec.generate_private_key(ec.SECP384R1())
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    public.update({"kid": "soak", "use": "sig", "alg": "ES384"})
    (work / "issuers.json").write_text(json.dumps({ISSUER: {"jwks": {"keys": [public]}, "algorithms": ["ES384"]}}))

    profiles = ["psoriasis_moderate", "psoriasis_severe", "pregnancy", "tcm_blood_stasis"]
    data = FhirData()
    patients: list[dict[str, Any]] = []
    prefetches: list[dict[str, Any]] = []
    for n in range(args.patients):
        profile = profiles[n % len(profiles)]
        data.add_bundle(patient_bundle(profile, photos="binary", seed=100 + n, visits=2))
        inline = patient_bundle(profile, photos="inline", seed=100 + n, visits=2)
        patient = next(resources(inline, "Patient"))
        patients.append(patient)
        prefetch: dict[str, Any] = {"patient": patient}
        for key_name, rtype in (("observations", "Observation"), ("media", "Media"), ("conditions", "Condition"),
                                ("medicationStatements", "MedicationStatement"), ("medicationRequests", "MedicationRequest"),
                                ("documents", "DocumentReference")):
            found = list(resources(inline, rtype))
            prefetch[key_name] = {"resourceType": "Bundle", "type": "searchset", "total": len(found),
                                  "entry": [{"fullUrl": f"{rtype}/{r['id']}", "resource": r} for r in found]}
        prefetches.append(prefetch)

    hostile = build_hostile(args.seed) if args.hostile_rate > 0 else None
    fhir_server, fault_stats = start_fhir_server(data, args.fault_rate, slow_seconds=args.fhir_timeout * 2.5, seed=args.seed, hostile=hostile)
    fhir_base = f"http://{LOOPBACK}:{fhir_server.server_address[1]}/fhir"
    port = free_port()
    base = f"http://{LOOPBACK}:{port}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DERM3R_")},
        "DERM3R_TRUSTED_ISSUERS": str(work / "issuers.json"),
        "DERM3R_PUBLIC_BASE_URL": base,
        "DERM3R_DATA_DIR": str(work / "data"),
        "DERM3R_FHIR_ALLOWLIST": fhir_base,
        "DERM3R_ALLOW_PRIVATE_FHIR": "1",  # the faulty FHIR server is on loopback
        "DERM3R_FHIR_TIMEOUT": str(args.fhir_timeout),
        "DERM3R_ONNX_THREADS": "1",
    }
    proc = start_gunicorn(port, args.workers, env, work / "gunicorn.log", args.app)
    results = Results()
    stop = threading.Event()
    try:
        wait_ready(base, proc)
        workers = children_of(proc.pid)
        t0 = time.monotonic()

        def sample_rss() -> None:
            while not stop.is_set():
                pids = [proc.pid] + children_of(proc.pid)
                snapshot = {pid: mb for pid in pids if (mb := rss_mb(pid)) is not None}
                with results.lock:
                    results.rss.append((round(time.monotonic() - t0, 1), snapshot))
                stop.wait(2.0)

        sampler = threading.Thread(target=sample_rss, daemon=True)
        sampler.start()
        client = Client(base, key, fhir_base, patients, prefetches, hostile)
        issued = 0
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            pending: set[Any] = set()
            while issued < max_requests and time.monotonic() - t0 < duration:
                while len(pending) >= args.concurrency * 2:
                    pending = {f for f in pending if not f.done()}
                    time.sleep(0.005)
                pending.add(pool.submit(one_request, client, results, args.seed + issued, args.hostile_rate))
                issued += 1
            for f in pending:
                f.result()
        elapsed = time.monotonic() - t0
        stop.set()
        sampler.join(timeout=5)
        workers_after = children_of(proc.pid)
    finally:
        stop.set()
        if proc.poll() is None:
            # SIGTERM to the master only: it stops its workers gracefully. The process group (our
            # own gunicorn, started in its own session) is killed only if that does not finish.
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        fhir_server.shutdown()

    store = open_store(work / "data")
    stored_cards = {item.get("card") for item in store.list_feedback(SERVICE_ID)}
    lost = sorted(card for card in results.feedback_acked if card not in stored_cards)
    decisions = [r for r in store.list_audit(limit=1_000_000) if r.get("type") == "cds-decision"]
    server_ms = sorted(float(r["durationMs"]) for r in decisions if isinstance(r.get("durationMs"), (int, float)))
    log_text = (work / "gunicorn.log").read_text(errors="replace")
    report = build_report(results, fault_stats, elapsed, issued, workers, workers_after, lost, args)
    report["server_decision_ms"] = {
        "decisions": len(server_ms),
        "p50": round(percentile([m / 1000 for m in server_ms], 0.50) * 1000, 1) if server_ms else None,
        "p99": round(percentile([m / 1000 for m in server_ms], 0.99) * 1000, 1) if server_ms else None,
        "max": round(server_ms[-1], 1) if server_ms else None,
    }
    report["logs"] = {"lines": log_text.count("\n"), "soak_token_found": "soak-token" in log_text,
                      "bearer_found": "Bearer ey" in log_text or ".eyJ" in log_text}
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    if args.keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if lost or report["error_rate"] > args.max_error_rate else 0


def build_report(results: Results, faults: FaultStats, elapsed: float, issued: int, workers: list[int],
                 workers_after: list[int], lost: list[str], args: argparse.Namespace) -> dict[str, Any]:
    all_latencies = [s for values in results.latencies.values() for s in values]
    completed = len(all_latencies)
    server_errors = sum(n for by_status in results.statuses.values() for status, n in by_status.items() if status >= 500)
    failures = server_errors + results.transport_errors
    by_kind = {}
    for kind, values in results.latencies.items():
        by_kind[kind] = {
            "requests": len(values),
            "statuses": {str(k): v for k, v in sorted(results.statuses[kind].items())},
            "p50_ms": round(percentile(values, 0.50) * 1000, 1),
            "p95_ms": round(percentile(values, 0.95) * 1000, 1),
            "p99_ms": round(percentile(values, 0.99) * 1000, 1),
            "max_ms": round(max(values) * 1000, 1),
        }
    series: dict[str, list[tuple[float, float]]] = {}
    for t, snapshot in results.rss:
        for pid, mb in snapshot.items():
            series.setdefault(str(pid), []).append((t, round(mb, 1)))
    rss_summary = {
        pid: {"first_mb": points[0][1], "last_mb": points[-1][1], "peak_mb": max(mb for _, mb in points), "samples": len(points)}
        for pid, points in series.items()
    }
    return {
        "duration_s": round(elapsed, 1),
        "requests_issued": issued,
        "requests_completed": completed,
        "throughput_rps": round(completed / elapsed, 2) if elapsed else 0.0,
        "server_errors_5xx": server_errors,
        "transport_errors": results.transport_errors,
        "error_rate": round(failures / max(1, issued), 4),
        "worst_request": {"ms": round(results.worst[0] * 1000, 1), "kind": results.worst[1], "status": results.worst[2]},
        "forged_feedback_statuses": {str(k): v for k, v in sorted(results.forged_feedback.items())},
        "latency_ms": {
            "max": round(max(all_latencies) * 1000, 1) if all_latencies else None,
            "p50": round(percentile(all_latencies, 0.50) * 1000, 1),
            "p95": round(percentile(all_latencies, 0.95) * 1000, 1),
            "p99": round(percentile(all_latencies, 0.99) * 1000, 1),
            "mean": round(statistics.fmean(all_latencies) * 1000, 1) if all_latencies else None,
        },
        "by_kind": by_kind,
        "fhir": {"responses": faults.served, "faults": faults.faults, "fault_rate": args.fault_rate},
        "feedback": {
            "acknowledged": len(results.feedback_acked),
            "lost": len(lost),
            "resends": results.feedback_duplicates_expected,
            "duplicates_reported": results.feedback_duplicates_reported,
        },
        "workers": {"at_start": workers, "at_end": workers_after, "restarted": sorted(set(workers) ^ set(workers_after))},
        "rss_mb": rss_summary,
        "rss_series": series,
        "settings": {"workers": args.workers, "concurrency": args.concurrency, "fhir_timeout_s": args.fhir_timeout, "seed": args.seed},
    }


def print_report(report: dict[str, Any]) -> None:
    lat = report["latency_ms"]
    print(f"duration {report['duration_s']} s, issued {report['requests_issued']}, completed {report['requests_completed']} "
          f"({report['throughput_rps']} req/s)")
    print(f"5xx {report['server_errors_5xx']}, transport errors {report['transport_errors']}, error rate {report['error_rate']:.2%}")
    print(f"latency p50 {lat['p50']} ms, p95 {lat['p95']} ms, p99 {lat['p99']} ms, max {lat['max']} ms")
    worst = report["worst_request"]
    print(f"worst request {worst['ms']} ms ({worst['kind']}, HTTP {worst['status']})")
    for kind, row in report["by_kind"].items():
        print(f"  {kind:15s} n={row['requests']:5d} p50={row['p50_ms']:8.1f} p95={row['p95_ms']:8.1f} p99={row['p99_ms']:8.1f} "
              f"max={row['max_ms']:8.1f} statuses={row['statuses']}")
    if "server_decision_ms" in report:
        print(f"server-side decision time (audit): {report['server_decision_ms']}")
    if report.get("forged_feedback_statuses"):
        print(f"forged feedback answered with {report['forged_feedback_statuses']}")
    if "logs" in report:
        print(f"logs: {report['logs']}")
    print(f"FHIR responses {report['fhir']['responses']}, faults injected {report['fhir']['faults']}")
    fb = report["feedback"]
    print(f"feedback acknowledged {fb['acknowledged']}, lost {fb['lost']}, re-sends {fb['resends']}, duplicates reported {fb['duplicates_reported']}")
    print(f"workers at start {report['workers']['at_start']}, at end {report['workers']['at_end']}")
    for pid, row in report["rss_mb"].items():
        print(f"  pid {pid}: RSS first {row['first_mb']} MB, last {row['last_mb']} MB, peak {row['peak_mb']} MB")


if __name__ == "__main__":
    sys.exit(main())
