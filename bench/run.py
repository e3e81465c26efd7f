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
import dataclasses
import json
import logging
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from bench.context import RESULTS, Plan, Run, describe_set, photo_sets
from bench.report import load, machine, render_table
from bench.run_http import cell_row, section_http
from bench.run_inprocess import section_inprocess
from bench.targets import evaluate_targets

__all__ = ["Plan", "Run", "cell_row", "evaluate_targets", "main"]


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
