"""The test FHIR server (Medplum engine, `tests/fhir_server/server.mjs`) for the no-prefetch rows,
started the way the integration tests start it and driven with the same `tools.fhir_server` helpers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from bench.patients import FhirPatient

from tools.fhir_server import FHIR_JSON, FHIR_SERVER_DIR, INSTALL_COMMAND, FhirServer, read_first_line, server_command, stop

STARTUP_S = 30.0


class FhirServerUnavailable(RuntimeError):
    """Node or the server's npm packages are missing: the no-prefetch rows are skipped."""


@contextmanager
def running(log_dir: Path) -> Iterator[FhirServer]:
    node = shutil.which("node")
    if node is None:
        raise FhirServerUnavailable("node is not installed (the test FHIR server needs Node.js >= 20)")
    if not (FHIR_SERVER_DIR / "node_modules" / "@medplum" / "fhir-router").is_dir():
        raise FhirServerUnavailable(f"the test FHIR server's packages are not installed: run `{INSTALL_COMMAND}`")
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / "fhir-server.log", "w", encoding="utf-8") as stderr:
        process = subprocess.Popen(
            server_command(node),  # the integration tests' command line; exits when this process dies
            cwd=FHIR_SERVER_DIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True,
            env={**os.environ, "NODE_NO_WARNINGS": "1"},
        )
    try:
        first = read_first_line(process, STARTUP_S)
        if not first:
            raise FhirServerUnavailable(f"the test FHIR server did not start; see {log_dir / 'fhir-server.log'}")
        base = json.loads(first)["base"]
        _wait_ready(base, time.monotonic() + STARTUP_S)
        server = FhirServer(base=base, admin=base.rsplit("/", 1)[0] + "/admin")
        server.session.trust_env = False
        server.reset()
        yield server
    finally:
        stop(process)


def seed(server: FhirServer, patient: FhirPatient) -> None:
    """Load a patient: its resources by transaction, then each photo as raw Binary content."""
    server.transaction(patient.transaction)
    for binary_id, data in patient.binaries.items():
        response = server.session.put(
            f"{server.base}/Binary/{binary_id}", data=data,
            headers={"Content-Type": "image/jpeg", "X-Security-Context": f"Patient/{patient.patient_id}"}, timeout=60,
        )
        if response.status_code not in (200, 201):
            raise FhirServerUnavailable(f"the test FHIR server refused Binary/{binary_id}: HTTP {response.status_code}")


def _wait_ready(base: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/metadata", timeout=2, headers={"Accept": FHIR_JSON}).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise FhirServerUnavailable(f"the test FHIR server at {base} did not become ready")
