"""The derm3r test FHIR server (`tests/fhir_server/server.mjs`, Medplum's FHIR engine in memory)
from Python: where it lives, how it is started and stopped, and `FhirServer`, a small client for
seeding, reading back and (test server only) fault injection.

Shared by the integration tests (`tests/integration/conftest.py`) and the benchmark
(`bench/fhir.py`); it lives here so that bench/ never imports tests/. No pytest in here: the
conftest adds the test-only behaviour (skipping when a control is missing).
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[1]
FHIR_SERVER_DIR = REPO / "tests" / "fhir_server"
INSTALL_COMMAND = "npm ci --prefix tests/fhir_server"
FHIR_JSON = "application/fhir+json"


class NotControllable(RuntimeError):
    """A fault-injection or request-log call on a FHIR server other than the test server."""


def server_command(node: str) -> list[str]:
    """The command line that starts the test server on a free loopback port (run in
    FHIR_SERVER_DIR). --experimental-websocket: Medplum 5 expects the global WebSocket of
    Node >= 22. --exit-with-stdin: the server exits when its parent dies (stdin closes)."""
    return [node, "--experimental-websocket", "server.mjs", "--port", "0", "--host", "127.0.0.1", "--exit-with-stdin"]


@dataclass
class FhirServer:
    """A FHIR R4 base URL talked to directly (seeding, read-back, fault injection)."""

    base: str
    admin: str | None  # the test server's admin API; None for an external server
    token: str | None = None  # bearer token the server expects (None: no auth)
    session: requests.Session = field(default_factory=requests.Session, repr=False)

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Accept": FHIR_JSON}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        headers.update(extra or {})
        return headers

    def transaction(self, bundle: dict[str, Any]) -> dict[str, Any]:
        response = self.session.post(
            self.base, json=bundle, headers=self._headers({"Content-Type": FHIR_JSON}), timeout=120
        )
        assert response.status_code == 200, f"transaction failed: HTTP {response.status_code} {response.text[:2000]}"
        return response.json()

    def read(self, reference: str) -> dict[str, Any]:
        response = self.session.get(f"{self.base}/{reference}", headers=self._headers(), timeout=30)
        assert response.status_code == 200, f"read {reference}: HTTP {response.status_code} {response.text[:500]}"
        return response.json()

    def search_page(self, query: str) -> dict[str, Any]:
        """The first page of a search, as the server's Bundle."""
        response = self.session.get(f"{self.base}/{query}", headers=self._headers(), timeout=30)
        assert response.status_code == 200, f"search {query}: HTTP {response.status_code}"
        return dict(response.json())

    def delete(self, reference: str) -> None:
        response = self.session.delete(f"{self.base}/{reference}", headers=self._headers(), timeout=30)
        assert response.status_code in (200, 202, 204, 404, 410), f"delete {reference}: HTTP {response.status_code}"

    def search(self, query: str) -> list[dict[str, Any]]:
        """All resources of a search, following `next` links (the EHR's side: deliberately not
        derm3r's reader, so a test compares the service against an independent one)."""
        url: str | None = f"{self.base}/{query}"
        found: list[dict[str, Any]] = []
        while url:
            response = self.session.get(url, headers=self._headers(), timeout=30)
            assert response.status_code == 200, f"search {query}: HTTP {response.status_code}"
            bundle = response.json()
            found += [e["resource"] for e in bundle.get("entry", []) if e.get("search", {}).get("mode", "match") == "match"]
            url = next((link["url"] for link in bundle.get("link", []) if link["relation"] == "next"), None)
        return found

    # -- test-server-only controls ------------------------------------------------------------------

    @property
    def controllable(self) -> bool:
        return self.admin is not None

    def _admin(self) -> str:
        if self.admin is None:
            raise NotControllable("needs the derm3r test FHIR server (fault injection / request log)")
        return self.admin

    def fault(self, **fault: Any) -> None:
        """Queue a fault: status=401|404|500, delay_ms=..., garbage=True, drop=True; match=regex on
        'METHOD /path?query'; count=N (-1 until cleared). See tests/fhir_server/server.mjs."""
        requests.post(f"{self._admin()}/faults", json=fault, timeout=5).raise_for_status()

    def require_token(self, token: str | None) -> None:
        requests.put(f"{self._admin()}/token", json={"token": token}, timeout=5).raise_for_status()

    def seen(self) -> list[dict[str, Any]]:
        """FHIR requests the server received since the last reset: method, path, query, auth."""
        response = requests.get(f"{self._admin()}/requests", timeout=5)
        response.raise_for_status()
        return list(response.json()["requests"])

    def reset(self) -> None:
        if self.admin is None:
            return
        requests.delete(f"{self.admin}/faults", timeout=5).raise_for_status()
        requests.delete(f"{self.admin}/requests", timeout=5).raise_for_status()
        requests.put(f"{self.admin}/token", json={"token": None}, timeout=5).raise_for_status()


def read_first_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The server's first stdout line (its base URL as JSON), without blocking forever if it never comes."""
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()  # type: ignore[union-attr]
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        return ""


def stop(process: subprocess.Popen[str]) -> None:
    """Stop the server process we started (by its PID: SIGTERM, then SIGKILL)."""
    if process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


__all__ = ["FHIR_JSON", "FHIR_SERVER_DIR", "INSTALL_COMMAND", "FhirServer", "NotControllable", "read_first_line", "server_command", "stop"]
