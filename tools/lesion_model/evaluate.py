"""Held-out evaluation of the SHIPPED model, exactly as the service runs it.

    python -m tools.lesion_model.evaluate --data ../shared/derm-data

Runs in the runtime venv (numpy, pillow, onnxruntime only; no torch): loads `inference/models` with
`LesionModel.load`, masks the DermNet watermark, prepares each test image with `LesionModel.prepare`
and calls `LesionModel.predict`. Prints the metrics as Markdown (the model card's tables) and writes
them to `<model-dir>/lesion_eval.json`, so the card's numbers can be reproduced and diffed.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np

from inference.lesion_model import LesionModel
from tools.lesion_model.classes import CLASSES
from tools.lesion_model.data import Sample, load_masked
from tools.lesion_model.metrics import ECE_BINS, Report, evaluate
from tools.lesion_model.split import read_manifest

logger = logging.getLogger("tools.lesion_model.evaluate")

SPLIT_MANIFEST = "lesion_split.csv"
EVAL_FILE = "lesion_eval.json"
BATCH = 16


def split_samples(model_dir: Path, data_dir: Path, split: str) -> list[Sample]:
    rows = read_manifest(model_dir / SPLIT_MANIFEST)
    samples = [
        Sample(sha1=r["sha1"], path=data_dir / r["path"], topics=tuple(r["topics"].split(";")), label=r["class"])
        for r in rows
        if r["split"] == split
    ]
    if not samples:
        raise ValueError(f"no {split!r} rows in {model_dir / SPLIT_MANIFEST}")
    return samples


def predict_samples(model: LesionModel, samples: list[Sample]) -> np.ndarray:
    """Probabilities as DERM-Rec gets them: every test-time view of the sidecar, averaged
    (`LesionModel.read_photos`; a single-view model reads the centre square only)."""
    rows: list[np.ndarray] = []
    for start in range(0, len(samples), BATCH):
        chunk = samples[start : start + BATCH]
        rows.append(np.stack([r.probabilities for r in model.read_photos([load_masked(s) for s in chunk])]))
    return np.concatenate(rows)


def run(data_dir: Path, model_dir: Path | None, split: str, threads: int, write: bool) -> Report:
    model = LesionModel.load(model_dir, threads=threads)
    if model.classes != CLASSES:
        raise ValueError(f"model classes {model.classes} differ from tools.lesion_model.classes {CLASSES}")
    samples = split_samples(model.model_dir, data_dir, split)
    probabilities = predict_samples(model, samples)
    labels = np.array([CLASSES.index(s.label) for s in samples])
    report = evaluate(probabilities, labels, model.classes, cis=True)
    if write:
        payload = {
            "model_version": model.version,
            "split": split,
            "ece_bins": ECE_BINS,
            "evaluated_with": "onnxruntime via inference.lesion_model.LesionModel.read_photos (views: "
            + ", ".join(model.views)
            + ")"
            + (
                f"; ensemble member {model.metadata['member']['onnx_file']} on "
                f"{', '.join(model.metadata['member']['views'])}, weight {model.metadata['member']['weight']}"
                if "member" in model.metadata
                else ""
            ),
            **report.as_dict(),
        }
        path = model.model_dir / (EVAL_FILE if split == "test" else f"lesion_eval_{split}.json")
        path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        logger.info("wrote %s", path)
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="derm-data folder")
    parser.add_argument("--model-dir", type=Path, default=None, help="default: the shipped inference/models")
    parser.add_argument("--split", choices=("test", "val", "train"), default="test")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-write", action="store_true", help="print only, do not write the JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    report = run(args.data.resolve(), args.model_dir, args.split, args.threads, write=not args.no_write)
    print(report.markdown())


if __name__ == "__main__":
    main()
