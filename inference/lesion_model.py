"""The lesion classifier behind DERM-Rec: one ONNX session that maps photos to calibrated class
probabilities.

The shipped graph (`inference/models/lesion.onnx`) takes uint8 RGB NHWC pixels and contains
everything else: float conversion, normalisation, the EfficientNet-Lite0 backbone, the trained head
and a softmax with the temperature fitted on the validation split. Keeping all of that inside the
graph means the runtime cannot drift from training: the only preprocessing outside it is
`LesionModel.prepare`, which the training and evaluation tools call too.

The sidecar `lesion_model.json` names the classes and pins the SHA-256 of the ONNX file, so a
truncated or swapped model fails at load instead of producing plausible-looking numbers.

A sidecar may name an ensemble member (`member`: a second ONNX file, pinned the same way, that maps
the same uint8 views to class log-probabilities): its log-probabilities, averaged over the views it
reads, are averaged with the main model's with the sidecar's weight before the temperature, exactly
as `tools.lesion_model.member.combine` did when the weight and the temperature were fitted.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from PIL import Image

logger = logging.getLogger(__name__)

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "models"
SIDECAR_NAME = "lesion_model.json"
SIDECAR_FORMAT = 1

# Rows of a softmax sum to 1 up to float32 rounding; anything further off means a broken graph.
_ROW_SUM_TOLERANCE = 1e-3


class LesionModelError(Exception):
    """Base class for every problem with the shipped lesion model."""


class LesionModelNotFound(LesionModelError, FileNotFoundError):
    """The model directory, its sidecar or its ONNX file is missing."""


class LesionModelInvalid(LesionModelError, ValueError):
    """The sidecar is malformed, the ONNX file's hash does not match, or the graph disagrees with
    the sidecar (input size, class count)."""


def prepare_image(image: Image.Image, size: int) -> np.ndarray:
    """Resize rule shared by training, evaluation and runtime.

    The centred square of side min(width, height) is resized to size x size with Pillow's bilinear
    filter (which antialiases when shrinking). Centre-square cropping keeps the aspect ratio of skin
    texture (scale is a texture cue) at the cost of the outer edges of landscape or portrait photos.
    Any mode is converted to RGB; EXIF orientation is the caller's job (it belongs to decoding).
    """
    if size <= 0:
        raise ValueError(f"size must be positive, got {size}")
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    width, height = rgb.size
    if width == 0 or height == 0:
        raise ValueError("image has no pixels")
    side = min(width, height)
    left = (width - side) / 2.0
    top = (height - side) / 2.0
    resized = rgb.resize(
        (size, size),
        resample=Image.Resampling.BILINEAR,
        box=(left, top, left + side, top + side),
    )
    return np.asarray(resized, dtype=np.uint8).copy()


# Named square crops used as test-time views (multi-crop inference) and as training views: the centre
# square alone misses lesions at the edges of a landscape photo, and a closer crop shows scale and
# pustule texture at a higher resolution.
VIEWS = ("centre", "zoom", "left", "right")
ZOOM_FRACTION = 0.7


def view_crop(image: Image.Image, view: str) -> Image.Image:
    """"centre": the image itself (`prepare_image` takes its centred square); "zoom": the centred
    square of 70% of the shorter side; "left"/"right": the square of the shorter side flush with the
    left/right edge (top/bottom edge for a portrait photo)."""
    if view == "centre":
        return image
    width, height = image.size
    side = min(width, height)
    if view == "zoom":
        inner = max(1, round(side * ZOOM_FRACTION))
        left, top = (width - inner) // 2, (height - inner) // 2
        return image.crop((left, top, left + inner, top + inner))
    if view not in ("left", "right"):
        raise ValueError(f"unknown view {view!r}; expected one of {VIEWS}")
    first = view == "left"
    if width >= height:
        left = 0 if first else width - side
        return image.crop((left, 0, left + side, side))
    top = 0 if first else height - side
    return image.crop((0, top, side, top + side))


@dataclass(frozen=True)
class LesionReading:
    """The model's reading of one photo: calibrated class probabilities averaged over the test-time
    views, the embedding heads' probabilities (e.g. "skin", "pustules", "nail_changes") and, for a
    model that has it, the novelty score: the distance of the photo's frozen features from the skin
    photos' subspace, averaged over the views (None: no such output)."""

    probabilities: np.ndarray  # float64 [C], sums to 1
    heads: dict[str, float]
    novelty: float | None = None


@dataclass(frozen=True)
class _Sidecar:
    classes: tuple[str, ...]
    display_names: dict[str, str]
    input_size: int
    version: str
    onnx_file: str
    onnx_sha256: str
    input_name: str
    output_name: str
    temperature: float
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> "_Sidecar":
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise LesionModelNotFound(f"lesion model sidecar not found: {path}") from exc
        except json.JSONDecodeError as exc:
            raise LesionModelInvalid(f"lesion model sidecar {path} is not valid JSON: {exc}") from exc
        if not isinstance(raw, dict):
            raise LesionModelInvalid(f"lesion model sidecar {path} must hold a JSON object")
        if raw.get("format") != SIDECAR_FORMAT:
            raise LesionModelInvalid(f"lesion model sidecar {path}: unsupported format {raw.get('format')!r}")
        try:
            classes = tuple(str(c) for c in raw["classes"])
            display_names = {str(k): str(v) for k, v in raw["display_names"].items()}
            sidecar = cls(
                classes=classes,
                display_names=display_names,
                input_size=int(raw["input_size"]),
                version=str(raw["version"]),
                onnx_file=str(raw["onnx_file"]),
                onnx_sha256=str(raw["onnx_sha256"]).lower(),
                input_name=str(raw["input_name"]),
                output_name=str(raw["output_name"]),
                temperature=float(raw["temperature"]),
                extra={k: v for k, v in raw.items() if k not in _SIDECAR_KEYS},
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise LesionModelInvalid(f"lesion model sidecar {path} is incomplete: {exc!r}") from exc
        if len(set(classes)) != len(classes) or not classes:
            raise LesionModelInvalid(f"lesion model sidecar {path}: classes must be unique and non-empty")
        if set(display_names) != set(classes):
            raise LesionModelInvalid(f"lesion model sidecar {path}: display_names must cover exactly the classes")
        if "/" in sidecar.onnx_file or "\\" in sidecar.onnx_file:
            # The ONNX file must sit next to its sidecar; a path here could point anywhere.
            raise LesionModelInvalid(f"lesion model sidecar {path}: onnx_file must be a bare file name")
        return sidecar


_SIDECAR_KEYS = frozenset(
    {"classes", "display_names", "input_size", "version", "onnx_file", "onnx_sha256", "input_name", "output_name", "temperature"}
)


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks (the model is several megabytes)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _open_session(onnx_path: Path, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # warnings about unused initialisers are noise in service logs
    try:
        return ort.InferenceSession(str(onnx_path), sess_options=options, providers=["CPUExecutionProvider"])
    except (RuntimeError, ValueError) as exc:
        # onnxruntime raises its own Fail/InvalidGraph types, all RuntimeError subclasses.
        raise LesionModelInvalid(f"onnxruntime cannot load {onnx_path}: {exc}") from exc


def _verified_file(directory: Path, name: str, expected_sha256: str) -> Path:
    if "/" in name or "\\" in name:
        raise LesionModelInvalid(f"{SIDECAR_NAME}: model file names must be bare file names, got {name!r}")
    path = directory / name
    if not path.is_file():
        raise LesionModelNotFound(f"lesion model file not found: {path}")
    actual = sha256_of(path)
    if actual != expected_sha256.lower():
        raise LesionModelInvalid(
            f"lesion model file {path} has SHA-256 {actual}, but {SIDECAR_NAME} expects "
            f"{expected_sha256}: the file is corrupt or does not belong to this sidecar"
        )
    return path


@dataclass(frozen=True)
class _Member:
    """The ensemble member named by the sidecar: its session, output, views and weight."""

    session: ort.InferenceSession
    input_name: str
    output: str
    views: tuple[str, ...]
    weight: float

    @classmethod
    def load(cls, directory: Path, sidecar: _Sidecar, threads: int) -> "_Member":
        raw = sidecar.extra["member"]
        try:
            path = _verified_file(directory, str(raw["onnx_file"]), str(raw["onnx_sha256"]))
            views = tuple(str(v) for v in raw["views"])
            weight = float(raw["weight"])
            output = str(raw["output"])
        except (KeyError, TypeError, ValueError) as exc:
            raise LesionModelInvalid(f"{SIDECAR_NAME}: the ensemble member is incomplete: {exc!r}") from exc
        if not views or any(v not in VIEWS for v in views) or not weight > 0.0:
            raise LesionModelInvalid(f"{SIDECAR_NAME}: the ensemble member needs known views and a positive weight")
        session = _open_session(path, threads)
        inputs = session.get_inputs()
        outputs = {o.name: o for o in session.get_outputs()}
        if len(inputs) != 1 or list(inputs[0].shape[1:]) != [sidecar.input_size, sidecar.input_size, 3] or output not in outputs:
            raise LesionModelInvalid(f"{path}: the ensemble member must map uint8 views to {output!r}")
        if outputs[output].shape[1] != len(sidecar.classes):
            raise LesionModelInvalid(f"{path}: the ensemble member must output one column per class")
        return cls(session=session, input_name=inputs[0].name, output=output, views=views, weight=weight)

    def log_probs(self, batch: np.ndarray) -> np.ndarray:
        (out,) = self.session.run([self.output], {self.input_name: np.ascontiguousarray(batch)})
        return np.asarray(out, dtype=np.float64)


class LesionModel:
    """Calibrated skin-condition probabilities for prepared photos.

    Build it once per process with `LesionModel.load()` (one onnxruntime session); `predict` is
    deterministic and safe to call from one thread at a time per instance.
    """

    classes: tuple[str, ...]
    display_names: dict[str, str]
    input_size: int
    version: str

    def __init__(
        self, session: ort.InferenceSession, sidecar: _Sidecar, model_dir: Path, member: "_Member | None" = None
    ) -> None:
        self._session = session
        self._member = member
        self._input_name = sidecar.input_name
        self._output_name = sidecar.output_name
        self.classes = sidecar.classes
        self.display_names = dict(sidecar.display_names)
        self.input_size = sidecar.input_size
        self.version = sidecar.version
        self.temperature = sidecar.temperature
        self.model_dir = model_dir
        self.onnx_path = model_dir / sidecar.onnx_file
        self.metadata: dict[str, Any] = dict(sidecar.extra)
        views = tuple(str(v) for v in self.metadata.get("views", ("centre",)))
        if not views or any(v not in VIEWS for v in views):
            raise LesionModelInvalid(f"lesion model sidecar: views must be a non-empty subset of {VIEWS}, got {views}")
        self.views: tuple[str, ...] = views
        if member is not None and (self.metadata.get("log_prob_output") is None or any(v not in views for v in member.views)):
            raise LesionModelInvalid("lesion model sidecar: an ensemble member needs log_prob_output and views the main model reads")
        self.head_names: tuple[str, ...] = tuple(str(h) for h in self.metadata.get("heads", ()))
        self._log_prob_output = self.metadata.get("log_prob_output")
        self._heads_output = self.metadata.get("heads_output")
        # Below this learned skin probability a photo is refused (set on validation photos in training).
        self.skin_threshold: float | None = (
            float(self.metadata["skin_threshold"]) if "skin_threshold" in self.metadata and "skin" in self.head_names else None
        )
        # Above this novelty score (distance from the skin photos' feature subspace) a photo is refused.
        self._novelty_output = self.metadata.get("novelty_output")
        self.novelty_threshold: float | None = (
            float(self.metadata["novelty_threshold"]) if self._novelty_output and "novelty_threshold" in self.metadata else None
        )

    @classmethod
    def load(cls, model_dir: Path | None = None, threads: int = 1) -> "LesionModel":
        """Read the sidecar, verify the ONNX file's SHA-256 and open one CPU session.

        `model_dir` None means the model shipped in `inference/models`. `threads` sets onnxruntime's
        intra-op pool; inter-op parallelism stays at 1 because the graph is a single chain and the
        service runs several workers on a small CPU.
        """
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        directory = Path(model_dir) if model_dir is not None else DEFAULT_MODEL_DIR
        if not directory.is_dir():
            raise LesionModelNotFound(f"lesion model directory not found: {directory}")
        sidecar = _Sidecar.read(directory / SIDECAR_NAME)
        onnx_path = directory / sidecar.onnx_file
        if not onnx_path.is_file():
            raise LesionModelNotFound(f"lesion model file not found: {onnx_path}")
        actual = sha256_of(onnx_path)
        if actual != sidecar.onnx_sha256:
            raise LesionModelInvalid(
                f"lesion model file {onnx_path} has SHA-256 {actual}, but {SIDECAR_NAME} expects "
                f"{sidecar.onnx_sha256}: the file is corrupt or does not belong to this sidecar"
            )

        session = _open_session(onnx_path, threads)
        cls._check_graph(session, sidecar, onnx_path)
        member = _Member.load(directory, sidecar, threads) if "member" in sidecar.extra else None
        logger.info(
            "lesion model %s loaded from %s (%d threads%s)", sidecar.version, directory, threads, ", with its ensemble member" if member else ""
        )
        return cls(session, sidecar, directory, member)

    @staticmethod
    def _check_graph(session: ort.InferenceSession, sidecar: _Sidecar, onnx_path: Path) -> None:
        inputs = {i.name: i for i in session.get_inputs()}
        outputs = {o.name: o for o in session.get_outputs()}
        if sidecar.input_name not in inputs or sidecar.output_name not in outputs:
            raise LesionModelInvalid(
                f"{onnx_path}: expected input {sidecar.input_name!r} and output {sidecar.output_name!r}, "
                f"graph has inputs {sorted(inputs)} and outputs {sorted(outputs)}"
            )
        shape = inputs[sidecar.input_name].shape
        if inputs[sidecar.input_name].type != "tensor(uint8)" or len(shape) != 4 or list(shape[1:]) != [
            sidecar.input_size,
            sidecar.input_size,
            3,
        ]:
            raise LesionModelInvalid(
                f"{onnx_path}: input must be uint8 [N, {sidecar.input_size}, {sidecar.input_size}, 3], "
                f"graph declares {inputs[sidecar.input_name].type} {shape}"
            )
        out_shape = outputs[sidecar.output_name].shape
        if len(out_shape) != 2 or out_shape[1] != len(sidecar.classes):
            raise LesionModelInvalid(
                f"{onnx_path}: output must be [N, {len(sidecar.classes)}], graph declares {out_shape}"
            )

    def prepare(self, image: Image.Image) -> np.ndarray:
        """RGB PIL image of any size -> uint8 [S, S, 3], exactly as in training (see `prepare_image`)."""
        return prepare_image(image, self.input_size)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """uint8 RGB NHWC [N, S, S, 3] -> float32 [N, C] calibrated probabilities (rows sum to 1)."""
        if not isinstance(batch, np.ndarray) or batch.dtype != np.uint8:
            raise ValueError(f"batch must be a uint8 numpy array, got {getattr(batch, 'dtype', type(batch))}")
        size = self.input_size
        if batch.ndim != 4 or batch.shape[1:] != (size, size, 3):
            raise ValueError(f"batch must have shape [N, {size}, {size}, 3], got {list(batch.shape)}")
        if batch.shape[0] == 0:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        if self._member is not None:
            # One view per row, both members on it: the ensemble's calibrated probabilities.
            (main,) = self._session.run([str(self._log_prob_output)], {self._input_name: np.ascontiguousarray(batch)})
            combined = (np.asarray(main, dtype=np.float64) + self._member.weight * self._member.log_probs(batch)) / (
                1.0 + self._member.weight
            )
            scaled = combined / self.temperature
            scaled -= scaled.max(axis=1, keepdims=True)
            probabilities = np.exp(scaled)
            probabilities = (probabilities / probabilities.sum(axis=1, keepdims=True)).astype(np.float32)
        else:
            (probabilities,) = self._session.run([self._output_name], {self._input_name: np.ascontiguousarray(batch)})
            probabilities = np.asarray(probabilities, dtype=np.float32)
        sums = probabilities.sum(axis=1)
        if not np.all(np.isfinite(probabilities)) or np.any(np.abs(sums - 1.0) > _ROW_SUM_TOLERANCE):
            raise LesionModelInvalid("lesion model returned probabilities that are not finite or do not sum to 1")
        # Renormalise away float32 rounding so callers can rely on exact sums.
        return probabilities / sums[:, None]

    def prepare_views(self, image: Image.Image) -> np.ndarray:
        """uint8 [K, S, S, 3]: the sidecar's test-time views of one photo, each prepared as in training."""
        return np.stack([prepare_image(view_crop(image, view), self.input_size) for view in self.views])

    def read_photos(self, images: list[Image.Image]) -> list[LesionReading]:
        """All views of all photos in ONE session call; per photo, class log-probabilities are
        averaged over its views before the temperature (as the temperature was fitted), head
        probabilities are averaged."""
        if not images:
            return []
        k = len(self.views)
        batch = np.concatenate([self.prepare_views(image) for image in images])
        if self._log_prob_output is None:
            # Single-output model: average its calibrated probabilities over the views.
            rows = self.predict(batch).astype(np.float64).reshape(len(images), k, -1).mean(axis=1)
            return [LesionReading(probabilities=row / row.sum(), heads={}) for row in rows]
        names = [str(self._log_prob_output)] + ([str(self._heads_output)] if self.head_names else [])
        if self.novelty_threshold is not None:
            names.append(str(self._novelty_output))
        outputs = self._session.run(names, {self._input_name: np.ascontiguousarray(batch)})
        log_probs = np.asarray(outputs[0], dtype=np.float64).reshape(len(images), k, -1).mean(axis=1)
        if self._member is not None:
            # The member reads only its own views (a subset of the main model's): one more call.
            member_batch = batch.reshape(len(images), k, *batch.shape[1:])[:, [self.views.index(v) for v in self._member.views]]
            member_log_probs = self._member.log_probs(member_batch.reshape(-1, *batch.shape[1:]))
            member_log_probs = member_log_probs.reshape(len(images), len(self._member.views), -1).mean(axis=1)
            log_probs = (log_probs + self._member.weight * member_log_probs) / (1.0 + self._member.weight)
        if not np.all(np.isfinite(log_probs)):
            raise LesionModelInvalid("lesion model returned non-finite log-probabilities")
        scaled = log_probs / self.temperature
        scaled -= scaled.max(axis=1, keepdims=True)
        probabilities = np.exp(scaled)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        heads = np.zeros((len(images), 0))
        if self.head_names:
            heads = np.asarray(outputs[1], dtype=np.float64).reshape(len(images), k, -1).mean(axis=1)
        novelty: list[float | None] = [None] * len(images)
        if self.novelty_threshold is not None:
            novelty = [float(v) for v in np.asarray(outputs[-1], dtype=np.float64).reshape(len(images), k).mean(axis=1)]
        return [
            LesionReading(
                probabilities=row,
                heads={n: float(v) for n, v in zip(self.head_names, head_row, strict=True)},
                novelty=score,
            )
            for row, head_row, score in zip(
                probabilities, heads if self.head_names else [()] * len(images), novelty, strict=True
            )
        ]

    def probabilities(self, row: np.ndarray) -> dict[str, float]:
        """One row of `predict` as a class-key -> probability mapping (the shape `RecResult` holds)."""
        return {key: float(p) for key, p in zip(self.classes, row, strict=True)}
