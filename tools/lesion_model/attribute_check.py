"""Ranking checks of DERM-Rec's measured attributes and morphology on real DermNet photos.

    python -m tools.lesion_model.attribute_check --data ../shared/derm-data [--splits val,test]

Runtime venv. No per-photo grades exist, so each check compares two groups of DermNet topics that
differ in the attribute by definition, and reports the AUROC of the attribute's score for telling them
apart (0.5 = no signal; 1.0 = every photo of the first group scores higher):

- pustules: generalised pustular psoriasis + palmoplantar pustulosis vs plaque psoriasis;
- thick scale: plaque psoriasis + pityriasis amiantacea vs pityriasis versicolor + tinea corporis
  (fine scale);
- erythema: sunburn + cellulitis vs vitiligo + pityriasis alba;
- small papules: molluscum contagiosum + keratosis pilaris vs plaque psoriasis (plaque share, inverted);
- nail changes (learned head): onychomycosis vs every other topic.

Only the validation and test splits are used (the learned heads saw the training split). Photos go
through `DermRec.read` exactly as in the service (watermark masked first).

Graded agreement: `attribute_grades.csv` (next to this file) holds erythema and scale grades on the
PASI 0-4 scale for ~75 validation and test photos, read from each photograph by the engineer (an AI
assistant, not a dermatologist; rubric in the model card). For each attribute and split the report
gives Spearman's rank correlation and the mean absolute error in PASI points between the measured
score and the grade. The validation photos are the TUNING set (the detector's constants may be set on
them); the test photos are the CHECK set, read once after tuning. The CPU time of
`inference.attributes.analyse` per graded photo (process time, median of 3 runs) is reported beside.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inference.attributes import analyse, analysis_array, score
from inference.case import Photo
from inference.imaging import DEFAULT_MAX_SIDE, decode_image
from inference.lesion_model import LesionModel
from inference.morphology import pustule_dots
from inference.rec import DermRec
from inference.results import RecResult
from tools.lesion_model.data import Sample, load_masked
from tools.lesion_model.evaluate import split_samples
from tools.lesion_model.metrics import auroc, spearman

logger = logging.getLogger("tools.lesion_model.attribute_check")

CHECK_FILE = "attribute_check.json"
GRADES_FILE = Path(__file__).with_name("attribute_grades.csv")
GRADED_ATTRIBUTES = ("erythema", "scale")
# The tuning set may shape the detector; the check set is read once, after tuning.
GRADE_SETS = {"val": "tuning", "test": "check"}
CPU_REPEATS = 3


@dataclass(frozen=True)
class Grade:
    sha1: str
    split: str
    topic: str
    erythema: float
    scale: float


def read_grades(path: Path = GRADES_FILE) -> list[Grade]:
    """The engineer's per-photo grades (file names and numbers only: no pixels are committed)."""
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            Grade(r["sha1"], r["split"], r["topic"], float(r["erythema"]), float(r["scale"]))
            for r in csv.DictReader(handle)
        ]

# name -> (higher group topics, lower group topics, score of one reading)
CHECKS: dict[str, tuple[frozenset[str], frozenset[str], str]] = {
    "pustules_measured": (
        frozenset({"generalised-pustular-psoriasis", "palmoplantar-pustulosis"}),
        frozenset({"psoriasis"}),
        "pustule dots (measured)",
    ),
    "pustules_learned": (
        frozenset({"generalised-pustular-psoriasis", "palmoplantar-pustulosis"}),
        frozenset({"psoriasis"}),
        "pustule head probability",
    ),
    "thick_scale": (
        frozenset({"psoriasis", "pityriasis-amiantacea"}),
        frozenset({"pityriasis-versicolor", "tinea-corporis"}),
        "scale score 0-4",
    ),
    "erythema": (frozenset({"sunburn", "cellulitis"}), frozenset({"vitiligo", "pityriasis-alba"}), "erythema score 0-4"),
    "small_papules": (
        frozenset({"molluscum-contagiosum", "keratosis-pilaris"}),
        frozenset({"psoriasis"}),
        "1 - plaque share",
    ),
}


def _jpeg(sample: Sample) -> bytes:
    buffer = io.BytesIO()
    load_masked(sample).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def _measured_dots(sample: Sample) -> float:
    """The measured pustule-dot count of one photo, as DERM-Rec would compute it for a model without
    a learned pustule head (with the head, DERM-Rec no longer computes it)."""
    rgb = analysis_array(decode_image(_jpeg(sample), "image/jpeg", max_side=DEFAULT_MAX_SIDE).image)
    return pustule_dots(rgb, analyse(rgb))[0]


def _score(name: str, r: RecResult, sample: Sample) -> float | None:
    m, a = r.morphology, r.attributes
    if m is None or a is None:
        return None
    if name == "pustules_measured":
        return _measured_dots(sample)
    if name == "pustules_learned":
        return m.pustules.measured.get("learned_probability")
    if name == "thick_scale":
        return a.scale.value
    if name == "erythema":
        return a.erythema.value
    if name == "small_papules":
        share = m.lesion_pattern.measured.get("plaque_share")
        return None if share is None else 1.0 - share
    raise ValueError(name)


def _read(rec: DermRec, samples: list[Sample]) -> list[RecResult]:
    out: list[RecResult] = []
    for start in range(0, len(samples), 8):
        photos = [Photo(ref=f"Media/{s.sha1[:12]}", data=_jpeg(s), content_type="image/jpeg") for s in samples[start : start + 8]]
        out.extend(rec.read(photos))
    return out


def graded_arrays(samples: list[Sample]) -> list[np.ndarray]:
    """The arrays DERM-Rec measures attributes on (masked photo -> JPEG -> decode -> working size);
    kept in memory only."""
    return [analysis_array(decode_image(_jpeg(s), "image/jpeg", max_side=DEFAULT_MAX_SIDE).image) for s in samples]


def analyse_cpu_ms(arrays: list[np.ndarray]) -> float:
    """Median over photos of the process CPU time of `analyse` + `score` (best of CPU_REPEATS)."""
    per_photo = []
    for rgb in arrays:
        best = float("inf")
        for _ in range(CPU_REPEATS):
            start = time.process_time()
            score(analyse(rgb))
            best = min(best, time.process_time() - start)
        per_photo.append(best * 1000.0)
    return round(float(np.median(per_photo)), 2)


def _agreement(measured: np.ndarray, graded: np.ndarray) -> dict[str, float | None]:
    rho = spearman(measured, graded) if measured.size >= 3 else float("nan")
    return {
        "spearman": None if np.isnan(rho) else round(rho, 3),
        "mae": round(float(np.mean(np.abs(measured - graded))), 3),
        "bias": round(float(np.mean(measured - graded)), 3),
    }


def graded_report(grades: list[Grade], readings: dict[str, RecResult], splits: list[str]) -> dict[str, object]:
    """Agreement of the measured erythema and scale scores with the grades, per split."""
    out: dict[str, object] = {"grades_file": GRADES_FILE.name, "grader": "engineer (AI assistant), not a dermatologist"}
    for split in splits:
        rows = [g for g in grades if g.split == split]
        read = [(g, readings[g.sha1].attributes) for g in rows if g.sha1 in readings]
        read = [(g, a) for g, a in read if a is not None]
        section: dict[str, object] = {
            "set": GRADE_SETS.get(split, split),
            "n_graded": len(rows),
            "n_read": len(read),
            "refused_by_gate": sorted(g.sha1[:12] for g in rows if g.sha1 in readings and readings[g.sha1].attributes is None),
        }
        for attribute in GRADED_ATTRIBUTES:
            measured = np.array([getattr(a, attribute).value for _, a in read])
            graded = np.array([getattr(g, attribute) for g, _ in read])
            section[attribute] = _agreement(measured, graded) if read else None
        section["per_photo"] = [
            {"sha1": g.sha1[:12], "topic": g.topic, "erythema": [g.erythema, a.erythema.value],
             "scale": [g.scale, a.scale.value], "colour": a.colour_class}
            for g, a in read
        ]  # fmt: skip
        out[split] = section
    return out


def run(data_dir: Path, model_dir: Path | None, splits: list[str], threads: int) -> dict[str, object]:
    model = LesionModel.load(model_dir, threads=threads)
    rec = DermRec(model)
    wanted = set().union(*(hi | lo for hi, lo, _ in CHECKS.values()), {"onychomycosis"})
    grades = [g for g in read_grades() if g.split in splits]
    graded = {g.sha1 for g in grades}
    samples = [
        s for split in splits for s in split_samples(model.model_dir, data_dir, split) if set(s.topics) & wanted or s.sha1 in graded
    ]
    readings = dict(zip((s.sha1 for s in samples), _read(rec, samples), strict=True))
    report: dict[str, object] = {"splits": splits, "model_version": model.version}
    for name, (high, low, what) in CHECKS.items():
        scores, labels = [], []
        for s in samples:
            if not set(s.topics) & wanted:
                continue  # graded photo outside the ranking checks' topics
            group = 1 if set(s.topics) & high else 0 if set(s.topics) & low else None
            value = _score(name, readings[s.sha1], s) if group is not None else None
            if value is not None:
                scores.append(value)
                labels.append(group)
        y = np.array(labels, dtype=bool)
        report[name] = {
            "score": what,
            "n_high": int(y.sum()),
            "n_low": int((~y).sum()),
            "auroc": round(auroc(np.array(scores), y), 3) if y.any() and (~y).any() else None,
            "median_high": round(float(np.median(np.array(scores)[y])), 3) if y.any() else None,
            "median_low": round(float(np.median(np.array(scores)[~y])), 3) if (~y).any() else None,
        }
    # Nail head: onychomycosis vs all other topics in the loaded subset.
    nail = [(r.morphology.nail_changes.measured.get("learned_probability"), "onychomycosis" in s.topics)
            for s in samples if set(s.topics) & wanted and (r := readings[s.sha1]).morphology is not None]  # fmt: skip
    nail = [(p, t) for p, t in nail if p is not None]
    if nail and any(t for _, t in nail) and not all(t for _, t in nail):
        p, t = np.array([p for p, _ in nail]), np.array([t for _, t in nail])
        report["nail_changes_learned"] = {
            "score": "nail head probability",
            "n_high": int(t.sum()),
            "n_low": int((~t).sum()),
            "auroc": round(auroc(p, t), 3),
            "sensitivity_at_0.5": round(float((p[t] >= 0.5).mean()), 3),
            "false_positive_rate_at_0.5": round(float((p[~t] >= 0.5).mean()), 3),
        }
    report["graded"] = graded_report(grades, readings, splits)
    graded_samples = [s for s in samples if s.sha1 in graded and readings[s.sha1].attributes is not None]
    report["graded"]["analyse_cpu_ms_per_photo"] = analyse_cpu_ms(graded_arrays(graded_samples))  # type: ignore[index]
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument("--splits", default="val,test")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    report = run(args.data.resolve(), args.model_dir, [s for s in args.splits.split(",") if s], args.threads)
    text = json.dumps(report, indent=2)
    print(text)
    if not args.no_write:
        model = LesionModel.load(args.model_dir)
        (model.model_dir / CHECK_FILE).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
