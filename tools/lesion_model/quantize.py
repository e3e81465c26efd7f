"""Static int8 (QDQ, per-channel weights) quantisation of the exported lesion model, for comparison.

    python -m tools.lesion_model.quantize --data ../shared/derm-data --model-dir inference/models --out /tmp/lesion-int8
    python -m tools.lesion_model.evaluate --data ../shared/derm-data --model-dir /tmp/lesion-int8 --split val --no-write

Calibrates activation ranges on training images (never val or test) and writes a complete model
directory (ONNX, sidecar with the new hash, split manifest) that `LesionModel.load` accepts, so the
int8 model is evaluated by exactly the same code as the float one. Whether it ships is decided on
the validation split and recorded in the model card. Needs the `onnx` package (training venv).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import tempfile
from pathlib import Path

import numpy as np
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quant_pre_process, quantize_static

from inference.lesion_model import SIDECAR_NAME, prepare_image, sha256_of
from tools.lesion_model.data import Sample, load_masked
from tools.lesion_model.evaluate import SPLIT_MANIFEST, split_samples

logger = logging.getLogger("tools.lesion_model.quantize")

CALIBRATION_IMAGES = 160


class _Reader(CalibrationDataReader):
    def __init__(self, samples: list[Sample], input_name: str, size: int) -> None:
        self._items = iter(samples)
        self._input_name = input_name
        self._size = size

    def get_next(self) -> dict[str, np.ndarray] | None:
        sample = next(self._items, None)
        if sample is None:
            return None
        return {self._input_name: prepare_image(load_masked(sample), self._size)[None]}


def quantize(data_dir: Path, model_dir: Path, out_dir: Path) -> Path:
    sidecar = json.loads((model_dir / SIDECAR_NAME).read_text(encoding="utf-8"))
    train = split_samples(model_dir, data_dir, "train")
    # Every k-th training image: spread over classes, deterministic.
    step = max(1, len(train) // CALIBRATION_IMAGES)
    calibration = train[::step][:CALIBRATION_IMAGES]
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / sidecar["onnx_file"]
    with tempfile.TemporaryDirectory() as scratch:
        prepared = Path(scratch) / "prepared.onnx"
        quant_pre_process(str(model_dir / sidecar["onnx_file"]), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared),
            str(target),
            _Reader(calibration, sidecar["input_name"], int(sidecar["input_size"])),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            # Keep the final softmax input in float: probabilities are what must stay calibrated.
            op_types_to_quantize=["Conv", "MatMul", "Gemm"],
        )
    sidecar["onnx_sha256"] = sha256_of(target)
    sidecar["onnx_bytes"] = target.stat().st_size
    sidecar["version"] = f"{sidecar['version']}-int8"
    sidecar["quantization"] = {
        "method": "onnxruntime static QDQ, per-channel int8 weights, uint8 activations",
        "calibration_images": len(calibration),
        "calibration_split": "train",
    }
    (out_dir / SIDECAR_NAME).write_text(json.dumps(sidecar, indent=2) + "\n", encoding="utf-8")
    shutil.copyfile(model_dir / SPLIT_MANIFEST, out_dir / SPLIT_MANIFEST)
    logger.info("wrote %s (%.1f MB)", target, target.stat().st_size / 1e6)
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model-dir", type=Path, default=Path("inference/models"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    quantize(args.data.resolve(), args.model_dir, args.out)


if __name__ == "__main__":
    main()
