"""Review-app overlays: three PNGs at the analysis size, deterministic, typed errors for bad bytes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from inference import synth
from inference.imaging import ImageError
from inference.overlays import render_overlays
from inference.synth import PlaqueSpec


def test_three_pngs_of_the_analysis_size() -> None:
    rendered = synth.render(PlaqueSpec(seed=3, width=1600, height=1200))
    overlays = render_overlays(synth.jpeg_bytes(rendered.image))
    assert set(overlays) == {"lesion_outline", "redness", "scale"}
    sizes = set()
    for png in overlays.values():
        image = Image.open(io.BytesIO(png))
        assert image.format == "PNG" and image.mode == "RGB"
        sizes.add(image.size)
    assert sizes == {(384, 288)}


def test_outline_is_drawn_where_the_lesion_is() -> None:
    rendered = synth.render(PlaqueSpec(seed=4, area_fraction=0.3))
    overlays = render_overlays(synth.jpeg_bytes(rendered.image))
    outline = np.asarray(Image.open(io.BytesIO(overlays["lesion_outline"])))
    cyan = (outline[..., 0] == 0) & (outline[..., 1] == 255) & (outline[..., 2] == 255)
    assert cyan.sum() > 100


def test_deterministic() -> None:
    data = synth.render_jpeg(PlaqueSpec(seed=5))[0]
    assert render_overlays(data) == render_overlays(data)


def test_bad_bytes_raise_image_error() -> None:
    with pytest.raises(ImageError):
        render_overlays(b"not an image")
