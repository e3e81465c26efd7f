"""The in-process part of a run as table rows: model floor, decoding, recognition vs the PyTorch
baseline, the stage profile of one hook, files opened per hook (measurements in bench.inprocess)."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

from bench.context import REPO, Run, describe_set, rec_cache_status
from bench.patients import prefetch_request
from bench.report import Row

TORCH_PYTHONS = (Path("/work/.venv-train/bin/python"), Path("/work/.venv-bench/bin/python"))

FLOOR = "model alone (onnxruntime predict, prepared uint8 batch)"
RECOGNITION = "recognition in-process (decode + model; DERM-Rec adds gate + attributes)"
BASELINE = "recognition: PyTorch eager baseline (full decode) vs ours"


def timing_row(section: str, label: str, photos: int, stats: dict[str, Any], note: str = "") -> Row:
    """A row from `bench.inprocess.stats` (n, p50, p95, CPU p50)."""
    return Row(section, label, photos=photos, n=stats["n"], p50_ms=stats["p50_ms"], p95_ms=stats["p95_ms"],
               cpu_ms=stats["cpu_p50_ms"], note=note)


def section_inprocess(run: Run, sets: dict[int, list[bytes]]) -> None:
    recognition = _floor_decode_recognition(run, sets)
    if run.plan.baseline_counts:
        with run.section("torch baseline"):
            section_baseline(run, {n: sets[n] for n in run.plan.baseline_counts if n in sets}, recognition)
    else:
        run.rows.append(Row(BASELINE, "skipped", note="--no-baseline"))
    if sets:
        _stage_profile(run, sets)


def _floor_decode_recognition(run: Run, sets: dict[int, list[bytes]]) -> dict[int, dict[str, Any]]:
    from bench import inprocess

    plan = run.plan
    with run.section("model floor"):
        floor = inprocess.model_floor(run.model_dir, plan.floor_batches, plan.floor_threads, plan.repeats,
                                      plan.measure_budget_s)
    run.data["model_floor"] = floor
    for r in floor:
        run.rows.append(timing_row(FLOOR, f"batch {r['batch']}, {r['onnx_threads']} thread(s)", r["batch"], r,
                                   note=f"model {r['model_version']}"))

    biggest = max((j for js in sets.values() for j in js), key=len)
    with run.section("decode"):
        decode = inprocess.decode_timings(biggest, plan.repeats, plan.measure_budget_s)
    run.data["decode"] = decode
    size = f"{decode['width']}x{decode['height']}, {decode['bytes'] / 1e6:.1f} MB"
    section = f"decode one {decode['width'] * decode['height'] / 1e6:.0f} MP JPEG"
    draft, full = decode["draft"], decode["full"]
    run.rows.append(timing_row(section, "decode_image (JPEG draft) + prepare 224", 1, draft,
                               note=f"{size} -> decoded at {draft['decoded_size'][0]}x{draft['decoded_size'][1]}"))
    run.rows.append(timing_row(section, "full-resolution decode + prepare 224", 1, full,
                               note=f"{size}; draft is {full['p50_ms'] / draft['p50_ms']:.1f}x faster"))

    with run.section("recognition"):
        recognition = inprocess.recognition(run.model_dir, sets, threads=1, repeats=max(3, plan.repeats // 3),
                                            budget_s=plan.measure_budget_s)
    run.data["recognition"] = {str(k): v for k, v in recognition.items()}
    for count, r in recognition.items():
        run.rows.append(timing_row(RECOGNITION, "ours: draft decode + onnxruntime, 1 thread", count, r["classify"],
                                   note=describe_set(sets[count])))
        run.rows.append(timing_row(RECOGNITION, "DermRec.read (all of DERM-Rec)", count, r["derm_rec"]))
        run.rows.append(timing_row(RECOGNITION, "DermRec.read behind rec_cache, photos seen before", count,
                                   r["derm_rec_cache_hit"], note="inference/rec_cache.py; " + rec_cache_status()))
    return recognition


def _stage_profile(run: Run, sets: dict[int, list[bytes]]) -> None:
    from bench import inprocess

    count = 3 if 3 in sets else min(sets)
    request = prefetch_request(sets[count], seed=500)
    with run.section("stage profile"):
        app = inprocess.build_app(run.model_dir)
        try:
            profile = inprocess.stage_profile(app, lambda n: request.body(str(uuid.uuid4()), f"p{n}".encode()),
                                              run.plan.profile_hooks)
            files = inprocess.files_per_hook(app, request.body(str(uuid.uuid4()), b"files"), REPO)
        finally:
            app.workdir.cleanup()
    run.data["stage_profile"] = {"photos": count, **profile}
    run.data["files_per_hook"] = files
    # cProfile inflates Python-heavy stages; scaling to the unprofiled CPU time keeps the column
    # comparable with the others (shares are what matter).
    scale = profile["cpu_p50_ms"] / profile["profiled_total_ms"] if profile["profiled_total_ms"] else 1.0
    title = (f"one hook in-process, {count} photos (Flask test client, auth on): wall p50 "
             f"{profile['wall_p50_ms']:.0f} ms, CPU {profile['cpu_p50_ms']:.0f} ms; stages from cProfile, "
             "scaled to that CPU time")
    for stage in profile["stages"]:
        run.rows.append(Row(title, stage["stage"], photos=count, n=profile["hooks"],
                            cpu_ms=round(stage["ms_per_hook"] * scale, 1)))
    opened = files["repo_files_opened_per_hook"]
    note = "none: knowledge + model parsed once per process" if not opened else "OPENED: " + ", ".join(opened)
    run.rows.append(Row(title, "repository files opened per hook", photos=count, note=note))


def section_baseline(run: Run, sets: dict[int, list[bytes]], ours: dict[int, dict[str, Any]]) -> None:
    """PyTorch eager baseline in its own venv (subprocess); ratio = baseline p50 / ours p50 per set."""
    python = next((p for p in TORCH_PYTHONS if p.is_file()), None)
    if python is None:
        run.skipped.append("PyTorch baseline: no torch venv found at " + " or ".join(map(str, TORCH_PYTHONS)))
        run.rows.append(Row(BASELINE, "skipped", note="torch venv not found (see bench/README.md)"))
        return
    if run.out_of_time("PyTorch baseline", 60 if not run.plan.quick else 20):
        return
    baseline = _run_baseline(run, python, sets)
    if baseline is None:
        return
    run.data["baseline_torch"] = baseline
    ratios = {}
    for count in sorted(sets):
        b = baseline["recognition"][str(count)]
        o = ours[count]["classify"]
        ratios[str(count)] = ratio = round(b["p50_ms"] / o["p50_ms"], 2)
        cpu_ratio = round(b["cpu_p50_ms"] / o["cpu_p50_ms"], 2) if o.get("cpu_p50_ms") else None
        run.rows.append(timing_row(BASELINE, f"torch {baseline['torch']} eager, {baseline['threads']} thread(s)", count, b,
                                   note=f"{ratio:.1f}x ours at p50 wall, {cpu_ratio}x in CPU "
                                        "(ours: 'draft decode + onnxruntime' row)"))
        run.rows.append(timing_row(BASELINE, "  torch eager model forward only", count, baseline["model"][str(count)]))
    run.data["baseline_ratio_p50"] = ratios  # torch eager recognition p50 / ours, per photo count


def _run_baseline(run: Run, python: Path, sets: dict[int, list[bytes]]) -> dict[str, Any] | None:
    listing = {}
    for count, jpegs in sets.items():
        paths = []
        for i, jpeg in enumerate(jpegs):
            path = run.workdir / f"baseline-{count}-{i}.jpg"
            path.write_bytes(jpeg)
            paths.append(str(path))
        listing[str(count)] = paths
    spec = run.workdir / "baseline-sets.json"
    spec.write_text(json.dumps(listing))
    # Per-measurement budget: 6 measurements (model + recognition x 3 sets) must fit in ~60 s even
    # when eager torch is slow on a busy machine. One intra-op thread: the same CPU budget as a
    # production worker (DERM3R_ONNX_THREADS=1); torch's default (a thread per core) only adds
    # spinning on a shared 2-core machine.
    cmd = [str(python), str(REPO / "bench" / "baseline_torch.py"), "--photos-json", str(spec),
           "--repeats", str(run.plan.torch_repeats), "--budget", str(run.plan.measure_budget_s), "--threads", "1"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=40 if run.plan.quick else 240, check=False)
    except subprocess.TimeoutExpired:
        run.skipped.append("PyTorch baseline: timed out")
        run.rows.append(Row(BASELINE, "skipped", note="timed out"))
        return None
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        run.skipped.append(f"PyTorch baseline failed: {tail[0]}")
        run.rows.append(Row(BASELINE, "skipped", note=f"failed: {tail[0][:80]}"))
        return None
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
