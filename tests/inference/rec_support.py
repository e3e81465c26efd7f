"""Shared helpers for the DERM-Rec/Rep tests: a stand-in classifier and the shipped model loader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

MODEL_DIR = Path(__file__).resolve().parents[2] / "inference" / "models"


class StubClassifier:
    """Implements the LesionModel interface with fixed probabilities; counts predict calls.

    Used where a test is about DERM-Rec's own logic (batching, gating, ordering); tests that are
    about the shipped model use `real_model()`."""

    def __init__(self, probabilities: tuple[float, ...] = (0.7, 0.2, 0.1), input_size: int = 64) -> None:
        self.classes = ("psoriasis", "eczema", "other")[: len(probabilities)]
        self.display_names = {c: c.title() for c in self.classes}
        self.input_size = input_size
        self.version = "stub-1"
        self.row = np.array(probabilities, dtype=np.float32)
        self.batches: list[int] = []

    def prepare(self, image: Image.Image) -> np.ndarray:
        return np.asarray(image.convert("RGB").resize((self.input_size, self.input_size)), dtype=np.uint8)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        assert batch.dtype == np.uint8 and batch.ndim == 4 and batch.shape[1:] == (self.input_size, self.input_size, 3)
        self.batches.append(int(batch.shape[0]))
        return np.tile(self.row, (batch.shape[0], 1))


def real_model():  # -> LesionModel
    """The shipped lesion model, or skip the calling test with the reason."""
    if not (MODEL_DIR / "lesion.onnx").exists():
        pytest.skip("inference/models/lesion.onnx is not shipped yet (built by the lesion-model work)")
    from inference.lesion_model import LesionModel

    return LesionModel.load(MODEL_DIR, threads=1)
