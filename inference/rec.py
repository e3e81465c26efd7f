"""DERM-Rec: one reading per photograph (quality, condition probabilities, lesion attributes).

For a request with N photos: each photo is decoded once (`imaging.decode_image`, early JPEG
downscale), gated (`quality`), and every usable photo goes into ONE batched model call (all its
test-time views, `LesionModel.read_photos`; a model without views gets one `predict` call). The same
call yields the learned skin check (`quality.learned_gate`): a photo it refuses is never scored.
Lesion attributes and morphology (`inference.morphology`) are measured on the same decoded image,
from one segmentation. A photo that cannot be decoded or fails the gate becomes
`RecResult(quality=QualityReport(usable=False, reasons=...))`: bad photos never raise.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
from PIL import Image

from inference.attributes import analyse, analysis_array, score
from inference.case import Photo
from inference.colour import skin_mask
from inference.imaging import DEFAULT_MAX_SIDE, DecodedImage, ImageError, decode_image
from inference.morphology import LearnedSignals, assess_morphology
from inference.quality import (
    DEFAULT_THRESHOLDS,
    NOVELTY_KEY,
    QualityThresholds,
    assess_quality,
    learned_gate,
    unusable_report,
)
from inference.results import LesionAttributes, Morphology, QualityReport, RecResult
from inference.time_budget import TIME_BUDGET_METRIC, TIME_BUDGET_REASON, photo_time_exhausted
from inference.i18n import t

log = logging.getLogger(__name__)

# Below this top-class probability the classification is reported as uncertain: the
# probabilities are kept (DERM-Rep pools them) but the reading says it should not be trusted alone.
UNCERTAIN_MAX_PROBABILITY = 0.5


class LesionClassifier(Protocol):
    """What DERM-Rec needs of `inference.lesion_model.LesionModel`."""

    classes: tuple[str, ...]
    version: str

    def predict(self, batch: np.ndarray) -> np.ndarray: ...

    def prepare(self, image: Image.Image) -> np.ndarray: ...


@dataclass(frozen=True)
class _Decoded:
    photo: Photo
    decoded: DecodedImage | None
    analysis: np.ndarray | None
    quality: QualityReport
    skin_colour: np.ndarray | None = None  # colour.skin_mask of `analysis`, shared by the gate and analyse


class DermRec:
    """Reads photos; build once per process with the loaded lesion model."""

    def __init__(
        self,
        model: LesionClassifier,
        *,
        uncertain_below: float = UNCERTAIN_MAX_PROBABILITY,
        thresholds: QualityThresholds = DEFAULT_THRESHOLDS,
        max_side: int = DEFAULT_MAX_SIDE,
    ) -> None:
        self.model = model
        self.uncertain_below = uncertain_below
        self.thresholds = thresholds
        self.max_side = max_side

    @property
    def model_version(self) -> str:
        return str(self.model.version)

    def read(self, photos: Sequence[Photo]) -> tuple[RecResult, ...]:
        """One RecResult per photo, in input order."""
        stages = [self._decode_and_gate(photo) for photo in photos]
        usable = [i for i, s in enumerate(stages) if s.quality.usable]
        probabilities: dict[int, dict[str, float]] = {}
        heads: dict[int, dict[str, float]] = {}
        if usable:
            rows, head_rows = self._classify([stages[i].decoded.image for i in usable])  # type: ignore[union-attr]
            for row, head_row, i in zip(rows, head_rows, usable, strict=True):
                probabilities[i] = {c: float(p) for c, p in zip(self.model.classes, row, strict=True)}
                heads[i] = head_row
                # The learned skin check runs in the same model call; a refused photo is never scored.
                gated = learned_gate(
                    stages[i].quality,
                    head_row.get("skin"),
                    getattr(self.model, "skin_threshold", None),
                    novelty=head_row.get(NOVELTY_KEY),
                    novelty_threshold=getattr(self.model, "novelty_threshold", None),
                )
                stages[i] = replace(stages[i], quality=gated)
                if not gated.usable:
                    del probabilities[i]
        results = []
        for i, stage in enumerate(stages):
            results.append(self._result(stage, probabilities.get(i), heads.get(i, {})))
        return tuple(results)

    def _classify(self, images: list[Image.Image]) -> tuple[np.ndarray, list[dict[str, float]]]:
        """Class probabilities [N, C] and head probabilities per photo, in one batched model call:
        all test-time views when the model has them (`read_photos`), else one view per photo."""
        read_photos = getattr(self.model, "read_photos", None)
        if read_photos is not None:
            readings = read_photos(images)
            output = np.asarray([r.probabilities for r in readings], dtype=np.float64)
            # The novelty score travels with the head values to the gate (a distance, not a probability).
            head_rows = [{**r.heads, **({NOVELTY_KEY: r.novelty} if r.novelty is not None else {})} for r in readings]
        else:
            batch = np.stack([self.model.prepare(image) for image in images])
            output = np.asarray(self.model.predict(batch), dtype=np.float64)
            head_rows = [{} for _ in images]
        if output.shape != (len(images), len(self.model.classes)):
            raise ValueError(f"lesion model returned shape {output.shape} for a batch of {len(images)}")
        return output, head_rows

    def _decode_and_gate(self, photo: Photo) -> _Decoded:
        if photo_time_exhausted():
            log.info("photo not read: request time budget exhausted")
            report = QualityReport(usable=False, reasons=(TIME_BUDGET_REASON,), metrics={TIME_BUDGET_METRIC: 1.0})
            return _Decoded(photo, None, None, report)
        try:
            decoded = decode_image(photo.data, photo.content_type, max_side=self.max_side)
        except ImageError as exc:
            log.info("photo not decodable: %s", exc.code)
            return _Decoded(photo, None, None, unusable_report(exc))
        rgb = analysis_array(decoded.image)
        skin_colour = skin_mask(rgb)
        return _Decoded(photo, decoded, rgb, assess_quality(decoded, rgb, self.thresholds, skin_colour), skin_colour)

    def _result(self, stage: _Decoded, probabilities: dict[str, float] | None, heads: dict[str, float]) -> RecResult:
        photo = stage.photo
        quality = stage.quality
        attributes: LesionAttributes | None = None
        morphology: Morphology | None = None
        if quality.usable and probabilities is not None and stage.analysis is not None:
            analysis = analyse(stage.analysis, stage.skin_colour)
            attributes = score(analysis, source_ref=photo.ref)
            learned = LearnedSignals(pustules=heads.get("pustules"), nail_changes=heads.get("nail_changes"))
            morphology = assess_morphology(stage.analysis, analysis, attributes, learned, source_ref=photo.ref)
            quality = self._with_uncertainty(quality, probabilities)
        return RecResult(
            photo_ref=photo.ref,
            quality=quality,
            probabilities=probabilities or {},
            attributes=attributes,
            model_version=self.model_version,
            region=photo.region,
            taken=photo.taken,
            morphology=morphology,
        )

    def _with_uncertainty(self, quality: QualityReport, probabilities: dict[str, float]) -> QualityReport:
        top_class, top_p = max(probabilities.items(), key=lambda kv: (kv[1], kv[0]))
        metrics = {**quality.metrics, "max_probability": round(top_p, 6), "uncertain": 0.0}
        reasons = quality.reasons
        if top_p < self.uncertain_below:
            metrics["uncertain"] = 1.0
            reasons = (
                *reasons,
                t("note: classification uncertain (top class {top_class} p={top_p:.2f} < {uncertain_below:.2f}); probabilities are reported but should not be relied on alone", top_class=top_class, top_p=top_p, uncertain_below=self.uncertain_below),
            )
        return replace(quality, reasons=reasons, metrics=metrics)
