"""Acceptance and refusal rates of the photo gate, as DERM-Rec runs it.

    python -m tools.lesion_model.evaluate_gate --data ../shared/derm-data [--not-skin-dir DIR]

Runtime venv only (no torch). Every image goes through `DermRec.read` (decode, colour/exposure/blur
gate, one model call with the learned skin head and the novelty score), so the numbers are the
service's. The checks are reported side by side: the colour heuristic alone (`inference.quality`),
the skin head alone, the novelty score alone, colour + head (the gate of model 2026.12.1) and all
three (what ships). Sets:

- real clinical photos that must be accepted: the DermNet test split (never used to train or set the
  threshold) and the validation split (where the threshold was set, so optimistic by construction),
  as stored (watermark not masked: the service never masks);
- generated skin renders that must be accepted: disjoint-seed renders and the committed demo images;
- not-skin images that must be refused: generated families with evaluation seeds never used in
  training, and, with `--not-skin-dir`, sample images shipped by PyPI packages, one sub-folder per
  source (see gate_data and the model card).

Writes `<model-dir>/gate_eval.json`.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from PIL import Image

from inference.case import Photo
from inference.lesion_model import LesionModel
from inference.rec import DermRec
from tools.lesion_model.evaluate import split_samples
from tools.lesion_model.gate_data import external_not_skin, not_skin_generated, skin_generated

logger = logging.getLogger("tools.lesion_model.evaluate_gate")

GATE_FILE = "gate_eval.json"
CHUNK = 12
LEARNED_REASON = "this does not look like a clinical photo of skin"


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


Verdict = tuple[str, bool, bool, bool]  # name, colour gate, skin head, novelty check (True = accepts)


def _verdicts(rec: DermRec, named: Iterable[tuple[str, Image.Image]]) -> list[Verdict]:
    """(name, colour gate accepts, skin head accepts, novelty check accepts) per image. The learned
    checks' verdicts are read from their values, so they are known even for photos the colour gate
    refused."""
    out: list[Verdict] = []
    batch: list[tuple[str, Image.Image]] = []

    def flush() -> None:
        photos = [Photo(ref=f"Media/{name}", data=_jpeg(image), content_type="image/jpeg") for name, image in batch]
        results = rec.read(photos)
        images = [image for _, image in batch]
        readings = rec.model.read_photos(images)  # type: ignore[attr-defined]
        threshold = rec.model.skin_threshold  # type: ignore[attr-defined]
        novelty_threshold = rec.model.novelty_threshold  # type: ignore[attr-defined]
        for (name, _), result, reading in zip(batch, results, readings, strict=True):
            head_ok = threshold is None or reading.heads.get("skin", 1.0) >= threshold
            novelty_ok = novelty_threshold is None or reading.novelty is None or reading.novelty <= novelty_threshold
            colour_ok = result.quality.usable or all(
                r.startswith(LEARNED_REASON) or r.startswith("note:") for r in result.quality.reasons
            )
            out.append((name, colour_ok, head_ok, novelty_ok))
        batch.clear()

    for item in named:
        batch.append(item)
        if len(batch) >= CHUNK:
            flush()
    if batch:
        flush()
    return out


def _open(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")


def _rates(verdicts: list[Verdict]) -> dict[str, float | int]:
    n = len(verdicts)

    def share(accepts: Iterable[bool]) -> float:
        return round(sum(accepts) / n, 4)

    return {
        "n": n,
        "colour_only_accepts": share(c for _, c, _, _ in verdicts),
        "skin_head_only_accepts": share(h for _, _, h, _ in verdicts),
        "novelty_only_accepts": share(v for _, _, _, v in verdicts),
        "colour_and_head_accepts": share(c and h for _, c, h, _ in verdicts),
        "combined_accepts": share(c and h and v for _, c, h, v in verdicts),
    }


def run(data_dir: Path, model_dir: Path | None, not_skin_dir: Path | None, threads: int, write: bool) -> dict[str, object]:
    model = LesionModel.load(model_dir, threads=threads)
    rec = DermRec(model)
    sets: dict[str, list[Verdict]] = {}
    for split in ("test", "val"):
        samples = split_samples(model.model_dir, data_dir, split)
        # Unmasked: the service never masks, and the flat patch that masking leaves lowers the blur
        # check's Laplacian variance below its threshold on ~14% of these photos.
        sets[f"dermnet_{split}"] = _verdicts(rec, ((s.sha1[:12], _open(s.path)) for s in samples))
        logger.info("dermnet %s: %s", split, _rates(sets[f"dermnet_{split}"]))
    demo = sorted((Path(__file__).resolve().parents[2] / "inference" / "demo_images").glob("*.jpg"))
    sets["synth_renders_eval_and_demo"] = _verdicts(
        rec, [*skin_generated("eval"), *((p.stem, Image.open(p).convert("RGB")) for p in demo)]
    )
    generated = _verdicts(rec, not_skin_generated("eval"))
    sets["not_skin_generated_eval"] = generated
    by_family: dict[str, list[Verdict]] = defaultdict(list)
    for verdict in generated:
        by_family[verdict[0].rsplit("-", 1)[0]].append(verdict)
    if not_skin_dir is not None:
        sets["not_skin_external"] = _verdicts(rec, external_not_skin(not_skin_dir))
    report: dict[str, object] = {
        "model_version": model.version,
        "skin_threshold": model.skin_threshold,
        "novelty_threshold": model.novelty_threshold,
        "sets": {name: _rates(v) for name, v in sets.items()},
        "not_skin_generated_by_family": {name: _rates(v) for name, v in sorted(by_family.items())},
        "external_accepted_by_combined_gate": [n for n, c, h, v in sets.get("not_skin_external", []) if c and h and v],
    }
    if write:
        path = model.model_dir / GATE_FILE
        path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        logger.info("wrote %s", path)
    return report


def markdown(report: dict[str, object]) -> str:
    lines = [
        "| set | n | colour heuristic only | skin head only | novelty only | colour + head (before) | all three (shipped) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in report["sets"].items():  # type: ignore[union-attr]
        lines.append(
            f"| {name} | {r['n']} | {r['colour_only_accepts']:.3f} | {r['skin_head_only_accepts']:.3f} | "
            f"{r['novelty_only_accepts']:.3f} | {r['colour_and_head_accepts']:.3f} | {r['combined_accepts']:.3f} |"
        )
    lines += ["", "accepted share per generated not-skin family (colour / head / novelty / all):", ""]
    for name, r in report["not_skin_generated_by_family"].items():  # type: ignore[union-attr]
        lines.append(
            f"- {name}: {r['colour_only_accepts']:.2f} / {r['skin_head_only_accepts']:.2f} / "
            f"{r['novelty_only_accepts']:.2f} / {r['combined_accepts']:.2f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="derm-data folder")
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument("--not-skin-dir", type=Path, default=None, help="folder of external not-skin images (never committed)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    report = run(args.data.resolve(), args.model_dir, args.not_skin_dir, args.threads, write=not args.no_write)
    print(markdown(report))


if __name__ == "__main__":
    main()
