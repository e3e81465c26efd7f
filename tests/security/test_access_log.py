"""Issue 12, problem 10, and its family: credentials in a URL never reach an access log, under
either server the service runs on (Flask's development server; gunicorn with the project's logger
class), whatever the parameter or log-format atom carries them."""

from __future__ import annotations

import datetime
import logging
import threading
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from werkzeug.serving import make_server

from cds_hooks.access_log import REDACTED, GunicornLogger, scrub
from security_support import Signer

SMART_CODE = "oauth-code-SECRET-91ab"
LAUNCH = "launch-SECRET-4c2d"


def _urls(jwt: str) -> list[str]:
    return [
        f"/cds-services?access_token={jwt}",  # red team
        f"/cds-services/derm3r-patient-view?token={jwt}&x=1",
        f"/app/launch.html?iss=https%3A%2F%2Fehr.example.org%2Ffhir&launch={LAUNCH}",
        f"/app/index.html?code={SMART_CODE}&state=abc123state",
        f"/app/api/assessments/x?id_token={jwt}",
        f"/healthz?ACCESS_TOKEN={jwt}",
        f"/about/{jwt}",  # a JWT in the path itself
    ]


SECRETS = (SMART_CODE, LAUNCH, "abc123state")


def test_development_server_access_log(edge_app: Any, signer: Signer, caplog: pytest.LogCaptureFixture) -> None:
    """The real werkzeug server on loopback (as `derm3r serve` runs it)."""
    jwt = signer.token()
    app = edge_app()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    caplog.set_level(logging.INFO, logger="werkzeug")
    try:
        for url in _urls(jwt):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}{url}", timeout=10).read()
            except urllib.error.HTTPError:
                pass  # 401/404 are expected; the request is logged either way
    finally:
        server.shutdown()
        thread.join(5)
    lines = [record.getMessage() for record in caplog.records if record.name == "werkzeug"]
    assert len([line for line in lines if "GET /" in line]) == len(_urls(jwt)), lines
    text = "\n".join(lines)
    assert jwt not in text and jwt.split(".")[2] not in text
    assert not any(secret in text for secret in SECRETS)
    assert REDACTED in text and "iss=https" in text  # the non-secret parts stay useful


def _gunicorn_line(tmp_path: Path, url: str, headers: list[tuple[str, str]], fmt: str | None = None) -> str:
    from gunicorn.config import Config

    log_file = tmp_path / "access.log"
    cfg = Config()
    cfg.set("accesslog", str(log_file))
    if fmt:
        cfg.set("access_log_format", fmt)
    logger = GunicornLogger(cfg)
    path, _, query = url.partition("?")
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": url, "PATH_INFO": path, "QUERY_STRING": query, "SERVER_PROTOCOL": "HTTP/1.1",
               "REMOTE_ADDR": "127.0.0.1", "HTTP_REFERER": f"https://ehr.example.org{url}", "HTTP_USER_AGENT": "test"}
    resp = SimpleNamespace(status="401 UNAUTHORIZED", sent=10, headers=[("Content-Type", "application/json")])
    req = SimpleNamespace(headers=headers)
    logger.access(resp, req, environ, datetime.timedelta(milliseconds=5))
    for handler in logger.access_log.handlers:
        handler.flush()
    return log_file.read_text()


@pytest.mark.parametrize("index", range(7))
def test_gunicorn_access_log_default_format(tmp_path: Path, signer: Signer, index: int) -> None:
    jwt = signer.token()
    url = _urls(jwt)[index]
    line = _gunicorn_line(tmp_path, url, [("Authorization", f"Bearer {jwt}")])
    assert "GET /" in line
    assert jwt not in line and not any(secret in line for secret in SECRETS), line


def test_gunicorn_access_log_every_atom(tmp_path: Path, signer: Signer) -> None:
    """An operator's format with the query, path, referer and the Authorization header itself."""
    jwt = signer.token()
    fmt = '%(r)s | %(q)s | %(U)s | %(f)s | %({authorization}i)s | %({cookie}i)s'
    line = _gunicorn_line(tmp_path, _urls(jwt)[0], [("Authorization", f"Bearer {jwt}"), ("Cookie", "session=abc")], fmt)
    assert jwt not in line and "session=abc" not in line, line
    assert line.count(REDACTED) >= 4


@pytest.mark.parametrize("text,kept", [
    ("GET /app/launch.html?iss=https://ehr&launch=L HTTP/1.1", "iss=https://ehr"),
    ("GET /cds-services HTTP/1.1", "GET /cds-services HTTP/1.1"),
    ("POST /cds-services/x/feedback?code=C&page=2", "page=2"),
])
def test_scrub_keeps_what_is_not_secret(text: str, kept: str) -> None:
    assert kept in scrub(text)


def test_the_soak_and_the_image_use_the_scrubbing_logger() -> None:
    root = Path(__file__).resolve().parents[2]
    assert "cds_hooks.access_log.GunicornLogger" in (root / "Dockerfile").read_text()
    assert "cds_hooks.access_log.GunicornLogger" in (root / "bench" / "soak.py").read_text()


def test_gunicorn_error_log_is_scrubbed_too(tmp_path: Path, signer: Signer) -> None:
    """gunicorn logs the URI of a request that fails inside it ("Error handling request %s")."""
    from gunicorn.config import Config

    jwt = signer.token()
    cfg = Config()
    cfg.set("errorlog", str(tmp_path / "error.log"))
    logger = GunicornLogger(cfg)
    logger.error("Error handling request %s", _urls(jwt)[0])
    for handler in logger.error_log.handlers:
        handler.flush()
    text = (tmp_path / "error.log").read_text()
    assert "Error handling request /cds-services?access_token=" in text and jwt not in text, text


def test_the_production_gunicorn_config_uses_the_scrubbing_logger() -> None:
    """Issue 16's gunicorn config (Dockerfile, compose, Kubernetes) and issue 12's logger compose:
    the config names the logger class, and the image's command line keeps both."""
    from cds_hooks import gunicorn_conf

    assert gunicorn_conf.logger_class == "cds_hooks.access_log.GunicornLogger"
    assert gunicorn_conf.accesslog is None  # the app's own access lines carry route templates only
    dockerfile = (Path(__file__).resolve().parents[2] / "Dockerfile").read_text()
    assert "python:cds_hooks.gunicorn_conf" in dockerfile
