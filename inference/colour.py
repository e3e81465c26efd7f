"""Colour spaces for skin analysis: sRGB -> linear, optical density, CIELAB, YCbCr, and a skin mask.

All functions take uint8 RGB arrays [H, W, 3] and are vectorised (lookup tables and matrix products),
so a 512 px image costs a few milliseconds.

Why optical density: skin colour is, to first order, light filtered by two absorbers, melanin and
haemoglobin (Beer-Lambert). In optical density OD = -log10(reflectance) their contributions add, so
the difference between a lesion and the patient's own surrounding skin cancels melanin (skin tone)
and overall illumination, and leaves the extra haemoglobin. The erythema index EI = OD_green -
OD_red (Dawson et al., Phys Med Biol 1980, the basis of reflectance erythema meters) is the
classic single number for it.
"""

from __future__ import annotations

import numpy as np

# Reflectances below this are treated as this (1/1000): avoids log(0) on black pixels and caps the
# noise of very dark pixels, where JPEG quantisation dominates.
_MIN_REFLECTANCE = 1e-3


def _srgb_to_linear_table() -> np.ndarray:
    v = np.arange(256, dtype=np.float64) / 255.0
    lin = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
    return lin.astype(np.float32)


SRGB_TO_LINEAR: np.ndarray = _srgb_to_linear_table()
OPTICAL_DENSITY: np.ndarray = (-np.log10(np.maximum(SRGB_TO_LINEAR, _MIN_REFLECTANCE))).astype(np.float32)

# sRGB (D65) linear RGB -> CIE XYZ, rows X, Y, Z (IEC 61966-2-1).
_RGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ],
    dtype=np.float32,
)
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883], dtype=np.float32)
# Matrix with the white point folded in (XYZ / white in one product), transposed for `lin @ M`.
_RGB_TO_XYZ_WHITE_T = np.ascontiguousarray((_RGB_TO_XYZ / _WHITE_D65[:, None]).T).astype(np.float32)
_LAB_EPSILON = 216.0 / 24389.0
_LAB_KAPPA = 24389.0 / 27.0


def linear_rgb(rgb: np.ndarray) -> np.ndarray:
    """uint8 sRGB [..., 3] -> float32 linear reflectance in [0, 1]."""
    return SRGB_TO_LINEAR[rgb]


def optical_density(rgb: np.ndarray) -> np.ndarray:
    """uint8 sRGB [..., 3] -> float32 optical density per channel (0 = white, 3 = black)."""
    return OPTICAL_DENSITY[rgb]


def erythema_index(od: np.ndarray) -> np.ndarray:
    """Dawson erythema index from optical density [..., 3]: OD_green - OD_red."""
    return od[..., 1] - od[..., 0]


def linear_to_lab(lin: np.ndarray) -> np.ndarray:
    """float32 linear RGB [..., 3] -> CIELAB [..., 3] (L* 0-100, a*, b*), D65 white."""
    xyz = lin @ _RGB_TO_XYZ_WHITE_T
    f = np.cbrt(xyz)
    small = xyz <= _LAB_EPSILON  # near-black: the linear segment of CIE f(t), rare in photos
    if small.any():
        f[small] = (_LAB_KAPPA * xyz[small] + 16.0) / 116.0
    lab = np.empty_like(f)
    lab[..., 0] = 116.0 * f[..., 1] - 16.0
    lab[..., 1] = 500.0 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200.0 * (f[..., 1] - f[..., 2])
    return lab


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 sRGB [..., 3] -> CIELAB float32 [..., 3]."""
    return linear_to_lab(linear_rgb(rgb))


def linear_to_srgb(lin: np.ndarray) -> np.ndarray:
    """float linear RGB [..., 3] -> uint8 sRGB (clipped, rounded)."""
    lin = np.clip(lin, 0.0, 1.0)
    v = np.where(lin <= 0.0031308, lin * 12.92, 1.055 * np.power(lin, 1.0 / 2.4) - 0.055)
    return np.clip(v * 255.0 + 0.5, 0, 255).astype(np.uint8)


def ycbcr(rgb: np.ndarray) -> np.ndarray:
    """uint8 sRGB [..., 3] -> float32 YCbCr (ITU-R BT.601 full range, as in JPEG)."""
    x = rgb.astype(np.float32)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    out = np.empty_like(x)
    out[..., 0] = 0.299 * r + 0.587 * g + 0.114 * b
    out[..., 1] = 128.0 - 0.168736 * r - 0.331264 * g + 0.5 * b
    out[..., 2] = 128.0 + 0.5 * r - 0.418688 * g - 0.081312 * b
    return out


# Skin-colour box in YCbCr. The classic Chai & Ngan (1999) box Cb 77-127 / Cr 133-173 covers
# unaffected skin from very light to very dark (chrominance barely depends on melanin, luminance
# does); it is widened towards high Cr and Cb so that red and violaceous plaques, which are skin
# too, are not cut out. Luma limits drop near-black and blown-out pixels, where chroma is noise.
SKIN_Y_MIN = 25.0
SKIN_Y_MAX = 250.0
SKIN_CB_MIN = 75.0
SKIN_CB_MAX = 135.0
SKIN_CR_MIN = 132.0
SKIN_CR_MAX = 200.0


def skin_mask(rgb: np.ndarray) -> np.ndarray:
    """bool [H, W]: pixels whose colour is plausible for human skin (lesional or not), any tone."""
    x = rgb.astype(np.float32)
    r32, g32, b32 = x[..., 0], x[..., 1], x[..., 2]
    y = 0.299 * r32 + 0.587 * g32 + 0.114 * b32
    cb = 128.0 + 0.564 * (b32 - y)  # = BT.601 full-range Cb, as in ycbcr()
    cr = 128.0 + 0.713 * (r32 - y)
    r = rgb[..., 0].astype(np.int16)
    g = rgb[..., 1].astype(np.int16)
    bl = rgb[..., 2].astype(np.int16)
    # Skin reflects more red than green and blue at every tone; this excludes orange-free
    # greenish/blueish objects that happen to fall inside the chroma box.
    hue_ok = (r >= g) & (r >= bl)
    return (
        (y >= SKIN_Y_MIN)
        & (y <= SKIN_Y_MAX)
        & (cb >= SKIN_CB_MIN)
        & (cb <= SKIN_CB_MAX)
        & (cr >= SKIN_CR_MIN)
        & (cr <= SKIN_CR_MAX)
        & hue_ok
    )
