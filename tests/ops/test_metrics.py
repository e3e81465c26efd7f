"""Metrics and structured logs in one process: counters after a mixed run equal what was sent,
/metrics protection, FHIR call and database error counting, JSON log lines with request context."""

from __future__ import annotations

import io
import json
import logging
import sys
import uuid
from pathlib import Path

import pytest
import requests

from cds_hooks.demo.issuer import DemoIssuer
from cds_hooks.errors import ServiceUnavailable
from cds_hooks.logs import configure_logging
from cds_hooks.metrics import Metrics, instrument_session
from cds_hooks.routes import RUNTIME_KEY

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cds_hooks"))
from service_support import PV, make_app, request_body  # noqa: E402
from replica_support import GOOD_SMART_TOKEN, TokenCheckServer, free_port  # noqa: E402

TOKEN = "metrics-token-for-tests"
BASE = "http://derm3r.test"


def _samples(text: str) -> dict:
    from prometheus_client.parser import text_string_to_metric_families

    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value for family in text_string_to_metric_families(text) for s in family.samples
    }


def _get(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def issuer_app(tmp_path: Path):
    issuer = DemoIssuer()
    app = make_app(tmp_path, auth_enabled=True, trusted_issuers_file=issuer.write_trust_file(tmp_path), metrics_token=TOKEN)
    return issuer, app


def _card(n: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"metrics-test-{n}"))


def test_counters_after_a_mixed_run_equal_what_was_sent(issuer_app) -> None:
    issuer, app = issuer_app
    client = app.test_client()
    hook_aud, fb_aud = f"{BASE}/cds-services/{PV}", f"{BASE}/cds-services/{PV}/feedback"
    cards: dict[tuple[str, str], int] = {}
    issued: list[str] = []  # feedback is only accepted for cards issued to this client (issue 12)
    for _ in range(3):
        response = client.post(f"/cds-services/{PV}", json=request_body(), headers={"Authorization": issuer.authorization(hook_aud)})
        assert response.status_code == 200
        for card in response.get_json()["cards"]:
            key = (card["source"]["topic"]["code"], card["indicator"])
            cards[key] = cards.get(key, 0) + 1
            issued.append(card["uuid"])
    assert len(set(issued)) >= 3
    items = [
        {"card": issued[0], "outcome": "accepted", "acceptedSuggestions": [{"id": _card(2)}], "outcomeTimestamp": "2026-12-02T05:00:00Z"},
        {"card": issued[1], "outcome": "overridden", "outcomeTimestamp": "2026-12-02T05:00:00Z",
         "overrideReason": {"reason": {"code": "severity-wrong", "system": "https://derm3r.org/fhir/CodeSystem/review-override-reason"}}},
        # A code the service never offered: counted as "other", so clients cannot add label values.
        {"card": issued[2], "outcome": "overridden", "outcomeTimestamp": "2026-12-02T05:00:00Z",
         "overrideReason": {"reason": {"code": "made-up-code", "system": "https://example.org/x"}}},
    ]
    assert client.post(f"/cds-services/{PV}/feedback", json={"feedback": items}, headers={"Authorization": issuer.authorization(fb_aud)}).status_code == 200
    replayed = {"Authorization": issuer.authorization(f"{BASE}/cds-services")}
    assert client.get("/cds-services", headers=replayed).status_code == 200
    assert client.get("/cds-services", headers=replayed).status_code == 401
    assert client.get("/cds-services").status_code == 401
    assert client.post("/cds-services/no-such-service", json={}, headers={"Authorization": issuer.authorization(f"{BASE}/cds-services/no-such-service")}).status_code == 404

    scraped = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert scraped.status_code == 200 and scraped.mimetype == "text/plain"
    s = _samples(scraped.get_data(as_text=True))
    assert _get(s, "derm3r_http_requests_total", service=PV, status="200") == 4
    assert _get(s, "derm3r_http_requests_total", service="discovery", status="200") == 1
    assert _get(s, "derm3r_http_requests_total", service="discovery", status="401") == 2
    assert _get(s, "derm3r_http_requests_total", service="unknown-service", status="404") == 1
    assert _get(s, "derm3r_hook_duration_seconds_count", hook="patient-view") == 3
    assert _get(s, "derm3r_model_inference_seconds_count") == 3
    assert cards and all(_get(s, "derm3r_cards_total", topic=t, indicator=i) == n for (t, i), n in cards.items())
    assert _get(s, "derm3r_feedback_total", outcome="accepted", reason="none") == 1
    assert _get(s, "derm3r_feedback_total", outcome="overridden", reason="severity-wrong") == 1
    assert _get(s, "derm3r_feedback_total", outcome="overridden", reason="other") == 1
    assert _get(s, "derm3r_jwt_rejections_total", reason="replayed_jti") == 1
    assert _get(s, "derm3r_jwt_rejections_total", reason="missing_authorization_header") == 1
    assert not any(name == "derm3r_db_errors_total" for name, _ in s)


@pytest.mark.parametrize(
    ("settings", "header", "status"),
    [
        ({"metrics_token": TOKEN}, None, 401),
        ({"metrics_token": TOKEN}, "Bearer wrong", 401),
        ({"metrics_token": TOKEN}, f"Bearer {TOKEN}", 200),
        ({}, f"Bearer {TOKEN}", 404),  # neither a token nor a port: not served
        ({"metrics_token": TOKEN, "metrics_port": 9102}, f"Bearer {TOKEN}", 404),  # on its own port only
    ],
)
def test_metrics_endpoint_protection(tmp_path: Path, settings: dict, header: str | None, status: int) -> None:
    client = make_app(tmp_path, **settings).test_client()
    response = client.get("/metrics", headers={"Authorization": header} if header else {})
    assert response.status_code == status


def test_metrics_on_a_separate_port(tmp_path: Path) -> None:
    from cds_hooks.metrics import serve_on_port

    app = make_app(tmp_path)
    metrics = app.extensions[RUNTIME_KEY].metrics
    metrics.request_done("discovery", 200)
    port = free_port()
    serve_on_port(port, metrics, host="127.0.0.1")
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    assert _get(_samples(text), "derm3r_http_requests_total", service="discovery", status="200") == 1


def test_fhir_calls_are_counted_by_outcome_errors_included() -> None:
    metrics = Metrics()
    server = TokenCheckServer()
    try:
        session = instrument_session(requests.Session(), metrics)
        assert session.get(f"{server.base}/Patient/p1", headers={"Authorization": f"Bearer {GOOD_SMART_TOKEN}"}, timeout=5).status_code == 200
        assert session.get(f"{server.base}/Patient/p1", timeout=5).status_code == 401
        with pytest.raises(requests.ConnectionError):
            session.get(f"http://127.0.0.1:{free_port()}/fhir/Patient/p1", timeout=5)
    finally:
        server.stop()
    s = _samples(metrics.exposition().decode())
    assert [_get(s, "derm3r_fhir_requests_total", outcome=o) for o in ("2xx", "4xx", "connection_error")] == [1, 1, 1]
    assert _get(s, "derm3r_fhir_request_duration_seconds_count", outcome="2xx") == 1


def test_database_errors_are_counted(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    runtime = app.extensions[RUNTIME_KEY]
    with pytest.raises(ServiceUnavailable):
        runtime.store.database.write("probe", lambda conn: conn.exec_driver_sql("SELECT * FROM no_such_table"))
    s = _samples(runtime.metrics.exposition().decode())
    assert _get(s, "derm3r_db_errors_total", operation="probe", kind="operationalerror") == 1


def test_log_lines_are_json_with_the_request_context(tmp_path: Path) -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure_logging("json", logging.INFO, stream)
    try:
        client = make_app(tmp_path).test_client()
        body = request_body()
        response = client.post(f"/cds-services/{PV}", json=body, headers={"X-Request-Id": "lb-1234"})
        assert response.status_code == 200 and response.headers["X-Request-Id"] == "lb-1234"
        # An id that is not a short token is replaced, not logged.
        odd = client.get("/cds-services", headers={"X-Request-Id": "a b\\n{evil}"})
        assert odd.headers["X-Request-Id"] != "a b\\n{evil}" and len(odd.headers["X-Request-Id"]) == 32
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    answered = [line for line in lines if line.get("logger") == "cds_hooks.routes"]
    assert answered and answered[0]["request_id"] == "lb-1234" and answered[0]["hook_instance"] == body["hookInstance"]
    assert answered[0]["service"] == PV
    access = [line for line in lines if line.get("logger") == "cds_hooks.access"]
    assert {"time", "level", "message", "request_id", "method", "route", "service", "status", "duration_ms"} <= set(access[0])
    assert access[0]["status"] == 200 and access[0]["route"] == "/cds-services/<service_id>"
    # No patient data: the prefetch's Patient id never appears.
    assert "Patient/p1" not in stream.getvalue()


def test_review_app_feedback_is_stored_and_counted_like_hook_feedback(tmp_path: Path) -> None:
    from cds_hooks.app import _counted_feedback
    from cds_hooks.storage import open_store

    metrics, store = Metrics(override_reason_codes={"severity-wrong"}), open_store(tmp_path)
    sink = _counted_feedback(store, metrics)
    item = {"card": _card(9), "outcome": "overridden", "overrideReason": {"reason": {"code": "severity-wrong"}},
            "outcomeTimestamp": "2026-12-02T05:00:00Z"}
    assert sink(PV, item) is True and sink(PV, item) is False  # idempotent, counted as received
    s = _samples(metrics.exposition().decode())
    assert _get(s, "derm3r_feedback_total", outcome="overridden", reason="severity-wrong") == 2
    assert store.list_feedback(PV) == [item]
