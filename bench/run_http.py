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
    thread split, then no-prefetch; every gunicorn spawn of the production config is also a
    cold-start sample."""
    plan = run.plan
    signer = service_lib.Signer()
    requests_by_count = {n: prefetch_request(sets[n], seed=100 + n) for n in plan.photo_counts}
    first_count = min(plan.photo_counts)
    production = service_lib.ServerConfig(workers=2, onnx_threads=1, auth=run.auth, model_dir=run.model_dir)
    run.data["server"] = production.describe()
    cold: list[dict[str, float]] = []
    peaks: dict[str, dict[int, float]] = {}

    def first_hook(svc: service_lib.Service) -> Callable[[Any], Any]:
        url = svc.hook_url(SERVICE_ID)
        factory = prefetch_factory(requests_by_count[first_count], url, svc, unique=True)

        def send(session: Any) -> Any:
            body, headers = factory(0)
            return session.post(url, data=body, headers=headers, timeout=60)

        return send

    def spawn(config: service_lib.ServerConfig, allow: tuple[str, ...] = ()) -> tuple[service_lib.Service, dict[str, float]]:
        svc = service_lib.start(config, run.workdir / "gunicorn", signer, allow)
        try:
            return svc, service_lib.wait_first_hook(svc, first_hook(svc))
        except BaseException:
            svc.stop()
            raise

    def cell(svc: service_lib.Service, kind: str, name: str, photos: int, concurrency: int, factory: Any) -> CellResult:
        result = run_cell(name, svc.hook_url(SERVICE_ID), factory, concurrency=concurrency,
                          max_requests=plan.cell_max_requests, budget_s=plan.cell_budget_s, warmup=1,
                          cpu_probe=lambda: service_lib.workers_cpu_seconds(svc.process.pid))
        run.data.setdefault("cells", []).append({"kind": kind, "photos": photos, "server": svc.config.label, **result.summary()})
        return result

    # 1. production config, prefetch matrix
    svc, marks = spawn(production)
    cold.append(marks)
    try:
        url = svc.hook_url(SERVICE_ID)
        section = f"hook over HTTP, prefetch (inline photos, fresh bytes per request), {production.label}"
        for n in plan.photo_counts:
            for c in plan.concurrencies:
                if run.out_of_time(f"prefetch {n} photos c={c}", plan.cell_budget_s + 5):
                    continue
                result = cell(svc, "prefetch", f"prefetch-{n}-c{c}", n, c, prefetch_factory(requests_by_count[n], url, svc, unique=True))
                run.rows.append(cell_row(section, "2 workers x 1 ONNX thread", n, result,
                                         note=describe_set(sets[n]) if c == plan.concurrencies[0] else ""))
        if 3 in plan.photo_counts and not plan.quick and not run.out_of_time("same-bytes cell", plan.cell_budget_s + 5):
            result = cell(svc, "prefetch-same-bytes", "prefetch-3-c1-same", 3, 1,
                          prefetch_factory(requests_by_count[3], url, svc, unique=False))
            run.rows.append(cell_row(section, "same photo bytes every request", 3, result,
                                     note="repeat views of a chart; inference/rec_cache.py " + rec_cache_status()))
    finally:
        peaks[production.label] = svc.stop()

    # 2. one worker with two ONNX threads, same load (the production rows above are the comparison)
    if plan.compare_workers and 3 in plan.photo_counts and not run.out_of_time("1x2 comparison", 2 * plan.cell_budget_s + 20):
        alt = service_lib.ServerConfig(workers=1, onnx_threads=2, auth=run.auth, model_dir=run.model_dir)
        svc, marks = spawn(alt)
        run.data["cold_start_1x2"] = marks
        try:
            url = svc.hook_url(SERVICE_ID)
            section = f"hook over HTTP, prefetch: worker/thread split ({alt.describe()})"
            for c in (1, 4):
                result = cell(svc, "prefetch-1x2", f"prefetch-3-c{c}-1x2", 3, c, prefetch_factory(requests_by_count[3], url, svc, unique=True))
                run.rows.append(cell_row(section, "1 worker x 2 ONNX threads", 3, result))
        finally:
            peaks[alt.label] = svc.stop()

    # 2b. what wiring inference/rec_cache.py would give: the same app with CachingRec in front of
    # DERM-Rec (bench/wsgi_cached.py), same photo bytes every request = repeat views of a chart
    if plan.compare_workers and 3 in plan.photo_counts and rec_cache_status().startswith("NOT") and \
            not run.out_of_time("rec_cache cells", 2 * plan.cell_budget_s + 20):
        cached = dataclasses.replace(production, wsgi="bench.wsgi_cached:app")
        svc, _marks = spawn(cached)
        try:
            url = svc.hook_url(SERVICE_ID)
            section = "hook over HTTP, prefetch, same photo bytes every request, rec_cache wired in (bench/wsgi_cached.py), 2x1"
            for c in (1, 4):
                result = cell(svc, "prefetch-same-bytes-cached", f"prefetch-3-c{c}-cached", 3, c,
                              prefetch_factory(requests_by_count[3], url, svc, unique=False))
                run.rows.append(cell_row(section, "2 workers x 1 ONNX thread + rec_cache", 3, result,
                                         note="repeat views of a chart" if c == 1 else ""))
        finally:
            peaks[cached.label] = svc.stop()

    # 3. no prefetch: the service fetches everything from the test FHIR server
    if plan.nofetch_cells and not run.out_of_time("no-prefetch rows", plan.cell_budget_s + 30):
        try:
            with fhir.running(run.workdir / "fhir") as fhir_server:
                patients_on_fhir = {}
                for n in sorted({n for n, _ in plan.nofetch_cells}):
                    patient = fhir_patient(sets[n], seed=300 + n)
                    fhir.seed(fhir_server, patient)
                    patients_on_fhir[n] = patient.patient_id
                svc, marks = spawn(production, (fhir_server.base,))
                cold.append(marks)
                try:
                    url = svc.hook_url(SERVICE_ID)
                    section = f"hook over HTTP, no prefetch (test FHIR server, photos as Binary), {production.label}"
                    for n, c in plan.nofetch_cells:
                        if run.out_of_time(f"no-prefetch {n} photos c={c}", plan.cell_budget_s + 5):
                            continue
                        result = cell(svc, "no-prefetch", f"fhir-{n}-c{c}", n, c, nofetch_factory(patients_on_fhir[n], fhir_server.base, url, svc))
                        run.rows.append(cell_row(section, "2 workers x 1 ONNX thread", n, result))
                finally:
                    peak = svc.stop()
                    peaks[production.label] = {**peaks.get(production.label, {}), **peak}
        except fhir.FhirServerUnavailable as exc:
            run.skipped.append(f"no-prefetch rows: {exc}")

    # 4. more cold-start samples of the production config
    while len(cold) < plan.cold_starts and not run.out_of_time("extra cold start", 15):
        svc, marks = spawn(production)
        cold.append(marks)
        svc.stop()

    run.data["cold_start"] = cold
    run.data["peak_rss_mb"] = {label: {str(pid): round(mb, 1) for pid, mb in p.items()} for label, p in peaks.items()}
    section = "process"
    firsts = [m["first_hook_s"] for m in cold]
    run.rows.append(Row(section, f"cold start: spawn -> first answered hook ({production.label}, {first_count} photo(s))", n=len(firsts),
                        p50_ms=round(statistics.median(firsts) * 1000, 0),
                        note="max %.2f s; first worker healthy after %.2f s (median)" % (
                            max(firsts), statistics.median(m.get("healthy_s", float("nan")) for m in cold))))
    for label, p in peaks.items():
        if p:
            run.rows.append(Row(section, f"peak RSS per worker ({label}, VmHWM)", n=len(p),
                                note=f"max {max(p.values()):.0f} MB (workers: {', '.join(f'{mb:.0f}' for mb in sorted(p.values()))} MB)"))
