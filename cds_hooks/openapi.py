"""OpenAPI 3.1 description of the HTTP API derm3r serves, derived from the service registry (so a
service id is written once) and served at `GET /openapi.json`.

The schemas are generated from the wire models (`cds_hooks.wire.schema`, which also writes
`cds_hooks/schemas/*.schema.json`): CDS Hooks 2.0.1's logical models (field names, required fields,
enums, the <140 character card summary) as this service accepts and returns them. They are
documentation and a contract for integrators, while request validation itself stays in
`cds_hooks.wire` and `cds_hooks.limits`. Every error is a FHIR OperationOutcome.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, jsonify

from .settings import Settings
from .wire.fields import SERVICE_ID
from .wire.schema import definitions, rewrite_refs

if TYPE_CHECKING:
    from .registry import Registry

OPENAPI_VERSION = "3.1.0"
API_VERSION = "0.1.0"

_JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": _ref("OperationOutcome")}}}


_AUTH_ERRORS = {
    "401": _error(
        "Missing or invalid client JWT (CDS Hooks 'Trusting CDS Clients'). The diagnostics say what failed, "
        "e.g. 'token expired', 'audience mismatch', 'unknown issuer', 'replayed jti'. A WWW-Authenticate header is set."
    ),
}

_BODY_ERRORS = {
    "400": _error("Malformed JSON (syntax, duplicate keys, NaN, nesting, encoding) or a request that violates the model."),
    "413": _error("Body, prefetch or photographs exceed the service limits."),
    "415": _error("Body is not application/json."),
}


def _schemas() -> dict[str, Any]:
    """The wire schemas, generated from the wire models (`cds_hooks.wire.schema`), with references
    re-pointed at `#/components/schemas/`."""
    return rewrite_refs(definitions(), "#/components/schemas/")


def openapi_document(settings: Settings, registry: "Registry | None" = None) -> dict[str, Any]:
    """The OpenAPI document. With a registry, the `{id}` path parameter lists the service ids and
    the hook each answers; without one it is a free string."""
    service_ids: list[str] = [s.id for s in registry] if registry is not None else []
    id_schema: dict[str, Any] = {"type": "string", "pattern": SERVICE_ID.pattern}
    if service_ids:
        id_schema = {"enum": service_ids}
    services_text = "".join(f"\n- `{s.id}`: `{s.hook}` - {s.title}" for s in registry) if registry is not None else ""
    id_param = {"name": "id", "in": "path", "required": True, "schema": id_schema, "description": "CDS Service id" + services_text}
    jwt_security: list[dict[str, list[str]]] = [{"cdsClientJwt": []}]

    paths: dict[str, Any] = {
        "/cds-services": {
            "get": {
                "operationId": "discovery",
                "summary": "CDS Hooks discovery",
                "security": jwt_security,
                "responses": {
                    "200": {"description": "The services offered", "content": {_JSON: {"schema": _ref("Discovery")}}},
                    **_AUTH_ERRORS,
                },
            }
        },
        "/cds-services/{id}": {
            "post": {
                "operationId": "callService",
                "summary": "Invoke a CDS Service (patient-view / encounter-start)",
                "description": (
                    "The JWT `aud` must be this endpoint's full URL. Data comes from `prefetch`, or from "
                    "`fhirServer` with `fhirAuthorization` when prefetch is incomplete."
                ),
                "security": jwt_security,
                "parameters": [id_param],
                "requestBody": {"required": True, "content": {_JSON: {"schema": _ref("HookRequest")}}},
                "responses": {
                    "200": {"description": "Cards (possibly none)", "content": {_JSON: {"schema": _ref("CdsResponse")}}},
                    **_BODY_ERRORS,
                    **_AUTH_ERRORS,
                    "403": _error("fhirServer is not an allowed outbound host (SSRF protection)."),
                    "404": _error("No CDS Service with this id."),
                    "412": _error("Required prefetch data missing and not obtainable from the FHIR server."),
                    "503": _error("The FHIR server or the service is temporarily unavailable, or the deadline passed; retry."),
                },
            }
        },
        "/cds-services/{id}/feedback": {
            "post": {
                "operationId": "feedback",
                "summary": "Card feedback (accepted / overridden)",
                "description": "Idempotent by content: re-sending an item (also with a later outcomeTimestamp) is counted "
                               "as a duplicate, not stored twice. Only cards this service issued to the same client are "
                               "accepted; a post naming any other card is refused as a whole (400).",
                "security": jwt_security,
                "parameters": [id_param],
                "requestBody": {"required": True, "content": {_JSON: {"schema": _ref("Feedback")}}},
                "responses": {
                    "200": {"description": "Stored", "content": {_JSON: {"schema": _ref("FeedbackResult")}}},
                    **_BODY_ERRORS,
                    **_AUTH_ERRORS,
                    "404": _error("No CDS Service with this id."),
                    "503": _error("Storage temporarily unavailable; retry."),
                },
            }
        },
        "/healthz": {
            "get": {
                "operationId": "health",
                "summary": "Liveness for load balancers (no patient data, no authentication)",
                "security": [],
                "responses": {"200": {"description": "Up", "content": {_JSON: {"schema": _ref("Health")}}}},
            }
        },
        "/about": {
            "get": {
                "operationId": "about",
                "summary": "Intended use and limitations (plain text)",
                "security": [],
                "responses": {"200": {"description": "Text", "content": {"text/plain": {"schema": {"type": "string"}}}}},
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "security": [],
                "responses": {"200": {"description": "OpenAPI 3.1 document", "content": {_JSON: {"schema": {"type": "object"}}}}},
            }
        },
    }
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "derm3r CDS Hooks service",
            "version": API_VERSION,
            "summary": "CDS Hooks 2.0 dermatology decision support (research demonstration, not for clinical use)",
            "description": (
                "Every CDS endpoint requires `Authorization: Bearer <JWT>` signed by a trusted EHR "
                "(ES384/RS384 or the algorithms configured for that issuer), with `aud` equal to the "
                "endpoint URL and a unique `jti`. Errors are FHIR OperationOutcome resources."
            ),
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": settings.public_base_url}],
        "security": jwt_security,
        "paths": paths,
        "components": {
            "securitySchemes": {
                "cdsClientJwt": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "CDS Hooks 2.0.1 client JWT (iss, aud, exp, iat, jti required; kid and typ headers).",
                }
            },
            "schemas": _schemas(),
        },
    }


def openapi_blueprint(settings: Settings, registry: "Registry | None" = None) -> Blueprint:
    """`GET /openapi.json`, unauthenticated (it describes the API, it holds no patient data). The
    document is built once, when the blueprint is made."""
    document = openapi_document(settings, registry)
    bp = Blueprint("openapi", __name__)

    @bp.get("/openapi.json")
    def openapi_json() -> Response:
        return jsonify(document)

    return bp


__all__ = ["openapi_blueprint", "openapi_document"]
