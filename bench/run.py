"""derm3r performance benchmark: one command, one table, one JSON file.

    python -m bench.run            # full run, < 10 minutes on 2 cores
    python -m bench.run --quick    # smoke run, < 60 s (tiny photos, few cells)

What runs (all on 127.0.0.1):
1. in-process: the model alone (onnxruntime `predict`, batch 1/3/8 = the photos of a request; the
   physical floor), a 12 MP JPEG decoded with draft mode vs fully, recognition the project's way
   vs a PyTorch eager baseline (subprocess in a torch venv), where one hook's time goes (profiled
   stages) and which repository files a hook opens (knowledge/model parsed once?);
2. gunicorn serving `cds_hooks.wsgi:app` (sync workers, auth on with ES384 JWTs signed here):
   hooks with prefetch carrying 1, 3, 8 photographs (2-12 MP JPEG) at concurrency 1, 4, 16;
   the same without prefetch against the test FHIR server (photos as Binary); cold start (spawn ->
   first answered hook) and peak RSS per worker; 2 workers x 1 ONNX thread vs 1 worker x 2.

See bench/README.md for what each row means and the latest table.
"""

from __future__ import annotations

import argparse
import io
import dataclasses
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from PIL import Image

from bench import photos as photo_lib
from bench.load import BodyFactory, CellResult, hook_headers, run_cell
from bench.patients import SERVICE_ID, PrefetchRequest, fhir_patient, fhir_request_body, prefetch_request
from bench.report import (
    TARGET_COLD_START_S,
    TARGET_OVERHEAD_P50,
    TARGET_P95_3_PHOTOS_C1_MS,
    TARGET_RSS_MB,
    TARGET_THROUGHPUT_3_PHOTOS_HPS,
    Row,
    Target,
    load,
    machine,
    render_table,
)

if TYPE_CHECKING:
    from bench.service import Service

log = logging.getLogger("bench")

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
TORCH_PYTHONS = (Path("/work/.venv-train/bin/python"), Path("/work/.venv-bench/bin/python"))
FHIR_ACCESS_TOKEN = "derm3r-bench-fhir-token"
HARD_LIMIT_S = {False: 570.0, True: 55.0}  # cells not started past this are skipped, never run over


@dataclass(frozen=True)
class Plan:
    """How much to run. `full_run()` fits in < 10 minutes on 2 cores, `quick_run()` in < 60 s."""

    quick: bool
    photo_counts: tuple[int, ...]
    concurrencies: tuple[int, ...]
    nofetch_cells: tuple[tuple[int, int], ...]  # (photos, concurrency)
    cell_budget_s: float
    cell_max_requests: int
    floor_batches: tuple[int, ...]
    floor_threads: tuple[int, ...]
    repeats: int
    measure_budget_s: float
    profile_hooks: int
    cold_starts: int  # gunicorn spawns of the production config measured for cold start
    compare_workers: bool
    torch_repeats: int
    baseline_counts: tuple[int, ...]

    @classmethod
    def full_run(cls) -> "Plan":
        return cls(
            quick=False, photo_counts=(1, 3, 8), concurrencies=(1, 4, 16),
            nofetch_cells=tuple((n, c) for n in (1, 3, 8) for c in (1, 4, 16)),
            cell_budget_s=7.0, cell_max_requests=300, floor_batches=(1, 3, 8), floor_threads=(1, 2),
            repeats=20, measure_budget_s=5.0, profile_hooks=5, cold_starts=3, compare_workers=True, torch_repeats=8,
            baseline_counts=(1, 3, 8),
        )

    @classmethod
    def quick_run(cls) -> "Plan":
        return cls(
            quick=True, photo_counts=(3,), concurrencies=(1, 4), nofetch_cells=((3, 1),),
            cell_budget_s=1.5, cell_max_requests=20, floor_batches=(1, 3), floor_threads=(1,),
            repeats=5, measure_budget_s=1.0, profile_hooks=2, cold_starts=1, compare_workers=False, torch_repeats=2,
            baseline_counts=(1,),
        )


@dataclass
class Run:
    plan: Plan
    model_dir: Path | None
    workdir: Path
    auth: bool
    started: float = field(default_factory=time.monotonic)
    rows: list[Row] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def time_left(self) -> float:
        return HARD_LIMIT_S[self.plan.quick] - (time.monotonic() - self.started)

    @contextmanager
    def section(self, name: str) -> Iterator[None]:
        """Record how long a part of the run took (JSON `section_s`), to keep the run's bounds honest."""
        started = time.monotonic()
        try:
            yield
        finally:
            self.data.setdefault("section_s", {})[name] = round(time.monotonic() - started, 1)
            log.info("%s took %.1f s", name, time.monotonic() - started)

    def out_of_time(self, what: str, needs_s: float) -> bool:
        if self.time_left() < needs_s:
            self.skipped.append(f"{what}: skipped, the run's time limit was reached")
            log.warning("skipping %s: time limit", what)
            return True
        return False


# -- photos ---------------------------------------------------------------------------------------------


def photo_sets(plan: Plan, counts: tuple[int, ...]) -> dict[int, list[bytes]]:
    return {n: photo_lib.load(photo_lib.specs_for(n, quick=plan.quick, seed=10 * n), RESULTS / "photos") for n in counts}


def describe_set(jpegs: list[bytes]) -> str:
    """'12+5+2 MP, 3.7 MB JPEG': what a row's photos were."""
    mps = []
    for j in jpegs:
        with Image.open(io.BytesIO(j)) as image:
            mps.append(image.size[0] * image.size[1] / 1e6)
    return f"{'+'.join(f'{mp:.0f}' for mp in mps)} MP, {sum(len(j) for j in jpegs) / 1e6:.1f} MB JPEG"


def rec_cache_status() -> str:
    """Whether the service's pipeline puts inference.rec_cache in front of DERM-Rec (by source, so
    that checking builds nothing)."""
    sources = [REPO / "inference" / "pipeline.py", REPO / "inference" / "rec.py"]
    wired = any("rec_cache" in p.read_text(encoding="utf-8") for p in sources if p.is_file())
    return "wired into the service" if wired else "NOT wired into the service yet"


# -- in-process sections ----------------------------------------------------------------------------------


def section_inprocess(run: Run, sets: dict[int, list[bytes]]) -> None:
    from bench import inprocess

    plan = run.plan
    with run.section("model floor"):
        floor = inprocess.model_floor(run.model_dir, plan.floor_batches, plan.floor_threads, plan.repeats, plan.measure_budget_s)
    run.data["model_floor"] = floor
    for r in floor:
        run.rows.append(Row("model alone (onnxruntime predict, prepared uint8 batch)", f"batch {r['batch']}, {r['onnx_threads']} thread(s)",
                            photos=r["batch"], n=r["n"], p50_ms=r["p50_ms"], p95_ms=r["p95_ms"], cpu_ms=r["cpu_p50_ms"],
                            note=f"model {r['model_version']}"))

    biggest = max((j for js in sets.values() for j in js), key=len)
    with run.section("decode"):
        decode = inprocess.decode_timings(biggest, plan.repeats, plan.measure_budget_s)
    run.data["decode"] = decode
    mp = decode["width"] * decode["height"] / 1e6
    for mode, label in (("draft", "decode_image (JPEG draft) + prepare 224"), ("full", "full-resolution decode + prepare 224")):
        d = decode[mode]
        note = f"{decode['width']}x{decode['height']}, {decode['bytes'] / 1e6:.1f} MB"
        if mode == "draft":
            note += f" -> decoded at {d['decoded_size'][0]}x{d['decoded_size'][1]}"
        else:
            note += f"; draft is {decode['full']['p50_ms'] / decode['draft']['p50_ms']:.1f}x faster"
        run.rows.append(Row(f"decode one {mp:.0f} MP JPEG", label, photos=1, n=d["n"], p50_ms=d["p50_ms"], p95_ms=d["p95_ms"],
                            cpu_ms=d["cpu_p50_ms"], note=note))

    with run.section("recognition"):
        recognition = inprocess.recognition(run.model_dir, sets, threads=1, repeats=max(3, plan.repeats // 3),
                                            budget_s=plan.measure_budget_s)
    run.data["recognition"] = {str(k): v for k, v in recognition.items()}
    for count, r in recognition.items():
        run.rows.append(Row("recognition in-process (decode + model; DERM-Rec adds gate + attributes)", "ours: draft decode + onnxruntime, 1 thread",
                            photos=count, n=r["classify"]["n"], p50_ms=r["classify"]["p50_ms"], p95_ms=r["classify"]["p95_ms"],
                            cpu_ms=r["classify"]["cpu_p50_ms"], note=describe_set(sets[count])))
        run.rows.append(Row("recognition in-process (decode + model; DERM-Rec adds gate + attributes)", "DermRec.read (all of DERM-Rec)",
                            photos=count, n=r["derm_rec"]["n"], p50_ms=r["derm_rec"]["p50_ms"], p95_ms=r["derm_rec"]["p95_ms"],
                            cpu_ms=r["derm_rec"]["cpu_p50_ms"]))
        hit = r["derm_rec_cache_hit"]
        run.rows.append(Row("recognition in-process (decode + model; DERM-Rec adds gate + attributes)",
                            "DermRec.read behind rec_cache, photos seen before", photos=count, n=hit["n"], p50_ms=hit["p50_ms"],
                            p95_ms=hit["p95_ms"], cpu_ms=hit["cpu_p50_ms"], note="inference/rec_cache.py; " + rec_cache_status()))

    if plan.baseline_counts:
        with run.section("torch baseline"):
            section_baseline(run, {n: sets[n] for n in plan.baseline_counts if n in sets}, recognition)
    else:
        run.rows.append(Row("recognition: PyTorch eager baseline (full decode) vs ours", "skipped", note="--no-baseline"))

    if sets:
        count = 3 if 3 in sets else min(sets)
        request = prefetch_request(sets[count], seed=500)
        with run.section("stage profile"):
            app = inprocess.build_app(run.model_dir)
            try:
                profile = inprocess.stage_profile(app, lambda n: request.body(str(uuid.uuid4()), f"p{n}".encode()),
                                                  plan.profile_hooks)
                files = inprocess.files_per_hook(app, request.body(str(uuid.uuid4()), b"files"), REPO)
            finally:
                app.workdir.cleanup()
        run.data["stage_profile"] = {"photos": count, **profile}
        run.data["files_per_hook"] = files
        # cProfile inflates Python-heavy stages; scaling to the unprofiled CPU time keeps the column
        # comparable with the others (shares are what matter).
        scale = profile["cpu_p50_ms"] / profile["profiled_total_ms"] if profile["profiled_total_ms"] else 1.0
        title = (f"one hook in-process, {count} photos (Flask test client, auth on): wall p50 {profile['wall_p50_ms']:.0f} ms, "
                 f"CPU {profile['cpu_p50_ms']:.0f} ms; stages from cProfile, scaled to that CPU time")
        for stage in profile["stages"]:
            run.rows.append(Row(title, stage["stage"], photos=count, n=profile["hooks"], cpu_ms=round(stage["ms_per_hook"] * scale, 1)))
        opened = files["repo_files_opened_per_hook"]
        run.rows.append(Row(title,
                            "repository files opened per hook", photos=count,
                            note="none: knowledge + model parsed once per process" if not opened else "OPENED: " + ", ".join(opened)))


def section_baseline(run: Run, sets: dict[int, list[bytes]], ours: dict[int, dict[str, Any]]) -> None:
    """PyTorch eager baseline in its own venv; ratio = baseline p50 / ours p50 per photo set."""
    python = next((p for p in TORCH_PYTHONS if p.is_file()), None)
    label = "recognition: PyTorch eager baseline (full decode) vs ours"
    if python is None:
        run.skipped.append("PyTorch baseline: no torch venv found at " + " or ".join(map(str, TORCH_PYTHONS)))
        run.rows.append(Row(label, "skipped", note="torch venv not found (see bench/README.md)"))
        return
    if run.out_of_time("PyTorch baseline", 60 if not run.plan.quick else 20):
        return
    listing = {}
    for count, jpegs in sets.items():
        paths = []
        for i, j in enumerate(jpegs):
            path = run.workdir / f"baseline-{count}-{i}.jpg"
            path.write_bytes(j)
            paths.append(str(path))
        listing[str(count)] = paths
    spec = run.workdir / "baseline-sets.json"
    spec.write_text(json.dumps(listing))
    # Per measurement budget: 6 measurements (model + recognition x 3 sets) must fit in ~60 s even
    # when eager torch is slow on a busy machine.
    cmd = [str(python), str(REPO / "bench" / "baseline_torch.py"), "--photos-json", str(spec),
           "--repeats", str(run.plan.torch_repeats), "--budget", str(run.plan.measure_budget_s),
           # One intra-op thread: the same CPU budget as a production worker (DERM3R_ONNX_THREADS=1);
           # torch's default (a thread per core) only adds spinning on a shared 2-core machine.
           "--threads", "1"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=240 if not run.plan.quick else 40, check=False)
    except subprocess.TimeoutExpired:
        run.skipped.append("PyTorch baseline: timed out")
        run.rows.append(Row(label, "skipped", note="timed out"))
        return
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        run.skipped.append(f"PyTorch baseline failed: {tail[0]}")
        run.rows.append(Row(label, "skipped", note=f"failed: {tail[0][:80]}"))
        return
    baseline = json.loads(done.stdout.strip().splitlines()[-1])
    run.data["baseline_torch"] = baseline
    ratios = {}
    for count in sorted(sets):
        b = baseline["recognition"][str(count)]
        o = ours[count]["classify"]
        ratio = round(b["p50_ms"] / o["p50_ms"], 2)
        ratios[str(count)] = ratio
        cpu_ratio = round(b["cpu_p50_ms"] / o["cpu_p50_ms"], 2) if o.get("cpu_p50_ms") else None
        run.rows.append(Row(label, f"torch {baseline['torch']} eager, {baseline['threads']} thread(s)", photos=count, n=b["n"],
                            p50_ms=b["p50_ms"], p95_ms=b["p95_ms"], cpu_ms=b["cpu_p50_ms"],
                            note=f"{ratio:.1f}x ours at p50 wall, {cpu_ratio}x in CPU (ours: 'draft decode + onnxruntime' row)"))
        m = baseline["model"][str(count)]
        run.rows.append(Row(label, "  torch eager model forward only", photos=count, n=m["n"], p50_ms=m["p50_ms"], p95_ms=m["p95_ms"],
                            cpu_ms=m["cpu_p50_ms"]))
    run.data["baseline_ratio_p50"] = ratios  # torch eager recognition p50 / ours, per photo count


# -- HTTP sections ----------------------------------------------------------------------------------------


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
    from bench import fhir, service as service_lib

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


# -- targets --------------------------------------------------------------------------------------------


def evaluate_targets(run: Run) -> list[Target]:
    data = run.data
    prefetch = {(c["photos"], c["concurrency"]): c for c in data.get("cells", []) if c["kind"] == "prefetch"}
    floor = {(r["batch"], r["onnx_threads"]): r for r in data.get("model_floor", [])}
    targets: list[Target] = []

    p3 = prefetch.get((3, 1))
    if p3 is not None and (p3.get("p95_ms") is None or p3.get("p50_ms") is None):
        p3 = None  # no hook of that cell was answered 200: nothing to judge (the row shows the statuses)
    cpu3 = p3.get("cpu_ms_per_hook") if p3 else None
    cpu_note = (f"the service spends {cpu3:.0f} ms CPU per 3-photo hook on one core, so even an idle machine cannot "
                "answer faster than that" if cpu3 else "")
    targets.append(Target("hook p95, 3 photos, c=1", f"<= {TARGET_P95_3_PHOTOS_C1_MS:.0f} ms",
                          f"{p3['p95_ms']} ms" if p3 else "not measured",
                          None if not p3 else p3["p95_ms"] <= TARGET_P95_3_PHOTOS_C1_MS,
                          "" if not p3 or p3["p95_ms"] <= TARGET_P95_3_PHOTOS_C1_MS else
                          f"{p3['p95_ms'] / TARGET_P95_3_PHOTOS_C1_MS:.2f}x over; {cpu_note}".rstrip("; ")))
    f3 = floor.get((3, 1))
    if p3 and f3:
        ratio = p3["p50_ms"] / f3["p50_ms"]
        cpu_ratio = f"; in CPU time {cpu3 / f3['cpu_p50_ms']:.1f}x ({cpu3:.0f} / {f3['cpu_p50_ms']:.0f} ms)" if cpu3 and f3.get("cpu_p50_ms") else ""
        targets.append(Target("hook p50 / model-alone p50, 3 photos, c=1", f"<= {TARGET_OVERHEAD_P50}x", f"{ratio:.2f}x "
                              f"({p3['p50_ms']} / {f3['p50_ms']} ms){cpu_ratio}", ratio <= TARGET_OVERHEAD_P50,
                              "" if ratio <= TARGET_OVERHEAD_P50 else
                              "decode, quality gate, lesion attributes, FHIR validation and the review-store copy are outside the floor"))
    else:
        targets.append(Target("hook p50 / model-alone p50, 3 photos, c=1", f"<= {TARGET_OVERHEAD_P50}x", "not measured", None))
    best = max((cell.get("throughput_hps") or 0.0 for (n, _c), cell in prefetch.items() if n == 3), default=None)
    cpu = [cell["cpu_ms_per_hook"] for (n, c), cell in prefetch.items() if n == 3 and c > 1 and cell.get("cpu_ms_per_hook")]
    ceiling = f"; service CPU {min(cpu):.0f} ms/hook -> at most {2000 / min(cpu):.1f} hooks/s on 2 idle cores" if cpu else ""
    targets.append(Target("sustained throughput, 3 photos", f">= {TARGET_THROUGHPUT_3_PHOTOS_HPS:.0f} hooks/s",
                          f"{best} hooks/s (best concurrency)" if best is not None else "not measured",
                          None if best is None else best >= TARGET_THROUGHPUT_3_PHOTOS_HPS,
                          ("" if best is None or best >= TARGET_THROUGHPUT_3_PHOTOS_HPS else
                           f"{TARGET_THROUGHPUT_3_PHOTOS_HPS / max(best, 1e-9):.1f}x short") + ceiling))
    rss = [mb for p in data.get("peak_rss_mb", {}).values() for mb in p.values()]
    targets.append(Target("peak RSS per worker", f"<= {TARGET_RSS_MB:.0f} MB", f"{max(rss):.0f} MB" if rss else "not measured",
                          None if not rss else max(rss) <= TARGET_RSS_MB))
    cold = [m["first_hook_s"] for m in data.get("cold_start", [])]
    targets.append(Target("cold start (spawn -> first hook)", f"<= {TARGET_COLD_START_S:.0f} s",
                          f"{statistics.median(cold):.2f} s median of {len(cold)}" if cold else "not measured",
                          None if not cold else statistics.median(cold) <= TARGET_COLD_START_S))
    return targets


# -- main -------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run (< 60 s): tiny photos, few cells")
    parser.add_argument("--model-dir", type=Path, default=None, help="lesion model directory (default: the shipped one)")
    parser.add_argument("--auth", choices=("on", "off"), default="on", help="JWT auth of the service under test (default on)")
    parser.add_argument("--sections", default="inprocess,http",
                        help="comma-separated subset of: inprocess, http (default both)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the PyTorch eager baseline (torch venv)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="directory for the JSON result (default bench/results)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (gunicorn and FHIR logs)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    sections = {s.strip() for s in args.sections.split(",") if s.strip()}
    unknown = sections - {"inprocess", "http"}
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")

    plan = Plan.quick_run() if args.quick else Plan.full_run()
    workdir = Path(tempfile.mkdtemp(prefix="derm3r-bench-"))
    if args.no_baseline:
        plan = dataclasses.replace(plan, baseline_counts=())
    run = Run(plan=plan, model_dir=args.model_dir, workdir=workdir, auth=args.auth == "on")
    host = machine()
    run.data.update({"started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "quick": plan.quick,
                     "machine": host, "auth": args.auth, "plan": plan.__dict__})
    try:
        sets = photo_sets(plan, tuple(sorted(set(plan.photo_counts) | set(plan.floor_batches) & {1, 3, 8})))
        run.data["photo_sets"] = {str(n): describe_set(js) for n, js in sets.items()}
        if "inprocess" in sections:
            section_inprocess(run, sets)
        if "http" in sections:
            with run.section("http"):
                section_http(run, sets)
    finally:
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    elapsed = time.monotonic() - run.started
    host_end = load()
    targets = evaluate_targets(run)
    header = [
        f"derm3r bench {'(QUICK: smoke run, not for comparison) ' if plan.quick else ''}{run.data['started']}  "
        f"wall {elapsed:.0f} s",
        f"machine: {host['cpu']}, {host['cores']} cores, {host['ram_gb']} GB RAM; load average (1/5/15 min) "
        f"{' '.join(map(str, host['load']))} at start, {' '.join(map(str, host_end))} at end",
        f"server: {run.data.get('server', 'not run')}; client: closed loop, same machine; latency = client-side POST "
        "round trip incl. upload of the base64 photos",
    ]
    table = render_table(run.rows, targets, header)
    if run.skipped:
        table += "\nskipped: " + "; ".join(run.skipped)
    print(table)
    run.data.update({
        "wall_s": round(elapsed, 1), "load_end": host_end, "rows": [r.to_json() for r in run.rows],
        "targets": [t.__dict__ for t in targets], "skipped": run.skipped, "table": table,
    })
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = args.out / f"bench-{'quick-' if plan.quick else ''}{stamp}.json"
    path.write_text(json.dumps(run.data, indent=2, default=str))
    (args.out / ("latest-quick.json" if plan.quick else "latest.json")).write_text(json.dumps(run.data, indent=2, default=str))
    print(f"JSON: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
