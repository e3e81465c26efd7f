"""`derm3r demo --fhir URL`: the demo against a real FHIR R4 server (the loopback test server), as a
user runs it: a subprocess, real HTTP both ways, the service fetching the record itself."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from cds_hooks.demo.fhir_server import fhir_demo_bundles
from cds_hooks.demo.synthetic import demo_patients, patient_id
from .conftest import REPO, FhirServer, Seeded

RESPONSE_SCHEMA = json.loads((REPO / "cds_hooks" / "schemas" / "cds-hooks-response.schema.json").read_text())
DEMO_TOKEN = "demo-fhir-token-7f3a"  # what the test server is told to require
SEARCHED = ("Observation", "Media", "Condition", "MedicationStatement", "MedicationRequest", "DocumentReference")


def derm3r_demo(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "DERM3R_DEMO_FHIR_TOKEN"}
    return subprocess.run(
        [sys.executable, "-m", "cds_hooks.cli", "demo", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**environment, **(env or {})},
    )


def _token_for(fhir: FhirServer) -> str | None:
    """Make the test server require a token (so fhirAuthorization is exercised); an external
    server's own token otherwise."""
    if fhir.controllable:
        fhir.require_token(DEMO_TOKEN)
        return DEMO_TOKEN
    return fhir.token


def test_fhir_seed_bundles_are_the_demo_patients() -> None:
    """Same people and ids as the embedded demo; only where the photographs are stored differs."""
    assert [patient_id(b) for b in fhir_demo_bundles()] == [patient_id(b) for b in demo_patients()]


def test_demo_seeds_the_server_and_the_service_fetches_everything(fhir: FhirServer, tmp_path: Path) -> None:
    token = _token_for(fhir)
    out = tmp_path / "out"
    # The token comes from the environment, as the README recommends (not in shell history).
    result = derm3r_demo("--fhir", fhir.base, "--seed", "--out", str(out), env={"DERM3R_DEMO_FHIR_TOKEN": token} if token else None)
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])

    seen = fhir.seen() if fhir.controllable else []
    if fhir.controllable:
        fhir.require_token(None)  # so that the test's own client (no token) can read back
    seeded_ids = [line.split("Patient/", 1)[1].split(" ", 1)[0] for line in result.stdout.splitlines() if "seeded Patient/" in line]
    assert len(seeded_ids) == len(fhir_demo_bundles())
    for pid in seeded_ids:
        assert fhir.read(f"Patient/{pid}")["id"] == pid  # really on the server
        plan = json.loads((out / f"careplan-{pid}.json").read_text())
        assert plan["resourceType"] == "CarePlan" and plan["status"] == "draft"
        assert plan["subject"]["reference"] == f"Patient/{pid}"
        jsonschema.validate(json.loads((out / f"cds-response-{pid}.json").read_text()), RESPONSE_SCHEMA)
    assert result.stdout.count("HTTP 200") == len(seeded_ids)
    # The demo prints a table of summaries: "preliminary" is in the closing note (details: --verbose).
    assert "PRELIMINARY" in result.stdout and "draft CarePlan written to" in result.stdout
    # order-sign without prefetch too: the service read the record from the FHIR server.
    for pid in seeded_ids:
        jsonschema.validate(json.loads((out / f"order-sign-{pid}.json").read_text()), RESPONSE_SCHEMA)
    assert "loopback/private" in result.stdout  # the relaxed SSRF guard is announced
    if token:
        assert token not in result.stdout and token not in result.stderr

    if fhir.controllable:
        # No prefetch was sent: the service searched every kind of data, for every patient, with the
        # token it was handed in fhirAuthorization...
        for pid in seeded_ids:
            searched = {r["path"].rsplit("/", 1)[-1] for r in seen if r["method"] == "GET" and f"patient={pid}" in r["query"]}
            assert set(SEARCHED) <= searched, (pid, searched)
        # ...and read the photographs stored as Binary.
        assert any(r["method"] == "GET" and "/Binary/" in r["path"] for r in seen)
        assert {r["auth"] for r in seen} == {"valid"}


def test_demo_assesses_named_patients_without_seeding(fhir: FhirServer, seeded: dict[str, Seeded], tmp_path: Path) -> None:
    token = _token_for(fhir)
    patient = seeded["severe_binary"]
    out = tmp_path / "out"
    args = ["--fhir", fhir.base, "--patient", patient.patient_id, "--out", str(out)]
    result = derm3r_demo(*args, *(["--fhir-token", token] if token else []))
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])
    assert "seeded" not in result.stdout
    assert [p.name for p in out.glob("careplan-*.json")] == [f"careplan-{patient.patient_id}.json"]
    if fhir.controllable:
        assert not [r for r in fhir.seen() if r["method"] == "POST"]  # nothing written to the server


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/fhir"


@pytest.mark.parametrize(
    "case,message",
    [
        ("unreachable", "unreachable"),
        ("no_token", "HTTP 401 to GET metadata: it needs a bearer token"),
        ("wrong_token", "HTTP 401 to GET metadata: the token was refused"),
        ("unknown_patient", "unknown patient"),
        ("no_patients", "--fhir needs --seed or at least one --patient ID"),
    ],
)
def test_demo_fhir_errors_are_one_line_and_exit_2(fhir: FhirServer, tmp_path: Path, case: str, message: str) -> None:
    url, args = fhir.base, ["--patient", "does-not-exist-4711"]
    if case == "unreachable":
        url = _closed_port_url()
    elif case in ("no_token", "wrong_token"):
        if not fhir.controllable:
            pytest.skip("needs the derm3r test FHIR server (token control)")
        fhir.require_token(DEMO_TOKEN)
        if case == "wrong_token":
            args += ["--fhir-token", "not-the-token"]
    elif case == "no_patients":
        args = []
    elif fhir.token:
        args += ["--fhir-token", fhir.token]
    result = derm3r_demo("--fhir", url, *args, "--out", str(tmp_path / "out"))
    assert result.returncode == 2, (result.stdout[-2000:], result.stderr[-2000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("derm3r demo: ") and message in lines[0], result.stderr
    assert "not-the-token" not in result.stderr + result.stdout
    assert not (tmp_path / "out").exists()  # nothing started, nothing written
