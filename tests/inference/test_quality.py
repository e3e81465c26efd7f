"""The quality gate: clear, actionable reasons for bad photos; good photos of any skin tone pass."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from inference import synth
from inference.attributes import analysis_array
from inference.imaging import ImageError, decode_image
from inference.quality import QualityReport, assess_quality, unusable_report
from inference.synth import PlaqueSpec


def _gate(image: Image.Image, content_type: str | None = None, fmt: str = "JPEG") -> QualityReport:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, quality=90) if fmt == "JPEG" else image.save(buffer, format=fmt)
    decoded = decode_image(buffer.getvalue(), content_type)
    return assess_quality(decoded, analysis_array(decoded.image))


def _plaques(tone: int = 3, seed: int = 0, **kwargs: object) -> Image.Image:
    return synth.render(PlaqueSpec(skin_tone=tone, seed=seed, **kwargs)).image  # type: ignore[arg-type]


@pytest.mark.parametrize("tone", sorted(synth.SKIN_TONES))
def test_good_photo_passes_on_every_skin_tone(tone: int) -> None:
    report = _gate(_plaques(tone, seed=tone))
    assert report.usable, report.reasons
    assert report.reasons == ()
    for key in ("width", "height", "sharpness", "mean_luma", "luma_p95", "clipped_fraction", "skin_fraction"):
        assert key in report.metrics


BAD_PHOTOS = [
    ("blurred", lambda: synth.blurred(_plaques(seed=1)), "blurred"),
    ("slightly blurred", lambda: synth.blurred(_plaques(seed=2), 0.006), "blurred"),
    ("too dark", lambda: synth.exposure(_plaques(seed=3), 0.03), "too dark"),
    ("too dark, dark skin", lambda: synth.exposure(_plaques(6, seed=3), 0.1), "too dark"),
    ("overexposed", lambda: synth.exposure(_plaques(seed=4), 8.0), "overexposed"),
    ("tiny", lambda: _plaques(seed=5).resize((160, 120)), "too small"),
    ("one pixel", lambda: _plaques(seed=5).resize((1, 1)), "too small"),
    ("two pixels high", lambda: _plaques(seed=5).resize((64, 2)), "too small"),
    ("not skin", lambda: synth.render_non_skin(seed=6), "no skin"),
    ("blank grey", lambda: Image.new("RGB", (640, 480), (128, 128, 128)), "no skin"),
]


@pytest.mark.parametrize(("name", "make", "reason"), BAD_PHOTOS, ids=[b[0] for b in BAD_PHOTOS])
def test_bad_photo_is_unusable_with_reason(name: str, make, reason: str) -> None:
    report = _gate(make())
    assert not report.usable
    assert any(reason in r for r in report.reasons), report.reasons
    assert all(":" in r for r in report.reasons)  # every reason says what to do
    assert all(v == v for v in report.metrics.values())  # no NaN reaches JSON (it is not valid JSON)


def test_little_skin_is_a_note_not_a_block() -> None:
    image = _plaques(seed=7, skin_cover=0.14, area_fraction=0.2)
    report = _gate(image)
    assert report.usable
    assert any(r.startswith("note: little skin") for r in report.reasons)


def test_content_type_mismatch_is_noted() -> None:
    report = _gate(_plaques(seed=8), content_type="image/png")
    assert report.usable
    assert any("content type" in r for r in report.reasons)


def test_png_photo_is_gated_like_jpeg() -> None:
    assert _gate(_plaques(seed=9), fmt="PNG").usable


def test_unusable_report_from_decode_error() -> None:
    report = unusable_report(ImageError("truncated", "image file is truncated: re-upload the photo"))
    assert not report.usable
    assert report.reasons == ("image file is truncated: re-upload the photo",)


def test_gate_is_deterministic() -> None:
    image = _plaques(seed=10)
    assert _gate(image) == _gate(image)
