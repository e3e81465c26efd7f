"""The `derm3r` command end to end, as a user runs it (subprocesses, real HTTP for demo/serve)."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest
import requests

from service_support import REPO, real_pipeline

RESPONSE_SCHEMA = json.loads((REPO / "cds_hooks" / "schemas" / "cds-hooks-response.schema.json").read_text())


def derm3r(*args: str, env: dict | None = None, stdin: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cds_hooks.cli", *args],
        cwd=REPO,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def needs_agents() -> None:
    real_pipeline()  # skips only while the model is not shipped yet


@pytest.fixture(scope="module")
def bundle_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    synthetic = pytest.importorskip("cds_hooks.demo.synthetic")
    path = tmp_path_factory.mktemp("bundle") / "patient.json"
    path.write_text(json.dumps(synthetic.patient_bundle("psoriasis_moderate", seed=5, visits=2)))
    return path


def test_assess_turns_a_bundle_into_a_cds_response(bundle_file: Path) -> None:
    needs_agents()
    result = derm3r("assess", str(bundle_file))
    assert result.returncode == 0, result.stderr[-2000:]
    payload = json.loads(result.stdout)
    jsonschema.validate(payload, RESPONSE_SCHEMA)
    assert payload["cards"][0]["source"]["topic"]["code"] == "psoriasis-assessment"
    assert "DISABLED" not in result.stderr and "NOT verified" not in result.stderr


def test_assess_reads_stdin_and_serves_encounter_start(bundle_file: Path) -> None:
    needs_agents()
    result = derm3r("assess", "-", "--service", "derm3r-encounter-start", "--encounter", "enc-1", stdin=bundle_file.read_text())
    assert result.returncode == 0, result.stderr[-2000:]
    jsonschema.validate(json.loads(result.stdout), RESPONSE_SCHEMA)


@pytest.mark.parametrize(
    "content,message",
    [("{not json", "not valid JSON"), ('{"resourceType": "Patient"}', "expected a FHIR Bundle"), ('{"resourceType": "Bundle", "entry": []}', "exactly one Patient")],
)
def test_assess_refuses_bad_input_without_a_traceback(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    result = derm3r("assess", str(path))
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_rec_prints_one_json_line_per_photo(tmp_path: Path) -> None:
    pytest.importorskip("inference.rec_report")
    needs_agents()
    synthetic = pytest.importorskip("cds_hooks.demo.synthetic")
    bundle = synthetic.patient_bundle("psoriasis_moderate", seed=6, visits=1)
    paths = []
    for resource in synthetic.resources(bundle):
        if resource["resourceType"] == "Media":
            path = tmp_path / f"{resource['id']}.jpg"
            path.write_bytes(base64.b64decode(resource["content"]["data"]))
            paths.append(str(path))
    assert paths
    result = derm3r("rec", *paths)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == len(paths)


def test_demo_end_to_end_over_http(tmp_path: Path) -> None:
    """`derm3r demo`: real HTTP, real ES384 client JWTs verified by the service, every demo patient."""
    needs_agents()
    out = tmp_path / "out"
    result = derm3r("demo", "--out", str(out))
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])
    plans = sorted(out.glob("careplan-*.json"))
    responses = sorted(out.glob("cds-response-*.json"))
    assert len(plans) >= 4 and len(responses) == len(plans)
    for plan_path in plans:
        plan = json.loads(plan_path.read_text())
        assert plan["resourceType"] == "CarePlan" and plan["status"] == "draft"
    for response_path in responses:
        jsonschema.validate(json.loads(response_path.read_text()), RESPONSE_SCHEMA)
    # The table shows summaries; "preliminary" is in the closing note (and in each card's detail,
    # printed with --verbose below).
    assert "PRELIMINARY" in result.stdout and "HTTP 200" in result.stdout
    assert "integrative" in result.stdout
    # Readable: a short table per patient and the paths of the full JSON, not every card in full.
    lines = result.stdout.splitlines()
    assert len(lines) < 20 * len(responses), len(lines)
    # order-sign with the drafted methotrexate, for every patient; the pregnant one gets a critical card
    orders = sorted(out.glob("order-sign-*.json"))
    assert len(orders) == len(responses) and result.stdout.count("order-sign, Methotrexate") == len(orders)
    for order_path in orders:
        jsonschema.validate(json.loads(order_path.read_text()), RESPONSE_SCHEMA)
        assert f"full response: {order_path}" in result.stdout
    assert any("CRITICAL" in line and "Methotrexate contraindicated: pregnancy" in line for line in lines)
    for response_path in responses:
        assert f"full response: {response_path}" in result.stdout
        cards = json.loads(response_path.read_text())["cards"]
        for card in cards:
            assert any(card["indicator"].upper() in line and card["summary"][:20] in line for line in lines), card["summary"]
    assert "source:" not in result.stdout  # card details only with --verbose

    verbose = derm3r("demo", "--out", str(tmp_path / "verbose"), "--verbose")
    assert verbose.returncode == 0, verbose.stderr[-3000:]
    assert "source:" in verbose.stdout and "-> suggestion:" in verbose.stdout
    assert "Preliminary AI" in verbose.stdout
    assert len(verbose.stdout.splitlines()) > len(lines)


def test_demo_summary_table_is_one_line_per_card() -> None:
    from cds_hooks.demo.run import summary_table

    cards = [
        {
            "summary": "Psoriasis moderate: PASI ~9.6 from photos (PRELIMINARY), worsening",
            "indicator": "warning",
            "suggestions": [
                {
                    "label": "Create draft CarePlan",
                    "actions": [
                        {"type": "create", "description": "x", "resource": {"resourceType": "Observation"}},
                        {"type": "create", "description": "x", "resource": {"resourceType": "Observation"}},
                        {"type": "create", "description": "x", "resource": {"resourceType": "CarePlan"}},
                        {"type": "update", "description": "x", "resource": {"resourceType": "Device"}},
                    ],
                }
            ],
        },
        {"summary": "Methotrexate is contraindicated: pregnant", "indicator": "critical",
         "suggestions": [{"label": "Remove", "actions": [{"type": "delete", "description": "x", "resourceId": "MedicationRequest/m1"}]}]},
        {"summary": "Screening due", "indicator": "info"},
    ]
    table = summary_table(cards, width=100).splitlines()
    assert table[0].split() == ["#", "INDICATOR", "SUMMARY", "/", "WRITES"]
    assert table[1].split()[:2] == ["1", "WARNING"] and "PASI ~9.6" in table[1]
    assert table[2].strip() == "writes: CarePlan, 2 Observation, update Device"
    assert table[3].split()[:2] == ["2", "CRITICAL"] and table[4].strip() == "writes: delete MedicationRequest"
    assert table[5].split()[:2] == ["3", "INFO"] and len(table) == 6  # no writes line without suggestions
    assert all(len(line) <= 100 for line in table)
    assert summary_table([]).strip() == "(no cards)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, seconds: float = 120) -> requests.Response:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, "server exited"
        try:
            # gunicorn accepts at once but answers only after a worker has built the app (model load).
            return requests.get(url, timeout=(2, 30))
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.3)
    raise AssertionError("server did not come up")


def test_serve_runs_the_service(tmp_path: Path) -> None:
    needs_agents()
    port = _free_port()
    env = {**os.environ, "DERM3R_AUTH": "off", "DERM3R_DATA_DIR": str(tmp_path / "var"), "DERM3R_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
    proc = subprocess.Popen([sys.executable, "-m", "cds_hooks.cli", "serve", "--port", str(port)], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        health = _wait_healthy(f"http://127.0.0.1:{port}/healthz", proc)
        assert health.status_code == 200 and health.json()["auth"] == "OFF"
        assert len(requests.get(f"http://127.0.0.1:{port}/cds-services", timeout=5).json()["services"]) == 4  # + order-select, order-sign
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=20)
    assert "DERM3R_AUTH=off" in stderr  # the loud warning


def test_wsgi_builds_the_app_lazily(tmp_path: Path) -> None:
    needs_agents()
    code = (
        "import cds_hooks.wsgi as w, sys; assert w._app is None; "
        "app = w.app; assert w._app is app; print(app.name)"
    )
    env = {**os.environ, "DERM3R_AUTH": "off", "DERM3R_DATA_DIR": str(tmp_path / "var")}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "cds_hooks"


def test_gunicorn_serves_the_wsgi_app(tmp_path: Path) -> None:
    """The documented production command (the Dockerfile's CMD): two workers, healthy, discoverable."""
    needs_agents()
    port = _free_port()
    env = {
        **os.environ, "DERM3R_AUTH": "off", "DERM3R_DATA_DIR": str(tmp_path / "var"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"), "DERM3R_METRICS_TOKEN": "t",
    }
    gunicorn = Path(sys.executable).with_name("gunicorn")
    proc = subprocess.Popen(
        [str(gunicorn), "-c", "python:cds_hooks.gunicorn_conf", "--workers", "2", "--bind", f"127.0.0.1:{port}", "--timeout", "60", "cds_hooks.wsgi:app"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert _wait_healthy(f"http://127.0.0.1:{port}/healthz", proc).status_code == 200
        for _ in range(4):  # spread over both workers
            assert requests.get(f"http://127.0.0.1:{port}/cds-services", timeout=30).status_code == 200
        # Metrics add up over the workers (prometheus_client multiprocess mode).
        metrics = requests.get(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": "Bearer t"}, timeout=30).text
        assert 'derm3r_http_requests_total{service="discovery",status="200"} 4.0' in metrics
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.parametrize(
    "args,message",
    [
        (["--seed"], "--seed needs --fhir URL"),
        (["--patient", "p1", "--fhir-token", "t"], "--patient, --fhir-token need --fhir URL"),
        (["--fhir", "http://127.0.0.1:9/fhir"], "--fhir needs --seed or at least one --patient ID"),
        (["--fhir", "ftp://fhir.example.org/r4", "--seed"], "needs an http(s) FHIR base URL"),
    ],
)
def test_demo_fhir_options_are_checked_before_anything_starts(tmp_path: Path, args: list[str], message: str) -> None:
    """(Against a real FHIR server: tests/integration/test_demo_fhir.py.)"""
    result = derm3r("demo", *args, "--out", str(tmp_path / "out"), timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == f"derm3r demo: {message}" or message in result.stderr.strip().splitlines()[0]
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_assess_an_order_offline(tmp_path: Path) -> None:
    """`derm3r assess record.json --service derm3r-order-sign --order order.json`: the prescribing
    check without a listener; the pregnant synthetic patient gets the critical card."""
    needs_agents()
    synthetic = pytest.importorskip("cds_hooks.demo.synthetic")
    record = tmp_path / "record.json"
    record.write_text(json.dumps(synthetic.patient_bundle("pregnancy", seed=3, visits=1)))
    order = tmp_path / "order.json"
    order.write_text(json.dumps({"resourceType": "MedicationRequest", "id": "mtx1", "status": "draft", "intent": "order",
                                 "medicationCodeableConcept": {"text": "Methotrexate 2.5 MG Oral Tablet"}}))
    result = derm3r("assess", str(record), "--service", "derm3r-order-sign", "--order", str(order))
    assert result.returncode == 0, result.stderr[-2000:]
    payload = json.loads(result.stdout)
    jsonschema.validate(payload, RESPONSE_SCHEMA)
    assert any(c["indicator"] == "critical" and "pregnancy" in c["summary"] for c in payload["cards"])
    missing = derm3r("assess", str(record), "--service", "derm3r-order-select")
    assert missing.returncode == 2 and "needs --order" in missing.stderr and "Traceback" not in missing.stderr
