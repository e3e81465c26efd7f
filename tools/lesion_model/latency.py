"""Per-image latency of `LesionModel.predict` on this machine (runtime venv, no data needed).

    python -m tools.lesion_model.latency [--model-dir DIR] [--threads 2] [--repeats 30]

Feeds random uint8 batches of 1 and 8 images after a warm-up and prints the median and 90th
percentile per call and per image. Run it on an otherwise idle machine: the numbers are only as
quiet as the CPU is.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np

from inference.lesion_model import LesionModel


def measure(model: LesionModel, batch_size: int, repeats: int, seed: int = 0) -> tuple[float, float]:
    """(median, p90) wall milliseconds per call of `predict` on a batch of `batch_size`."""
    rng = np.random.default_rng(seed)
    size = model.input_size
    batch = rng.integers(0, 256, size=(batch_size, size, size, 3), dtype=np.uint8)
    for _ in range(3):
        model.predict(batch)
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        model.predict(batch)
        timings.append((time.perf_counter() - started) * 1000.0)
    timings.sort()
    return statistics.median(timings), timings[int(0.9 * (len(timings) - 1))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args(argv)
    model = LesionModel.load(args.model_dir, threads=args.threads)
    size_mb = model.onnx_path.stat().st_size / 1e6
    load = os.getloadavg()[0]
    print(f"model {model.version} ({size_mb:.1f} MB), {args.threads} intra-op threads, load average {load:.1f}")
    for batch_size in (1, 8):
        median, p90 = measure(model, batch_size, args.repeats)
        print(
            f"batch {batch_size}: {median:.1f} ms per call (p90 {p90:.1f}), {median / batch_size:.1f} ms per image"
        )


if __name__ == "__main__":
    main()
