"""Explanatory overlays for the review app: what DERM-Rec measured, drawn over the photo.

`render_overlays(data)` returns PNGs at the analysis size (384 px long side), keyed:
- "lesion_outline": the lesion mask outline (cyan) over the photo;
- "redness": the erythema-index contrast to the patient's own skin as a heat map over a dimmed,
  greyscale photo (transparent where it is not skin or not redder than the skin);
- "scale": scale pixels (blue) and the lesion outline over a greyscale photo.
Raises `imaging.ImageError` for bytes that cannot be decoded (same rules as DERM-Rec).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from inference import masks
from inference.attributes import ERYTHEMA_DELTA_EI_ANCHORS, LesionAnalysis, analyse, analysis_array
from inference.imaging import decode_image

_OUTLINE_RGB = np.array([0, 255, 255], dtype=np.float32)
_SCALE_RGB = np.array([40, 90, 255], dtype=np.float32)
# Redness shown saturates at the contrast that scores erythema 4.
_REDNESS_FULL_SCALE = ERYTHEMA_DELTA_EI_ANCHORS[-1][0]


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def _grey(rgb: np.ndarray, dim: float) -> np.ndarray:
    luma = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.repeat((luma * dim)[..., None], 3, axis=2)


def _outline(analysis: LesionAnalysis) -> np.ndarray:
    return masks.dilate(masks.inner_boundary(analysis.lesion), 1)


def _heat(level: np.ndarray) -> np.ndarray:
    """0-1 -> dark red .. red .. yellow ramp (float RGB 0-255)."""
    r = np.clip(level * 2.0, 0.0, 1.0) * 155.0 + 100.0
    g = np.clip(level * 2.0 - 1.0, 0.0, 1.0) * 230.0
    b = np.zeros_like(level)
    return np.stack([r, g, b], axis=-1)


def overlays_for(rgb: np.ndarray, analysis: LesionAnalysis) -> dict[str, bytes]:
    """PNG overlays for an analysis-size uint8 RGB array and its `LesionAnalysis`."""
    outline = _outline(analysis)

    lesion_view = rgb.astype(np.float32)
    lesion_view[outline] = _OUTLINE_RGB

    level = np.clip(analysis.redness / _REDNESS_FULL_SCALE, 0.0, 1.0)
    alpha = np.where(analysis.skin & (level > 0.05), 0.35 + 0.5 * level, 0.0)[..., None]
    redness_view = _grey(rgb, 0.6) * (1.0 - alpha) + _heat(level) * alpha

    scale_view = _grey(rgb, 0.8)
    scale_view[analysis.scale] = 0.3 * scale_view[analysis.scale] + 0.7 * _SCALE_RGB
    scale_view[outline] = _OUTLINE_RGB

    def to_u8(x: np.ndarray) -> np.ndarray:
        return np.clip(x + 0.5, 0, 255).astype(np.uint8)

    return {
        "lesion_outline": _png(to_u8(lesion_view)),
        "redness": _png(to_u8(redness_view)),
        "scale": _png(to_u8(scale_view)),
    }


def render_overlays(data: bytes, content_type: str | None = None) -> dict[str, bytes]:
    """Decode untrusted photo bytes and render the three explanatory overlays as PNG bytes."""
    rgb = analysis_array(decode_image(data, content_type).image)
    return overlays_for(rgb, analyse(rgb))
