"""DERM-Rec: decode once, gate, one batched model call, attributes; bad photos never raise."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from rec_support import StubClassifier, real_model

from inference import synth
from inference.case import BodyRegion, Photo
from inference.rec import UNCERTAIN_MAX_PROBABILITY, DermRec
from inference.rec_report import BATCH_SIZE, rec_lines
from inference.synth import PlaqueSpec

DEMO_DIR = Path(__file__).resolve().parents[2] / "inference" / "demo_images"
DEMO_TRUTH = json.loads((DEMO_DIR / "ground_truth.json").read_text(encoding="utf-8"))
WHEN = datetime(2026, 11, 13, 9, 30, tzinfo=timezone.utc)


def _plaque_photo(ref: str, seed: int, region: BodyRegion = BodyRegion.TRUNK, size: tuple[int, int] | None = None) -> Photo:
    image = synth.render(PlaqueSpec(seed=seed)).image
    if size is not None:
        image = image.resize(size)
    return Photo(ref=ref, data=synth.jpeg_bytes(image), content_type="image/jpeg", region=region, taken=WHEN)


def _demo_photos() -> list[Photo]:
    return [
        Photo(
            ref=f"Media/{name}",
            data=(DEMO_DIR / name).read_bytes(),
            content_type="image/jpeg",
            region=BodyRegion(truth["region"]),
            taken=datetime.fromisoformat(truth["taken"]),
        )
        for name, truth in DEMO_TRUTH.items()
    ]


def test_usable_photos_go_in_one_batch_and_order_is_kept() -> None:
    model = StubClassifier()
    photos = [
        _plaque_photo("Media/1", 1),
        Photo(ref="Media/bad", data=b"\x89PNG\r\n\x1a\n" + b"\x00" * 30),
        _plaque_photo("Media/2", 2, BodyRegion.HEAD, size=(3000, 2250)),
        Photo(ref="Media/blur", data=synth.jpeg_bytes(synth.blurred(synth.render(PlaqueSpec(seed=3)).image))),
        _plaque_photo("Media/3", 4, BodyRegion.LOWER_LIMBS),
    ]
    results = DermRec(model).read(photos)
    assert model.batches == [3]
    assert [r.photo_ref for r in results] == [p.ref for p in photos]
    assert [r.quality.usable for r in results] == [True, False, True, False, True]
    for photo, result in zip(photos, results, strict=True):
        assert result.region is photo.region
        assert result.taken == photo.taken
        assert result.model_version == "stub-1"
        if result.quality.usable:
            assert result.attributes is not None
            assert sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        else:
            assert result.attributes is None and result.probabilities == {}
            assert result.quality.reasons


def test_no_usable_photo_means_no_model_call() -> None:
    model = StubClassifier()
    results = DermRec(model).read([Photo(ref="Media/x", data=b"GIF89a")])
    assert model.batches == []
    assert not results[0].quality.usable
    assert "not a JPEG, PNG or WebP" in results[0].quality.reasons[0]


@pytest.mark.parametrize(
    "data",
    [b"", b"\xff\xd8\xff\xe0" + b"\x00" * 50, b"RIFF\x00\x00\x00\x00WEBP", b"\x00" * 1000, bytes(range(256))],
    ids=["empty", "jpeg-magic-garbage", "webp-header-only", "zeros", "bytes"],
)
def test_garbage_never_raises(data: bytes) -> None:
    (result,) = DermRec(StubClassifier()).read([Photo(ref="Media/g", data=data)])
    assert not result.quality.usable and result.quality.reasons


def test_uncertain_classification_is_said_but_probabilities_kept() -> None:
    model = StubClassifier(probabilities=(0.4, 0.35, 0.25))
    (result,) = DermRec(model).read([_plaque_photo("Media/u", 5)])
    assert result.quality.usable
    assert result.probabilities["psoriasis"] == pytest.approx(0.4)
    assert result.quality.metrics["uncertain"] == 1.0
    assert any("uncertain" in r for r in result.quality.reasons)
    confident = DermRec(StubClassifier()).read([_plaque_photo("Media/c", 5)])[0]
    assert confident.quality.metrics["uncertain"] == 0.0
    assert confident.quality.metrics["max_probability"] >= UNCERTAIN_MAX_PROBABILITY


def test_model_output_shape_is_checked() -> None:
    class Broken(StubClassifier):
        def predict(self, batch: np.ndarray) -> np.ndarray:
            return np.ones((batch.shape[0] + 1, 3), dtype=np.float32) / 3

    with pytest.raises(ValueError, match="shape"):
        DermRec(Broken()).read([_plaque_photo("Media/1", 1)])


def test_read_is_deterministic() -> None:
    photos = [_plaque_photo("Media/1", 6), _plaque_photo("Media/2", 7)]
    rec = DermRec(StubClassifier())
    assert rec.read(photos) == rec.read(photos)


# ------------------------------------------------------------------ golden: committed demo images

# Tolerances on the demo set (PASI points; area absolute); observed errors are well inside.
GOLDEN_TOLERANCE = {"erythema": 0.5, "scale": 0.75, "thickness": 1.0, "area_fraction": 0.05}


def test_golden_attributes_on_demo_images() -> None:
    results = DermRec(StubClassifier()).read(_demo_photos())
    for result in results:
        truth = DEMO_TRUTH[result.photo_ref.removeprefix("Media/")]
        assert result.quality.usable, result.quality.reasons
        attrs = result.attributes
        assert attrs is not None
        assert attrs.erythema.value == pytest.approx(truth["erythema"], abs=GOLDEN_TOLERANCE["erythema"])
        assert attrs.scale.value == pytest.approx(truth["scale"], abs=GOLDEN_TOLERANCE["scale"])
        assert attrs.thickness.value == pytest.approx(truth["thickness"], abs=GOLDEN_TOLERANCE["thickness"])
        assert attrs.area_fraction.value == pytest.approx(truth["area_fraction"], abs=GOLDEN_TOLERANCE["area_fraction"])
        assert attrs.colour_class == truth["colour_class"]


def test_full_dermrec_with_shipped_model_on_demo_images() -> None:
    model = real_model()
    rec = DermRec(model)
    photos = _demo_photos()
    first = rec.read(photos)
    assert first == rec.read(photos)  # deterministic, model included
    for result in first:
        assert result.quality.usable
        assert set(result.probabilities) == set(model.classes)
        assert sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-3)
        assert all(0.0 <= p <= 1.0 for p in result.probabilities.values())
        assert result.model_version == model.version


def test_shipped_model_prepare_matches_its_input_size() -> None:
    model = real_model()
    (result,) = DermRec(model).read([_plaque_photo("Media/1", 1, size=(4000, 3000))])
    assert result.quality.usable and result.probabilities


# ------------------------------------------------------------------ rec_lines (CLI)


def test_rec_lines_batches_and_reports_unreadable_files(tmp_path: Path) -> None:
    paths = []
    for i in range(BATCH_SIZE + 2):
        path = tmp_path / f"photo{i}.jpg"
        path.write_bytes(synth.render_jpeg(PlaqueSpec(seed=20 + i, width=320, height=240))[0])
        paths.append(str(path))
    paths.insert(3, str(tmp_path / "missing.jpg"))
    model = StubClassifier()
    lines = list(rec_lines(paths, DermRec(model)))
    assert [line["image"] for line in lines] == paths
    assert model.batches == [BATCH_SIZE - 1, 3]
    missing = lines[3]
    assert missing["quality"]["usable"] is False and "cannot be read" in missing["quality"]["reasons"][0]
    good = lines[0]
    assert good["quality"]["usable"] is True
    assert set(good["attributes"]) >= {"erythema", "scale", "thickness", "area_fraction", "colour_class"}
    json.dumps(lines)  # JSON-ready


def test_rec_lines_accepts_path_objects(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(synth.render_jpeg(PlaqueSpec(seed=30, width=320, height=240))[0])
    (line,) = rec_lines([path], DermRec(StubClassifier()))
    assert line["image"] == str(path)
    json.dumps(line)
