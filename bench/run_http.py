"""The HTTP part of a run as table rows: gunicorn serving the production app, hooks with and without
prefetch at several concurrencies, the worker/thread split, rec_cache wired in, cold start and RSS."""

from __future__ import annotations

import dataclasses
import statistics
import uuid
from typing import Any, Callable

from bench import fhir
from bench import photos as photo_lib
from bench import service as service_lib
from bench.context import Run, describe_set, rec_cache_status
from bench.load import BodyFactory, CellResult, hook_headers, run_cell
from bench.patients import SERVICE_ID, PrefetchRequest, fhir_patient, fhir_request_body, prefetch_request
from bench.report import Row
from bench.service import Service

FHIR_ACCESS_TOKEN = "derm3r-bench-fhir-token"


def prefetch_factory(request: PrefetchRequest, audience: str, service: Service, unique: bool) -> BodyFactory:
    """Hook bodies with inline photos; `unique` gives every request fresh photo bytes."""

    def make(number: int) -> tuple[bytes, dict[str, str]]:
        # random, not the request number: numbers restart every cell, and a repeated tag would be
        # a repeated photo to a content-hash cache
        tag = uuid.uuid4().hex[:photo_lib.TAG_BYTES].encode() if unique else None
        auth = service.signer.header(audience) if service.config.auth else None
        return request.body(str(uuid.uuid4()), tag), hook_headers(auth)

    return make


def nofetch_factory(patient_id: str, fhir_base: str, audience: str, service: Service) -> BodyFactory:
    """Hook bodies without prefetch: the service reads everything from `fhir_base`."""

    def make(number: int) -> tuple[bytes, dict[str, str]]:
        auth = service.signer.header(audience) if service.config.auth else None
        return fhir_request_body(patient_id, fhir_base, FHIR_ACCESS_TOKEN), hook_headers(auth)

    return make


def cell_row(section: str, label: str, photos: int, result: CellResult, note: str = "") -> Row:
    s = result.summary()
    errors = {k: v for k, v in s["statuses"].items() if k != "200"}
    extra = []
    if errors or s["transport_errors"]:
        extra.append(f"non-200: {errors} transport errors {s['transport_errors']}")
    if s["cards"] is not None:
        extra.append(f"{s['cards']} cards")
    return Row(section, label, photos=photos, concurrency=result.concurrency, n=s["requests"], p50_ms=s["p50_ms"],
               p95_ms=s["p95_ms"], p99_ms=s["p99_ms"], throughput_hps=s["throughput_hps"], cpu_ms=s["cpu_ms_per_hook"],
               note="; ".join([n for n in (note, *extra) if n]))


def section_http(run: Run, sets: dict[int, list[bytes]]) -> None:
    """Order matters when the run's time limit bites: the prefetch matrix first, then the worker /
    thread split and rec_cache, then no-prefetch; every gunicorn spawn of the production config is
    also a cold-start sample."""
    http = HttpSection(run, sets)
    http.prefetch_matrix()
    http.worker_split()
    http.without_arena()
    http.no_prefetch()
    http.more_cold_starts()
    http.process_rows()


class HttpSection:
    """One gunicorn configuration at a time on loopback; collects cells, cold starts and RSS peaks."""

    def __init__(self, run: Run, sets: dict[int, list[bytes]]) -> None:
        self.run = run
        self.plan = run.plan
        self.sets = sets
        self.signer = service_lib.Signer()
        self.requests = {n: prefetch_request(sets[n], seed=100 + n) for n in self.plan.photo_counts}
        self.first_count = min(self.plan.photo_counts)
        self.production = service_lib.ServerConfig(workers=2, onnx_threads=1, auth=run.auth, model_dir=run.model_dir)
        run.data["server"] = self.production.describe()
        self.cold: list[dict[str, float]] = []
        self.peaks: dict[str, dict[int, float]] = {}

    # -- plumbing -----------------------------------------------------------------------------------

    def spawn(self, config: service_lib.ServerConfig, allow: tuple[str, ...] = ()) -> tuple[Service, dict[str, float]]:
        """Start gunicorn and wait for its first answered hook (the cold-start marks)."""
        svc = service_lib.start(config, self.run.workdir / "gunicorn", self.signer, allow)
        try:
            return svc, service_lib.wait_first_hook(svc, self._first_hook(svc))
        except BaseException:
            svc.stop()
            raise

    def _first_hook(self, svc: Service) -> Callable[[Any], Any]:
        url = svc.hook_url(SERVICE_ID)
        factory = prefetch_factory(self.requests[self.first_count], url, svc, unique=True)

        def send(session: Any) -> Any:
            body, headers = factory(0)
            return session.post(url, data=body, headers=headers, timeout=60)

        return send

    def stop(self, svc: Service) -> None:
        peak = svc.stop()
        label = svc.config.label
        self.peaks[label] = {**self.peaks.get(label, {}), **peak}

    def cell(self, svc: Service, kind: str, photos: int, concurrency: int, factory: BodyFactory) -> CellResult:
        result = run_cell(f"{kind}-{photos}-c{concurrency}-{svc.config.label}", svc.hook_url(SERVICE_ID), factory,
                          concurrency=concurrency, max_requests=self.plan.cell_max_requests,
                          budget_s=self.plan.cell_budget_s, warmup=1,
                          cpu_probe=lambda: service_lib.workers_cpu_seconds(svc.process.pid))
        self.run.data.setdefault("cells", []).append(
            {"kind": kind, "photos": photos, "server": svc.config.label, **result.summary()})
        return result

    def prefetch(self, svc: Service, photos: int, unique: bool) -> BodyFactory:
        return prefetch_factory(self.requests[photos], svc.hook_url(SERVICE_ID), svc, unique=unique)

    def has_time(self, what: str, needs_s: float) -> bool:
        return not self.run.out_of_time(what, needs_s)

    # -- the parts ------------------------------------------------------------------------------------

    def prefetch_matrix(self) -> None:
        """Production config: every photo count x concurrency, fresh bytes; one same-bytes cell."""
        svc, marks = self.spawn(self.production)
        self.cold.append(marks)
        section = f"hook over HTTP, prefetch (inline photos, fresh bytes per request), {self.production.label}"
        try:
            for n in self.plan.photo_counts:
                for c in self.plan.concurrencies:
                    if not self.has_time(f"prefetch {n} photos c={c}", self.plan.cell_budget_s + 5):
                        continue
                    result = self.cell(svc, "prefetch", n, c, self.prefetch(svc, n, unique=True))
                    note = describe_set(self.sets[n]) if c == self.plan.concurrencies[0] else ""
                    self.run.rows.append(cell_row(section, "2 workers x 1 ONNX thread", n, result, note=note))
            self.order_hooks(svc)
            if 3 in self.plan.photo_counts and not self.plan.quick and \
                    self.has_time("same-bytes cell", self.plan.cell_budget_s + 5):
                result = self.cell(svc, "prefetch-same-bytes", 3, 1, self.prefetch(svc, 3, unique=False))
                self.run.rows.append(cell_row(section, "same photo bytes every request", 3, result,
                                              note="repeat views of a chart; inference/rec_cache.py " + rec_cache_status()))
        finally:
            self.stop(svc)

    def order_hooks(self, svc: Service) -> None:
        """order-select / order-sign on the same production server (bench/orders.py): no photos."""
        from bench.orders import order_rows

        concurrencies = tuple(c for c in self.plan.concurrencies if c <= 4)
        if not self.has_time("order hooks", 3 * len(concurrencies) * (self.plan.cell_budget_s + 2)):
            return
        self.run.rows.extend(order_rows(svc, concurrencies=concurrencies, budget_s=self.plan.cell_budget_s,
                                        max_requests=self.plan.cell_max_requests, cells=self.run.data.setdefault("cells", [])))

    def worker_split(self) -> None:
        """One worker with two ONNX threads under the same 3-photo load (compare with 2 x 1)."""
        if not (self.plan.compare_workers and 3 in self.plan.photo_counts) or \
                not self.has_time("1x2 comparison", 2 * self.plan.cell_budget_s + 20):
            return
        alt = service_lib.ServerConfig(workers=1, onnx_threads=2, auth=self.run.auth, model_dir=self.run.model_dir)
        svc, marks = self.spawn(alt)
        self.run.data["cold_start_1x2"] = marks
        section = f"hook over HTTP, prefetch: worker/thread split ({alt.describe()})"
        try:
            for c in (1, 4):
                result = self.cell(svc, "prefetch-1x2", 3, c, self.prefetch(svc, 3, unique=True))
                self.run.rows.append(cell_row(section, "1 worker x 2 ONNX threads", 3, result))
        finally:
            self.stop(svc)

    def without_arena(self) -> None:
        """Peak RSS per worker with onnxruntime's memory arena off (bench/wsgi_no_arena.py), under
        the 8-photo hooks that set the production peak."""
        if not (self.plan.compare_workers and 8 in self.plan.photo_counts) or \
                not self.has_time("no-arena cell", self.plan.cell_budget_s + 20):
            return
        config = dataclasses.replace(self.production, wsgi="bench.wsgi_no_arena:app")
        svc, _marks = self.spawn(config)
        section = "hook over HTTP, prefetch, onnxruntime memory arena off (bench/wsgi_no_arena.py), 2x1"
        try:
            result = self.cell(svc, "prefetch-no-arena", 8, 2, self.prefetch(svc, 8, unique=True))
            self.run.rows.append(cell_row(section, "2 workers x 1 ONNX thread, no arena", 8, result,
                                          note="compare peak RSS below with the 2x1 row"))
        finally:
            self.stop(svc)

    def no_prefetch(self) -> None:
        """The service fetches everything (photos as raw Binary) from the test FHIR server."""
        if not self.plan.nofetch_cells or not self.has_time("no-prefetch rows", self.plan.cell_budget_s + 30):
            return
        try:
            with fhir.running(self.run.workdir / "fhir") as fhir_server:
                patients = {}
                for n in sorted({n for n, _ in self.plan.nofetch_cells}):
                    patient = fhir_patient(self.sets[n], seed=300 + n)
                    fhir.seed(fhir_server, patient)
                    patients[n] = patient.patient_id
                svc, marks = self.spawn(self.production, (fhir_server.base,))
                self.cold.append(marks)
                section = f"hook over HTTP, no prefetch (test FHIR server, photos as Binary), {self.production.label}"
                try:
                    for n, c in self.plan.nofetch_cells:
                        if not self.has_time(f"no-prefetch {n} photos c={c}", self.plan.cell_budget_s + 5):
                            continue
                        factory = nofetch_factory(patients[n], fhir_server.base, svc.hook_url(SERVICE_ID), svc)
                        result = self.cell(svc, "no-prefetch", n, c, factory)
                        self.run.rows.append(cell_row(section, "2 workers x 1 ONNX thread", n, result))
                finally:
                    self.stop(svc)
        except fhir.FhirServerUnavailable as exc:
            self.run.skipped.append(f"no-prefetch rows: {exc}")

    def more_cold_starts(self) -> None:
        while len(self.cold) < self.plan.cold_starts and self.has_time("extra cold start", 15):
            svc, marks = self.spawn(self.production)
            self.cold.append(marks)
            self.stop(svc)

    def process_rows(self) -> None:
        run = self.run
        run.data["cold_start"] = self.cold
        run.data["peak_rss_mb"] = {label: {str(pid): round(mb, 1) for pid, mb in p.items()}
                                   for label, p in self.peaks.items()}
        firsts = [m["first_hook_s"] for m in self.cold]
        if firsts:
            healthy = statistics.median(m.get("healthy_s", float("nan")) for m in self.cold)
            run.rows.append(Row("process", f"cold start: spawn -> first answered hook ({self.production.label}, "
                                           f"{self.first_count} photo(s))", n=len(firsts),
                                p50_ms=round(statistics.median(firsts) * 1000, 0),
                                note=f"max {max(firsts):.2f} s; first worker healthy after {healthy:.2f} s (median)"))
        for label, p in self.peaks.items():
            if p:
                workers = ", ".join(f"{mb:.0f}" for mb in sorted(p.values()))
                run.rows.append(Row("process", f"peak RSS per worker ({label}, VmHWM)", n=len(p),
                                    note=f"max {max(p.values()):.0f} MB (workers: {workers} MB)"))
