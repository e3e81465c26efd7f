"""Errors -> HTTP, in one place. Every error response is a FHIR OperationOutcome with a status from
the error tree; unexpected exceptions become a generic 500 (the traceback goes to the log, never
to the caller)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from cds_hooks.errors import CdsError

log = logging.getLogger(__name__)

# werkzeug status -> FHIR issue-type code (http://hl7.org/fhir/issue-type)
_ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    408: "timeout",
    412: "not-found",
    413: "too-costly",
    415: "not-supported",
    429: "throttled",
    503: "transient",
}

# Short, fixed messages for werkzeug's errors (its descriptions are HTML-ish and verbose).
_MESSAGES = {
    404: "no such endpoint",
    405: "method not allowed on this endpoint",
    413: "request body too large",
    415: "request body must be application/json",
}


def operation_outcome(code: str, message: str, *, expression: str | None = None, severity: str = "error") -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": message}
    if expression:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def error_response(status: int, code: str, message: str, *, expression: str | None = None) -> Response:
    response = jsonify(operation_outcome(code, message, expression=expression))
    response.status_code = status
    return response


SERVICE_REALM = "derm3r"


def cds_error_response(exc: CdsError, *, realm: str = SERVICE_REALM) -> Response:
    """The one mapping of the error tree to HTTP: status and OperationOutcome from the error, a
    Bearer challenge naming `realm` on 401. Used by the service and by the review app (which names
    its own realm: its tokens are SMART access tokens, not CDS Client JWTs)."""
    if exc.status >= 500:
        log.error("%s: %s", type(exc).__name__, exc.message)
    else:
        log.info("request refused: %d %s (%s)", exc.status, type(exc).__name__, exc.expression or "-")
    response = error_response(exc.status, exc.code, exc.message, expression=exc.expression)
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = f'Bearer realm="{realm}"'
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CdsError)
    def _cds_error(exc: CdsError) -> Response:
        return cds_error_response(exc)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        message = _MESSAGES.get(status, exc.name if status < 500 else "internal error")
        response = error_response(status, _ISSUE_CODES.get(status, "exception"), message)
        if status == 405 and hasattr(exc, "valid_methods") and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        # Full traceback for the operator; a fixed message for the caller.
        log.error("unhandled %s", type(exc).__name__, exc_info=exc)
        return error_response(500, "exception", "internal error")
