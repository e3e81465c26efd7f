"""Procedural renderer of psoriasis-like plaques with known ground truth, for tests and the demo.

Not a photo generator: a controlled physical toy in which every attribute DERM-Rec measures has a
known true value, on skin tones from very light to very dark. Skin is modelled the way
`inference.colour` reads it: optical density (OD) per RGB channel is the sum of the patient's base
skin (melanin) and extra haemoglobin in the plaque (Beer-Lambert), so "erythema level 2" means the
same amount of extra blood on every skin tone, and shows less on dark skin, as in life.

What is rendered (all seedable; same spec -> same bytes):
- skin: a body-part-shaped region over a non-skin drape, Fitzpatrick I-VI-like base colours,
  low-frequency mottling, an illumination gradient, sensor noise;
- plaques: irregular blobs whose union covers `area_fraction` of the skin exactly (the threshold
  is the quantile of a random field over the skin pixels);
- erythema: haemoglobin OD with a spectrum per colour class (oxygenated for bright/pale red;
  red-absorbing, dusky for dark red-purple), amount set by the PASI erythema level;
- scale: whitish flakes covering a level-dependent share of the plaque (more towards its centre);
- thickness: relief shading at the plaque border (light from the upper left), sharper borders for
  thicker plaques.

The level -> physical-quantity tables below are the *definition* of the synthetic ground truth;
`inference.attributes` has its own, independently named anchor tables for the inverse mapping.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image, ImageFilter

from inference import colour, masks

# Base skin colours (sRGB) loosely following Fitzpatrick types I-VI.
SKIN_TONES: dict[int, tuple[int, int, int]] = {
    1: (245, 220, 204),
    2: (232, 193, 168),
    3: (210, 163, 128),
    4: (178, 126, 92),
    5: (128, 86, 60),
    6: (84, 56, 42),
}
DRAPE_SRGB = (92, 112, 138)  # blue-grey surgical drape: clearly not skin

COLOUR_CLASSES = ("bright_red", "pale_red", "dark_red_purple")

# Haemoglobin OD spectrum (R, G, B) per unit concentration, per colour class. Oxygenated blood
# barely absorbs red; the dusky class (deoxygenated blood, stasis) absorbs red as well.
_HB_SPECTRUM: dict[str, tuple[float, float, float]] = {
    "bright_red": (0.03, 1.0, 0.55),
    "pale_red": (0.03, 1.0, 0.55),
    "dark_red_purple": (0.5, 1.0, 0.45),
}
# Erythema level -> extra erythema index (OD_green - OD_red) of the plaque over the skin.
TRUE_DELTA_EI_BY_LEVEL = (0.0, 0.08, 0.15, 0.23, 0.32)
# Scale level -> share of the plaque covered by scale.
TRUE_SCALE_COVERAGE_BY_LEVEL = (0.0, 0.10, 0.25, 0.45, 0.65)
# Thickness level -> relief shading gain and border softness (fraction of the long side).
_RELIEF_GAIN_BY_LEVEL = (0.0, 0.35, 0.7, 1.05, 1.4)
_EDGE_SOFTNESS_BY_LEVEL = (0.010, 0.008, 0.006, 0.004, 0.0025)
_SCALE_SRGB = (236, 233, 228)
# Yellowish plantar/palmar keratin (thick scale on soles and palms, crusted plaques): as chromatic
# as light skin but yellower and far less red.
KERATIN_SRGB = (226, 206, 160)
_SCALE_OPACITY = 0.85


@dataclass(frozen=True)
class PlaqueSpec:
    """What to render. Levels are PASI 0-4 (fractional values allowed)."""

    skin_tone: int = 3  # 1-6, see SKIN_TONES
    erythema: float = 2.0
    scale: float = 2.0
    thickness: float = 2.0
    area_fraction: float = 0.25  # of the visible skin
    colour_class: str = "bright_red"
    width: int = 640
    height: int = 480
    n_plaques: int = 5
    skin_cover: float = 0.75  # share of the frame that is skin
    illumination_gradient: float = 0.25  # brightness change across the frame (x0.75 .. x1.25)
    seed: int = 0
    # Morphology extras (defaults leave every existing render byte-identical):
    pustules: int = 0  # yellowish-white pustules (2-4 mm-like dots) scattered over the plaques
    plaque_scale: float = 1.0  # plaque radius factor; ~0.2 with many plaques gives guttate-like papules
    scale_srgb: tuple[int, int, int] | None = None  # scale colour (None: silvery white); e.g. KERATIN_SRGB


@dataclass(frozen=True)
class GroundTruth:
    """True values of a rendered image, measured on the rendered masks (not just the spec)."""

    skin_tone: int
    erythema: float
    scale: float
    thickness: float
    colour_class: str  # "none" when erythema < 0.5
    area_fraction: float  # lesion pixels / skin pixels
    scale_coverage: float  # scale pixels / lesion pixels
    skin_fraction: float  # skin pixels / all pixels
    seed: int
    width: int
    height: int

    def to_dict(self) -> dict[str, float | int | str]:
        return asdict(self)


@dataclass(frozen=True)
class SynthImage:
    image: Image.Image
    truth: GroundTruth
    lesion_mask: np.ndarray  # bool [H, W]
    skin_mask: np.ndarray  # bool [H, W]


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cells: int) -> np.ndarray:
    """Band-limited noise: a coarse Gaussian grid bicubically upsampled, roughly unit variance."""
    gw = max(2, cells)
    gh = max(2, round(cells * height / width))
    grid = rng.standard_normal((gh, gw)).astype(np.float32)
    up = Image.fromarray(grid, mode="F").resize((width, height), Image.Resampling.BICUBIC)
    return np.asarray(up, dtype=np.float32)


def _od_of(srgb: tuple[int, int, int]) -> np.ndarray:
    return colour.optical_density(np.array(srgb, dtype=np.uint8))


def _level(table: tuple[float, ...], level: float) -> float:
    return float(np.interp(level, np.arange(len(table)), table))


def _skin_region(rng: np.random.Generator, spec: PlaqueSpec) -> np.ndarray:
    h, w = spec.height, spec.width
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx = w * (0.5 + 0.08 * rng.uniform(-1, 1))
    cy = h * (0.5 + 0.08 * rng.uniform(-1, 1))
    field = ((xx - cx) / w) ** 2 + ((yy - cy) / h) ** 2 * 1.6 + 0.02 * _smooth_noise(rng, h, w, 5)
    threshold = np.quantile(field, spec.skin_cover)
    return field <= threshold


def _lesion_region(rng: np.random.Generator, spec: PlaqueSpec, skin: np.ndarray) -> np.ndarray:
    h, w = spec.height, spec.width
    if spec.area_fraction <= 0:
        return np.zeros_like(skin)
    ys, xs = np.nonzero(masks.erode(skin, max(2, w // 20)))
    if ys.size == 0:
        ys, xs = np.nonzero(skin)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    field = np.zeros((h, w), dtype=np.float32)
    picks = rng.integers(0, ys.size, size=spec.n_plaques)
    for y, x in zip(ys[picks], xs[picks], strict=True):
        rx = w * rng.uniform(0.06, 0.16) * spec.plaque_scale
        ry = rx * rng.uniform(0.5, 1.0)
        field += np.exp(-(((xx - x) / rx) ** 2 + ((yy - y) / ry) ** 2))
    field += 0.25 * _smooth_noise(rng, h, w, 14)
    threshold = np.quantile(field[skin], 1.0 - min(spec.area_fraction, 0.98))
    return skin & (field > threshold)


_PUSTULE_SRGB = (246, 232, 176)  # creamy yellow-white pus


def _add_pustules(lin: np.ndarray, lesion: np.ndarray, spec: PlaqueSpec) -> np.ndarray:
    """Soft yellowish-white domes on the plaques, each with a thin red halo. Drawn from their own
    random stream so the rest of the render (and every render without pustules) is unchanged."""
    rng = np.random.default_rng([spec.seed, 7])
    h, w = lesion.shape
    long_side = max(h, w)
    ys, xs = np.nonzero(lesion)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dome = np.zeros((h, w), dtype=np.float32)
    for i in rng.integers(0, ys.size, size=spec.pustules):
        r = long_side * rng.uniform(0.004, 0.007)
        d2 = ((yy - ys[i]) ** 2 + (xx - xs[i]) ** 2) / (r * r)
        dome = np.maximum(dome, np.clip(1.5 - d2, 0.0, 1.0))
    halo = np.clip(masks.box_mean(dome, max(1, round(long_side * 0.004))) * 1.5 - dome, 0.0, 1.0)
    pus = colour.linear_rgb(np.array(_PUSTULE_SRGB, dtype=np.uint8))
    lin = lin * (1.0 - 0.35 * halo[..., None] * np.array([0.0, 1.0, 0.8], dtype=np.float32))
    return lin * (1.0 - dome[..., None]) + dome[..., None] * pus


def render(spec: PlaqueSpec) -> SynthImage:
    """Render one image with plaques described by `spec`; deterministic for a given spec."""
    if spec.skin_tone not in SKIN_TONES:
        raise ValueError(f"skin_tone must be one of {sorted(SKIN_TONES)}")
    if spec.colour_class not in COLOUR_CLASSES:
        raise ValueError(f"colour_class must be one of {COLOUR_CLASSES}")
    rng = np.random.default_rng(spec.seed)
    h, w = spec.height, spec.width
    long_side = max(h, w)
    skin = _skin_region(rng, spec)
    lesion = _lesion_region(rng, spec, skin)

    # Optical density of skin: base tone + mottling; plaques add haemoglobin.
    od = np.broadcast_to(_od_of(SKIN_TONES[spec.skin_tone]), (h, w, 3)).copy()
    od += 0.025 * _smooth_noise(rng, h, w, 10)[..., None]
    spectrum = np.array(_HB_SPECTRUM[spec.colour_class], dtype=np.float32)
    delta_ei = _level(TRUE_DELTA_EI_BY_LEVEL, spec.erythema)
    concentration = delta_ei / float(spectrum[1] - spectrum[0])
    edge_r = max(1, round(_level(_EDGE_SOFTNESS_BY_LEVEL, spec.thickness) * long_side))
    alpha = masks.box_mean(lesion.astype(np.float32), edge_r)
    od += alpha[..., None] * concentration * spectrum
    lin = np.power(10.0, -od)

    # Relief shading of raised plaques: derivative of a smoothed height map along the light
    # direction (from the upper left).
    relief = _level(_RELIEF_GAIN_BY_LEVEL, spec.thickness)
    if relief > 0 and lesion.any():
        height_map = masks.box_mean(lesion.astype(np.float32), max(2, round(0.006 * long_side)))
        gy, gx = np.gradient(height_map)
        shade = -(gx + gy) * relief * max(2, round(0.006 * long_side))
        lin *= np.clip(1.0 + shade, 0.3, 1.8)[..., None]

    # Scale flakes, concentrated towards the plaque centre.
    coverage = _level(TRUE_SCALE_COVERAGE_BY_LEVEL, spec.scale)
    scale = np.zeros_like(lesion)
    if coverage > 0 and lesion.any():
        depth = masks.box_mean(lesion.astype(np.float32), max(2, round(0.02 * long_side)))
        flakes = _smooth_noise(rng, h, w, max(8, w // 10)) + 0.5 * _smooth_noise(rng, h, w, max(8, w // 4))
        flakes = flakes + 2.0 * depth
        threshold = np.quantile(flakes[lesion], 1.0 - coverage)
        scale = lesion & (flakes > threshold)
        scale_lin = colour.linear_rgb(np.array(spec.scale_srgb or _SCALE_SRGB, dtype=np.uint8))
        texture = 1.0 + 0.06 * _smooth_noise(rng, h, w, max(8, w // 3))
        mix = np.where(scale, _SCALE_OPACITY, 0.0)[..., None]
        lin = lin * (1 - mix) + mix * scale_lin * texture[..., None]

    if spec.pustules > 0 and lesion.any():
        lin = _add_pustules(lin, lesion, spec)

    # Drape outside the skin, then global illumination and sensor noise.
    drape = colour.linear_rgb(np.array(DRAPE_SRGB, dtype=np.uint8)) * (1.0 + 0.05 * _smooth_noise(rng, h, w, 4))[..., None]
    lin = np.where(skin[..., None], lin, drape)
    ramp = np.linspace(1.0 - spec.illumination_gradient, 1.0 + spec.illumination_gradient, w, dtype=np.float32)
    lin = lin * ramp[None, :, None]
    srgb = colour.linear_to_srgb(lin).astype(np.float32)
    srgb += rng.normal(0.0, 1.5, size=srgb.shape).astype(np.float32)
    pixels = np.clip(srgb + 0.5, 0, 255).astype(np.uint8)

    erythema = float(spec.erythema)
    truth = GroundTruth(
        skin_tone=spec.skin_tone,
        erythema=erythema,
        scale=float(spec.scale),
        thickness=float(spec.thickness),
        colour_class=spec.colour_class if erythema >= 0.5 and lesion.any() else "none",
        area_fraction=float(lesion.sum() / max(skin.sum(), 1)),
        scale_coverage=float(scale.sum() / max(lesion.sum(), 1)),
        skin_fraction=float(skin.mean()),
        seed=spec.seed,
        width=w,
        height=h,
    )
    return SynthImage(Image.fromarray(pixels, "RGB"), truth, lesion, skin)


def jpeg_bytes(image: Image.Image, quality: int = 90) -> bytes:
    """Encode as baseline JPEG (deterministic for the same pixels and Pillow/libjpeg build)."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue()


def render_jpeg(spec: PlaqueSpec, quality: int = 90) -> tuple[bytes, GroundTruth]:
    rendered = render(spec)
    return jpeg_bytes(rendered.image, quality), rendered.truth


# ------------------------------------------------------------------ negative / bad-quality variants


def render_non_skin(seed: int = 0, width: int = 640, height: int = 480) -> Image.Image:
    """A green-blue foliage-like texture with no skin colours (for the "not skin" gate)."""
    rng = np.random.default_rng(seed)
    base = np.array([60, 120, 70], dtype=np.float32)
    tint = np.array([20, 30, 60], dtype=np.float32)
    n1 = _smooth_noise(rng, height, width, 12)[..., None]
    n2 = _smooth_noise(rng, height, width, 40)[..., None]
    pixels = base + 25 * n1 + tint * n2 + rng.normal(0, 3, size=(height, width, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def blurred(image: Image.Image, radius_fraction: float = 0.015) -> Image.Image:
    """Gaussian blur with a radius given as a fraction of the long side (resolution independent)."""
    return image.filter(ImageFilter.GaussianBlur(radius=radius_fraction * max(image.size)))


def exposure(image: Image.Image, gain: float) -> Image.Image:
    """Scale linear light by `gain` (< 1 underexposed, > 1 overexposed, clipped)."""
    lin = colour.linear_rgb(np.asarray(image.convert("RGB"))) * gain
    return Image.fromarray(colour.linear_to_srgb(lin), "RGB")


# ------------------------------------------------------------------ the committed demo set

# One synthetic patient with moderate plaque psoriasis photographed at two visits (the second after
# treatment): file name -> (PASI region, date taken, spec). Regenerate with
# `python -c "from inference.synth import write_demo_set; write_demo_set('inference/demo_images')"`.
DEMO_SET: dict[str, tuple[str, str, PlaqueSpec]] = {
    "2026-08-14_head.jpg": (
        "head",
        "2026-08-14T10:05:00+00:00",
        PlaqueSpec(3, 3.0, 3.0, 2.5, 0.18, "bright_red", seed=801, n_plaques=3),
    ),
    "2026-08-14_upper_limbs.jpg": (
        "upper_limbs",
        "2026-08-14T10:07:00+00:00",
        PlaqueSpec(3, 3.0, 2.5, 2.5, 0.25, "bright_red", seed=802),
    ),
    "2026-08-14_trunk.jpg": (
        "trunk",
        "2026-08-14T10:09:00+00:00",
        PlaqueSpec(3, 3.5, 3.0, 3.0, 0.35, "bright_red", seed=803, n_plaques=7),
    ),
    "2026-08-14_lower_limbs.jpg": (
        "lower_limbs",
        "2026-08-14T10:11:00+00:00",
        PlaqueSpec(3, 3.0, 3.0, 3.0, 0.30, "bright_red", seed=804),
    ),
    "2026-11-13_head.jpg": (
        "head",
        "2026-11-13T09:32:00+00:00",
        PlaqueSpec(3, 1.5, 1.5, 1.0, 0.08, "pale_red", seed=811, n_plaques=3),
    ),
    "2026-11-13_upper_limbs.jpg": (
        "upper_limbs",
        "2026-11-13T09:34:00+00:00",
        PlaqueSpec(3, 2.0, 1.5, 1.5, 0.12, "bright_red", seed=812),
    ),
    "2026-11-13_trunk.jpg": (
        "trunk",
        "2026-11-13T09:36:00+00:00",
        PlaqueSpec(3, 2.0, 2.0, 1.5, 0.15, "bright_red", seed=813, n_plaques=7),
    ),
    "2026-11-13_lower_limbs.jpg": (
        "lower_limbs",
        "2026-11-13T09:38:00+00:00",
        PlaqueSpec(3, 2.0, 2.0, 2.0, 0.15, "bright_red", seed=814),
    ),
}
DEMO_JPEG_QUALITY = 85


def write_demo_set(directory: str) -> dict[str, dict[str, object]]:
    """Render DEMO_SET into `directory` and write `ground_truth.json` beside the JPEGs."""
    import json
    from pathlib import Path

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    truths: dict[str, dict[str, object]] = {}
    for name, (region, taken, spec) in DEMO_SET.items():
        data, truth = render_jpeg(spec, quality=DEMO_JPEG_QUALITY)
        (out / name).write_bytes(data)
        truths[name] = {"region": region, "taken": taken, **truth.to_dict()}
    (out / "ground_truth.json").write_text(json.dumps(truths, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return truths
