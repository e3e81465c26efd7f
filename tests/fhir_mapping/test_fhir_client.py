"""FhirClient against a real HTTP server on 127.0.0.1 (no mocks): paging, auth, errors, timeouts,
size caps, redirects and attachments."""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from fhir_mapping.client import FhirClient
from fhir_mapping.errors import (
    FhirAuthError,
    FhirBadResponse,
    FhirError,
    FhirNotAllowed,
    FhirNotFound,
    FhirUnavailable,
)

TOKEN = "s3cr3t-token-value"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
MAX_BYTES = 50_000


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen_auth: list[str | None] = []

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        return

    def _send(self, status: int, body: bytes, content_type: str = "application/fhir+json", headers: dict | None = None,
              length: bool = True) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if length:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        if not length:
            self.close_connection = True

    def _json(self, status: int, value: object) -> None:
        self._send(status, json.dumps(value).encode())

    def _base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/fhir"  # type: ignore[attr-defined]

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        _Handler.seen_auth.append(self.headers.get("Authorization"))
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        if self.headers.get("Authorization") != f"Bearer {TOKEN}" and path != "/fhir/Patient/anonymous":
            self._json(401, {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "login"}]})
            return
        page = int(query.get("page", ["1"])[0])
        route = {
            "/fhir/Observation": lambda: self._json(200, _bundle(page, f"{self._base()}/Observation?page={page + 1}" if page < 3 else None)),
            "/fhir/Endless": lambda: self._json(200, _bundle(page, f"{self._base()}/Endless?page={page + 1}")),
            "/fhir/OffBase": lambda: self._json(200, _bundle(page, f"http://127.0.0.1:{self.server.server_address[1]}/other/x")),  # type: ignore[attr-defined]
            "/fhir/Outcome": lambda: self._json(200, {"resourceType": "Bundle", "type": "searchset", "entry": [
                {"resource": {"resourceType": "OperationOutcome", "issue": []}, "search": {"mode": "outcome"}},
                {"resource": {"resourceType": "Observation", "id": "o"}, "search": {"mode": "match"}}]}),
            "/fhir/PlainOutcome": lambda: self._json(200, {"resourceType": "Bundle", "type": "searchset", "entry": [
                {"resource": {"resourceType": "OperationOutcome", "issue": []}},
                {"resource": {"resourceType": "Observation", "id": "o"}}]}),
            "/fhir/Malformed": lambda: self._json(200, {"resourceType": "Bundle", "type": "searchset", "entry": {"resource": {}}}),
            "/fhir/NotABundle": lambda: self._json(200, {"resourceType": "Patient", "id": "1"}),
            "/fhir/Patient/1": lambda: self._json(200, {"resourceType": "Patient", "id": "1"}),
            "/fhir/Patient/anonymous": lambda: self._json(200, {"resourceType": "Patient", "id": "anonymous"}),
            "/fhir/Patient/forbidden": lambda: self._json(403, {"resourceType": "OperationOutcome", "issue": []}),
            "/fhir/Patient/missing": lambda: self._json(404, {"resourceType": "OperationOutcome", "issue": []}),
            "/fhir/Patient/gone": lambda: self._json(410, {"resourceType": "OperationOutcome", "issue": []}),
            "/fhir/Patient/boom": lambda: self._json(500, {"resourceType": "OperationOutcome", "issue": []}),
            "/fhir/Patient/busy": lambda: self._json(429, {"resourceType": "OperationOutcome", "issue": []}),
            "/fhir/Patient/bad-request": lambda: self._json(400, {"resourceType": "OperationOutcome", "issue": []}),
            "/fhir/Patient/garbage": lambda: self._send(200, b"<html>not json</html>", "text/html"),
            "/fhir/Patient/json-list": lambda: self._json(200, [1, 2, 3]),
            "/fhir/Patient/wrong-type": lambda: self._json(200, {"resourceType": "Observation", "id": "x"}),
            "/fhir/Patient/huge": lambda: self._send(200, b"{" + b" " * (MAX_BYTES * 2) + b"}"),
            "/fhir/Patient/huge-unsized": lambda: self._send(200, b"{" + b" " * (MAX_BYTES * 2) + b"}", length=False),
            "/fhir/Patient/slow": self._slow,
            "/fhir/Patient/drip": self._drip,
            "/fhir/Patient/redirect-out": lambda: self._send(302, b"", headers={"Location": "http://evil.example/fhir/Patient/1"}),
            "/fhir/Patient/redirect-other-path": lambda: self._send(307, b"", headers={"Location": "/admin/Patient/1"}),
            "/fhir/Patient/redirect-in": lambda: self._send(302, b"", headers={"Location": "/fhir/Patient/1"}),
            "/fhir/Patient/redirect-loop": lambda: self._send(302, b"", headers={"Location": "/fhir/Patient/redirect-loop"}),
            "/fhir/Binary/json": lambda: self._json(200, {"resourceType": "Binary", "contentType": "image/png",
                                                          "data": base64.b64encode(PNG).decode()}),
            "/fhir/Binary/raw": lambda: self._send(200, PNG, "image/png"),
            "/fhir/Binary/no-data": lambda: self._json(200, {"resourceType": "Binary", "contentType": "image/png"}),
            "/fhir/Binary/bad-base64": lambda: self._json(200, {"resourceType": "Binary", "data": "!!!"}),
            "/fhir/Binary/outcome": lambda: self._json(200, {"resourceType": "OperationOutcome", "issue": []}),
            "/fhir/Binary/empty": lambda: self._send(200, b"", "image/png"),
        }.get(path)
        if route is None:
            self._json(404, {"resourceType": "OperationOutcome", "issue": []})
        else:
            route()

    def _slow(self) -> None:
        time.sleep(1.5)
        self._json(200, {"resourceType": "Patient", "id": "slow"})

    def _drip(self) -> None:
        body = json.dumps({"resourceType": "Patient", "id": "drip", "pad": "x" * 40}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            for byte in body:  # each byte well within the read timeout, the whole far beyond it
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            return


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # The client hanging up on slow or oversized answers is the point of those tests.
        return


def _bundle(page: int, next_url: str | None) -> dict:
    bundle: dict = {"resourceType": "Bundle", "type": "searchset",
                    "entry": [{"resource": {"resourceType": "Observation", "id": f"p{page}-{n}"}} for n in range(2)]}
    if next_url:
        bundle["link"] = [{"relation": "self", "url": "ignored"}, {"relation": "next", "url": next_url}]
    return bundle


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = _QuietServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/fhir"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture()
def client(server: str) -> Iterator[FhirClient]:
    with FhirClient(server, access_token=TOKEN, timeout=0.8, allowlist=[server], max_bytes=MAX_BYTES) as c:
        yield c


# ------------------------------------------------------------------ construction and allow-list


@pytest.mark.parametrize(
    "base, allowlist",
    [("https://ehr.example.org/fhir", ["https://ehr.example.org/fhir2"]),
     ("https://ehr.example.org/fhir", ["http://ehr.example.org/fhir"]),
     ("https://ehr.example.org/fhir", ["https://ehr.example.org"]),
     ("https://ehr.example.org/fhir/sub", ["https://ehr.example.org/fhir"]),
     ("https://ehr.example.org.evil.com/fhir", ["https://ehr.example.org/fhir"]),
     ("https://user:pw@ehr.example.org/fhir", ["https://user:pw@ehr.example.org/fhir"]),
     ("ftp://ehr.example.org/fhir", ["ftp://ehr.example.org/fhir"]),
     ("https://ehr.example.org/fhir", []),
     ("not a url", ["not a url"])],
)
def test_base_url_must_be_allow_listed(base: str, allowlist: list[str]) -> None:
    with pytest.raises(FhirNotAllowed):
        FhirClient(base, access_token=None, timeout=1, allowlist=allowlist)


@pytest.mark.parametrize("base", ["https://EHR.example.org/fhir/", "https://ehr.example.org:443/fhir", "HTTPS://ehr.example.org/fhir"])
def test_allow_list_match_is_normalised(base: str) -> None:
    client = FhirClient(base, access_token=None, timeout=1, allowlist=["https://ehr.example.org/fhir/"])
    assert client.base_url == "https://ehr.example.org/fhir"


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/fhir/Binary/1", "https://ehr.example.org/fhir-other/Binary/1", "https://ehr.example.org/fhir/../x",
     "http://ehr.example.org/fhir/Binary/1", "//evil.example/fhir/Binary/1", "https://ehr.example.org:8443/fhir/Binary/1",
     "Binary/../../admin", "Binary/%2e%2e/%2E%2E/admin", "file:///etc/passwd", "http://169.254.169.254/latest/meta-data/", ""],
)
def test_urls_outside_the_base_are_refused_before_any_request(target: str) -> None:
    client = FhirClient("https://ehr.example.org/fhir", access_token=TOKEN, timeout=1, allowlist=["https://ehr.example.org/fhir"])
    with pytest.raises(FhirNotAllowed):
        client.attachment(target)
    with pytest.raises(FhirNotAllowed):
        client.read(target)


# ------------------------------------------------------------------ search


def test_search_follows_next_links(client: FhirClient) -> None:
    found = client.search("Observation?patient=1&page=1")
    assert [r["id"] for r in found] == ["p1-0", "p1-1", "p2-0", "p2-1", "p3-0", "p3-1"]


def test_search_accepts_absolute_url_under_base(client: FhirClient, server: str) -> None:
    assert len(client.search(f"{server}/Observation?page=3")) == 2


def test_search_paging_is_bounded(server: str) -> None:
    with FhirClient(server, access_token=TOKEN, timeout=1, allowlist=[server], max_pages=4) as c:
        assert len(c.search("Endless?page=1")) == 8


def test_search_stops_when_next_leaves_base(client: FhirClient) -> None:
    assert [r["id"] for r in client.search("OffBase?page=1")] == ["p1-0", "p1-1"]


def test_search_skips_outcome_entries(client: FhirClient) -> None:
    assert [r["resourceType"] for r in client.search("Outcome?x=1")] == ["Observation"]


def test_search_drops_operation_outcomes_sent_as_ordinary_entries(client: FhirClient) -> None:
    assert [r["resourceType"] for r in client.search("PlainOutcome?x=1")] == ["Observation"]


def test_a_malformed_search_bundle_is_a_bad_response(client: FhirClient) -> None:
    with pytest.raises(FhirBadResponse, match="malformed Bundle"):
        client.search("Malformed?x=1")


def test_search_requires_a_bundle(client: FhirClient) -> None:
    with pytest.raises(FhirBadResponse):
        client.search("NotABundle?x=1")


# ------------------------------------------------------------------ read and errors


def test_read_sends_the_token(client: FhirClient) -> None:
    _Handler.seen_auth.clear()
    assert client.read("Patient/1") == {"resourceType": "Patient", "id": "1"}
    assert _Handler.seen_auth == [f"Bearer {TOKEN}"]


def test_read_without_token_sends_no_authorization(server: str) -> None:
    _Handler.seen_auth.clear()
    with FhirClient(server, access_token=None, timeout=1, allowlist=[server]) as c:
        assert c.read("Patient/anonymous")["id"] == "anonymous"
        with pytest.raises(FhirAuthError) as info:
            c.read("Patient/1")
    assert info.value.status == 401 and _Handler.seen_auth == [None, None]


@pytest.mark.parametrize(
    "reference, error, status",
    [("Patient/forbidden", FhirAuthError, 403), ("Patient/missing", FhirNotFound, 404), ("Patient/gone", FhirNotFound, 410),
     ("Patient/boom", FhirUnavailable, 500), ("Patient/busy", FhirUnavailable, 429),
     ("Patient/bad-request", FhirBadResponse, 400), ("Patient/garbage", FhirBadResponse, None),
     ("Patient/json-list", FhirBadResponse, None), ("Patient/wrong-type", FhirBadResponse, None),
     ("Patient/huge", FhirBadResponse, None), ("Patient/huge-unsized", FhirBadResponse, None),
     ("Patient/slow", FhirUnavailable, None), ("Patient/drip", FhirUnavailable, None),
     ("Patient/redirect-out", FhirNotAllowed, None), ("Patient/redirect-other-path", FhirNotAllowed, None),
     ("Patient/redirect-loop", FhirBadResponse, None)],
)
def test_read_errors_are_typed_and_safe(client: FhirClient, caplog: pytest.LogCaptureFixture, reference: str,
                                        error: type[FhirError], status: int | None) -> None:
    caplog.set_level(logging.DEBUG)
    started = time.monotonic()
    with pytest.raises(error) as info:
        client.read(reference)
    assert time.monotonic() - started < 3.0  # bounded even for slow and dripping servers
    assert info.value.status == status
    for text in (info.value.message, str(info.value), caplog.text):
        assert TOKEN not in text
    assert "127.0.0.1" not in info.value.message  # no URLs (they can carry patient ids)


def test_redirect_within_base_is_followed(client: FhirClient) -> None:
    assert client.read("Patient/redirect-in")["id"] == "1"


def test_connection_refused_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}/fhir"
    with FhirClient(base, access_token=TOKEN, timeout=0.5, allowlist=[base]) as c:
        with pytest.raises(FhirUnavailable) as info:
            c.read("Patient/1")
    assert TOKEN not in info.value.message and str(port) not in info.value.message


def test_caller_session_is_used(server: str) -> None:
    session = requests.Session()
    with FhirClient(server, access_token=TOKEN, timeout=1, allowlist=[server], session=session) as c:
        assert c.read("Patient/1")["id"] == "1"


# ------------------------------------------------------------------ attachments


@pytest.mark.parametrize("url", ["Binary/json", "Binary/raw", "/Binary/raw"])
def test_attachment_relative(client: FhirClient, url: str) -> None:
    assert client.attachment(url) == PNG


def test_attachment_absolute_under_base(client: FhirClient, server: str) -> None:
    assert client.attachment(f"{server}/Binary/raw") == PNG


@pytest.mark.parametrize("url, error", [("Binary/no-data", FhirBadResponse), ("Binary/bad-base64", FhirBadResponse),
                                        ("Binary/outcome", FhirBadResponse), ("Binary/empty", FhirBadResponse),
                                        ("Binary/missing", FhirNotFound)])
def test_attachment_errors(client: FhirClient, url: str, error: type[FhirError]) -> None:
    with pytest.raises(error):
        client.attachment(url)


def test_attachment_off_base_refused(client: FhirClient) -> None:
    with pytest.raises(FhirNotAllowed):
        client.attachment("http://evil.example/fhir/Binary/raw")
