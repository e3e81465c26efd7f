"""Issue 7's targets (and issue 13's order-hook latency) judged from a run's raw data."""

from __future__ import annotations

import statistics

from bench.context import Run
from bench.report import (
    TARGET_COLD_START_S,
    TARGET_OVERHEAD_P50,
    TARGET_P95_3_PHOTOS_C1_MS,
    TARGET_RSS_MB,
    TARGET_THROUGHPUT_3_PHOTOS_HPS,
    Target,
)


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
    from bench.orders import order_target

    targets.append(order_target(data.get("cells", [])))
    cold = [m["first_hook_s"] for m in data.get("cold_start", [])]
    targets.append(Target("cold start (spawn -> first hook)", f"<= {TARGET_COLD_START_S:.0f} s",
                          f"{statistics.median(cold):.2f} s median of {len(cold)}" if cold else "not measured",
                          None if not cold else statistics.median(cold) <= TARGET_COLD_START_S))
    return targets
