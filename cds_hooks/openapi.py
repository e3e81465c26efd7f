"""OpenAPI 3.1 description of the HTTP API derm3r serves, derived from the service registry (so a
service id is written once) and served at `GET /openapi.json`.

The schemas follow CDS Hooks 2.0.1's logical models (field names, required fields, enums, the
<140 character card summary) and describe what this service accepts and returns; they are
documentation and a contract for integrators, while request validation itself stays in
`cds_hooks.wire` and `cds_hooks.limits`. Every error is a FHIR OperationOutcome.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, jsonify

from .limits import MAX_JSON_DEPTH, MAX_PREFETCH_ENTRIES
from .settings import Settings

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
    coding = {
        "type": "object",
        "required": ["code", "system"],
        "properties": {"code": {"type": "string"}, "system": {"type": "string"}, "display": {"type": "string"}},
    }
    return {
        "OperationOutcome": {
            "type": "object",
            "description": "FHIR R4 OperationOutcome: the body of every error response.",
            "required": ["resourceType", "issue"],
            "properties": {
                "resourceType": {"const": "OperationOutcome"},
                "issue": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["severity", "code"],
                        "properties": {
                            "severity": {"enum": ["fatal", "error", "warning", "information"]},
                            "code": {"type": "string", "description": "http://hl7.org/fhir/issue-type"},
                            "diagnostics": {"type": "string"},
                            "expression": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                },
            },
        },
        "Coding": coding,
        "Discovery": {
            "type": "object",
            "required": ["services"],
            "properties": {"services": {"type": "array", "items": _ref("ServiceDescription")}},
        },
        "ServiceDescription": {
            "type": "object",
            "required": ["hook", "description", "id"],
            "properties": {
                "hook": {"type": "string"},
                "title": {"type": "string"},
                "description": {"type": "string"},
                "id": {"type": "string"},
                "prefetch": {"type": "object", "additionalProperties": {"type": "string"}},
                "usageRequirements": {"type": "string"},
            },
        },
        "FhirAuthorization": {
            "type": "object",
            "required": ["access_token", "token_type", "expires_in", "scope", "subject"],
            "properties": {
                "access_token": {"type": "string", "maxLength": 16384},
                "token_type": {"const": "Bearer"},
                "expires_in": {"type": "integer", "minimum": 0},
                "scope": {"type": "string"},
                "subject": {"type": "string"},
                "patient": {"type": "string"},
            },
        },
        "PatientViewContext": {
            "type": "object",
            "required": ["userId", "patientId"],
            "properties": {
                "userId": {"type": "string", "description": "Practitioner/, PractitionerRole/, Patient/ or RelatedPerson/ reference"},
                "patientId": {"type": "string"},
                "encounterId": {"type": "string"},
            },
        },
        "EncounterStartContext": {
            "type": "object",
            "required": ["userId", "patientId", "encounterId"],
            "properties": {
                "userId": {"type": "string", "description": "Practitioner/ or PractitionerRole/ reference"},
                "patientId": {"type": "string"},
                "encounterId": {"type": "string"},
            },
        },
        "OrderContext": {
            "type": "object",
            "description": "order-select / order-sign: draftOrders is a FHIR Bundle of request resources (MedicationRequest "
            "coded with RxNorm or named in text; ServiceRequest for phototherapy); selections (order-select only) are "
            "`Type/id` references to entries of draftOrders",
            "required": ["userId", "patientId", "draftOrders"],
            "properties": {
                "userId": {"type": "string", "description": "Practitioner/ or PractitionerRole/ reference"},
                "patientId": {"type": "string"},
                "encounterId": {"type": "string"},
                "selections": {"type": "array", "items": {"type": "string"}},
                "draftOrders": {"type": "object", "description": "FHIR Bundle (resourceType Bundle, entry[].resource)"},
            },
        },
        "HookRequest": {
            "type": "object",
            "required": ["hook", "hookInstance", "context"],
            "description": (
                f"CDS Hooks 2.0 request. Limits: JSON nesting <= {MAX_JSON_DEPTH}, <= {MAX_PREFETCH_ENTRIES} "
                "prefetched resources; fhirServer must be https and reachable from the service (private and "
                "link-local hosts are refused unless the operator allows private FHIR hosts)."
            ),
            "properties": {
                "hook": {"enum": ["patient-view", "encounter-start", "order-select", "order-sign"]},
                "hookInstance": {"type": "string", "format": "uuid"},
                "fhirServer": {"type": "string", "format": "uri"},
                "fhirAuthorization": _ref("FhirAuthorization"),
                "context": {"anyOf": [_ref("PatientViewContext"), _ref("EncounterStartContext"), _ref("OrderContext")]},
                "prefetch": {
                    "type": "object",
                    "description": "key -> FHIR resource (or null when the EHR could not prefetch it)",
                    "additionalProperties": {"type": ["object", "null"]},
                },
                "extension": {"type": "object"},
            },
        },
        "Source": {
            "type": "object",
            "required": ["label"],
            "properties": {
                "label": {"type": "string"},
                "url": {"type": "string", "format": "uri"},
                "icon": {"type": "string", "format": "uri"},
                "topic": _ref("Coding"),
            },
        },
        "Action": {
            "type": "object",
            "required": ["type", "description"],
            "properties": {
                "type": {"enum": ["create", "update", "delete"]},
                "description": {"type": "string"},
                "resource": {"type": "object", "description": "FHIR R4 resource (draft CarePlan, preliminary Observation, Provenance; draft ServiceRequest / MedicationRequest on the order cards)"},
                "resourceId": {"type": "string"},
            },
        },
        "Suggestion": {
            "type": "object",
            "required": ["label"],
            "properties": {
                "label": {"type": "string"},
                "uuid": {"type": "string"},
                "isRecommended": {"type": "boolean"},
                "actions": {"type": "array", "items": _ref("Action")},
            },
        },
        "Link": {
            "type": "object",
            "required": ["label", "url", "type"],
            "properties": {
                "label": {"type": "string"},
                "url": {"type": "string", "format": "uri"},
                "type": {"enum": ["absolute", "smart"]},
                "appContext": {"type": "string"},
                "autolaunchable": {"type": "boolean"},
            },
        },
        "Card": {
            "type": "object",
            "required": ["summary", "indicator", "source"],
            "properties": {
                "uuid": {"type": "string"},
                "summary": {"type": "string", "minLength": 1, "maxLength": 139},
                "detail": {"type": "string", "description": "GitHub Flavored Markdown"},
                "indicator": {"enum": ["info", "warning", "critical"]},
                "source": _ref("Source"),
                "suggestions": {"type": "array", "items": _ref("Suggestion")},
                "selectionBehavior": {"enum": ["at-most-one", "any"]},
                "overrideReasons": {"type": "array", "items": _ref("Coding")},
                "links": {"type": "array", "items": _ref("Link")},
            },
            "dependentRequired": {"suggestions": ["selectionBehavior"]},
        },
        "CdsResponse": {
            "type": "object",
            "required": ["cards"],
            "properties": {
                "cards": {"type": "array", "items": _ref("Card")},
                "systemActions": {"type": "array", "items": _ref("Action")},
            },
        },
        "FeedbackItem": {
            "type": "object",
            "required": ["card", "outcome", "outcomeTimestamp"],
            "properties": {
                "card": {"type": "string"},
                "outcome": {"enum": ["accepted", "overridden"]},
                "acceptedSuggestions": {
                    "type": "array",
                    "items": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}},
                },
                "overrideReason": {
                    "type": "object",
                    "properties": {"reason": _ref("Coding"), "userComment": {"type": "string"}},
                },
                "outcomeTimestamp": {"type": "string", "format": "date-time"},
            },
            # cds-fb-2: an accepted card names the suggestions accepted.
            "if": {"properties": {"outcome": {"const": "accepted"}}},
            "then": {"required": ["acceptedSuggestions"]},
        },
        "Feedback": {
            "type": "object",
            "required": ["feedback"],
            "properties": {"feedback": {"type": "array", "minItems": 1, "items": _ref("FeedbackItem")}},
        },
        "FeedbackResult": {
            "type": "object",
            "required": ["stored", "duplicates"],
            "properties": {
                "stored": {"type": "integer", "minimum": 0},
                "duplicates": {"type": "integer", "minimum": 0, "description": "items already received before (EHR retries)"},
            },
        },
        "Health": {
            "type": "object",
            "required": ["status"],
            "properties": {
                "status": {"const": "ok"},
                "pipeline": {"type": "string"},
                "services": {"type": "integer"},
                "auth": {"enum": ["on", "OFF"]},
            },
        },
    }


def openapi_document(settings: Settings, registry: "Registry | None" = None) -> dict[str, Any]:
    """The OpenAPI document. With a registry, the `{id}` path parameter lists the service ids and
    the hook each answers; without one it is a free string."""
    service_ids: list[str] = [s.id for s in registry] if registry is not None else []
    id_schema: dict[str, Any] = {"type": "string", "pattern": "^[A-Za-z0-9\\-_.]{1,64}$"}
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
