"""Lesion attributes recover the renderer's ground truth across skin tones, within stated tolerances.

Tolerances (PASI 0-4 points unless stated), measured on the grid below (30 images, JPEG q90):
- erythema: 0.75 on every tone (observed max 0.60, mean 0.13);
- scale: 0.75 on tones 2-6; 1.25 on tone 1, where scale is barely lighter than the skin
  (observed max 0.85 since keratin/light-scale detection, was 1.09);
- thickness: 2.0 (a weak photographic proxy, reported with confidence <= 0.25; observed max 1.82);
- area fraction: 0.08 absolute (observed max 0.05);
- colour class: >= 90 % correct over the grid (observed 97 %).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inference import attributes, colour, synth
from inference.attributes import analyse, analysis_array, lesion_attributes
from inference.imaging import decode_image
from inference.synth import PlaqueSpec

# (erythema, scale, thickness, colour class, area fraction)
GRID = [
    (1.0, 1.0, 1.0, "pale_red", 0.15),
    (2.0, 2.0, 2.0, "bright_red", 0.30),
    (3.0, 1.0, 2.0, "dark_red_purple", 0.20),
    (4.0, 3.0, 3.5, "bright_red", 0.40),
    (3.0, 4.0, 3.0, "bright_red", 0.25),
]
TONES = sorted(synth.SKIN_TONES)


def _measure(spec: PlaqueSpec):  # -> tuple[LesionAttributes, GroundTruth]
    data, truth = synth.render_jpeg(spec)
    return lesion_attributes(analysis_array(decode_image(data).image)), truth


def _grid_spec(tone: int, k: int) -> PlaqueSpec:
    e, d, i, cc, area = GRID[k]
    return PlaqueSpec(
        skin_tone=tone, erythema=e, scale=d, thickness=i, colour_class=cc, area_fraction=area, seed=100 + 10 * tone + k
    )


@pytest.fixture(scope="module")
def grid_results():  # -> dict[tuple[int, int], tuple[LesionAttributes, GroundTruth]]
    return {(tone, k): _measure(_grid_spec(tone, k)) for tone in TONES for k in range(len(GRID))}


@pytest.mark.parametrize("tone", TONES)
def test_recovers_ground_truth_on_every_tone(tone: int, grid_results) -> None:
    scale_tolerance = 1.25 if tone == 1 else 0.75
    for k in range(len(GRID)):
        attrs, truth = grid_results[(tone, k)]
        assert attrs.erythema.value == pytest.approx(truth.erythema, abs=0.75), (tone, k)
        assert attrs.scale.value == pytest.approx(truth.scale, abs=scale_tolerance), (tone, k)
        assert attrs.thickness.value == pytest.approx(truth.thickness, abs=2.0), (tone, k)
        assert attrs.area_fraction.value == pytest.approx(truth.area_fraction, abs=0.08), (tone, k)


def test_colour_class_accuracy_over_grid(grid_results) -> None:
    correct = [attrs.colour_class == truth.colour_class for attrs, truth in grid_results.values()]
    assert np.mean(correct) >= 0.9


def test_scores_and_confidences_are_in_range(grid_results) -> None:
    for attrs, _ in grid_results.values():
        for score in (attrs.erythema, attrs.scale, attrs.thickness):
            assert 0.0 <= score.value <= 4.0
            assert 0.0 < score.confidence <= 1.0
            assert score.evidence and score.evidence[0].statement
        assert 0.0 <= attrs.area_fraction.value <= 1.0
        assert attrs.thickness.confidence <= attributes.THICKNESS_CONFIDENCE
        assert "delta_ei" in attrs.erythema.measured


def test_erythema_estimate_increases_with_level() -> None:
    values = [
        _measure(PlaqueSpec(skin_tone=3, erythema=level, scale=0, thickness=1, area_fraction=0.25, seed=7))[0].erythema.value
        for level in (1, 2, 3, 4)
    ]
    assert values == sorted(values)
    assert values[-1] - values[0] > 2.0


def test_illumination_gradient_does_not_change_erythema() -> None:
    flat = _measure(PlaqueSpec(skin_tone=4, erythema=3, illumination_gradient=0.0, seed=8))[0]
    ramp = _measure(PlaqueSpec(skin_tone=4, erythema=3, illumination_gradient=0.4, seed=8))[0]
    assert ramp.erythema.value == pytest.approx(flat.erythema.value, abs=0.3)


@pytest.mark.parametrize("tone", [1, 3, 6])
def test_clear_skin_has_no_lesion(tone: int) -> None:
    attrs, _ = _measure(PlaqueSpec(skin_tone=tone, erythema=0, scale=0, thickness=0, area_fraction=0.0, seed=tone))
    assert attrs.erythema.value < 0.5
    assert attrs.area_fraction.value < 0.02
    assert attrs.colour_class == "none"


def test_non_skin_image_has_no_lesion() -> None:
    rgb = analysis_array(synth.render_non_skin(seed=1))
    analysis = analyse(rgb)
    assert not analysis.lesion.any()
    assert lesion_attributes(rgb).area_fraction.value == 0.0


def test_deterministic() -> None:
    data, _ = synth.render_jpeg(_grid_spec(4, 1))
    rgb = analysis_array(decode_image(data).image)
    assert lesion_attributes(rgb, "Media/1") == lesion_attributes(rgb, "Media/1")


def test_evidence_points_at_the_photo() -> None:
    data, _ = synth.render_jpeg(_grid_spec(3, 1))
    attrs = lesion_attributes(analysis_array(decode_image(data).image), source_ref="Media/42")
    assert all(e.source_ref == "Media/42" for e in attrs.erythema.evidence + attrs.scale.evidence)


@pytest.mark.parametrize(
    "anchors",
    [
        attributes.ERYTHEMA_DELTA_EI_ANCHORS,
        attributes.SCALE_COVERAGE_ANCHORS,
        attributes.THICKNESS_EDGE_RATIO_ANCHORS,
    ],
)
def test_anchor_tables_are_monotonic_and_span_0_to_4(anchors: tuple[tuple[float, float], ...]) -> None:
    xs = [a for a, _ in anchors]
    ys = [b for _, b in anchors]
    assert xs == sorted(xs) and ys == sorted(ys)
    assert ys[0] == 0.0 and ys[-1] == 4.0


def test_pigment_contrast_is_flagged_not_trusted_as_erythema() -> None:
    """A depigmented patch (vitiligo-like: less melanin, same blood) must not read as confident
    erythema of the surrounding skin."""
    from inference import colour

    rendered = synth.render(PlaqueSpec(skin_tone=4, erythema=0, scale=0, thickness=0, area_fraction=0.35, seed=12))
    od = colour.optical_density(np.asarray(rendered.image)).astype(np.float64)
    melanin = np.array([0.28, 0.5, 1.0])  # relative OD of melanin in R, G, B (~ lambda^-3.5)
    od[rendered.lesion_mask] -= 0.35 * melanin
    rgb = colour.linear_to_srgb(np.power(10.0, -od))
    attrs = lesion_attributes(analysis_array(Image.fromarray(rgb, "RGB")))
    assert attrs.erythema.confidence <= 0.9 * attributes.PIGMENT_CONFIDENCE_FACTOR + 1e-6
    assert any("pigment" in e.statement for e in attrs.erythema.evidence)


def test_blood_contrast_is_not_flagged_as_pigment(grid_results) -> None:
    for attrs, truth in grid_results.values():
        if truth.erythema >= 2:
            assert not any("pigment" in e.statement for e in attrs.erythema.evidence)


# ---------------------------------------------------------------- yellowish keratin (thick plantar scale)

# Committed GENERATED render (inference.synth, no photograph): a tone-4 plaque of erythema 2.5 whose
# scale (level 3.5, 55% of the plaque) is yellowish keratin (synth.KERATIN_SRGB), as on a scaly sole.
# Made by: synth.render_jpeg(PlaqueSpec(skin_tone=4, erythema=2.5, scale=3.5, thickness=3.0,
# area_fraction=0.3, seed=31, scale_srgb=synth.KERATIN_SRGB)). Before keratin detection it read
# scale 0.0/4, colour "dark_red_purple": the keratin was taken for the normal skin (the reviewed
# misreading of thick plantar scale).
KERATIN_RENDER = Path(__file__).parent / "data" / "keratin_render" / "tone4_keratin.jpg"


def test_yellowish_keratin_render_is_scale_not_dark_red_purple() -> None:
    attrs = lesion_attributes(analysis_array(decode_image(KERATIN_RENDER.read_bytes()).image))
    assert attrs.scale.value >= 2.0
    assert attrs.colour_class == "bright_red"
    assert attrs.erythema.value == pytest.approx(2.5, abs=0.75)


@pytest.mark.parametrize("tone", [1, 2, 3, 5, 6])
def test_yellowish_keratin_is_scored_as_thick_scale_on_other_tones(tone: int) -> None:
    spec = PlaqueSpec(skin_tone=tone, erythema=2.5, scale=3.5, thickness=3.0, area_fraction=0.3, seed=31, scale_srgb=synth.KERATIN_SRGB)
    attrs, truth = _measure(spec)
    assert truth.scale_coverage > 0.5
    assert attrs.scale.value >= 2.0
    assert attrs.colour_class != "dark_red_purple"


def test_default_scale_colour_leaves_renders_unchanged() -> None:
    spec = _grid_spec(3, 1)
    assert synth.render_jpeg(spec)[0] == synth.render_jpeg(PlaqueSpec(**{**spec.__dict__, "scale_srgb": None}))[0]


def test_colour_class_of_a_thickly_scaled_lesion_is_never_dark_red_purple() -> None:
    m = {"delta_od_r": 0.3, "delta_od_g": 0.4, "delta_od_b": 0.3, "delta_ei": 0.2, "scale_coverage": 0.4}  # scale 2.75
    assert attributes._colour_class(m, 2.5, 0.8)[0] == "bright_red"
    assert attributes._colour_class({**m, "scale_coverage": 0.1}, 2.5, 0.8)[0] == "dark_red_purple"


# ---------------------------------------------------------------- erythema baseline with little normal skin


def _confluent_scene(normal_columns: int, background_columns: int, background: tuple[int, int, int]) -> np.ndarray:
    """A working-size image whose left part is confluent erythema 3 on tone-2 skin, then a strip of
    normal skin, then a skin-coloured background (wall, wood, floor) that the skin-colour mask accepts."""
    h, w = 288, 384
    rng = np.random.default_rng(0)
    od = np.broadcast_to(-np.log10(colour.linear_rgb(np.array(synth.SKIN_TONES[2], dtype=np.uint8))), (h, w, 3)).copy()
    od += 0.02 * synth._smooth_noise(rng, h, w, 8)[..., None]
    od[:, : w - normal_columns - background_columns] += synth.TRUE_DELTA_EI_BY_LEVEL[3] / 0.97 * np.array([0.03, 1.0, 0.55])
    lin = np.power(10.0, -od)
    if background_columns:
        wall = colour.linear_rgb(np.array(background, dtype=np.uint8))
        lin[:, w - background_columns :] = wall * (1 + 0.03 * synth._smooth_noise(rng, h, background_columns, 4))[..., None]
    return np.clip(colour.linear_to_srgb(lin) + rng.normal(0.0, 1.0, (h, w, 3)) + 0.5, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("background", [(84, 60, 70), (70, 50, 40), (100, 70, 60)], ids=["purple wall", "dark wood", "brown"])
def test_erythema_baseline_ignores_a_darker_background_when_little_normal_skin_is_in_view(background) -> None:
    """A 4-pixel strip of normal skin is all the reference there is; the ring around the lesion also
    takes in a darker skin-coloured background, which used to pull the baseline (E read 1.5-1.9)."""
    rgb = _confluent_scene(4, 60, background)
    assert colour.skin_mask(rgb)[:, -10:].mean() > 0.9  # the background passes for skin
    analysis = analyse(rgb)
    attrs = attributes.score(analysis)
    assert attrs.erythema.value == pytest.approx(3.0, abs=0.5)
    assert analysis.measured["reference_within_lesion"] == 0.0
    assert attrs.erythema.confidence < 0.6  # little reference skin, wide lesion


def test_erythema_with_no_normal_skin_in_view_is_a_low_confidence_within_lesion_contrast() -> None:
    """Only confluent lesion and a lighter background: nothing is plausible normal skin, so redness
    is measured within the lesion (it cannot over-read) and flagged by a low confidence."""
    analysis = analyse(_confluent_scene(0, 60, (110, 95, 85)))
    attrs = attributes.score(analysis)
    assert analysis.measured["reference_within_lesion"] == 1.0
    assert attrs.erythema.value <= 3.0
    assert attrs.erythema.confidence <= 0.9 * 0.6 * attributes.WITHIN_LESION_CONFIDENCE + 1e-6


def test_erythema_with_ample_normal_skin_keeps_full_confidence() -> None:
    analysis = analyse(_confluent_scene(120, 0, (0, 0, 0)))
    attrs = attributes.score(analysis)
    assert attrs.erythema.value == pytest.approx(3.0, abs=0.5)
    assert analysis.measured["reference_within_lesion"] == 0.0
    assert attrs.erythema.confidence >= 0.8


def test_melanin_excess_is_removed_from_the_erythema_contrast() -> None:
    """A darker-pigmented patch with no extra blood (lesion-minus-skin OD of melanin's shape) has a
    positive EI contrast but no blood contrast; a blood contrast is left untouched."""
    melanin = 0.3 * np.array(attributes.MELANIN_OD)
    blood = 0.2 * np.array([0.03, 1.0, 0.55])
    assert attributes._melanin_excess(melanin) == pytest.approx(0.3, abs=1e-6)
    assert attributes._melanin_excess(blood) == pytest.approx(0.0, abs=1e-6)
    assert attributes._melanin_excess(blood + 0.1 * np.ones(3)) == pytest.approx(0.0, abs=1e-6)  # shading
    assert attributes._melanin_excess(-melanin) == 0.0  # less melanin than the skin: left as measured
