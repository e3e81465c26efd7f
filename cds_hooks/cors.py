"""CORS for browser-based CDS Clients (spec: CDS Services will require CORS support).

The service authenticates callers by bearer JWT, not cookies, so a wildcard origin exposes nothing a
caller could not already send; credentials are never allowed. Preflight OPTIONS is answered before
authentication (browsers send it without the Authorization header)."""

from __future__ import annotations

from flask import Flask, Response, request

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "Authorization, Content-Type",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Max-Age": "600",
}


def register_cors(app: Flask) -> None:
    @app.before_request
    def _preflight() -> Response | None:
        if request.method == "OPTIONS":
            return Response(status=204)
        return None

    @app.after_request
    def _headers(response: Response) -> Response:
        for name, value in CORS_HEADERS.items():
            response.headers.setdefault(name, value)
        return response
