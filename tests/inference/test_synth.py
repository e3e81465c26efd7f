"""The procedural plaque renderer: deterministic, truthful ground truth, sane variants."""

from __future__ import annotations

import numpy as np
import pytest

from inference import colour, synth
from inference.synth import PlaqueSpec


def test_same_spec_same_bytes_and_truth() -> None:
    spec = PlaqueSpec(skin_tone=4, erythema=2.5, scale=1.5, seed=11)
    first = synth.render_jpeg(spec)
    second = synth.render_jpeg(spec)
    assert first == second


def test_seed_changes_the_image() -> None:
    a = np.asarray(synth.render(PlaqueSpec(seed=1)).image)
    b = np.asarray(synth.render(PlaqueSpec(seed=2)).image)
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("area", [0.05, 0.2, 0.5])
def test_area_truth_matches_spec_and_masks(area: float) -> None:
    rendered = synth.render(PlaqueSpec(area_fraction=area, seed=3))
    truth = rendered.truth
    assert truth.area_fraction == pytest.approx(area, abs=0.01)
    assert truth.area_fraction == pytest.approx(rendered.lesion_mask.sum() / rendered.skin_mask.sum())
    assert not (rendered.lesion_mask & ~rendered.skin_mask).any()


@pytest.mark.parametrize("level", [0, 1, 2, 3, 4])
def test_scale_coverage_follows_level(level: int) -> None:
    truth = synth.render(PlaqueSpec(scale=level, area_fraction=0.3, seed=level)).truth
    assert truth.scale_coverage == pytest.approx(synth.TRUE_SCALE_COVERAGE_BY_LEVEL[level], abs=0.02)


def test_no_erythema_means_no_colour_class() -> None:
    assert synth.render(PlaqueSpec(erythema=0.0, scale=0.0)).truth.colour_class == "none"


@pytest.mark.parametrize("tone", sorted(synth.SKIN_TONES))
def test_skin_region_reads_as_skin_on_every_tone(tone: int) -> None:
    rendered = synth.render(PlaqueSpec(skin_tone=tone, area_fraction=0.0, seed=tone))
    rgb = np.asarray(rendered.image)
    detected = colour.skin_mask(rgb)
    assert detected[rendered.skin_mask].mean() > 0.9
    assert detected[~rendered.skin_mask].mean() < 0.05


def test_erythema_shows_less_on_darker_skin() -> None:
    """Same extra haemoglobin, smaller a* contrast on darker skin (as in life)."""

    def delta_a(tone: int) -> float:
        rendered = synth.render(PlaqueSpec(skin_tone=tone, erythema=3, scale=0, thickness=0, seed=5))
        lab = colour.srgb_to_lab(np.asarray(rendered.image))
        normal = rendered.skin_mask & ~rendered.lesion_mask
        return float(np.median(lab[rendered.lesion_mask][:, 1]) - np.median(lab[normal][:, 1]))

    assert delta_a(1) > delta_a(6) > 0


def test_non_skin_has_no_skin_colours() -> None:
    assert colour.skin_mask(np.asarray(synth.render_non_skin(seed=2))).mean() < 0.02


def test_quality_variants() -> None:
    image = synth.render(PlaqueSpec(seed=4)).image
    grey = lambda im: colour.ycbcr(np.asarray(im))[..., 0]  # noqa: E731
    assert grey(synth.exposure(image, 0.05)).mean() < grey(image).mean() / 3
    assert (np.asarray(synth.exposure(image, 6.0)) >= 250).mean() > 0.5
    lap = lambda g: float(np.var(4 * g[1:-1, 1:-1] - g[:-2, 1:-1] - g[2:, 1:-1] - g[1:-1, :-2] - g[1:-1, 2:]))  # noqa: E731
    assert lap(grey(synth.blurred(image))) < lap(grey(image)) / 10


@pytest.mark.parametrize(
    ("field", "value"), [("skin_tone", 7), ("colour_class", "blue")]
)
def test_invalid_spec_is_rejected(field: str, value: object) -> None:
    with pytest.raises(ValueError):
        synth.render(PlaqueSpec(**{field: value}))  # type: ignore[arg-type]
