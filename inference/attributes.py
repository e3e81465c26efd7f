"""Lesion segmentation and PASI-scale attributes measured on one (downscaled) photo.

Pipeline (all vectorised; its cost per photo is measured by `python -m bench.bench_rec`):

1. Skin: YCbCr skin-colour box (`colour.skin_mask`), smoothed.
2. Redness: per-pixel erythema index EI = OD_green - OD_red (`colour`), relative to the patient's
   own skin. The baseline is found without knowing where the lesion is: Otsu's split of EI over the
   skin pixels, then the median of the lower class. Because OD differences cancel melanin and
   illumination, the same threshold works on light and dark skin (see tests across Fitzpatrick-like
   tones in tests/inference/test_attributes.py).
3. Lesion = red seeds (EI above baseline by a margin and by 3 robust SDs of the skin's own noise),
   grown by hysteresis, plus scale on and next to them, cleaned by morphology. Scale is whitish to
   yellowish: near-neutral white, or (relative to the patient's own normal skin) keratin that is
   much less red, or light scale that is much lighter and no redder; yellow only as sheets (dots
   are pustules).
4. Perilesional skin = non-lesional skin in a ring around the lesion that is plausibly normal skin
   (not darker than the lesion): the reference for contrasts; with none in view, the least red part
   of the lesion, at a reduced confidence.
5. Attributes on the PASI 0-4 scale from measured contrasts (erythema from the blood part of the EI
   contrast: a melanin excess is removed), mapped by piecewise-linear anchor
   tables below (named constants). The anchors are heuristic: set so that the procedural renderer
   (`inference.synth`, which draws haemoglobin by Beer-Lambert) is recovered, and sanity-checked on
   real photographs graded by the engineer (tools/lesion_model/attribute_check.py, model card);
   they are NOT clinically validated and each score carries a confidence that says how much to
   trust it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from inference import colour, masks
from inference.results import AttributeScore, Evidence, LesionAttributes
from inference.i18n import t

# ------------------------------------------------------------------ segmentation constants

# Long side of the image the attributes are measured on: enough for scale flakes on a whole-limb
# photo, small enough to keep the per-photo cost low (measured by `python -m bench.bench_rec`).
ANALYSIS_MAX_SIDE = 384

# Minimum EI rise over the baseline for a pixel to seed a lesion. 0.05 OD is ~ the contrast of a
# faint pink macule; below that JPEG noise and normal skin mottling dominate.
LESION_MIN_DELTA_EI = 0.05
# Seeds must also exceed baseline + this many robust SDs of the skin's own EI noise.
LESION_NOISE_SIGMAS = 3.0
# ... but never more than this: the lower Otsu class can be heterogeneous (scale-mixed pixels,
# shading), and an inflated noise estimate must not hide a clearly red plaque (E1 ~ 0.08).
LESION_MAX_DELTA_EI = 0.08
# Local baseline window (fraction of the long side) and the share of it that must be normal skin
# for the local mean to be fully trusted.
LOCAL_BASELINE_FRACTION = 1 / 6
LOCAL_BASELINE_MIN_SHARE = 0.15
# Hysteresis: once seeded, a lesion grows over pixels above this fraction of the seed margin.
LESION_GROW_FRACTION = 0.5
# Scale (desquamation): whitish, low-chroma and brighter than the patient's normal skin.
SCALE_MAX_CHROMA = 16.0  # C*ab, absolute ceiling
# ... and below this fraction of the patient's normal-skin chroma: scale is much greyer than the
# skin it sits on, at every tone (very pale skin has C* ~ 10, dark brown ~ 25).
SCALE_RELATIVE_CHROMA = 0.6
SCALE_MIN_DELTA_L = 6.0  # L* above the baseline skin
SCALE_MIN_L = 55.0  # L*; scale is light on every skin tone
SCALE_BASE_L_PERCENTILE = 20.0
# C* below which a light pixel is taken for scale before anything else is known (normal skin of
# any tone is more chromatic than this unless very pale or overexposed, see MIN_BASELINE_SHARE).
SCALE_NEUTRAL_CHROMA = 12.0
MIN_BASELINE_SHARE = 0.2
SCALE_NEUTRAL_FRACTION = 0.5
SCALE_MIN_B_STAR = -3.0  # b* above this: not bluish
SCALE_MIN_DELTA_WHITENESS = 20.0
# Keratin (yellowish or off-white scale): a* below the normal skin's median by this much (and by
# this many robust SDs of the skin's own a* noise), b* at most this much below the skin's, L* above
# the skin's low percentile and above the lesion's red by this much.
KERATIN_MIN_DROP_A = 5.0
KERATIN_NOISE_SIGMAS = 2.5
KERATIN_MAX_DROP_B = 2.0
KERATIN_MIN_DELTA_L = 5.0
# Yellow keratin and light-scale candidates count only in patches that survive an opening of this
# radius (fraction of the long side; pustules are narrower).
SCALE_SHEET_MIN_RADIUS_FRACTION = 1 / 128
# ... when yellow (as inference.morphology's pustule colour test: b* >= 12 and b* > a* + 5).
YELLOW_MIN_B_STAR = 12.0
YELLOW_MIN_B_OVER_A = 5.0
# Obvious keratin before the skin baseline is known: a* below this and b* above a* by this much.
KERATIN_MAX_A_STAR = 6.0
KERATIN_MIN_B_OVER_A = 12.0
# Light scale: L* above the normal skin's median by this much, a* at most this much above the skin's.
LIGHT_SCALE_DELTA_L = 10.0
LIGHT_SCALE_MAX_DELTA_A = 4.0
# Closing radius (fraction of the long side) of the red outline within which scale may start.
SCALE_HULL_FRACTION = 1 / 12
# Geodesic growth steps of scale away from red skin (each 2 px at 256 px, ~ 1/128 of the image).
SCALE_GROW_STEPS = 8
# Fewer skin pixels than this (at the working size) and nothing is measured.
MIN_SKIN_PIXELS = 2000
# Above this lesion share of the skin, contrast confidences are reduced (see _confidence_base).
WIDE_LESION_FRACTION = 0.7
# Reference (perilesional) skin darker than the lesion's non-scale part by more than this L* is not
# taken for normal skin (background or shadow). With fewer than MIN_REFERENCE_PIXELS reference
# pixels left, the baseline is this percentile of the lesion's own EI and contrast confidences are
# multiplied by WITHIN_LESION_CONFIDENCE (on top of the wide-lesion factor, see _confidence_base).
REFERENCE_MAX_DARKER_L = 5.0
MIN_REFERENCE_PIXELS = 200
WITHIN_LESION_BASELINE_PERCENTILE = 10.0
WITHIN_LESION_CONFIDENCE = 0.5
# Lesions smaller than this fraction of the skin are treated as "no lesion found".
MIN_LESION_FRACTION = 0.003

# ------------------------------------------------------------------ measurement -> 0-4 mappings
# Each table maps a measurement to a PASI 0-4 score by linear interpolation between anchors and
# clipping outside them.

# Erythema: 75th percentile EI of the non-scale part of the lesion minus the perilesional median (OD units).
# 0.03 -> 0 (indistinguishable), ~0.08 slight pink (1), ~0.15 red (2), ~0.23 very red (3),
# >= 0.32 deep red (4).
ERYTHEMA_PERCENTILE = 75.0
ERYTHEMA_DELTA_EI_ANCHORS = ((0.03, 0.0), (0.08, 1.0), (0.15, 2.0), (0.23, 3.0), (0.32, 4.0))

# Desquamation: fraction of the lesion covered by scale pixels.
# < 2 % none, ~10 % slight (1), ~25 % moderate (2), ~45 % marked (3), >= 65 % very marked (4).
SCALE_COVERAGE_ANCHORS = ((0.02, 0.0), (0.10, 1.0), (0.25, 2.0), (0.45, 3.0), (0.65, 4.0))

# Induration proxy: a raised plaque casts a shading rim (light on one side, shadow on the other)
# that makes the L* gradient at the border larger than a flat colour step would. Ratio of the
# measured border gradient to the expected flat-step gradient: 1 -> flat, ~3 -> markedly raised.
THICKNESS_EDGE_RATIO_ANCHORS = ((1.1, 0.0), (1.6, 1.0), (2.2, 2.0), (2.9, 3.0), (3.7, 4.0))
# Photos show thickness poorly; the edge proxy is blended with the E and D of the same lesion
# (the three PASI components are strongly correlated in plaque psoriasis) and reported with a low
# confidence.
THICKNESS_PRIOR_WEIGHT = 0.5
THICKNESS_CONFIDENCE = 0.25

# Melanin absorbs blue light about twice as strongly as green; haemoglobin absorbs green most
# (oxygenated blood: blue/green ~ 0.55). A lesion-minus-skin OD change with blue/green above this
# ratio is a pigment difference (vitiligo, post-inflammatory pigmentation, tanned vs untanned
# skin), which the erythema index cannot tell from redness: confidence is cut by the factor.
PIGMENT_RATIO = 1.2
PIGMENT_CONFIDENCE_FACTOR = 0.4
# Spectral shapes (OD in R, G, B, green = 1) for separating a lesion's OD change into shading,
# blood and melanin (`_melanin_excess`): oxygenated blood as drawn by `inference.synth`, melanin
# ~ lambda^-3.5 (as in tests/inference/test_attributes.py). Melanin adds 1 - 0.56 = 0.44 EI per unit.
_BLOOD_OD = (0.03, 1.0, 0.55)
MELANIN_OD = (0.56, 1.0, 2.0)
MELANIN_EI_PER_OD = MELANIN_OD[1] - MELANIN_OD[0]

# Colour class from the lesion-minus-perilesional OD change per channel (dR, dG, dB).
# Oxygenated haemoglobin barely absorbs red light, so a bright red lesion has dR/dG ~ 0; dusky,
# dark-red to purple lesions (deoxygenated blood, stasis, pigment) also absorb red: dR/dG rises.
COLOUR_DARK_RATIO = 0.3
# Below this EI contrast (~E 1.5) a red lesion reads as pale red (pink).
COLOUR_PALE_MAX_DELTA_EI = 0.115
# Scale score from which scale reads as thick (used by inference.morphology's thick/thin finding,
# and by the colour class: no dusky call on a thickly scaled lesion), and the colour confidence
# factor on such lesions.
THICK_SCALE_SCORE = 2.5
THICK_SCALE_COLOUR_CONFIDENCE = 0.5


@dataclass(frozen=True)
class LesionAnalysis:
    """Masks and maps behind the attributes (for overlays and tests), at the working size."""

    skin: np.ndarray  # bool: visible skin, lesion included
    lesion: np.ndarray  # bool
    scale: np.ndarray  # bool: scale pixels (inside or at the lesion)
    perilesional: np.ndarray  # bool: reference skin around the lesion
    redness: np.ndarray  # float32: EI minus the skin baseline (OD units)
    measured: dict[str, float] = field(default_factory=dict)


def _interp(value: float, anchors: tuple[tuple[float, float], ...]) -> float:
    xs = [a for a, _ in anchors]
    ys = [b for _, b in anchors]
    return float(np.interp(value, xs, ys))


# Order statistics (median, percentiles) over more pixels than this use an evenly strided subsample:
# deterministic, and at ~16k samples the estimate moves by far less than the anchor spacing.
_MAX_ORDER_SAMPLES = 16384


def _sample(values: np.ndarray) -> np.ndarray:
    step = values.shape[0] // _MAX_ORDER_SAMPLES
    return values[:: step] if step > 1 else values


def _channel_medians(values: np.ndarray) -> np.ndarray:
    """Per-channel medians of an [N, C] array (channels made contiguous first: much faster)."""
    return np.median(np.ascontiguousarray(_sample(values).T), axis=1)


def _median(values: np.ndarray) -> float:
    return float(np.median(_sample(values), axis=0))


def _percentile(values: np.ndarray, q: float) -> float:
    return float(np.percentile(_sample(values), q))


def _otsu_threshold(values: np.ndarray) -> float:
    """Otsu's threshold over a 1-D sample (histogram between the 1st and 99th percentiles)."""
    lo, hi = np.percentile(_sample(values), [1.0, 99.0])
    if hi - lo < 1e-6:
        return float(hi)
    hist, edges = np.histogram(values, bins=128, range=(lo, hi))
    centres = (edges[:-1] + edges[1:]) / 2.0
    weight = hist.astype(np.float64)
    w0 = np.cumsum(weight)
    w1 = w0[-1] - w0
    m0 = np.cumsum(weight * centres)
    mean0 = m0 / np.maximum(w0, 1.0)
    mean1 = (m0[-1] - m0) / np.maximum(w1, 1.0)
    between = w0 * w1 * (mean0 - mean1) ** 2
    return float(centres[int(np.argmax(between))])


def _robust_sd(values: np.ndarray) -> float:
    values = _sample(values)
    med = np.median(values)
    return float(1.4826 * np.median(np.abs(values - med)))


def _gradient_magnitude(channel: np.ndarray) -> np.ndarray:
    """Central-difference gradient magnitude (per pixel of the working image)."""
    padded = np.pad(channel, 1, mode="edge")
    gx = (padded[1:-1, 2:] - padded[1:-1, :-2]) * 0.5
    gy = (padded[2:, 1:-1] - padded[:-2, 1:-1]) * 0.5
    return np.hypot(gx, gy)


def _red_region(excess: np.ndarray, population: np.ndarray, margin: float, r_small: int) -> np.ndarray:
    """Seeds above `margin`, grown by hysteresis through connected pixels above a fraction of it."""
    seeds = masks.open_(population & (excess > margin), r_small)
    grow = population & (excess > LESION_GROW_FRACTION * margin)
    red = seeds
    for _ in range(4):  # geodesic dilation: grow the seeds only through connected red pixels
        red = grow & masks.dilate(red, 2 * r_small)
    return red | seeds


def analysis_array(image: Image.Image) -> np.ndarray:
    """The uint8 RGB array attributes are measured on: the image reduced to ANALYSIS_MAX_SIDE."""
    if max(image.size) > ANALYSIS_MAX_SIDE:
        factor = ANALYSIS_MAX_SIDE / max(image.size)
        size = (max(1, round(image.size[0] * factor)), max(1, round(image.size[1] * factor)))
        image = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(image.convert("RGB"))


def analyse(rgb: np.ndarray, skin_colour_raw: np.ndarray | None = None) -> LesionAnalysis:
    """Segment skin, lesion, scale and perilesional skin in a uint8 RGB image [H, W, 3]
    (use `analysis_array` to bring a photo to the working size first). `skin_colour_raw`:
    `colour.skin_mask(rgb)` when the caller already has it (the quality gate computes it too)."""
    h, w, _ = rgb.shape
    long_side = max(h, w)
    r_small = max(1, round(long_side / 256))
    r_ring = max(3, round(long_side / 40))
    r_close = max(3, round(long_side / 30))

    od = colour.optical_density(rgb)
    ei_raw = colour.erythema_index(od)
    ei = masks.box_mean(ei_raw, r_small)  # smoothed for segmentation; contrasts use ei_raw
    lab = colour.srgb_to_lab(rgb)
    lum = lab[..., 0]
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    skin_colour = masks.majority(colour.skin_mask(rgb) if skin_colour_raw is None else skin_colour_raw, r_small)
    empty = np.zeros((h, w), dtype=bool)
    measured: dict[str, float] = {"skin_pixels": float(skin_colour.sum())}
    if skin_colour.sum() < MIN_SKIN_PIXELS:
        return LesionAnalysis(skin_colour, empty, empty, empty, np.zeros((h, w), np.float32), measured)

    # Obvious scale (near-neutral and light) is kept out of the baseline estimate: on dark skin a
    # silvery plaque has a lower EI than the brown skin around it (melanin also raises EI) and
    # would otherwise pass for the "normal" population.
    skin_chroma = _median(chroma[skin_colour])
    whitish = (chroma < min(SCALE_NEUTRAL_CHROMA, SCALE_RELATIVE_CHROMA * skin_chroma)) & (lum > SCALE_MIN_L)
    whitish &= lab[..., 2] > SCALE_MIN_B_STAR
    # So is obvious yellowish keratin (thick plantar or palmar scale): light, yellow and with
    # almost no red (a* low), unlike skin of any tone. It has a LOWER EI than the skin it covers;
    # left in, it becomes the "normal" population on a scaly sole, and the patient's normal skin
    # the "lesion" (read as dark red-purple; the reviewed misreading, model card).
    keratin_like = (lum > SCALE_MIN_L) & (lab[..., 1] < KERATIN_MAX_A_STAR)
    keratin_like &= (lab[..., 2] >= YELLOW_MIN_B_STAR) & (lab[..., 2] > lab[..., 1] + KERATIN_MIN_B_OVER_A)
    population = skin_colour & ~masks.dilate(whitish | keratin_like, r_small)
    if population.sum() < MIN_BASELINE_SHARE * skin_colour.sum():
        population = skin_colour  # very pale or overexposed skin: near-neutral is the skin itself
    skin_ei = ei[population]
    split = _otsu_threshold(skin_ei)
    lower = skin_ei[skin_ei <= split]
    if lower.size < 0.05 * skin_ei.size:  # degenerate split: treat the skin as one population
        lower = skin_ei
    base0 = _median(lower)
    noise = _robust_sd(lower)
    margin = float(np.clip(LESION_NOISE_SIGMAS * noise, LESION_MIN_DELTA_EI, LESION_MAX_DELTA_EI))
    red = _red_region(ei - base0, population, margin, r_small)
    # Second pass against a local baseline: lighting colour and skin tone drift slowly across a
    # body part, so normal skin's EI is averaged over a large window of the pixels the first pass
    # called normal (falling back to the global baseline where there are too few of them).
    r_local = max(8, round(long_side * LOCAL_BASELINE_FRACTION))
    normal_first = population & ~masks.dilate(red, 2 * r_small)
    local_mean, local_count = masks.masked_box_mean(ei, normal_first, r_local)
    trust = np.clip(local_count / (LOCAL_BASELINE_MIN_SHARE * (2 * r_local + 1) ** 2), 0.0, 1.0)
    local_base = trust * local_mean + (1.0 - trust) * base0
    red = _red_region(ei - local_base, population, margin, r_small)

    # Normal-skin lightness from a low percentile: pinkish-white plaque parts that are neither
    # red enough to seed nor yet known as scale would pull a median up.
    normal = population & ~red
    lum_base = _percentile(lum[normal] if normal.any() else lum[skin_colour], SCALE_BASE_L_PERCENTILE)
    chroma_base = _median(chroma[normal] if normal.any() else chroma[skin_colour])
    chroma_limit = min(SCALE_MAX_CHROMA, SCALE_RELATIVE_CHROMA * chroma_base)
    # Whitish = greyer than the skin and lighter than it; on very pale skin scale is barely
    # lighter, so a near-neutral chroma alone also qualifies.
    lighter = lum > lum_base + SCALE_MIN_DELTA_L
    near_neutral = chroma < SCALE_NEUTRAL_FRACTION * chroma_base
    # Scale is neutral to yellowish white; bluish whites are sheets, drapes and walls.
    not_bluish = lab[..., 2] > SCALE_MIN_B_STAR
    # ... or clearly whiter than the skin by a whiteness index (L* - 3 C*): yellowish or pinkish
    # scale on pale skin is only a little less chromatic than the skin, but much lighter.
    whiteness = lum - 3.0 * chroma
    whiteness_base = _median(whiteness[normal] if normal.any() else whiteness[skin_colour])
    whiter = (whiteness > whiteness_base + SCALE_MIN_DELTA_WHITENESS) & (chroma < SCALE_MAX_CHROMA)
    scale_candidate = (((chroma < chroma_limit) & (lighter | near_neutral)) | whiter) & (lum > SCALE_MIN_L) & not_bluish
    # Real scale is often neither near-neutral nor much greyer than the skin, so the tests above
    # miss most of it on real photographs (graded DermNet photos, model card). Two more tests,
    # both relative to the patient's own normal skin and aimed at what scale lacks: blood.
    # - Keratin: thick scale (plantar and palmar keratin, crusted discoid plaques, pityriasis
    #   amiantacea) is off-white to yellowish and as chromatic as the skin, but clearly LESS RED
    #   than the skin (a* lower: no blood shows through it), not bluer (b*), not darker than the
    #   skin's low percentile, and lighter than the lesion's red.
    # - Light scale: silvery or off-white scale under a colour cast (tanned skin, pink- or
    #   yellow-tinted photos) is much LIGHTER than the skin and no redder than it.
    # Brown crust and shadows (darker), drapes (bluer) and red skin (redder) fail both.
    if normal.any() and red.any():
        normal_a = lab[..., 1][normal]
        a_base = _median(normal_a)
        a_noise = _robust_sd(normal_a)
        b_base = _median(lab[..., 2][normal])
        red_l = _median(lum[red])
        light_enough = (lum > SCALE_MIN_L) & not_bluish
        keratin = lab[..., 1] < a_base - max(KERATIN_MIN_DROP_A, KERATIN_NOISE_SIGMAS * a_noise)
        keratin &= (lab[..., 2] > b_base - KERATIN_MAX_DROP_B) & (lum > lum_base) & (lum > red_l + KERATIN_MIN_DELTA_L)
        light = (lum > _median(lum[normal]) + LIGHT_SCALE_DELTA_L) & (lab[..., 1] < a_base + LIGHT_SCALE_MAX_DELTA_A)
        # Yellowish candidates count only as sheets: a yellow dot narrower than ~1/64 of the photo
        # is a pustule (inference.morphology counts those), not scale.
        sheet_r = max(1, round(long_side * SCALE_SHEET_MIN_RADIUS_FRACTION))
        yellow = (lab[..., 2] >= YELLOW_MIN_B_STAR) & (lab[..., 2] > lab[..., 1] + YELLOW_MIN_B_OVER_A)
        extra = (keratin | light | keratin_like) & light_enough
        relative_scale = (extra & ~yellow) | masks.open_(extra & yellow, sheet_r)
    else:
        relative_scale = np.zeros_like(scale_candidate)
    # These relative tests lean on the "normal" population, which on real photos can include a
    # skin-coloured background: they only ever add scale on and next to the lesion, and they do not
    # remove pixels from the reference skin below (only the neutral-white candidate does).
    reference_exclusion = scale_candidate
    scale_candidate = scale_candidate | relative_scale
    # Scale starts on the plaque (inside its red outline, closed with a wide radius: thick scale can
    # cover most of a plaque with red showing only at the rim and in cracks) and grows through
    # connected candidate pixels.
    r_hull = max(r_close, round(long_side * SCALE_HULL_FRACTION))
    scale = scale_candidate & masks.close(masks.dilate(red, r_small), r_hull)
    for _ in range(SCALE_GROW_STEPS):
        scale = scale_candidate & masks.dilate(scale, 2 * r_small)
    lesion = masks.open_(masks.close(red | scale, r_small), r_small)
    if lesion.sum() < MIN_LESION_FRACTION * skin_colour.sum():
        lesion = empty
        scale = empty
    scale = scale & lesion
    skin = masks.close(skin_colour | lesion, r_small)

    ring = masks.dilate(lesion, r_ring) & ~masks.dilate(lesion, r_small)
    # Reference skin must be plausible NORMAL skin. With little normal skin in view (wide,
    # confluent disease; a close-up of one plaque), the few "non-lesional" pixels around the lesion
    # are often not skin at all but a skin-coloured background (wood, a floor, a purple wall) or a
    # deep shadow, much darker than the involved skin, and measured against them any skin reads as
    # deep red. Erythema darkens skin, so normal skin is not darker than the lesion's non-scale
    # part by more than REFERENCE_MAX_DARKER_L.
    core_first = lesion & ~scale_candidate
    plausible = lum >= _median(lum[core_first]) - REFERENCE_MAX_DARKER_L if core_first.any() else skin_colour
    peri = skin_colour & ring & ~reference_exclusion & plausible
    if peri.sum() < MIN_REFERENCE_PIXELS:
        peri = skin_colour & ~lesion & ~reference_exclusion & plausible
    if peri.sum() < MIN_REFERENCE_PIXELS and core_first.sum() >= MIN_REFERENCE_PIXELS:
        # No plausible normal skin at all: the least red part of the lesion is the reference, a
        # within-lesion contrast that under-reads uniform redness but cannot over-read it.
        peri = core_first & (ei_raw <= _percentile(ei_raw[core_first], WITHIN_LESION_BASELINE_PERCENTILE))
        within_lesion = True
    else:
        within_lesion = False
    reference = peri if peri.any() else skin_colour
    base_ei = _median(ei_raw[reference])
    redness = (ei - base_ei).astype(np.float32)

    measured.update(
        {
            "baseline_ei": base_ei,
            "skin_ei_noise": noise,
            "seed_margin": margin,
            "baseline_l_star": _median(lum[reference]),
            "lesion_pixels": float(lesion.sum()),
            "perilesional_pixels": float(peri.sum()),
            "reference_within_lesion": float(within_lesion),
        }
    )
    core = lesion & ~scale_candidate
    if lesion.any() and core.sum() >= 50:
        ref_od = _channel_medians(od[reference])
        core_od = _channel_medians(od[core])
        delta_od = core_od - ref_od
        ref_lab = _channel_medians(lab[reference])
        core_lab = _channel_medians(lab[core])
        measured.update(
            {
                # Upper percentile, not median: flake borders, the plaque's soft rim and relief
                # shadows mix skin or scale into many lesion pixels and only dilute redness.
                "delta_ei": _percentile(ei_raw[core], ERYTHEMA_PERCENTILE) - base_ei,
                "delta_od_r": float(delta_od[0]),
                "delta_od_g": float(delta_od[1]),
                "delta_od_b": float(delta_od[2]),
                "melanin_od": _melanin_excess(delta_od),
                "delta_a_star": float(core_lab[1] - ref_lab[1]),
                "delta_b_star": float(core_lab[2] - ref_lab[2]),
                "delta_l_star": float(core_lab[0] - ref_lab[0]),
                "lesion_hue_deg": float(np.degrees(np.arctan2(core_lab[2], core_lab[1]))),
                "core_pixels": float(core.sum()),
            }
        )
        # Thickness proxy: border gradient vs the gradient a flat colour step of the same
        # contrast would produce over the border band.
        band = masks.dilate(lesion, r_small) & ~masks.erode(lesion, r_small)
        grad = _gradient_magnitude(lum)
        step = abs(float(core_lab[0] - ref_lab[0]))
        flat_grad = step / (2 * r_small + 1) + _median(grad[reference])
        measured["edge_gradient"] = float(np.mean(grad[band])) if band.any() else 0.0
        measured["edge_ratio"] = measured["edge_gradient"] / max(flat_grad, 0.5)
        # Redness from blood only: the EI contrast minus what extra melanin in the lesion adds to it.
        measured["delta_ei_blood"] = measured["delta_ei"] - MELANIN_EI_PER_OD * measured["melanin_od"]
    measured["scale_coverage"] = float(scale.sum() / lesion.sum()) if lesion.any() else 0.0
    measured["area_fraction"] = float(lesion.sum() / max(skin.sum(), 1))
    measured["skin_fraction"] = float(skin.sum() / (h * w))
    return LesionAnalysis(skin, lesion, scale, peri, redness, measured)


def _melanin_excess(delta_od: np.ndarray) -> float:
    """Green-channel OD of the melanin the lesion has in EXCESS of its reference skin (0 if none).

    The lesion-minus-reference OD change (R, G, B) is split into three parts with known spectral
    shapes: shading or exposure (equal in every channel; EI cancels it), blood and melanin. Extra
    melanin raises EI too (it absorbs green more than red), so tanned, hyperpigmented or
    lichenified skin, and the normal skin next to a depigmented patch, read as red; real DermNet
    photos graded for erythema showed this on vitiligo, tinea and lichen simplex (model card). Only
    an excess is removed: a lesion with less melanin than its reference, or dusky blood that also
    absorbs red, is left as measured."""
    basis = np.array([(1.0, 1.0, 1.0), _BLOOD_OD, MELANIN_OD], dtype=np.float64).T
    _, _, melanin = np.linalg.solve(basis, np.asarray(delta_od, dtype=np.float64))
    return float(max(melanin, 0.0))


def _confidence_base(m: dict[str, float]) -> float:
    """How much the contrasts can be trusted, from the amount of lesion and reference skin and
    from the skin tone (erythema is harder to see, and to photograph, on dark skin)."""
    core = m.get("core_pixels", 0.0)
    peri = m.get("perilesional_pixels", 0.0)
    size = min(1.0, core / 1500.0) * min(1.0, peri / 1500.0)
    tone = float(np.clip((m.get("baseline_l_star", 60.0) - 15.0) / 35.0, 0.5, 1.0))
    # When most of the skin is called lesion, the "normal skin" baseline rests on little (or on
    # shading rather than on healthy skin): contrasts are less trustworthy.
    extent = 1.0 if m.get("area_fraction", 0.0) <= WIDE_LESION_FRACTION else 0.6
    if m.get("reference_within_lesion", 0.0):
        extent *= WITHIN_LESION_CONFIDENCE  # no normal skin at all: a within-lesion contrast
    pigment = PIGMENT_CONFIDENCE_FACTOR if _pigment_dominated(m) else 1.0
    return float(np.clip(0.9 * (0.4 + 0.6 * size) * tone * extent * pigment, 0.05, 0.9))


def _pigment_ratio(m: dict[str, float]) -> float:
    return m.get("delta_od_b", 0.0) / max(m.get("delta_od_g", 0.0), 1e-3)


def _pigment_dominated(m: dict[str, float]) -> bool:
    """True when the lesion/skin contrast has melanin's spectral shape rather than blood's."""
    return "delta_od_g" in m and m["delta_od_g"] > 0 and _pigment_ratio(m) > PIGMENT_RATIO


def _colour_class(m: dict[str, float], erythema: float, base_conf: float) -> tuple[str, float]:
    if erythema < 0.5 or "delta_od_g" not in m:
        return "none", base_conf * 0.8
    delta_ei = m.get("delta_ei_blood", m["delta_ei"])
    # The dusky ratio is read on the contrast left after removing a melanin-shaped excess (brown
    # pigment, brown keratin or crust also absorb red light: dR/dG of melanin is 0.56, "dusky").
    melanin = m.get("melanin_od", 0.0)
    d_g = max(m["delta_od_g"] - melanin, 1e-3)
    dark_ratio = (m["delta_od_r"] - MELANIN_OD[0] * melanin) / d_g
    # When scale is thick, the non-scale "core" is a rim and cracks between keratin, mixed with
    # its yellow-brown edges and shadows, which absorb red light as well: a dusky ratio there
    # describes keratin, not deoxygenated blood. Such lesions are called by their redness alone
    # (pale or bright), with a reduced confidence.
    scale_dominated = _interp(m.get("scale_coverage", 0.0), SCALE_COVERAGE_ANCHORS) >= THICK_SCALE_SCORE
    factor = THICK_SCALE_COLOUR_CONFIDENCE if scale_dominated else 1.0
    if dark_ratio >= COLOUR_DARK_RATIO and not scale_dominated:
        margin = (dark_ratio - COLOUR_DARK_RATIO) / COLOUR_DARK_RATIO
        return "dark_red_purple", base_conf * float(np.clip(0.5 + margin, 0.3, 1.0))
    if delta_ei < COLOUR_PALE_MAX_DELTA_EI:
        margin = (COLOUR_PALE_MAX_DELTA_EI - delta_ei) / 0.04
        return "pale_red", base_conf * factor * float(np.clip(0.5 + margin, 0.3, 1.0))
    margin = (delta_ei - COLOUR_PALE_MAX_DELTA_EI) / 0.04
    if not scale_dominated:
        margin = min(margin, (COLOUR_DARK_RATIO - dark_ratio) / 0.1)
    return "bright_red", base_conf * factor * float(np.clip(0.5 + margin, 0.3, 1.0))


def score(analysis: LesionAnalysis, source_ref: str | None = None) -> LesionAttributes:
    """PASI-scale attributes with their measured evidence from a `LesionAnalysis`; `source_ref`
    (the photo's FHIR reference) is attached to every piece of evidence."""
    m = analysis.measured
    has_lesion = bool(analysis.lesion.any()) and "delta_ei" in m
    base_conf = _confidence_base(m) if has_lesion else 0.5

    if has_lesion:
        e_value = _interp(m.get("delta_ei_blood", m["delta_ei"]), ERYTHEMA_DELTA_EI_ANCHORS)
        d_value = _interp(m["scale_coverage"], SCALE_COVERAGE_ANCHORS)
        edge_value = _interp(m.get("edge_ratio", 1.0), THICKNESS_EDGE_RATIO_ANCHORS)
        i_value = THICKNESS_PRIOR_WEIGHT * (e_value + d_value) / 2.0 + (1 - THICKNESS_PRIOR_WEIGHT) * edge_value
    else:
        e_value = d_value = i_value = edge_value = 0.0

    erythema_evidence = [
        Evidence(
            source_ref=source_ref,
            statement=t("lesion erythema index {get:+.3f} OD (a* {get2:+.1f}) above the patient's perilesional skin", get=m.get('delta_ei', 0.0), get2=m.get('delta_a_star', 0.0))
            if has_lesion
            else t("no region redder than the surrounding skin was found"),
        )
    ]
    if has_lesion and _pigment_dominated(m):
        erythema_evidence.append(
            Evidence(
                source_ref=source_ref,
                statement=t("the contrast has the spectral shape of pigment, not blood (blue/green OD ratio {pigment_ratio:.2f} > {PIGMENT_RATIO}): erythema may be overestimated, e.g. next to depigmented or hyperpigmented skin; confidence reduced", pigment_ratio=_pigment_ratio(m), PIGMENT_RATIO=PIGMENT_RATIO),
            )
        )
    erythema = AttributeScore(
        value=round(e_value, 3),
        confidence=round(base_conf, 3),
        evidence=tuple(erythema_evidence),
        measured={k: m[k] for k in ("delta_ei", "delta_ei_blood", "melanin_od", "delta_a_star", "baseline_ei", "baseline_l_star") if k in m},
    )
    scale = AttributeScore(
        value=round(d_value, 3),
        confidence=round(base_conf * 0.8, 3),
        evidence=(
            Evidence(
                source_ref=source_ref,
                statement=t("scale (whitish to yellowish, paler and less red than the skin) covers {value:.0f}% of the lesion", value=100 * m.get('scale_coverage', 0.0)),
            ),
        ),
        measured={"scale_coverage": m.get("scale_coverage", 0.0)},
    )
    thickness = AttributeScore(
        value=round(i_value, 3),
        confidence=round(THICKNESS_CONFIDENCE * (base_conf if has_lesion else 1.0), 3),
        evidence=(
            Evidence(
                source_ref=source_ref,
                statement=t("weak photographic proxy: border shading ratio {get:.2f} (edge score {edge_value:.1f}) blended with erythema and scale; confirm by palpation", get=m.get('edge_ratio', 0.0), edge_value=edge_value)
            ),
        ),
        measured={k: m[k] for k in ("edge_ratio", "edge_gradient") if k in m},
    )
    area = AttributeScore(
        value=round(m.get("area_fraction", 0.0), 4),
        confidence=round(base_conf * 0.9 if has_lesion else 0.6, 3),
        evidence=(
            Evidence(
                source_ref=source_ref,
                statement=t("lesion covers {value:.1f}% of the visible skin ({value2:.0f}% of the photo is skin)", value=100 * m.get('area_fraction', 0.0), value2=100 * m.get('skin_fraction', 0.0))
            ),
        ),
        measured={k: m[k] for k in ("area_fraction", "skin_fraction", "lesion_pixels") if k in m},
    )
    colour_class, colour_conf = _colour_class(m, e_value, base_conf)
    return LesionAttributes(
        erythema=erythema,
        scale=scale,
        thickness=thickness,
        area_fraction=area,
        colour_class=colour_class,
        colour_confidence=round(colour_conf, 3),
    )


def lesion_attributes(rgb: np.ndarray, source_ref: str | None = None) -> LesionAttributes:
    """Segment and score one uint8 RGB image [H, W, 3] (see `analysis_array`)."""
    return score(analyse(rgb), source_ref)
