"""The photo quality gate: is this photo good enough to score, and if not, what should be retaken?

Each check records its metric (QualityReport.metrics) and, when it fails, an actionable reason in
plain English. A photo that fails a blocking check is `usable=False` and is not scored; softer
findings (little skin in frame, declared type mismatch) are reported as notes on a usable photo.

Metrics are computed on the analysis-size image (`attributes.analysis_array`, 384 px long side),
so thresholds do not depend on the camera's resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inference import colour, masks
from inference.imaging import DecodedImage, ImageError
from inference.results import QualityReport
from inference.i18n import t


@dataclass(frozen=True)
class QualityThresholds:
    """Gate thresholds. The sharpness threshold was set on 60 DermNet photos of assorted conditions
    (variance of the Laplacian over the skin at 384 px: 47-730) and the same photos blurred by a
    Gaussian of 0.5 % of the long side plus sensor noise (5-15): 30 sits between the two."""

    min_short_side: int = 224  # px of the stored photo; below the lesion model's input size
    min_sharpness: float = 30.0  # variance of the Laplacian of luma at the analysis size
    min_bright_luma: float = 50.0  # 95th percentile of luma: below it the photo is too dark
    min_mean_luma: float = 30.0
    max_clipped_fraction: float = 0.30  # share of pixels with every channel >= 245 (blown out)
    min_skin_fraction: float = 0.08  # below: not a skin photo (blocking)
    low_skin_fraction: float = 0.20  # below: usable, but note that little skin is in frame


DEFAULT_THRESHOLDS = QualityThresholds()
# A pixel is blown out when even its darkest channel is near white: bright, pale skin legitimately
# saturates the red channel, a flash-burnt area saturates all three.
_CLIP_LEVEL = 245
_MIN_SHARPNESS_PIXELS = 2000
_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # BT.601, as colour.ycbcr


def _laplacian_variance(luma: np.ndarray, region: np.ndarray | None) -> float:
    """Variance of the 4-neighbour Laplacian, over `region` when given (the skin: a smooth drape or
    wall around a sharp lesion must not make the photo look blurred)."""
    if min(luma.shape) < 3:  # no interior pixel: a Laplacian is undefined (its variance would be NaN)
        return 0.0
    lap = 4.0 * luma[1:-1, 1:-1] - luma[:-2, 1:-1] - luma[2:, 1:-1] - luma[1:-1, :-2] - luma[1:-1, 2:]
    if region is not None:
        inner = region[1:-1, 1:-1]
        if inner.sum() >= _MIN_SHARPNESS_PIXELS:
            return float(lap[inner].var())
    return float(lap.var())


def quality_metrics(decoded: DecodedImage, rgb: np.ndarray, skin_colour_raw: np.ndarray | None = None) -> dict[str, float]:
    """Measurements behind the gate, for the report and for the clinician-facing metrics
    (`skin_colour_raw`: `colour.skin_mask(rgb)` when the caller already has it)."""
    luma = rgb.astype(np.float32) @ _LUMA_WEIGHTS
    skin = masks.majority(colour.skin_mask(rgb) if skin_colour_raw is None else skin_colour_raw, 1)
    return {
        "width": float(decoded.original_width),
        "height": float(decoded.original_height),
        "analysis_width": float(rgb.shape[1]),
        "analysis_height": float(rgb.shape[0]),
        "sharpness": round(_laplacian_variance(luma, masks.dilate(skin, 2)), 3),
        "mean_luma": round(float(luma.mean()), 3),
        "luma_p95": round(float(np.percentile(luma, 95)), 3),
        "clipped_fraction": round(float((rgb.min(axis=2) >= _CLIP_LEVEL).mean()), 4),
        "skin_fraction": round(float(skin.mean()), 4),
    }


def assess_quality(
    decoded: DecodedImage,
    rgb: np.ndarray,
    thresholds: QualityThresholds = DEFAULT_THRESHOLDS,
    skin_colour_raw: np.ndarray | None = None,
) -> QualityReport:
    """Gate one decoded photo; `rgb` is its analysis-size uint8 array (`skin_colour_raw` as in
    `quality_metrics`)."""
    m = quality_metrics(decoded, rgb, skin_colour_raw)
    blocking: list[str] = []
    notes: list[str] = []
    short_side = min(decoded.original_width, decoded.original_height)
    if short_side < thresholds.min_short_side:
        blocking.append(
            t("image is too small ({original_width}x{original_height} px): send the original photo, at least {min_short_side} px on the short side", original_width=decoded.original_width, original_height=decoded.original_height, min_short_side=thresholds.min_short_side)
        )
    dark = m["luma_p95"] < thresholds.min_bright_luma or m["mean_luma"] < thresholds.min_mean_luma
    if dark:
        blocking.append(t("image is too dark: retake with more light (no flash glare) or increase exposure"))
    if m["clipped_fraction"] > thresholds.max_clipped_fraction:
        blocking.append(
            t("image is overexposed ({value:.0f}% blown-out pixels): retake without direct flash or with lower exposure", value=100 * m['clipped_fraction'])
        )
    # Blur is only judged on a properly exposed photo: darkness also flattens the Laplacian.
    if not dark and m["sharpness"] < thresholds.min_sharpness:
        blocking.append(
            t("image is blurred (sharpness {sharpness:.0f} < {min_sharpness:.0f}): retake with the camera steady and the lesion in focus", sharpness=m['sharpness'], min_sharpness=thresholds.min_sharpness)
        )
    if not dark and m["skin_fraction"] < thresholds.min_skin_fraction:
        blocking.append(
            t("no skin found ({value:.0f}% of the image is skin-coloured): check that this is a photo of the affected skin", value=100 * m['skin_fraction'])
        )
    elif not dark and m["skin_fraction"] < thresholds.low_skin_fraction:
        notes.append(
            t("note: little skin in frame ({value:.0f}%): area estimates are less reliable; frame the affected area closer", value=100 * m['skin_fraction'])
        )
    if decoded.content_type_mismatch:
        notes.append(t("note: declared content type does not match the image data (decoded as {format})", format=decoded.format))
    return QualityReport(usable=not blocking, reasons=tuple(blocking + notes), metrics=m)


NOVELTY_KEY = "novelty"
NOT_SKIN_REASON = t(
    "this does not look like a clinical photo of skin (it resembles an object, document, texture or "
    "scan): check that the right image was attached, or retake it with the affected skin filling most "
    "of the frame"
)


def learned_gate(
    quality: QualityReport,
    skin_probability: float | None,
    threshold: float | None,
    *,
    novelty: float | None = None,
    novelty_threshold: float | None = None,
) -> QualityReport:
    """The learned skin / not-skin checks of the lesion model, run in the same model call:

    - the `skin` head (a logistic head on the embedding, trained on DermNet photos and generated skin
      renders against generated objects, documents, textures, shapes and greyscale scans): refused
      below `threshold`;
    - the novelty score (distance of the photo's frozen ImageNet features from the subspace that
      clinical skin photos occupy; needs no examples of what is not skin, so it also catches the real
      objects the head was never shown): refused above `novelty_threshold`.

    Returns `quality` with the values in its metrics, refused (usable=False, with an actionable
    reason) when either check fails; unchanged when the model has neither. Both complement the colour
    heuristic above, which accepts anything skin-coloured (wood, sand, a red disc on beige)."""
    metrics = dict(quality.metrics)
    refused = False
    if skin_probability is not None and threshold is not None:
        metrics["skin_probability"] = round(float(skin_probability), 4)
        refused = skin_probability < threshold
    if novelty is not None and novelty_threshold is not None:
        metrics["novelty"] = round(float(novelty), 3)
        refused = refused or novelty > novelty_threshold
    if metrics == quality.metrics:
        return quality
    if not refused:
        return QualityReport(usable=quality.usable, reasons=quality.reasons, metrics=metrics)
    return QualityReport(usable=False, reasons=(NOT_SKIN_REASON, *quality.reasons), metrics=metrics)


def unusable_report(error: ImageError) -> QualityReport:
    """The quality report of a photo that could not be decoded at all."""
    return QualityReport(usable=False, reasons=(error.message,), metrics={"decode_error": 1.0})
