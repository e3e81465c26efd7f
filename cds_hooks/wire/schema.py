"""JSON Schema (2020-12) of every wire format derm3r speaks, built from the wire models' own
constants (indicator and selectionBehavior enums, the summary limit, feedback outcomes, draft-order
resource types, request limits), so the models, the OpenAPI document (`cds_hooks.openapi`) and the
published schema files (`cds_hooks/schemas/*.schema.json`) cannot drift apart.

The models stay the validators the service runs; these schemas describe the same rules for
integrators and tests. Where a schema cannot say exactly what a parser does (an RFC 3339 offset, a
reference type per hook) it says less, never more, and the description names the rule.
`tests/cds_hooks/test_wire_schema.py` checks that both sides agree.

Regenerate the files after changing a model:

    python -m cds_hooks.wire.schema --write    # (--check: exit 1 if a committed file is stale)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cds_hooks.limits import MAX_JSON_DEPTH, MAX_PREFETCH_ENTRIES
from cds_hooks.wire.context import DRAFT_ORDER_TYPES, ENCOUNTER_START, MAX_DRAFT_ORDERS, ORDER_SELECT, ORDER_SIGN, PATIENT_VIEW
from cds_hooks.wire.feedback import MAX_FEEDBACK_ITEMS, OUTCOMES
from cds_hooks.wire.fields import FHIR_ID, SERVICE_ID
from cds_hooks.wire.response import ACTION_TYPES, INDICATORS, LINK_TYPES, SELECTION_BEHAVIORS, SUMMARY_MAX

Schema = dict[str, Any]

DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas"
_ID_BASE = "https://derm3r.org/schemas/"

# Shared string shapes. UUIDs are the hyphenated form the service issues (and the spec's examples use).
_NON_EMPTY = {"type": "string", "minLength": 1}
_UUID = {"type": "string", "format": "uuid", "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"}
_ABSOLUTE_URL = {"type": "string", "format": "uri", "pattern": "^https?://[^/\\s]+"}  # fields.is_absolute_http_url
_FHIR_ID = {"type": "string", "pattern": FHIR_ID.pattern}
_REFERENCE = {"type": "string", "pattern": "^[A-Za-z]+/" + FHIR_ID.pattern.lstrip("^")}
_EXTENSION = {"type": "object", "minProperties": 1}


def ref(name: str) -> Schema:
    return {"$ref": f"#/$defs/{name}"}


def _object(required: list[str], properties: Schema, *, closed: bool = True, **extra: Any) -> Schema:
    """An object schema. Outbound models are closed (the service emits exactly these fields, none
    null or empty); inbound ones stay open, because the parsers ignore fields they do not use."""
    schema: Schema = {"type": "object", "required": required} if required else {"type": "object"}
    schema["properties"] = properties
    if closed:
        schema["additionalProperties"] = False
    schema.update(extra)
    return schema


def _array(items: Schema, *, min_items: int = 1, **extra: Any) -> Schema:
    # min_items 1: `compact` drops empty arrays from what the service sends (no empty values).
    schema: Schema = {"type": "array", "items": items}
    if min_items:
        schema["minItems"] = min_items
    schema.update(extra)
    return schema


# ------------------------------------------------------------------ response (wire.response)


def _response_definitions() -> dict[str, Schema]:
    return {
        "Coding": _object(
            ["code", "system"],
            {
                "code": {**_NON_EMPTY, "maxLength": 256},
                "system": {**_NON_EMPTY, "maxLength": 1024},
                "display": {**_NON_EMPTY, "maxLength": 1024},
            },
        ),
        "Source": _object(
            ["label"],
            {"label": _NON_EMPTY, "url": _ABSOLUTE_URL, "icon": _ABSOLUTE_URL, "topic": ref("Coding")},
        ),
        "Action": _object(
            ["type", "description"],
            {
                "type": {"enum": list(ACTION_TYPES)},
                "description": _NON_EMPTY,
                "resource": {
                    "type": "object",
                    "required": ["resourceType"],
                    "description": "FHIR R4 resource (draft CarePlan, preliminary Observation, Provenance; "
                    "draft ServiceRequest / MedicationRequest on the order cards)",
                },
                "resourceId": _NON_EMPTY,
            },
            allOf=[
                {"if": {"properties": {"type": {"enum": ["create", "update"]}}}, "then": {"required": ["resource"]}},
                # cds-resp-2: delete names the resource by id only.
                {"if": {"properties": {"type": {"const": "delete"}}}, "then": {"required": ["resourceId"], "not": {"required": ["resource"]}}},
            ],
        ),
        "Suggestion": _object(
            ["label"],
            {"label": _NON_EMPTY, "uuid": _UUID, "isRecommended": {"type": "boolean"}, "actions": _array(ref("Action"))},
        ),
        "Link": _object(
            ["label", "url", "type"],
            {
                "label": _NON_EMPTY,
                "url": _ABSOLUTE_URL,
                "type": {"enum": list(LINK_TYPES)},
                "appContext": _NON_EMPTY,
                "autolaunchable": {"type": "boolean"},
            },
            # cds-resp-3: appContext only on smart links.
            **{"if": {"properties": {"type": {"const": "absolute"}}}, "then": {"not": {"required": ["appContext"]}}},
        ),
        "Card": _object(
            ["summary", "indicator", "source"],
            {
                "uuid": _UUID,
                "summary": {"type": "string", "minLength": 1, "maxLength": SUMMARY_MAX},
                "detail": {**_NON_EMPTY, "description": "GitHub Flavored Markdown"},
                "indicator": {"enum": list(INDICATORS)},
                "source": ref("Source"),
                "suggestions": _array(ref("Suggestion")),
                "selectionBehavior": {"enum": list(SELECTION_BEHAVIORS)},
                # cds-resp-4: an override reason carries a display.
                "overrideReasons": _array({"allOf": [ref("Coding"), {"required": ["display"]}]}),
                "links": _array(ref("Link")),
            },
            # cds-resp-6
            dependentRequired={"suggestions": ["selectionBehavior"]},
        ),
        "CdsResponse": _object(
            ["cards"],
            {
                # `cards` is the one array the spec requires even when empty.
                "cards": _array(ref("Card"), min_items=0),
                "systemActions": _array(ref("Action")),
                "extension": _EXTENSION,
            },
        ),
    }


# ------------------------------------------------------------------ discovery (registry.discovery)


def _discovery_definitions() -> dict[str, Schema]:
    return {
        "ServiceDescription": _object(
            ["hook", "description", "id"],
            {
                "hook": _NON_EMPTY,
                "title": _NON_EMPTY,
                "description": _NON_EMPTY,
                "id": {"type": "string", "pattern": SERVICE_ID.pattern},
                "prefetch": {"type": "object", "minProperties": 1, "additionalProperties": _NON_EMPTY},
                "usageRequirements": _NON_EMPTY,
                "extension": _EXTENSION,
            },
        ),
        # `services` is required even when empty.
        "Discovery": _object(["services"], {"services": _array(ref("ServiceDescription"), min_items=0)}),
    }


# ------------------------------------------------------------------ request (wire.request, wire.context)


def _request_definitions() -> dict[str, Schema]:
    user_id = {**_REFERENCE, "description": "Practitioner/ or PractitionerRole/ reference"}
    draft_types = sorted(DRAFT_ORDER_TYPES | {"Medication"})  # a Medication may travel beside its request
    return {
        "FhirAuthorization": _object(
            ["access_token", "token_type", "expires_in", "scope", "subject"],
            {
                "access_token": {**_NON_EMPTY, "maxLength": 16384},
                "token_type": {"type": "string", "pattern": "^[Bb][Ee][Aa][Rr][Ee][Rr]$", "description": "Bearer (any case)"},
                "expires_in": {"type": "integer", "minimum": 0},
                "scope": _NON_EMPTY,
                "subject": {**_NON_EMPTY, "maxLength": 512},
                "patient": {**_FHIR_ID, "description": "must equal context.patientId when given"},
            },
            closed=False,
        ),
        "PatientViewContext": _object(
            ["userId", "patientId"],
            {
                "userId": {**_REFERENCE, "description": "Practitioner/, PractitionerRole/, Patient/ or RelatedPerson/ reference"},
                "patientId": _FHIR_ID,
                "encounterId": _FHIR_ID,
            },
            closed=False,
        ),
        "EncounterStartContext": _object(
            ["userId", "patientId", "encounterId"],
            {"userId": user_id, "patientId": _FHIR_ID, "encounterId": _FHIR_ID},
            closed=False,
        ),
        "OrderContext": _object(
            ["userId", "patientId", "draftOrders"],
            {
                "userId": user_id,
                "patientId": _FHIR_ID,
                "encounterId": _FHIR_ID,
                "selections": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "order-select only: `Type/id` references to entries of draftOrders",
                },
                "draftOrders": {
                    "type": "object",
                    "description": "FHIR Bundle of request resources (MedicationRequest coded with RxNorm or named in "
                    "text; ServiceRequest for phototherapy), each for context.patientId",
                    "required": ["resourceType"],
                    "properties": {
                        "resourceType": {"const": "Bundle"},
                        "entry": {
                            "type": "array",
                            "maxItems": MAX_DRAFT_ORDERS,
                            "items": {
                                "type": "object",
                                "required": ["resource"],
                                "properties": {
                                    "resource": {
                                        "type": "object",
                                        "required": ["resourceType"],
                                        "properties": {"resourceType": {"enum": draft_types}, "id": _FHIR_ID},
                                    }
                                },
                            },
                        },
                    },
                },
            },
            closed=False,
            description="order-select / order-sign context",
        ),
        "HookRequest": _object(
            ["hook", "hookInstance", "context"],
            {
                "hook": {"enum": [PATIENT_VIEW, ENCOUNTER_START, ORDER_SELECT, ORDER_SIGN]},
                "hookInstance": _UUID,
                "fhirServer": _ABSOLUTE_URL,
                "fhirAuthorization": ref("FhirAuthorization"),
                "context": {"anyOf": [ref("PatientViewContext"), ref("EncounterStartContext"), ref("OrderContext")]},
                "prefetch": {
                    "type": "object",
                    "description": "key -> FHIR resource (or null when the EHR could not prefetch it)",
                    "additionalProperties": {"type": ["object", "null"]},
                },
                "extension": {"type": "object"},
            },
            closed=False,
            description=(
                f"CDS Hooks 2.0 request. Limits: JSON nesting <= {MAX_JSON_DEPTH}, <= {MAX_PREFETCH_ENTRIES} "
                "prefetched resources; fhirServer must be https and reachable from the service (private and "
                "link-local hosts are refused unless the operator allows private FHIR hosts)."
            ),
            # cds-r-1: a token only with the server it is for.
            dependentRequired={"fhirAuthorization": ["fhirServer"]},
            # Each hook's own context model.
            allOf=[
                {"if": {"properties": {"hook": {"const": hook}}}, "then": {"properties": {"context": ref(context)}}}
                for hook, context in (
                    (PATIENT_VIEW, "PatientViewContext"),
                    (ENCOUNTER_START, "EncounterStartContext"),
                    (ORDER_SELECT, "OrderContext"),
                    (ORDER_SIGN, "OrderContext"),
                )
            ],
        ),
    }


# ------------------------------------------------------------------ feedback (wire.feedback)


def _feedback_definitions() -> dict[str, Schema]:
    accepted_suggestions = {"type": "array", "items": _object(["id"], {"id": _UUID}, closed=False)}
    return {
        "OverrideReason": _object(
            [],
            {"reason": ref("Coding"), "userComment": {**_NON_EMPTY, "maxLength": 4000}},
            closed=False,
            # cds-fb-3: a reason, a comment or both.
            anyOf=[{"required": ["reason"]}, {"required": ["userComment"]}],
        ),
        "FeedbackItem": _object(
            ["card", "outcome", "outcomeTimestamp"],
            {
                "card": {**_UUID, "description": "uuid of a card this service issued to the same client"},
                "outcome": {"enum": list(OUTCOMES)},  # cds-fb-1
                "acceptedSuggestions": accepted_suggestions,
                "overrideReason": ref("OverrideReason"),
                "outcomeTimestamp": {"type": "string", "format": "date-time", "description": "RFC 3339 with a UTC offset"},
                "extension": {"type": "object"},
            },
            closed=False,
            allOf=[
                # cds-fb-2: an accepted card names the suggestions accepted; an override reason only
                # applies to an overridden card, which accepted none.
                {
                    "if": {"properties": {"outcome": {"const": "accepted"}}},
                    "then": {
                        "required": ["acceptedSuggestions"],
                        "properties": {"acceptedSuggestions": {"minItems": 1}},
                        "not": {"required": ["overrideReason"]},
                    },
                },
                {
                    "if": {"properties": {"outcome": {"const": "overridden"}}},
                    "then": {"properties": {"acceptedSuggestions": {"maxItems": 0}}},
                },
            ],
        ),
        "Feedback": _object(
            ["feedback"],
            {"feedback": _array(ref("FeedbackItem"), maxItems=MAX_FEEDBACK_ITEMS)},
            closed=False,
        ),
        "FeedbackResult": _object(
            ["stored", "duplicates"],
            {
                "stored": {"type": "integer", "minimum": 0},
                "duplicates": {"type": "integer", "minimum": 0, "description": "items already received before (EHR retries)"},
            },
        ),
    }


# ------------------------------------------------------------------ HTTP plumbing (http_errors, routes)


def _http_definitions() -> dict[str, Schema]:
    return {
        "OperationOutcome": _object(
            ["resourceType", "issue"],
            {
                "resourceType": {"const": "OperationOutcome"},
                "issue": _array(
                    _object(
                        ["severity", "code"],
                        {
                            "severity": {"enum": ["fatal", "error", "warning", "information"]},
                            "code": {"type": "string", "description": "http://hl7.org/fhir/issue-type"},
                            "diagnostics": {"type": "string"},
                            "expression": {"type": "array", "items": {"type": "string"}},
                        },
                    )
                ),
            },
            description="FHIR R4 OperationOutcome: the body of every error response.",
        ),
        "Health": _object(
            ["status"],
            {
                "status": {"const": "ok"},
                "pipeline": {"type": "string"},
                "services": {"type": "integer", "minimum": 0},
                "auth": {"enum": ["on", "OFF"]},
                "modelVersion": {"type": "string"},
                "knowledgeVersion": {"type": "string"},
            },
        ),
    }


def definitions() -> dict[str, Schema]:
    """Every named wire schema, with references of the form `#/$defs/<name>`."""
    return {
        **_http_definitions(),
        **_discovery_definitions(),
        **_request_definitions(),
        **_response_definitions(),
        **_feedback_definitions(),
    }


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[1]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node)) if node else set()
    return set()


def _reachable(root: str, defs: dict[str, Schema]) -> list[str]:
    seen: list[str] = []
    todo = [root]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.append(name)
        todo.extend(sorted(_refs(defs[name]) - set(seen)))
    return sorted(seen)


def rewrite_refs(node: Any, prefix: str) -> Any:
    """A copy of `node` whose `#/$defs/` references point under `prefix` instead (OpenAPI keeps
    schemas in `#/components/schemas/`)."""
    if isinstance(node, dict):
        return {
            k: (prefix + v.rsplit("/", 1)[1] if k == "$ref" and isinstance(v, str) and v.startswith("#/$defs/") else rewrite_refs(v, prefix))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [rewrite_refs(v, prefix) for v in node]
    return node


# File name -> (root definition, title): the documents an integrator validates against.
DOCUMENTS: dict[str, tuple[str, str]] = {
    "cds-hooks-discovery.schema.json": ("Discovery", "CDS Hooks 2.0.1 discovery response"),
    "cds-hooks-request.schema.json": ("HookRequest", "CDS Hooks 2.0.1 service request (what derm3r accepts)"),
    "cds-hooks-response.schema.json": (
        "CdsResponse",
        "CDS Hooks 2.0.1 service response (derm3r's reading of the spec and its logical model invariants)",
    ),
    "cds-hooks-feedback.schema.json": ("Feedback", "CDS Hooks 2.0.1 feedback request (what derm3r accepts)"),
}


def schema_document(file_name: str) -> Schema:
    """A self-contained JSON Schema document: the root definition by reference, plus every
    definition it reaches."""
    root, title = DOCUMENTS[file_name]
    defs = definitions()
    return {
        "$schema": DIALECT,
        "$id": _ID_BASE + file_name,
        "title": title,
        "$ref": f"#/$defs/{root}",
        "$defs": {name: defs[name] for name in _reachable(root, defs)},
    }


def render(file_name: str) -> str:
    return json.dumps(schema_document(file_name), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cds_hooks.wire.schema", description=__doc__.split("\n\n")[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help=f"write the schema files into {SCHEMA_DIR}")
    action.add_argument("--check", action="store_true", help="exit 1 if a committed schema file differs from the models")
    args = parser.parse_args(argv)
    stale = []
    for name in DOCUMENTS:
        path = SCHEMA_DIR / name
        text = render(name)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        if args.write:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
        else:
            stale.append(name)
    if stale:
        print(f"stale: {', '.join(stale)}; run python -m cds_hooks.wire.schema --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
