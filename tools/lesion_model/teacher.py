"""Soft targets for distillation: a shipped model's calibrated class logits on every cached training
view of every training photo.

    python -m tools.lesion_model.teacher --data ../shared/derm-data --out <cache>/teacher.npz
    python -m tools.lesion_model.train ... --teacher-from <cache>/teacher.npz --test-views centre

The teacher is the model as DERM-Rec runs it (`inference.lesion_model.LesionModel`, main graph and
ensemble member combined as `read_photos` combines them, over the sidecar's temperature), read on
exactly the pixel views `train` caches (`features.view_pixels`, seeded per photo), so each cached
view of a photo is paired with the teacher's reading of the same crop. Training venv (the views
come from `tools.lesion_model.features`).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from inference.lesion_model import LesionModel
from tools.lesion_model.data import load_masked, read_dataset
from tools.lesion_model.features import view_pixels
from tools.lesion_model.split import read_manifest

logger = logging.getLogger("tools.lesion_model.teacher")


def teacher_logits(model: LesionModel, data: Path, views: list[str]) -> tuple[np.ndarray, list[str]]:
    """float32 [V, N, C] calibrated log-probabilities of the training photos (in `train`'s order) and
    their SHA-1s. `LesionModel.predict` reads each view alone with the ensemble member, as DERM-Rec
    combines them, over the temperature."""
    rows = {r["sha1"]: r for r in read_manifest(model.model_dir / "lesion_split.csv")}
    samples = [s for s in read_dataset(data).samples if rows[s.sha1]["split"] == "train"]
    out = np.zeros((len(views), len(samples), len(model.classes)), np.float32)
    for i, sample in enumerate(samples):
        image = load_masked(sample)
        probabilities = model.predict(np.stack([view_pixels(image, v, sample.sha1) for v in views]))
        out[:, i] = np.log(np.maximum(probabilities, 1e-12))
        if i % 200 == 0:
            logger.info("%d/%d training photos", i, len(samples))
    return out, [s.sha1 for s in samples]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="derm-data folder")
    parser.add_argument("--out", type=Path, required=True, help="teacher .npz (outside the repository)")
    parser.add_argument("--model-dir", type=Path, default=None, help="the teacher (default: the shipped model)")
    parser.add_argument("--views", default="centre,zoom,aug0,aug1,aug2,aug3", help="train's --views, same order")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    model = LesionModel.load(args.model_dir, threads=args.threads)
    views = [v.strip() for v in args.views.split(",") if v.strip()]
    logits, sha1 = teacher_logits(model, args.data.resolve(), views)
    np.savez(args.out, logits=logits, views=np.array(views), sha1=np.array(sha1))
    logger.info("wrote %s (teacher %s)", args.out, model.version)


if __name__ == "__main__":
    main()
