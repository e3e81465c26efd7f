"""Closed-loop HTTP load on loopback: `concurrency` clients, each sending its next hook as soon as
the previous one is answered, bounded by a request count and a wall-clock budget.

Latency is measured by the client around one POST (upload of the body, service time, download of
the cards), so it includes loopback transfer of the base64 photos. Throughput is completed hooks
over the wall-clock time of the cell. The clients share the 2 cores with the service; bodies are
pre-built and JWT signing (ES384) is the only per-request client work besides I/O."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from bench.soak import percentile

# body factory: (request number) -> (body bytes, headers)
BodyFactory = Callable[[int], tuple[bytes, dict[str, str]]]


@dataclass
class CellResult:
    name: str
    concurrency: int
    latencies_s: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    transport_errors: int = 0
    wall_s: float = 0.0
    cards: int | None = None  # cards in the last 200 answer: proves the pipeline ran
    cpu_s: float | None = None  # CPU seconds the service used during the cell (all workers)

    @property
    def ok(self) -> int:
        return self.statuses.get(200, 0)

    def summary(self) -> dict[str, Any]:
        ms = [s * 1000.0 for s in self.latencies_s]
        return {
            "name": self.name,
            "concurrency": self.concurrency,
            "requests": len(ms),
            "ok": self.ok,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "transport_errors": self.transport_errors,
            "p50_ms": _r(percentile(ms, 0.50)),
            "p95_ms": _r(percentile(ms, 0.95)),
            "p99_ms": _r(percentile(ms, 0.99)),
            "mean_ms": _r(sum(ms) / len(ms)) if ms else None,
            "throughput_hps": round(self.ok / self.wall_s, 2) if self.wall_s > 0 else None,
            "wall_s": round(self.wall_s, 2),
            "cards": self.cards,
            # Service CPU per answered hook: independent of what else runs on the machine, so it
            # gives the throughput ceiling of 2 otherwise idle cores (2000 / cpu_ms_per_hook).
            "cpu_ms_per_hook": round(self.cpu_s * 1000.0 / self.ok, 1) if self.cpu_s is not None and self.ok else None,
        }


def _r(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 1)


def run_cell(name: str, url: str, factory: BodyFactory, *, concurrency: int, max_requests: int,
             budget_s: float, warmup: int = 0, timeout_s: float = 120.0,
             cpu_probe: Callable[[], float] | None = None) -> CellResult:
    """Run one cell: `warmup` unrecorded requests (sequential, before the clients start), then
    closed-loop load until `max_requests` are answered or `budget_s` has passed (requests in flight
    then still finish). `cpu_probe` returns the service's CPU seconds so far."""
    result = CellResult(name=name, concurrency=concurrency)
    lock = threading.Lock()
    counter = iter(range(10**9))
    issued = [0]

    def post(session: requests.Session) -> tuple[int, float, Any]:
        with lock:
            number = next(counter)
        body, headers = factory(number)
        started = time.perf_counter()
        response = session.post(url, data=body, headers=headers, timeout=timeout_s)
        elapsed = time.perf_counter() - started
        cards = None
        if response.status_code == 200:
            cards = len(response.json().get("cards", []))
        return response.status_code, elapsed, cards

    def client(stop_at: list[float], go: threading.Barrier) -> None:
        session = requests.Session()
        session.trust_env = False
        go.wait()
        while True:
            with lock:
                if issued[0] >= max_requests or time.perf_counter() >= stop_at[0]:
                    return
                issued[0] += 1
            try:
                status, elapsed, cards = post(session)
            except requests.RequestException:
                with lock:
                    result.transport_errors += 1
                continue
            with lock:
                result.statuses[status] = result.statuses.get(status, 0) + 1
                if status == 200:
                    result.latencies_s.append(elapsed)
                    result.cards = cards

    warm = requests.Session()
    warm.trust_env = False
    for _ in range(warmup):
        try:
            post(warm)
        except requests.RequestException:
            pass  # warm-up failures show up again in the measured requests

    stop_at = [math.inf]
    started: list[float] = []
    cpu_start: list[float] = []

    def release() -> None:  # runs once, when every client is ready
        if cpu_probe is not None:
            cpu_start.append(cpu_probe())
        now = time.perf_counter()
        started.append(now)
        stop_at[0] = now + budget_s

    go = threading.Barrier(concurrency, action=release)
    threads = [threading.Thread(target=client, args=(stop_at, go), daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.wall_s = time.perf_counter() - started[0] if started else 0.0
    if cpu_probe is not None and cpu_start:
        result.cpu_s = cpu_probe() - cpu_start[0]
    return result


def hook_headers(auth_header: str | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if auth_header is not None:
        headers["Authorization"] = auth_header
    return headers
