"""Image sets for the learned skin / not-skin gate, beyond the DermNet photos themselves.

- Generated not-skin images (`tools.lesion_model.not_skin`): training seeds 0..N-1 per family, and
  disjoint evaluation seeds (from EVAL_SEED_OFFSET) never used in training.
- Generated skin renders (`inference.synth`): the demo set and the test suite feed such renders to
  DERM-Rec, so they must stay acceptable; random specs over all skin tones, colours, pustules,
  guttate-like papules and near-total (erythroderma-like) involvement.
- External not-skin photographs for evaluation only: sample images that PyPI packages ship
  (scikit-image's `skimage/data`, matplotlib's `mpl-data/sample_data`, scikit-learn's
  `datasets/images`), unpacked from their wheels into a folder outside the repository
  (`--not-skin-dir`). Portraits (faces are skin, though not clinical photographs) are left out.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from inference.synth import COLOUR_CLASSES, PlaqueSpec, render
from tools.lesion_model.not_skin import FAMILIES, generate

TRAIN_SEEDS_PER_FAMILY = 40
EVAL_SEEDS_PER_FAMILY = 15
EVAL_SEED_OFFSET = 100_000
SYNTH_TRAIN = 120
SYNTH_EVAL = 40
SYNTH_EVAL_OFFSET = 500_000
# Portraits and faces: skin, but not a clinical photograph; neither class is honest for them.
EXTERNAL_EXCLUDED = frozenset({"astronaut", "grace_hopper", "lfw_subset", "lbpcascade_frontalface_opencv"})
EXTERNAL_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".gif", ".bmp")
MIN_EXTERNAL_SIDE = 64


def not_skin_generated(split: str) -> Iterator[tuple[str, Image.Image]]:
    """(name, image) of generated not-skin images; split "train" or "eval" (disjoint seeds)."""
    if split == "train":
        seeds = range(TRAIN_SEEDS_PER_FAMILY)
    elif split == "eval":
        seeds = range(EVAL_SEED_OFFSET, EVAL_SEED_OFFSET + EVAL_SEEDS_PER_FAMILY)
    else:
        raise ValueError(f"split must be train or eval, got {split!r}")
    for family in sorted(FAMILIES):
        for seed in seeds:
            yield f"{family}-{seed}", generate(family, seed)


def synth_spec(seed: int) -> PlaqueSpec:
    """A random but seeded render spec covering the renderer's range."""
    rng = np.random.default_rng([seed, 11])
    kind = rng.integers(0, 4)  # 0 plaques, 1 pustular, 2 guttate-like, 3 near-total involvement
    return PlaqueSpec(
        skin_tone=int(rng.integers(1, 7)),
        erythema=float(rng.uniform(0.5, 4.0)),
        scale=float(rng.uniform(0.0, 4.0)),
        thickness=float(rng.uniform(0.0, 4.0)),
        area_fraction=float(0.95 if kind == 3 else rng.uniform(0.05, 0.5)),
        colour_class=COLOUR_CLASSES[int(rng.integers(0, len(COLOUR_CLASSES)))],
        n_plaques=int(40 if kind == 2 else rng.integers(1, 9)),
        skin_cover=float(0.95 if kind == 3 else rng.uniform(0.5, 0.95)),
        illumination_gradient=float(rng.uniform(0.0, 0.35)),
        seed=seed,
        pustules=int(rng.integers(20, 80)) if kind == 1 else 0,
        plaque_scale=0.22 if kind == 2 else 1.0,
    )


def skin_generated(split: str) -> Iterator[tuple[str, Image.Image]]:
    """(name, image) of generated skin renders; split "train" or "eval" (disjoint seeds)."""
    if split == "train":
        seeds = range(SYNTH_TRAIN)
    elif split == "eval":
        seeds = range(SYNTH_EVAL_OFFSET, SYNTH_EVAL_OFFSET + SYNTH_EVAL)
    else:
        raise ValueError(f"split must be train or eval, got {split!r}")
    for seed in seeds:
        yield f"synth-{seed}", render(synth_spec(seed)).image


def external_not_skin(directory: Path) -> Iterator[tuple[str, Image.Image]]:
    """(name, RGB image) of every usable image file under `directory` (symbolic links to folders
    followed), sorted by path; the name is the path below `directory` without suffix, so its first
    part says where the image came from (one folder per package)."""
    paths = sorted(Path(root) / name for root, _, names in os.walk(directory, followlinks=True) for name in names)
    for path in paths:
        if path.suffix.lower() not in EXTERNAL_SUFFIXES or path.stem in EXTERNAL_EXCLUDED:
            continue
        try:
            with Image.open(path) as image:
                image.seek(0)
                rgb = image.convert("RGB")
        except OSError:
            continue
        if min(rgb.size) < MIN_EXTERNAL_SIDE:
            continue
        yield path.relative_to(directory).with_suffix("").as_posix(), rgb
