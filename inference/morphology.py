"""Per-photo morphology for DERM-Reason: pustules, erythroderma-like involvement, scale thickness,
nail changes and the lesion pattern (plaques vs small guttate-like papules).

Two kinds of signal, each reported with its basis:
- learned: logistic heads on the lesion model's embedding, trained on DermNet topics that carry the
  label (generalised pustular psoriasis + palmoplantar pustulosis for pustules; onychomycosis for a
  nail with visible dystrophy). They arrive here as probabilities (`LearnedSignals`).
- measured: quantities of the image segmentation that `inference.attributes.analyse` already did
  (lesion, scale and skin masks), so morphology costs a few mask operations, not another pass.

A feature that the photo cannot show (no lesion found, no nail in view) is "not_assessable", never
"absent": absence of evidence in a photo that could not contain it is not evidence of absence.
Thresholds were set on generated renders (`inference.synth`) and checked for ranking on DermNet photos
(see the model card); confidences are deliberately modest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inference import colour, masks
from inference.attributes import THICK_SCALE_SCORE, LesionAnalysis
from inference.results import Evidence, LesionAttributes, Morphology, MorphologyFinding
from inference.i18n import t

# Pustules: small yellowish-white domes. At the 384 px analysis size a 2-5 mm pustule on a limb photo
# is 2-6 px across; anything that survives an opening of this radius is too large to be one.
PUSTULE_MAX_RADIUS_FRACTION = 1 / 128
PUSTULE_MIN_DELTA_L = 5.0  # L* above the local mean (a dome of pus is lighter than its surround)
PUSTULE_MIN_B_STAR = 12.0  # yellow, where scale is neutral white
PUSTULE_MAX_B_BELOW_SKIN = 2.0  # at least about as yellow as the patient's own skin
PUSTULE_MIN_A_BELOW_SKIN = 4.0  # pus is less red than even the normal skin (highlights on skin are not)
PUSTULE_MIN_B_OVER_A = 5.0  # yellow rather than pink
PUSTULE_MIN_REFERENCE_PIXELS = 500
PUSTULE_PIXELS_PER_DOT = 12.0  # mean area of one detected dot at the analysis size
PUSTULE_MIN_DOTS = 10.0  # measured: "present" from this many dots on or next to the lesion
# Chosen on the validation split (17 pustular vs 267 other photos): the highest threshold that keeps
# the best sensitivity, 0.47; for model 2026.12.4 (centre view) at a false-positive rate of 0.015
# (0.2: 0.47 / 0.041; 0.5: 0.29 / 0.007), as for 2026.12.3 (two views: 0.019).
LEARNED_PUSTULE_PRESENT = 0.3

# Erythroderma-like: redness over nearly all the skin in view, with enough skin in view to judge.
ERYTHRODERMA_MIN_SKIN_FRACTION = 0.45
ERYTHRODERMA_MIN_AREA_FRACTION = 0.8

# Scale thickness (PASI-scale scores from inference.attributes).
SCALE_MIN_COVERAGE = 0.05  # below: no scale seen
THICK_SCALE_MIN_SCORE = THICK_SCALE_SCORE  # one definition, in inference.attributes
THICK_SCALE_ALT = (1.5, 2.5)  # scale >= 1.5 together with thickness >= 2.5 also reads "thick"

# Lesion pattern: share of the lesion that survives an opening of this radius (a fraction of the long
# side; small papules vanish, plaques survive).
PATTERN_RADIUS_FRACTION = 1 / 40
PATTERN_SMALL_BELOW = 0.4
PATTERN_PLAQUE_FROM = 0.6
PATTERN_MIN_LESION_PIXELS = 300

LEARNED_NAIL_PRESENT = 0.5


@dataclass(frozen=True)
class LearnedSignals:
    """Probabilities from the lesion model's morphology heads for one photo (None: no such head)."""

    pustules: float | None = None
    nail_changes: float | None = None


def _not_assessable(reason: str, source_ref: str | None, basis: str = "measured") -> MorphologyFinding:
    return MorphologyFinding(
        status="not_assessable", confidence=0.0, evidence=(Evidence(statement=reason, source_ref=source_ref),), basis=basis
    )


def pustule_dots(rgb: np.ndarray, analysis: LesionAnalysis) -> tuple[float, float]:
    """(approximate number of pustule-like dots on or next to the lesion, their pixel count). Decides
    only for a model without a learned pustule head; `tools.lesion_model.attribute_check` ranks it."""
    long_side = max(rgb.shape[:2])
    radius = max(1, round(long_side * PUSTULE_MAX_RADIUS_FRACTION))
    lab = colour.srgb_to_lab(rgb)
    lum, a_star, b_star = lab[..., 0], lab[..., 1], lab[..., 2]
    # The patient's normal skin is the colour reference (on near-total involvement the "skin" median
    # would be the redness itself).
    normal = analysis.skin & ~masks.dilate(analysis.lesion, radius)
    reference = normal if normal.sum() >= PUSTULE_MIN_REFERENCE_PIXELS else analysis.skin
    skin_b = float(np.median(b_star[reference]))
    skin_a = float(np.median(a_star[reference]))
    local_l = masks.box_mean(lum, 3 * radius)
    candidate = (
        (lum > local_l + PUSTULE_MIN_DELTA_L)
        & (b_star > max(PUSTULE_MIN_B_STAR, skin_b - PUSTULE_MAX_B_BELOW_SKIN))
        & (a_star < skin_a - PUSTULE_MIN_A_BELOW_SKIN)
        & (b_star > a_star + PUSTULE_MIN_B_OVER_A)
        # Scale flakes and their rims are light too; pus is not part of the scale mask.
        & ~masks.dilate(analysis.scale, 1)
    )
    small = candidate & ~masks.open_(candidate, radius)
    near_lesion = masks.dilate(analysis.lesion, 3 * radius)
    pixels = float((small & near_lesion).sum())
    return pixels / PUSTULE_PIXELS_PER_DOT, pixels


def _pustules(
    rgb: np.ndarray, analysis: LesionAnalysis, learned: float | None, source_ref: str | None
) -> MorphologyFinding:
    if not analysis.lesion.any():
        if learned is not None and learned >= LEARNED_PUSTULE_PRESENT:
            return MorphologyFinding(
                status="present",
                confidence=round(0.5 * learned, 3),
                evidence=(Evidence(statement=t("looks like pustular psoriasis to the lesion model (p={learned:.2f}), though no lesion was segmented", learned=learned), source_ref=source_ref),),
                basis="learned",
                measured={"learned_probability": round(learned, 4)},
            )
        return _not_assessable(t("no lesion found in the photo: pustules cannot be assessed"), source_ref)
    if learned is not None:
        # With the learned head the dot count is not computed at all: set on generated renders, it
        # does not rank real photos (AUROC 0.47 on DermNet pustular vs plaque psoriasis, see the model
        # card), and skipping it pays for part of the ensemble member's CPU time.
        present = learned >= LEARNED_PUSTULE_PRESENT
        # Above the threshold, ~70% of flagged validation photos were pustular (in DermNet's mix). A
        # photo can hide pustules (distance, focus): "absent" is never more than moderately confident.
        confidence = min(0.9, 0.4 + 0.5 * learned) if present else min(0.6, 1.0 - learned)
        return MorphologyFinding(
            status="present" if present else "absent",
            confidence=round(float(confidence), 3),
            evidence=(
                Evidence(
                    statement=t("similarity to generalised pustular psoriasis / palmoplantar pustulosis photos p={learned:.2f}", learned=learned),
                    source_ref=source_ref,
                ),
            ),
            basis="learned",
            measured={"learned_probability": round(learned, 4)},
        )
    dots, pixels = pustule_dots(rgb, analysis)
    measured_present = dots >= PUSTULE_MIN_DOTS
    measured_conf = float(np.clip(dots / (3 * PUSTULE_MIN_DOTS), 0.0, 1.0))
    measured = {"pustule_like_dots": round(dots, 1), "pustule_pixels": pixels}
    evidence = [
        Evidence(
            statement=t("about {dots:.0f} small yellowish-white dots on or beside the lesion", dots=dots)
            + (t(" (pustule-like)") if measured_present else t(" (too few to call pustules)")),
            source_ref=source_ref,
        )
    ]
    present = measured_present
    confidence = measured_conf if present else 1.0 - measured_conf
    # A photo can hide pustules (distance, focus); "absent" is never more than moderately confident.
    confidence = min(confidence, 0.9 if present else 0.6)
    return MorphologyFinding(
        status="present" if present else "absent",
        confidence=round(float(confidence), 3),
        evidence=tuple(evidence),
        basis="measured",
        measured=measured,
    )


def _erythroderma(analysis: LesionAnalysis, attributes: LesionAttributes, source_ref: str | None) -> MorphologyFinding:
    m = analysis.measured
    skin_fraction = m.get("skin_fraction", 0.0)
    area = m.get("area_fraction", 0.0)
    measured = {"skin_fraction": round(skin_fraction, 4), "area_fraction": round(area, 4)}
    if skin_fraction < ERYTHRODERMA_MIN_SKIN_FRACTION:
        return MorphologyFinding(
            status="not_assessable",
            confidence=0.0,
            evidence=(
                Evidence(
                    statement=t("only {value:.0f}% of the photo is skin: too little to judge whether the redness is confluent over most of the body surface", value=100 * skin_fraction),
                    source_ref=source_ref,
                ),
            ),
            measured=measured,
        )
    red = attributes.erythema.value >= 1.0
    present = red and area >= ERYTHRODERMA_MIN_AREA_FRACTION
    statement = (
        t("redness covers {value:.0f}% of the skin in view (erythema {value2:.1f}/4)", value=100 * area, value2=attributes.erythema.value)
        + (t("; confluent, erythroderma-like in this view: confirm body surface involvement clinically") if present else "")
    )
    margin = (area - ERYTHRODERMA_MIN_AREA_FRACTION) / (1.0 - ERYTHRODERMA_MIN_AREA_FRACTION) if present else 0.0
    confidence = 0.4 + 0.4 * margin if present else 0.5 * (1.0 - area / ERYTHRODERMA_MIN_AREA_FRACTION) + 0.2
    return MorphologyFinding(
        status="present" if present else "absent",
        confidence=round(float(np.clip(confidence, 0.05, 0.8)) * attributes.erythema.confidence / 0.9, 3),
        evidence=(Evidence(statement=statement, source_ref=source_ref),),
        measured=measured,
    )


def _scale_thickness(analysis: LesionAnalysis, attributes: LesionAttributes, source_ref: str | None) -> MorphologyFinding:
    if not analysis.lesion.any():
        return _not_assessable(t("no lesion found in the photo: scale cannot be assessed"), source_ref)
    coverage = float(analysis.measured.get("scale_coverage", 0.0))
    scale, thickness = attributes.scale.value, attributes.thickness.value
    measured = {"scale_coverage": round(coverage, 4), "scale_score": scale, "thickness_score": thickness}
    if coverage < SCALE_MIN_COVERAGE:
        return MorphologyFinding(
            status="absent",
            confidence=round(0.5 * attributes.scale.confidence + 0.1, 3),
            evidence=(Evidence(statement=t("no visible scale (whitish scale on {value:.0f}% of the lesion)", value=100 * coverage), source_ref=source_ref),),
            measured=measured,
        )
    thick = scale >= THICK_SCALE_MIN_SCORE or (scale >= THICK_SCALE_ALT[0] and thickness >= THICK_SCALE_ALT[1])
    return MorphologyFinding(
        status="present",
        value="thick" if thick else "thin",
        confidence=round(min(0.7, attributes.scale.confidence), 3),
        evidence=(
            Evidence(
                statement=t("{value} scale: whitish scale on {value2:.0f}% of the lesion (scale {scale:.1f}/4, plaque thickness proxy {thickness:.1f}/4); palpate to confirm", value='thick' if thick else 'thin', value2=100 * coverage, scale=scale, thickness=thickness),
                source_ref=source_ref,
            ),
        ),
        measured=measured,
    )


def _nail_changes(learned: float | None, source_ref: str | None) -> MorphologyFinding:
    if learned is None:
        return _not_assessable(t("nail changes are not assessed by this model"), source_ref, basis="learned")
    if learned >= LEARNED_NAIL_PRESENT:
        return MorphologyFinding(
            status="present",
            confidence=round(min(0.8, learned), 3),
            evidence=(
                Evidence(
                    statement=t("the photo looks like a nail with visible dystrophy (p={learned:.2f}); psoriatic and fungal nail disease look alike: consider nail clipping for mycology", learned=learned),
                    source_ref=source_ref,
                ),
            ),
            basis="learned",
            measured={"learned_probability": round(learned, 4)},
        )
    return MorphologyFinding(
        status="not_assessable",
        confidence=0.0,
        evidence=(Evidence(statement=t("no nail close-up recognised in the photo: photograph the nails to assess them"), source_ref=source_ref),),
        basis="learned",
        measured={"learned_probability": round(learned, 4)},
    )


def _lesion_pattern(analysis: LesionAnalysis, source_ref: str | None) -> MorphologyFinding:
    lesion = analysis.lesion
    pixels = float(lesion.sum())
    if pixels < PATTERN_MIN_LESION_PIXELS:
        return _not_assessable(t("too little lesion in the photo to tell plaques from small papules"), source_ref)
    radius = max(2, round(max(lesion.shape) * PATTERN_RADIUS_FRACTION))
    survive = float(masks.open_(lesion, radius).sum()) / pixels
    if survive < PATTERN_SMALL_BELOW:
        value, confidence = "small_papules", 0.4 + (PATTERN_SMALL_BELOW - survive)
        text = t("mostly small separate papules (guttate-like pattern)")
    elif survive >= PATTERN_PLAQUE_FROM:
        value, confidence = "plaque", 0.4 + 0.5 * (survive - PATTERN_PLAQUE_FROM) / (1.0 - PATTERN_PLAQUE_FROM)
        text = t("plaques (lesions larger than small papules)")
    else:
        value, confidence = "mixed", 0.3
        text = t("a mixture of plaques and small papules")
    return MorphologyFinding(
        status="present",
        value=value,
        confidence=round(float(np.clip(confidence, 0.05, 0.7)), 3),
        evidence=(
            Evidence(
                statement=t("{text}: {value:.0f}% of the lesion area lies in patches wider than {value2:.0f}% of the photo", text=text, value=100 * survive, value2=100 * (2 * radius + 1) / max(lesion.shape)),
                source_ref=source_ref,
            ),
        ),
        measured={"plaque_share": round(survive, 4), "lesion_pixels": pixels},
    )


def assess_morphology(
    rgb: np.ndarray,
    analysis: LesionAnalysis,
    attributes: LesionAttributes,
    learned: LearnedSignals | None = None,
    source_ref: str | None = None,
) -> Morphology:
    """Morphology of one photo from its analysis-size array, its segmentation and attribute scores,
    plus the lesion model's learned signals when it has morphology heads."""
    signals = learned or LearnedSignals()
    return Morphology(
        pustules=_pustules(rgb, analysis, signals.pustules, source_ref),
        erythroderma=_erythroderma(analysis, attributes, source_ref),
        scale_thickness=_scale_thickness(analysis, attributes, source_ref),
        nail_changes=_nail_changes(signals.nail_changes, source_ref),
        lesion_pattern=_lesion_pattern(analysis, source_ref),
    )


def _fuse_one(name: str, findings: list[MorphologyFinding]) -> MorphologyFinding:
    present = [f for f in findings if f.status == "present"]
    absent = [f for f in findings if f.status == "absent"]
    if present:
        value: str | None = None
        valued = [f for f in present if f.value is not None]
        if name == "scale_thickness" and valued:
            # Thick scale anywhere matters for treatment and TCM reading: it wins over thin.
            value = "thick" if any(f.value == "thick" for f in valued) else "thin"
        elif valued:
            weight: dict[str, float] = {}
            for f in valued:
                weight[f.value] = weight.get(f.value, 0.0) + f.confidence  # type: ignore[index]
            value = max(sorted(weight), key=lambda v: weight[v])
        chosen = [f for f in present if value is None or f.value == value]
        return MorphologyFinding(
            status="present",
            value=value,
            confidence=round(max(f.confidence for f in chosen), 3),
            evidence=tuple(e for f in chosen for e in f.evidence),
            basis=chosen[0].basis,
            measured={"photos_present": float(len(present)), "photos_assessed": float(len(present) + len(absent))},
        )
    if absent:
        return MorphologyFinding(
            status="absent",
            confidence=round(max(f.confidence for f in absent), 3),
            evidence=tuple(e for f in absent for e in f.evidence),
            basis=absent[0].basis,
            measured={"photos_present": 0.0, "photos_assessed": float(len(absent))},
        )
    return MorphologyFinding(
        status="not_assessable",
        confidence=0.0,
        evidence=(Evidence(statement=t("{name}: not assessable in any usable photo", name=name.replace('_', ' '))),),
        basis=findings[0].basis if findings else "measured",
        measured={"photos_present": 0.0, "photos_assessed": 0.0},
    )


def fuse_morphology(per_photo: list[Morphology]) -> Morphology | None:
    """Patient-level morphology over one visit's photos: present when any photo shows it (with that
    photo's evidence), absent when assessable photos agree it is not there, otherwise not assessable."""
    if not per_photo:
        return None
    names = ("pustules", "erythroderma", "scale_thickness", "nail_changes", "lesion_pattern")
    fused = {name: _fuse_one(name, [m.as_dict()[name] for m in per_photo]) for name in names}
    return Morphology(**fused)
