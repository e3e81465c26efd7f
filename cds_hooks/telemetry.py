"""Per-request telemetry: a request id, one structured access-log line and the request metrics.

The request id comes from the caller's `X-Request-Id` (load balancers set one) when it is a short
token, otherwise a new random one; it is echoed in the response. The access line names the route
template (`/cds-services/<service_id>`), never the concrete path or query string."""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request

from cds_hooks.metrics import Metrics, label_for_endpoint
from cds_hooks.registry import Registry

access_log = logging.getLogger("cds_hooks.access")

REQUEST_ID_HEADER = "X-Request-Id"
_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def note(**fields: str | None) -> None:
    """Attach context (service, hook_instance) to the current request's log lines."""
    for name, value in fields.items():
        setattr(g, f"log_{name}", value)


def register_telemetry(app: Flask, metrics: Metrics, registry: Registry) -> None:
    service_ids = [s.id for s in registry]
    hooks = {s.id: s.hook for s in registry}

    @app.before_request
    def _start() -> None:
        g.started = time.monotonic()
        given = request.headers.get(REQUEST_ID_HEADER, "")
        g.log_request_id = given if _SAFE_ID.fullmatch(given) else uuid.uuid4().hex

    @app.after_request
    def _finish(response: Response) -> Response:
        elapsed = time.monotonic() - g.get("started", time.monotonic())
        service = label_for_endpoint(request.endpoint, request.view_args, service_ids)
        if request.endpoint != "metrics.scrape":  # scrapes would drown the counts that matter
            metrics.request_done(service, response.status_code)
        if request.endpoint == "cds.call_service" and service in hooks:
            metrics.hook_latency.labels(hook=hooks[service]).observe(elapsed)
        response.headers[REQUEST_ID_HEADER] = g.get("log_request_id", "")
        if request.endpoint not in {"ops.healthz", "metrics.scrape"}:  # probes every few seconds
            access_log.info(
                "request",
                extra={
                    "method": request.method,
                    "route": request.url_rule.rule if request.url_rule else None,
                    "service": service,
                    "status": response.status_code,
                    "duration_ms": round(elapsed * 1000, 1),
                },
            )
        return response
