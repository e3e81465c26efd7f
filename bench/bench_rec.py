"""DERM-Rec latency and memory on this machine.

Per image (one photo per request, 2-12 MP JPEGs) and per request (1, 3 and 8 photos of mixed
sizes): p50/p95 wall time of `DermRec.read`, once with the shipped lesion model (when present) and
once with a constant stand-in classifier, so the cost of decoding + quality gate + attributes is
visible on its own. Also the per-stage split for one 12 MP photo and the peak RSS of the process.

    python bench/bench_rec.py [--repeats 15] [--threads 1]

Prints a table and writes JSON to bench/results/bench_rec-<UTC time>.json (gitignored). The photos
are generated (inference.synth plus sensor-like noise at full resolution, JPEG q90), never read
from patient data.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import platform
import resource
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # allow `python bench/bench_rec.py` from a checkout
    sys.path.insert(0, str(ROOT))

from inference import synth  # noqa: E402
from inference.attributes import analysis_array, lesion_attributes  # noqa: E402
from inference.case import BodyRegion, Photo  # noqa: E402
from inference.imaging import decode_image  # noqa: E402
from inference.quality import assess_quality  # noqa: E402
from inference.rec import DermRec  # noqa: E402

SIZES_MP = {2: (1632, 1224), 5: (2592, 1944), 8: (3264, 2448), 12: (4000, 3000)}
REQUEST_MIX = {1: (12,), 3: (12, 8, 5), 8: (12, 12, 8, 8, 5, 5, 2, 2)}
RESULTS_DIR = ROOT / "bench" / "results"


class ConstantClassifier:
    """Stand-in with the LesionModel interface and ~zero cost: isolates DERM-Rec's own work."""

    classes = ("psoriasis", "other")
    version = "constant"
    input_size = 224

    def prepare(self, image: Image.Image) -> np.ndarray:
        return np.zeros((self.input_size, self.input_size, 3), dtype=np.uint8)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return np.tile(np.array([[0.8, 0.2]], dtype=np.float32), (batch.shape[0], 1))


def make_jpeg(megapixels: int, seed: int) -> bytes:
    width, height = SIZES_MP[megapixels]
    base = synth.render(synth.PlaqueSpec(seed=seed, skin_tone=1 + seed % 6)).image
    big = np.asarray(base.resize((width, height), Image.Resampling.BICUBIC), dtype=np.int16)
    # Full-resolution grain so the JPEG carries camera-like high-frequency content (an upscaled
    # render alone compresses to almost nothing and decodes unrealistically fast).
    noise = np.random.default_rng(seed).integers(-6, 7, size=big.shape, dtype=np.int16)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(big + noise, 0, 255).astype(np.uint8), "RGB").save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def timed(fn: Callable[[], object], repeats: int) -> tuple[list[float], list[float]]:
    """Wall-clock and process-CPU milliseconds per call. On a shared machine wall time includes
    waiting for a core; CPU time is what the work itself costs (with intra-op threads it can exceed
    wall time)."""
    fn()  # warm-up (allocator, onnxruntime first run)
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - start) * 1000.0)
        cpu.append((time.process_time() - start_cpu) * 1000.0)
    return wall, cpu


def summary(samples: tuple[list[float], list[float]]) -> dict[str, float]:
    wall, cpu = samples
    return {
        "p50_ms": round(float(np.percentile(wall, 50)), 2),
        "p95_ms": round(float(np.percentile(wall, 95)), 2),
        "cpu_p50_ms": round(float(np.percentile(cpu, 50)), 2),
        "n": len(wall),
    }


def load_model(threads: int) -> object | None:
    if not (ROOT / "inference" / "models" / "lesion.onnx").exists():
        return None
    from inference.lesion_model import LesionModel

    return LesionModel.load(None, threads=threads)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads")
    args = parser.parse_args(argv)

    # Photos are generated in a child process: rendering 12 MP arrays would otherwise set this
    # process's peak RSS, which is meant to show what reading photos costs.
    jobs = [(mp, seed) for mp in SIZES_MP for seed in range(2)]
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        generated = pool.starmap(make_jpeg, jobs)
    jpegs: dict[int, list[bytes]] = {}
    for (mp, _), data in zip(jobs, generated, strict=True):
        jpegs.setdefault(mp, []).append(data)
    rss_before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    photos = {
        mp: [Photo(ref=f"Media/{mp}mp-{i}", data=d, content_type="image/jpeg", region=BodyRegion.TRUNK) for i, d in enumerate(ds)]
        for mp, ds in jpegs.items()
    }
    model = load_model(args.threads)
    readers = {"without model": DermRec(ConstantClassifier())}
    if model is not None:
        readers["with model"] = DermRec(model)  # type: ignore[arg-type]

    rows: list[dict[str, object]] = []
    for label, rec in readers.items():
        for mp in SIZES_MP:
            photo = photos[mp][0]
            rows.append({"kind": "per image", "photos": 1, "megapixels": mp, "model": label,
                         "jpeg_kb": round(len(photo.data) / 1024), **summary(timed(lambda rec=rec, photo=photo: rec.read([photo]), args.repeats))})  # fmt: skip
        for n, mix in REQUEST_MIX.items():
            request = [photos[mp][i % 2] for i, mp in enumerate(mix)]
            rows.append({"kind": "per request", "photos": n, "megapixels": "+".join(map(str, mix)), "model": label,
                         "jpeg_kb": round(sum(len(p.data) for p in request) / 1024),
                         **summary(timed(lambda rec=rec, request=request: rec.read(request), args.repeats))})  # fmt: skip

    # Stage split for one 12 MP photo.
    data = jpegs[12][0]
    decoded = decode_image(data)
    rgb = analysis_array(decoded.image)
    stages = {
        "decode (draft)": summary(timed(lambda: decode_image(data), args.repeats)),
        "analysis resize": summary(timed(lambda: analysis_array(decoded.image), args.repeats)),
        "quality gate": summary(timed(lambda: assess_quality(decoded, rgb), args.repeats)),
        "attributes": summary(timed(lambda: lesion_attributes(rgb), args.repeats)),
    }
    if model is not None:
        batch = np.stack([model.prepare(decoded.image)] * 3)  # type: ignore[attr-defined]
        stages["model predict x3"] = summary(timed(lambda: model.predict(batch), args.repeats))  # type: ignore[attr-defined]

    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"DERM-Rec benchmark ({platform.processor() or platform.machine()}, {args.repeats} repeats, "
          f"model: {'shipped ' + str(getattr(model, 'version', '')) if model else 'not shipped: stand-in only'})")  # fmt: skip
    print(f"{'kind':<12} {'photos':>6} {'MP':>16} {'JPEG KB':>8} {'model':<14} {'p50 ms':>8} {'p95 ms':>8} {'CPU p50':>8}")
    for row in rows:
        print(f"{row['kind']:<12} {row['photos']:>6} {row['megapixels']!s:>16} {row['jpeg_kb']:>8} {row['model']:<14} "
              f"{row['p50_ms']:>8.1f} {row['p95_ms']:>8.1f} {row['cpu_p50_ms']:>8.1f}")  # fmt: skip
    print("stage split, one 12 MP photo:")
    for name, stats in stages.items():
        print(f"  {name:<18} p50 {stats['p50_ms']:7.1f} ms   p95 {stats['p95_ms']:7.1f} ms   CPU p50 {stats['cpu_p50_ms']:7.1f} ms")
    print(f"peak RSS: {peak_rss_mb:.0f} MB (before reading photos: {rss_before_mb:.0f} MB); "
          f"load average {__import__('os').getloadavg()[0]:.1f} on {__import__('os').cpu_count()} CPUs")  # fmt: skip

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS_DIR / f"bench_rec-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "when": stamp,
                "machine": {"python": platform.python_version(), "machine": platform.machine(), "cpus": __import__("os").cpu_count()},
                "repeats": args.repeats,
                "threads": args.threads,
                "model_version": getattr(model, "version", None),
                "rows": rows,
                "stages_12mp": stages,
                "peak_rss_mb": round(peak_rss_mb, 1),
                "rss_before_reading_mb": round(rss_before_mb, 1),
                "load_average": list(__import__("os").getloadavg()),
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
