"""The shipped lesion model: loading, integrity checks, the resize rule, output contract, goldens.

Images are generated here (no derm-data at test time: its licence keeps it out of the repo)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from inference.lesion_model import (
    DEFAULT_MODEL_DIR,
    SIDECAR_NAME,
    LesionModel,
    LesionModelInvalid,
    LesionModelNotFound,
    prepare_image,
    view_crop,
)

SKIN = (224, 172, 150)

# Golden probabilities of the shipped model on the two synthetic images below. Regenerate (and
# review the model card) whenever the model is retrained:
#   python -c "from tests.inference.test_lesion_model import print_goldens; print_goldens()"
GOLDEN_VERSION = "lesion-effnetlite0-lite2-2026.12.4"
GOLDEN: dict[str, list[float]] = {
    "flat_skin": [0.025309, 0.137964, 0.065352, 0.086591, 0.202735, 0.115553, 0.067158, 0.299338],
    "red_patch": [0.014016, 0.041205, 0.064502, 0.022328, 0.000941, 0.002683, 0.008844, 0.845481],
}
# `read_photos` (all test-time views, heads): (probabilities, [skin, pustules, nail_changes]).
READ_GOLDEN: dict[str, tuple[list[float], list[float]]] = {
    "flat_skin": ([0.025309, 0.137964, 0.065352, 0.086591, 0.202735, 0.115553, 0.067158, 0.299338], [0.349950, 0.000224, 0.000062]),
    "red_patch": ([0.014016, 0.041205, 0.064502, 0.022328, 0.000941, 0.002683, 0.008844, 0.845481], [0.007420, 0.002851, 0.000030]),
}
# `read_photos` novelty score (distance from the skin photos' feature subspace, view-averaged).
NOVELTY_GOLDEN: dict[str, float] = {"flat_skin": 54.7181, "red_patch": 75.7827}
NOVELTY_RELATIVE_TOLERANCE = 1e-3
# Float32 kernels differ slightly between CPU instruction sets; a swapped or retrained model moves
# these probabilities by far more than this.
GOLDEN_TOLERANCE = 1e-3


def flat_skin() -> Image.Image:
    return Image.new("RGB", (640, 480), SKIN)


def red_patch() -> Image.Image:
    """A bright-red, slightly scaly-looking oval plaque on skin-coloured background."""
    image = Image.new("RGB", (400, 300), SKIN)
    draw = ImageDraw.Draw(image)
    draw.ellipse((110, 70, 290, 230), fill=(196, 58, 62))
    for x in range(130, 270, 12):
        draw.line((x, 110, x + 8, 190), fill=(236, 226, 220), width=2)
    return image


SYNTHETIC = {"flat_skin": flat_skin, "red_patch": red_patch}


@pytest.fixture(scope="module")
def model() -> LesionModel:
    return LesionModel.load()


def print_goldens() -> None:
    loaded = LesionModel.load()
    print(loaded.version)
    for name, make in SYNTHETIC.items():
        row = loaded.predict(loaded.prepare(make())[None])[0]
        print(f'    "{name}": [{", ".join(f"{p:.6f}" for p in row)}],')
    print("READ_GOLDEN")
    for name, make in SYNTHETIC.items():
        (reading,) = loaded.read_photos([make()])
        heads = [reading.heads[h] for h in loaded.head_names]
        print(f'    "{name}": ([{", ".join(f"{p:.6f}" for p in reading.probabilities)}], [{", ".join(f"{p:.6f}" for p in heads)}]),')
    print("NOVELTY_GOLDEN")
    for name, make in SYNTHETIC.items():
        (reading,) = loaded.read_photos([make()])
        print(f'    "{name}": {reading.novelty:.4f},')


# ---------------------------------------------------------------- loading and metadata


def test_load_exposes_the_contract(model: LesionModel) -> None:
    assert "psoriasis" in model.classes
    assert len(set(model.classes)) == len(model.classes) >= 2
    assert set(model.display_names) == set(model.classes)
    assert all(name and name[0].isupper() for name in model.display_names.values())
    assert model.input_size == 224
    assert model.version.startswith("lesion-")
    assert 0.1 < model.temperature < 10.0


def test_sidecar_carries_attribution_and_research_only_notice() -> None:
    sidecar = json.loads((DEFAULT_MODEL_DIR / SIDECAR_NAME).read_text(encoding="utf-8"))
    assert sidecar["training_data"]["attribution"] == "Images: DermNet (dermnetnz.org)"
    assert "not for clinical use" in sidecar["intended_use"].lower()
    assert (DEFAULT_MODEL_DIR / "MODEL_CARD.md").is_file()


@pytest.mark.parametrize("threads", [0, -1])
def test_load_rejects_non_positive_threads(threads: int) -> None:
    with pytest.raises(ValueError, match="threads"):
        LesionModel.load(threads=threads)


def test_load_with_two_threads_gives_the_same_answer(model: LesionModel) -> None:
    batch = model.prepare(red_patch())[None]
    two = LesionModel.load(threads=2)
    np.testing.assert_allclose(two.predict(batch), model.predict(batch), atol=1e-5)


# ---------------------------------------------------------------- integrity errors


@pytest.fixture()
def model_copy(tmp_path: Path) -> Path:
    target = tmp_path / "models"
    target.mkdir()
    for path in [DEFAULT_MODEL_DIR / SIDECAR_NAME, *DEFAULT_MODEL_DIR.glob("*.onnx")]:
        shutil.copyfile(path, target / path.name)
    return target


def _edit_sidecar(directory: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    path = directory / SIDECAR_NAME
    sidecar = json.loads(path.read_text(encoding="utf-8"))
    edit(sidecar)
    path.write_text(json.dumps(sidecar), encoding="utf-8")


def test_ensemble_member_is_pinned_and_loaded(model: LesionModel) -> None:
    member = model.metadata.get("member")
    if member is None:
        pytest.skip("the shipped model has no ensemble member")
    assert member["views"] == ["centre"] and 0.0 < member["weight"] <= 1.0
    assert (DEFAULT_MODEL_DIR / member["onnx_file"]).is_file()


def test_tampered_member_fails_the_hash_check(model_copy: Path) -> None:
    sidecar = json.loads((model_copy / SIDECAR_NAME).read_text(encoding="utf-8"))
    if "member" not in sidecar:
        pytest.skip("the shipped model has no ensemble member")
    path = model_copy / sidecar["member"]["onnx_file"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(LesionModelInvalid, match="SHA-256"):
        LesionModel.load(model_copy)


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"views": ["left"]}, LesionModelInvalid, "views"),
        ({"weight": 0.0}, LesionModelInvalid, "positive weight"),
        ({"onnx_file": "../lesion_member.onnx"}, LesionModelInvalid, "bare file names"),
        ({"onnx_file": "gone.onnx"}, LesionModelNotFound, "gone.onnx"),
        ({"output": "nothing"}, LesionModelInvalid, "nothing"),
    ],
)
def test_malformed_member_is_rejected(model_copy: Path, change: dict[str, object], error: type[Exception], message: str) -> None:
    sidecar = json.loads((model_copy / SIDECAR_NAME).read_text(encoding="utf-8"))
    if "member" not in sidecar:
        pytest.skip("the shipped model has no ensemble member")
    _edit_sidecar(model_copy, lambda raw: raw["member"].update(change))
    with pytest.raises(error, match=message):
        LesionModel.load(model_copy)


def test_member_changes_the_reading(model: LesionModel, model_copy: Path) -> None:
    """Without its member the main graph alone answers (the ensemble is not a no-op)."""
    if "member" not in model.metadata:
        pytest.skip("the shipped model has no ensemble member")
    _edit_sidecar(model_copy, lambda raw: raw.pop("member"))
    alone = LesionModel.load(model_copy)
    image = red_patch()
    assert not np.allclose(alone.read_photos([image])[0].probabilities, model.read_photos([image])[0].probabilities, atol=1e-3)


def test_copy_of_the_model_loads(model_copy: Path) -> None:
    assert LesionModel.load(model_copy).classes


def test_tampered_onnx_fails_the_hash_check(model_copy: Path) -> None:
    onnx_path = model_copy / "lesion.onnx"
    data = bytearray(onnx_path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    onnx_path.write_bytes(bytes(data))
    with pytest.raises(LesionModelInvalid, match="SHA-256") as caught:
        LesionModel.load(model_copy)
    assert isinstance(caught.value, ValueError)


def test_wrong_hash_in_sidecar_fails(model_copy: Path) -> None:
    path = model_copy / SIDECAR_NAME
    sidecar = json.loads(path.read_text(encoding="utf-8"))
    sidecar["onnx_sha256"] = "0" * 64
    path.write_text(json.dumps(sidecar), encoding="utf-8")
    with pytest.raises(LesionModelInvalid, match="SHA-256"):
        LesionModel.load(model_copy)


@pytest.mark.parametrize("missing", [SIDECAR_NAME, "lesion.onnx"])
def test_missing_file_is_a_clear_file_not_found(model_copy: Path, missing: str) -> None:
    (model_copy / missing).unlink()
    with pytest.raises(LesionModelNotFound, match=missing) as caught:
        LesionModel.load(model_copy)
    assert isinstance(caught.value, FileNotFoundError)


def test_missing_directory_is_a_clear_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="directory"):
        LesionModel.load(tmp_path / "nowhere")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": 99}, "format"),
        ({"classes": ["a", "a"]}, "unique"),
        ({"display_names": {"psoriasis": "Psoriasis"}}, "display_names"),
        ({"onnx_file": "../lesion.onnx"}, "bare file name"),
        ({"input_size": 256}, "input must be"),
    ],
)
def test_malformed_sidecar_is_rejected(model_copy: Path, change: dict[str, object], message: str) -> None:
    path = model_copy / SIDECAR_NAME
    sidecar = json.loads(path.read_text(encoding="utf-8"))
    sidecar.update(change)
    path.write_text(json.dumps(sidecar), encoding="utf-8")
    with pytest.raises(LesionModelInvalid, match=message):
        LesionModel.load(model_copy)


def test_sidecar_that_is_not_json_is_rejected(model_copy: Path) -> None:
    (model_copy / SIDECAR_NAME).write_text("{not json", encoding="utf-8")
    with pytest.raises(LesionModelInvalid, match="not valid JSON"):
        LesionModel.load(model_copy)


# ---------------------------------------------------------------- prepare (the resize rule)


@pytest.mark.parametrize(
    ("size", "mode"),
    [((640, 480), "RGB"), ((480, 640), "RGB"), ((1, 1), "RGB"), ((300, 300), "L"), ((500, 200), "RGBA"), ((64, 48), "P")],
)
def test_prepare_returns_uint8_square(model: LesionModel, size: tuple[int, int], mode: str) -> None:
    prepared = model.prepare(Image.new(mode, size))
    assert prepared.shape == (224, 224, 3)
    assert prepared.dtype == np.uint8


def test_prepare_keeps_the_centred_square() -> None:
    # Three 100-px stripes: only the middle (green) one lies in the centred 100x100 square.
    image = Image.new("RGB", (300, 100), (255, 0, 0))
    image.paste((0, 255, 0), (100, 0, 200, 100))
    image.paste((0, 0, 255), (200, 0, 300, 100))
    prepared = prepare_image(image, 50)
    inner = prepared[:, 2:-2].reshape(-1, 3)  # the bilinear filter may blend the outermost column
    assert np.all(inner == (0, 255, 0))


def test_prepare_is_deterministic(model: LesionModel) -> None:
    np.testing.assert_array_equal(model.prepare(red_patch()), model.prepare(red_patch()))


def test_prepare_rejects_non_positive_size() -> None:
    with pytest.raises(ValueError):
        prepare_image(flat_skin(), 0)


# ---------------------------------------------------------------- predict


def test_predict_shapes_and_rows_sum_to_one(model: LesionModel) -> None:
    rng = np.random.default_rng(7)
    batch = rng.integers(0, 256, size=(5, 224, 224, 3), dtype=np.uint8)
    probabilities = model.predict(batch)
    assert probabilities.shape == (5, len(model.classes))
    assert probabilities.dtype == np.float32
    assert np.all(probabilities >= 0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)


def test_predict_is_deterministic_and_batch_independent(model: LesionModel) -> None:
    images = np.stack([model.prepare(make()) for make in SYNTHETIC.values()])
    together = model.predict(images)
    np.testing.assert_array_equal(together, model.predict(images))
    for i in range(len(images)):
        np.testing.assert_allclose(model.predict(images[i : i + 1])[0], together[i], atol=1e-5)


def test_predict_empty_batch(model: LesionModel) -> None:
    assert model.predict(np.zeros((0, 224, 224, 3), dtype=np.uint8)).shape == (0, len(model.classes))


@pytest.mark.parametrize(
    "batch",
    [
        np.zeros((1, 224, 224, 3), dtype=np.float32),
        np.zeros((224, 224, 3), dtype=np.uint8),
        np.zeros((1, 3, 224, 224), dtype=np.uint8),
        np.zeros((1, 200, 200, 3), dtype=np.uint8),
        [[0]],
    ],
    ids=["float32", "no-batch-axis", "nchw", "wrong-size", "list"],
)
def test_predict_rejects_wrong_input(model: LesionModel, batch: object) -> None:
    with pytest.raises(ValueError):
        model.predict(batch)  # type: ignore[arg-type]


def test_probabilities_maps_class_keys(model: LesionModel) -> None:
    row = model.predict(model.prepare(red_patch())[None])[0]
    mapping = model.probabilities(row)
    assert list(mapping) == list(model.classes)
    assert sum(mapping.values()) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("name", sorted(SYNTHETIC))
def test_golden_values(model: LesionModel, name: str) -> None:
    assert model.version == GOLDEN_VERSION, "model changed: regenerate GOLDEN with print_goldens()"
    row = model.predict(model.prepare(SYNTHETIC[name]())[None])[0]
    np.testing.assert_allclose(row, GOLDEN[name], atol=GOLDEN_TOLERANCE)


@pytest.mark.parametrize("name", sorted(SYNTHETIC))
def test_read_photos_golden_values(model: LesionModel, name: str) -> None:
    assert model.version == GOLDEN_VERSION, "model changed: regenerate READ_GOLDEN with print_goldens()"
    (reading,) = model.read_photos([SYNTHETIC[name]()])
    probabilities, heads = READ_GOLDEN[name]
    np.testing.assert_allclose(reading.probabilities, probabilities, atol=GOLDEN_TOLERANCE)
    np.testing.assert_allclose([reading.heads[h] for h in model.head_names], heads, atol=GOLDEN_TOLERANCE)
    assert reading.novelty == pytest.approx(NOVELTY_GOLDEN[name], rel=NOVELTY_RELATIVE_TOLERANCE)


def test_read_photos_contract(model: LesionModel) -> None:
    assert model.views == ("centre",)
    assert model.head_names == ("skin", "pustules", "nail_changes")
    assert model.skin_threshold is not None and 0.0 < model.skin_threshold <= 0.5
    readings = model.read_photos([red_patch(), flat_skin(), red_patch()])
    assert len(readings) == 3
    for reading in readings:
        assert reading.probabilities.shape == (len(model.classes),)
        assert reading.probabilities.sum() == pytest.approx(1.0, abs=1e-9)
        assert all(0.0 <= p <= 1.0 for p in reading.heads.values())
    # Batch independence: a photo reads the same alone and among others.
    (alone,) = model.read_photos([red_patch()])
    np.testing.assert_allclose(alone.probabilities, readings[0].probabilities, atol=1e-6)
    assert model.read_photos([]) == []


def test_view_crops() -> None:
    image = Image.new("RGB", (640, 480), SKIN)
    assert view_crop(image, "centre") is image
    assert view_crop(image, "zoom").size == (336, 336)
    assert view_crop(image, "left").size == view_crop(image, "right").size == (480, 480)
    assert view_crop(Image.new("RGB", (300, 500)), "right").size == (300, 300)
    with pytest.raises(ValueError, match="unknown view"):
        view_crop(image, "corner")


def test_sidecar_with_an_unknown_view_is_rejected(model_copy: Path) -> None:
    sidecar = model_copy / "lesion_model.json"
    raw = json.loads(sidecar.read_text())
    raw["views"] = ["centre", "fisheye"]
    sidecar.write_text(json.dumps(raw))
    with pytest.raises(LesionModelInvalid, match="views"):
        LesionModel.load(model_copy)
