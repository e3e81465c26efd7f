"""Per-photo morphology (inference.morphology) on generated renders with known morphology, and its
patient-level fusion."""

from __future__ import annotations

import pytest

from inference.attributes import analyse, analysis_array, score
from inference.morphology import LearnedSignals, assess_morphology, fuse_morphology
from inference.results import MORPHOLOGY_STATUSES, Morphology
from inference.synth import PlaqueSpec, render, render_non_skin

PUSTULAR = [PlaqueSpec(tone, 3.0, 0.5, 1.0, 0.3, "bright_red", seed=seed, pustules=60) for tone, seed in ((2, 5), (3, 21), (5, 15))]
ERYTHRODERMIC = [PlaqueSpec(tone, 3.0, 1.0, 1.0, 0.97, "bright_red", seed=seed, skin_cover=0.95) for tone, seed in ((2, 6), (3, 22))]
PLAQUE_THICK = PlaqueSpec(2, 3.0, 3.5, 3.0, 0.3, "bright_red", seed=8)
PLAQUE_THIN = PlaqueSpec(4, 2.0, 1.0, 1.0, 0.3, "bright_red", seed=9)
GUTTATE = PlaqueSpec(2, 2.5, 1.0, 1.0, 0.08, "bright_red", seed=7, n_plaques=60, plaque_scale=0.12)


def morphology_of(spec: PlaqueSpec, learned: LearnedSignals | None = None) -> Morphology:
    rgb = analysis_array(render(spec).image)
    analysis = analyse(rgb)
    return assess_morphology(rgb, analysis, score(analysis, "Media/1"), learned, "Media/1")


@pytest.mark.parametrize("spec", PUSTULAR, ids=lambda s: f"tone{s.skin_tone}")
def test_pustules_found_on_pustular_renders(spec: PlaqueSpec) -> None:
    finding = morphology_of(spec).pustules
    assert finding.status == "present"
    assert finding.confidence >= 0.5
    assert finding.measured["pustule_like_dots"] >= 10
    assert all(e.source_ref == "Media/1" for e in finding.evidence)


@pytest.mark.parametrize("spec", [PLAQUE_THICK, PLAQUE_THIN, *ERYTHRODERMIC], ids=["thick", "thin", "ery2", "ery3"])
def test_no_pustules_on_renders_without_them(spec: PlaqueSpec) -> None:
    finding = morphology_of(spec).pustules
    assert finding.status == "absent"
    assert finding.confidence <= 0.6  # a photo can hide pustules: absence is never confident


def test_same_render_with_and_without_pustules_differs_only_there() -> None:
    with_p = morphology_of(PUSTULAR[0])
    without = morphology_of(PlaqueSpec(2, 3.0, 0.5, 1.0, 0.3, "bright_red", seed=5))
    assert (with_p.pustules.status, without.pustules.status) == ("present", "absent")
    assert with_p.erythroderma.status == without.erythroderma.status == "absent"


@pytest.mark.parametrize("spec", ERYTHRODERMIC, ids=lambda s: f"tone{s.skin_tone}")
def test_erythroderma_on_confluent_renders(spec: PlaqueSpec) -> None:
    finding = morphology_of(spec).erythroderma
    assert finding.status == "present"
    assert finding.measured["area_fraction"] >= 0.8
    assert "erythroderma-like" in finding.evidence[0].statement


def test_erythroderma_absent_on_scattered_plaques() -> None:
    assert morphology_of(PLAQUE_THICK).erythroderma.status == "absent"


def test_erythroderma_not_assessable_with_little_skin_in_view() -> None:
    spec = PlaqueSpec(2, 3.0, 1.0, 1.0, 0.95, "bright_red", seed=3, skin_cover=0.3)
    assert morphology_of(spec).erythroderma.status == "not_assessable"


def test_scale_thickness_thick_vs_thin() -> None:
    thick = morphology_of(PLAQUE_THICK).scale_thickness
    thin = morphology_of(PLAQUE_THIN).scale_thickness
    assert (thick.status, thick.value) == ("present", "thick")
    assert (thin.status, thin.value) == ("present", "thin")


def test_lesion_pattern_plaque_vs_small_papules() -> None:
    assert morphology_of(PLAQUE_THIN).lesion_pattern.value == "plaque"
    guttate = morphology_of(GUTTATE).lesion_pattern
    assert (guttate.status, guttate.value) == ("present", "small_papules")


def test_nothing_assessable_without_a_lesion() -> None:
    rgb = analysis_array(render_non_skin(seed=1))
    analysis = analyse(rgb)
    m = assess_morphology(rgb, analysis, score(analysis))
    assert m.pustules.status == m.scale_thickness.status == m.lesion_pattern.status == "not_assessable"
    assert all(f.status in MORPHOLOGY_STATUSES for f in m.as_dict().values())


@pytest.mark.parametrize(
    ("learned", "status"),
    [(None, "not_assessable"), (0.1, "not_assessable"), (0.8, "present")],
)
def test_nail_changes_come_only_from_the_learned_head(learned: float | None, status: str) -> None:
    finding = morphology_of(PLAQUE_THIN, LearnedSignals(nail_changes=learned)).nail_changes
    assert finding.status == status
    assert finding.basis == "learned"


def test_learned_pustule_signal_decides_without_the_dot_count() -> None:
    """With a learned head the dot count (no signal on real photos) is not computed: the head decides."""
    plain = PlaqueSpec(2, 3.0, 0.5, 1.0, 0.3, "bright_red", seed=5)
    high = morphology_of(plain, LearnedSignals(pustules=0.9)).pustules
    assert (high.status, high.basis) == ("present", "learned")
    low = morphology_of(plain, LearnedSignals(pustules=0.05)).pustules
    assert (low.status, low.basis) == ("absent", "learned")
    assert "pustule_like_dots" not in low.measured and low.measured["learned_probability"] == 0.05
    assert low.confidence <= 0.6
    # A pustular render the dots would call present is absent when the head says so.
    assert morphology_of(PUSTULAR[0], LearnedSignals(pustules=0.05)).pustules.status == "absent"


def test_fusion_present_if_any_photo_shows_it() -> None:
    fused = fuse_morphology([morphology_of(PLAQUE_THICK), morphology_of(PUSTULAR[0])])
    assert fused is not None
    assert fused.pustules.status == "present"
    assert fused.scale_thickness.value == "thick"
    assert fused.pustules.measured["photos_present"] == 1.0
    assert fuse_morphology([]) is None
