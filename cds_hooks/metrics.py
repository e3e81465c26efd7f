"""Prometheus metrics: what the service counts, and `GET /metrics` in the Prometheus text format.

Under gunicorn each worker is a process with its own counters; prometheus_client's multiprocess
mode aggregates them: every worker writes its values to memory-mapped files in the directory named
by `PROMETHEUS_MULTIPROC_DIR` (prometheus_client's own variable, read when it is first imported, so
it must be set in the environment before the workers start and be emptied on each start; the
Kubernetes manifests and compose.yaml mount an emptyDir / tmpfs there), and a scrape collects them
all. `cds_hooks/gunicorn_conf.py` marks dead workers. Without that variable (development server,
tests) the counters are this process's own.

Labels are bounded sets chosen by the code - service ids from the registry, hook names, card topics
and indicators, feedback outcomes and the service's own override-reason codes, JWT rejection
reasons, status codes - never patient data, identifiers or free text from a request.

Exposure (`metrics_blueprint`): with `DERM3R_METRICS_TOKEN` set, `/metrics` on the service port
needs `Authorization: Bearer <token>`; with `DERM3R_METRICS_PORT` set it is served on that port
only (by the gunicorn master for all workers, or a thread of `derm3r serve`); with neither it is
not served.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import time
from typing import Any, Iterable, Mapping

import requests
from flask import Blueprint, Response, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from requests.adapters import BaseAdapter

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Hook calls (FHIR fetches + three agents) take tens of ms to a few seconds.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
INFERENCE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
OTHER = "other"


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def collect_registry(own: CollectorRegistry | None = None) -> CollectorRegistry:
    """What a scrape reads: all workers' files in multiprocess mode, else `own`."""
    path = multiprocess_dir()
    if path is None:
        assert own is not None
        return own
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path)
    return registry


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:48] or OTHER


class Metrics:
    """The service's counters and histograms, registered in their own registry (one per app, so
    tests can build many apps in one process)."""

    def __init__(self, *, override_reason_codes: Iterable[str] = ()) -> None:
        self.registry = r = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "derm3r_http_requests", "HTTP requests answered, by service (or endpoint group) and status",
            ["service", "status"], registry=r,
        )
        self.hook_latency = Histogram(
            "derm3r_hook_duration_seconds", "Wall time of a CDS Hooks service call, per hook",
            ["hook"], buckets=LATENCY_BUCKETS, registry=r,
        )
        self.inference = Histogram(
            "derm3r_model_inference_seconds", "Time in the three agents (DERM-Rec, DERM-Rep, DERM-Reason) per assessment",
            buckets=INFERENCE_BUCKETS, registry=r,
        )
        self.fhir_calls = Counter("derm3r_fhir_requests", "Outbound FHIR HTTP requests, by outcome", ["outcome"], registry=r)
        self.fhir_latency = Histogram(
            "derm3r_fhir_request_duration_seconds", "Outbound FHIR HTTP request time, by outcome",
            ["outcome"], buckets=LATENCY_BUCKETS, registry=r,
        )
        self.cards = Counter("derm3r_cards", "Cards returned, by topic and indicator", ["topic", "indicator"], registry=r)
        self.feedback = Counter(
            "derm3r_feedback", "Card feedback items received, by outcome and override reason", ["outcome", "reason"], registry=r
        )
        self.jwt_rejections = Counter("derm3r_jwt_rejections", "Client JWTs refused, by reason", ["reason"], registry=r)
        self.db_errors = Counter(
            "derm3r_db_errors", "Failed database transaction attempts (retried or not), by operation and error class",
            ["operation", "kind"], registry=r,
        )
        self._reasons = frozenset(override_reason_codes)

    # -- recording (each call takes only code-chosen, bounded values) -------------------------

    def request_done(self, service: str, status: int) -> None:
        self.requests.labels(service=service, status=str(status)).inc()

    def feedback_item(self, outcome: str, reason_code: str | None) -> None:
        # Reason codes from the service's own catalogue; anything else a client sends is "other",
        # so a client cannot grow the label set (or put text in it).
        reason = "none" if reason_code is None else (reason_code if reason_code in self._reasons else OTHER)
        self.feedback.labels(outcome=outcome if outcome in {"accepted", "overridden"} else OTHER, reason=reason).inc()

    def jwt_rejected(self, reason: str) -> None:
        self.jwt_rejections.labels(reason=_slug(reason)).inc()

    def db_error(self, operation: str, kind: str) -> None:
        self.db_errors.labels(operation=operation, kind=_slug(kind)).inc()

    def fhir_call(self, outcome: str, seconds: float) -> None:
        self.fhir_calls.labels(outcome=outcome).inc()
        self.fhir_latency.labels(outcome=outcome).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(collect_registry(self.registry))


# -- outbound FHIR calls -----------------------------------------------------------------------------


class TimedAdapter(BaseAdapter):
    """Wraps a requests transport adapter to count and time every FHIR request it sends, errors
    included (a response hook would miss timeouts and refused connections)."""

    def __init__(self, inner: BaseAdapter, metrics: Metrics) -> None:
        super().__init__()
        self.inner, self.metrics = inner, metrics

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        started = time.monotonic()
        outcome = "error"
        try:
            response = self.inner.send(request, *args, **kwargs)
            outcome = f"{response.status_code // 100}xx"
            return response
        except requests.Timeout:
            outcome = "timeout"
            raise
        except requests.ConnectionError:
            outcome = "connection_error"
            raise
        finally:
            self.metrics.fhir_call(outcome, time.monotonic() - started)

    def close(self) -> None:
        self.inner.close()


def instrument_session(session: requests.Session, metrics: Metrics) -> requests.Session:
    for prefix, adapter in list(session.adapters.items()):
        session.mount(prefix, TimedAdapter(adapter, metrics))
    return session


# -- exposure ----------------------------------------------------------------------------------------


def metrics_blueprint(metrics: Metrics, token: str | None, separate_port: int | None) -> Blueprint:
    bp = Blueprint("metrics", __name__)

    @bp.get("/metrics")
    def scrape() -> Response:
        if separate_port or not token:
            return Response("not found\n", status=404, mimetype="text/plain")
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return Response("metrics need the bearer token\n", status=401, mimetype="text/plain",
                            headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        return Response(metrics.exposition(), mimetype=CONTENT_TYPE_LATEST)

    return bp


def serve_on_port(port: int, metrics: Metrics | None = None, host: str = "0.0.0.0") -> None:
    """Serve the metrics on their own port in a background thread (the gunicorn master for all
    workers, or `derm3r serve`). No token there: the port is for the monitoring network only
    (the NetworkPolicy in deploy/ admits Prometheus alone)."""
    from prometheus_client import start_http_server

    start_http_server(port, addr=host, registry=collect_registry(metrics.registry if metrics else None))
    log.info("metrics served on port %d", port)


def label_for_endpoint(endpoint: str | None, view_args: Mapping[str, Any] | None, service_ids: Iterable[str]) -> str:
    """The `service` label of a request: the CDS service id for service calls and feedback (only
    ids in the registry), else the endpoint group (discovery, review, ops, metrics...)."""
    if endpoint in {"cds.call_service", "cds.feedback"}:
        service_id = (view_args or {}).get("service_id")
        return service_id if service_id in set(service_ids) else "unknown-service"
    if endpoint is None:
        return "unmatched"
    if endpoint == "cds.discovery":
        return "discovery"
    return endpoint.split(".", 1)[0]
