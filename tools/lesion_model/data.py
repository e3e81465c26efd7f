"""Reading derm-data: the manifest, one label per unique image, and the DermNet watermark mask.

derm-data's manifest has 3,107 rows but fewer distinct images: the same photograph (same SHA-1)
can be filed under two topics (e.g. atopic dermatitis and prurigo) or twice under one. The unit
here is the distinct image. An image whose topics fall into different classes is ambiguous ground
truth and is left out of training and evaluation (the count is reported in the model card).

Nothing in this module writes pixels anywhere: images stay in derm-data (licence).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from tools.lesion_model.classes import CLASSES, class_of

# The two watermark variants in derm-data ("DermNet" logo and "Te Whatu Ora Health New Zealand")
# both sit inside this box of a 640x480 photo: x 0-290, y 315-460. Measured on the images; scaled
# proportionally for other sizes.
_WATERMARK_BOX_640x480 = (0, 315, 290, 460)


@dataclass(frozen=True)
class Sample:
    sha1: str
    path: Path  # absolute path of one copy of the image
    topics: tuple[str, ...]  # DermNet topic slugs it is filed under
    label: str  # class key

    @property
    def label_index(self) -> int:
        return CLASSES.index(self.label)


@dataclass(frozen=True)
class Dataset:
    samples: tuple[Sample, ...]
    ambiguous: tuple[str, ...]  # SHA-1s left out because their topics map to different classes
    manifest_rows: int


def read_dataset(data_dir: Path) -> Dataset:
    """All distinct, unambiguously labelled images of derm-data, sorted by SHA-1 (stable order)."""
    manifest = data_dir / "manifest.csv"
    paths: dict[str, list[str]] = defaultdict(list)
    topics: dict[str, set[str]] = defaultdict(set)
    rows = 0
    with manifest.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            rows += 1
            relative = row["path"]
            parts = Path(relative).parts
            if len(parts) != 3 or parts[0] != "images":
                raise ValueError(f"{manifest}: unexpected path {relative!r}")
            paths[row["sha1"]].append(relative)
            topics[row["sha1"]].add(parts[1])

    samples: list[Sample] = []
    ambiguous: list[str] = []
    for sha1 in sorted(paths):
        classes = {class_of(topic) for topic in topics[sha1]}
        if len(classes) != 1:
            ambiguous.append(sha1)
            continue
        first = sorted(paths[sha1])[0]
        samples.append(Sample(sha1=sha1, path=data_dir / first, topics=tuple(sorted(topics[sha1])), label=classes.pop()))
    return Dataset(samples=tuple(samples), ambiguous=tuple(ambiguous), manifest_rows=rows)


def mask_watermark(image: Image.Image) -> Image.Image:
    """Fill the watermark box with the median colour of the rest of the photo.

    A flat patch in the same place on every image carries no class information, whereas the logo's
    two variants (older vs newer uploads) could correlate with topics. Applied to derm-data images in
    training and in evaluation, before `prepare_image`; runtime photos carry no watermark.
    """
    rgb = image.convert("RGB") if image.mode != "RGB" else image.copy()
    width, height = rgb.size
    x0, y0, x1, y1 = _WATERMARK_BOX_640x480
    box = (
        int(round(x0 * width / 640)),
        int(round(y0 * height / 480)),
        int(round(x1 * width / 640)),
        int(round(y1 * height / 480)),
    )
    pixels = np.asarray(rgb)
    outside = np.ones(pixels.shape[:2], dtype=bool)
    outside[box[1] : box[3], box[0] : box[2]] = False
    median = np.median(pixels[outside], axis=0).astype(np.uint8)
    rgb.paste(tuple(int(c) for c in median), box)
    return rgb


def load_masked(sample: Sample) -> Image.Image:
    """Decode one derm-data image to RGB with its watermark masked."""
    with Image.open(sample.path) as image:
        image.load()
        return mask_watermark(image)


def load_unmasked(sample: Sample) -> Image.Image:
    """Decode one derm-data image to RGB as the service would see it (watermark left in place): the
    gate's thresholds are set on validation photos in this form, because the service never masks."""
    with Image.open(sample.path) as image:
        return image.convert("RGB")
