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
