"""Frozen-backbone features of derm-data images, one "view" (augmentation) at a time, cached on disk.

Per-image features are derived from licensed images, so the cache lives outside the repository
(default `~/.cache/derm3r/lesion_model`, override with `--cache`) and is never committed.

A view is deterministic given its name: "centre" is exactly the runtime preprocessing
(watermark mask -> `prepare_image`); "aug<k>" is a seeded random square crop (60-100% of the
shorter side), flips/quarter-turns and a mild brightness/contrast change. Colour is left nearly
untouched on purpose: redness is diagnostic.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageEnhance

from inference.lesion_model import prepare_image, view_crop
from tools.lesion_model.backbone import INPUT_SIZE, Normalise, Top, Trunk
from tools.lesion_model.data import Sample, load_masked, load_unmasked

logger = logging.getLogger(__name__)

DEFAULT_CACHE = Path.home() / ".cache" / "derm3r" / "lesion_model"
BATCH = 32


FIXED_CROPS = ("zoom", "left", "right")


def view_pixels(image: Image.Image, view: str, sha1: str) -> np.ndarray:
    """uint8 [S, S, 3] for one view of one (already masked) image."""
    if view == "centre":
        return prepare_image(image, INPUT_SIZE)
    if view == "flip":
        return prepare_image(image.transpose(Image.Transpose.FLIP_LEFT_RIGHT), INPUT_SIZE)
    if view in FIXED_CROPS:
        return prepare_image(view_crop(image, view), INPUT_SIZE)
    if not view.startswith("aug"):
        raise ValueError(f"unknown view {view!r}")
    # Seed from the view and the image so every run and every machine draws the same crop.
    rng = random.Random(int(hashlib.sha1(f"{view}:{sha1}".encode()).hexdigest()[:12], 16))
    width, height = image.size
    side = int(min(width, height) * rng.uniform(0.6, 1.0))
    left = rng.randint(0, width - side)
    top = rng.randint(0, height - side)
    crop = image.crop((left, top, left + side, top + side))
    if rng.random() < 0.5:
        crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    turns = rng.randrange(4)
    if turns:
        crop = crop.transpose([Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180, Image.Transpose.ROTATE_270][turns - 1])
    crop = ImageEnhance.Brightness(crop).enhance(rng.uniform(0.85, 1.15))
    crop = ImageEnhance.Contrast(crop).enhance(rng.uniform(0.85, 1.15))
    return prepare_image(crop, INPUT_SIZE)


def _cache_file(cache: Path, view: str, kind: str, samples: tuple[Sample, ...]) -> Path:
    # The key covers the image set, so a changed manifest never reuses stale features.
    key = hashlib.sha1("".join(s.sha1 for s in samples).encode()).hexdigest()[:10]
    return cache / f"{kind}-{view}-{key}.npy"


@torch.no_grad()
def compute_view(
    samples: tuple[Sample, ...],
    view: str,
    trunk: Trunk,
    top: Top | None,
    cache: Path,
    kind: str,
    masked: bool = True,
) -> np.ndarray:
    """Trunk output (kind="trunk", float16 [N, C, H, W]) or pooled features (kind="pooled",
    float32 [N, 1280]) of every sample for one view, from cache when present. `masked` False keeps
    the watermark (the photos as the service sees them; for the gate's thresholds)."""
    kind = kind if masked else f"{kind}raw"
    load = load_masked if masked else load_unmasked
    path = _cache_file(cache, view, kind, samples)
    if path.exists():
        return np.load(path)
    cache.mkdir(parents=True, exist_ok=True)
    normalise = Normalise()
    outputs: list[np.ndarray] = []
    started = time.monotonic()
    for start in range(0, len(samples), BATCH):
        chunk = samples[start : start + BATCH]
        pixels = np.stack([view_pixels(load(s), view, s.sha1) for s in chunk])
        hidden = trunk(normalise(torch.from_numpy(pixels)))
        if kind.startswith("pooled"):
            if top is None:
                raise ValueError("pooled features need the top of the backbone")
            outputs.append(top(hidden).numpy().astype(np.float32))
        else:
            outputs.append(hidden.numpy().astype(np.float16))
        if start // BATCH % 20 == 0:
            logger.info("%s/%s: %d/%d images (%.0f s)", kind, view, start + len(chunk), len(samples), time.monotonic() - started)
    result = np.concatenate(outputs)
    np.save(path, result)
    return result


@torch.no_grad()
def compute_images(
    named: list[tuple[str, Image.Image]],
    trunk: Trunk,
    cache: Path,
    tag: str,
) -> np.ndarray:
    """Trunk output (float16 [N, C, H, W]) of the runtime "centre" view of arbitrary images (the
    generated and external sets of the skin gate), cached under a key of their names and pixels."""
    digest = hashlib.sha1(tag.encode())
    pixels = []
    for name, image in named:
        view = prepare_image(image, INPUT_SIZE)
        digest.update(name.encode())
        digest.update(view.tobytes())
        pixels.append(view)
    path = cache / f"images-{tag}-{digest.hexdigest()[:10]}.npy"
    if path.exists():
        return np.load(path)
    cache.mkdir(parents=True, exist_ok=True)
    normalise = Normalise()
    outputs = [
        trunk(normalise(torch.from_numpy(np.stack(pixels[i : i + BATCH])))).numpy().astype(np.float16)
        for i in range(0, len(pixels), BATCH)
    ]
    result = np.concatenate(outputs)
    np.save(path, result)
    return result
