"""The benchmark runs and reports in the documented shape. Never asserts timings: this machine is
shared and wall-clock numbers are what `python -m bench.run` is for."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from bench import photos, readme, run
from bench.load import CellResult
from bench.patients import fhir_patient, prefetch_request
from bench.report import Target, render_table

REPO = Path(__file__).resolve().parents[2]
SHIPPED_MODEL = REPO / "inference" / "models" / "lesion.onnx"


def _tiny_jpeg(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (96, 64), (200 - seed, 150, 130)).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def test_tagged_photo_decodes_like_the_original_and_hashes_differently() -> None:
    jpeg = _tiny_jpeg(0)
    tagged = photos.TaggablePhoto.of(jpeg)
    one, two = base64.b64decode(tagged.b64(b"1")), base64.b64decode(tagged.b64(b"2"))
    assert one != two and len(one) == tagged.tagged_size
    assert base64.b64decode(tagged.b64(None)) == jpeg
    for data in (one, two):
        with Image.open(io.BytesIO(data)) as image:
            assert image.size == (96, 64) and image.tobytes() == Image.open(io.BytesIO(jpeg)).tobytes()


def test_prefetch_body_is_a_hook_request_with_every_photo() -> None:
    jpegs = [_tiny_jpeg(i) for i in range(3)]
    request = prefetch_request(jpegs, seed=7)
    body = json.loads(request.body("instance-1", b"t"))
    assert body["hook"] == "patient-view" and body["hookInstance"] == "instance-1"
    assert body["context"]["patientId"] == request.patient_id
    media = [e["resource"] for e in body["prefetch"]["media"]["entry"]]
    sent = sorted(base64.b64decode(m["content"]["data"])[24:] for m in media)  # minus the 24-byte tag header
    assert sent == sorted(j[2:] for j in jpegs)
    assert all(m["content"]["size"] == len(base64.b64decode(m["content"]["data"])) - 22 for m in media)


def test_fhir_patient_sends_photos_as_raw_binaries_the_media_point_to() -> None:
    jpegs = [_tiny_jpeg(i) for i in range(3)]
    patient = fhir_patient(jpegs, seed=9)
    resources = [e["resource"] for e in patient.transaction["entry"]]
    assert not [r for r in resources if r["resourceType"] == "Binary"]
    urls = sorted(r["content"]["url"] for r in resources if r["resourceType"] == "Media")
    assert urls == sorted(f"Binary/{i}" for i in patient.binaries)
    assert sorted(patient.binaries.values()) == sorted(jpegs)
    assert any(r["resourceType"] == "Patient" and r["id"] == patient.patient_id for r in resources)


def test_cell_summary_and_table_are_well_formed() -> None:
    cell = CellResult(name="c", concurrency=2, latencies_s=[0.1, 0.2, 0.3], statuses={200: 3}, wall_s=1.5, cards=2)
    summary = cell.summary()
    assert summary["requests"] == 3 and summary["throughput_hps"] == 2.0
    assert summary["p50_ms"] <= summary["p95_ms"] <= summary["p99_ms"]
    row = run.cell_row("hooks", "2x1", 3, cell)
    table = render_table([row], [Target("t", "<= 1", "2", False, "why")], ["header"])
    lines = table.splitlines()
    assert lines[0] == "header" and lines[1].startswith("row") and "[hooks]" in lines
    assert "MISSED: 2 (target <= 1); why" in table


def test_targets_are_judged_from_the_cells() -> None:
    r = run.Run(plan=run.Plan.quick_run(), model_dir=None, workdir=Path("."), auth=True)
    r.data.update({
        "cells": [{"kind": "prefetch", "photos": 3, "concurrency": 1, "p50_ms": 60.0, "p95_ms": 90.0, "throughput_hps": 25.0},
                  {"kind": "order", "case": "order-sign", "concurrency": 1, "p50_ms": 12.0, "p95_ms": 30.0},
                  {"kind": "order", "case": "order-select", "concurrency": 4, "p50_ms": 60.0, "p95_ms": 90.0}],
        "model_floor": [{"batch": 3, "onnx_threads": 1, "p50_ms": 50.0}],
        "peak_rss_mb": {"2x1": {"1": 250.0}},
        "cold_start": [{"first_hook_s": 4.0}],
    })
    verdicts = {t.name: t.met for t in run.evaluate_targets(r)}
    # order hooks: judged at c=1 only (the interactive case), so the c=4 cell over 50 ms does not count
    assert list(verdicts.values()) == [True, True, True, True, True, False]
    assert "order hook p95, c=1" in verdicts


@pytest.mark.skipif(not SHIPPED_MODEL.exists(), reason="inference/models/lesion.onnx is not shipped yet")
def test_quick_inprocess_run_writes_table_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # No torch baseline here: importing torch alone takes seconds; the full run covers it.
    assert run.main(["--quick", "--sections", "inprocess", "--no-baseline", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "[model alone (onnxruntime predict, prepared uint8 batch)]" in out and "[targets]" in out
    data = json.loads((tmp_path / "latest-quick.json").read_text())
    assert data["quick"] is True and data["rows"] and data["targets"]
    assert {"batch", "p50_ms", "onnx_threads"} <= set(data["model_floor"][0])
    assert data["files_per_hook"]["repo_files_opened_per_hook"] == []


def test_readme_table_is_replaced_between_the_markers(tmp_path: Path) -> None:
    target = tmp_path / "README.md"
    target.write_text(f"intro\n{readme.START}\nold\n{readme.END}\noutro\n")
    result = {"started": "2026-11-27T13:00:00+00:00", "wall_s": 300.0, "table": "row  n\n  a  1",
              "machine": {"cpu": "Test CPU", "cores": 2, "ram_gb": 4.0, "python": "3.11", "load": [1.0, 1.0, 1.0]}}
    readme.update(target, result)
    text = target.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old" not in text
    assert "Test CPU" in text and "row  n\n  a  1" in text


def test_order_bench_requests_are_valid_hooks_with_the_expected_answers(tmp_path: Path) -> None:
    """The order-hook bench cases go through the real service: 200, with the cards each case is
    named for (critical contraindication, heart-failure card, empty answer)."""
    import uuid

    from bench.orders import order_cases, order_target
    from cds_hooks.app import create_app
    from cds_hooks.settings import Settings

    app = create_app(Settings(auth_enabled=False, data_dir=tmp_path / "var"), pipeline=object()).test_client()  # type: ignore[arg-type]
    answers = []
    for case in order_cases():
        response = app.post(f"/cds-services/{case.service_id}", json={**case.body, "hookInstance": str(uuid.uuid4())})
        assert response.status_code == 200, response.get_json()
        answers.append([c["indicator"] for c in response.get_json()["cards"]])
    assert "critical" in answers[0] and answers[1] and answers[2] == []
    assert order_target([]).met is None
    assert order_target([{"kind": "order", "case": "x", "concurrency": 1, "p95_ms": 80.0}]).met is False


@pytest.mark.skipif(not SHIPPED_MODEL.exists(), reason="inference/models/lesion.onnx is not shipped yet")
def test_order_bench_inprocess_rows() -> None:
    from bench.orders import INPROCESS_SECTION, inprocess_rows

    rows = inprocess_rows(1)
    assert [r.section for r in rows] == [INPROCESS_SECTION] * 3
    assert all(r.n == 1 and r.cpu_ms is not None and r.p95_ms is not None for r in rows)
