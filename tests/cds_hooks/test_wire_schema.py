"""One source for the wire format: the JSON Schemas (`cds_hooks/schemas/*.schema.json`) and the
OpenAPI document's schemas are generated from the wire models (`cds_hooks.wire.schema`), real
traffic of every service validates against them, and what the models refuse the schemas refuse."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any, Callable

import pytest
from jsonschema import Draft202012Validator

from cds_hooks.errors import InvalidRequest
from cds_hooks.openapi import openapi_document
from cds_hooks.routes import RUNTIME_KEY
from cds_hooks.settings import Settings
from cds_hooks.wire import schema as wire_schema
from cds_hooks.wire.feedback import parse_feedback
from cds_hooks.wire.request import parse_request
from cds_hooks.wire.response import Action, Card, Coding, Link, Source, Suggestion
from order_support import Chart, medication_order, order_request
from service_support import REPO, make_app, request_body

SCHEMA_DIR = REPO / "cds_hooks" / "schemas"
UUID_A, UUID_B = "5c7c4b1e-8f3a-4d2b-9a61-0e2f3b4c5d6e", "9b1d2c3e-4f5a-4b6c-8d7e-1f2a3b4c5d6e"


def _file_validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8")))


RESPONSE = _file_validator("cds-hooks-response.schema.json")
DISCOVERY = _file_validator("cds-hooks-discovery.schema.json")
REQUEST = _file_validator("cds-hooks-request.schema.json")
FEEDBACK = _file_validator("cds-hooks-feedback.schema.json")


# ------------------------------------------------------------------ (a) generated == committed


@pytest.mark.parametrize("name", sorted(wire_schema.DOCUMENTS))
def test_committed_schema_files_are_generated_from_the_models(name: str) -> None:
    committed = (SCHEMA_DIR / name).read_text(encoding="utf-8")
    assert committed == wire_schema.render(name), f"stale: run python -m cds_hooks.wire.schema --write ({name})"
    Draft202012Validator.check_schema(json.loads(committed))


def test_check_command_agrees(capsys: pytest.CaptureFixture[str]) -> None:
    assert wire_schema.main(["--check"]) == 0


def test_check_command_reports_a_stale_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in wire_schema.DOCUMENTS:
        (tmp_path / name).write_text(wire_schema.render(name), encoding="utf-8")
    (tmp_path / "cds-hooks-response.schema.json").write_text("{}", encoding="utf-8")
    monkeypatch.setattr(wire_schema, "SCHEMA_DIR", tmp_path)
    assert wire_schema.main(["--check"]) == 1
    assert wire_schema.main(["--write"]) == 0
    assert wire_schema.main(["--check"]) == 0


def test_openapi_schemas_are_the_wire_schemas() -> None:
    components = openapi_document(Settings())["components"]["schemas"]
    assert components == wire_schema.rewrite_refs(wire_schema.definitions(), "#/components/schemas/")
    # Each file's definitions are the same objects the OpenAPI document serves.
    for name in wire_schema.DOCUMENTS:
        document = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
        for key, definition in document["$defs"].items():
            assert wire_schema.rewrite_refs(definition, "#/components/schemas/") == components[key]


def test_schemas_use_the_model_constants() -> None:
    from cds_hooks.wire.feedback import OUTCOMES
    from cds_hooks.wire.response import INDICATORS, SELECTION_BEHAVIORS, SUMMARY_MAX

    defs = wire_schema.definitions()
    card = defs["Card"]["properties"]
    assert card["indicator"]["enum"] == list(INDICATORS)
    assert card["selectionBehavior"]["enum"] == list(SELECTION_BEHAVIORS)
    assert card["summary"]["maxLength"] == SUMMARY_MAX
    assert defs["FeedbackItem"]["properties"]["outcome"]["enum"] == list(OUTCOMES)


# ------------------------------------------------------------------ (b) real traffic validates


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return make_app(tmp_path_factory.mktemp("wire-schema"))


def _body_for(hook: str) -> dict[str, Any]:
    if hook in ("order-select", "order-sign"):
        chart = Chart().condition("psoriasis").condition("pregnancy")
        return order_request(hook, chart, medication_order("methotrexate"))
    return request_body(hook=hook)


def test_every_service_answers_with_schema_valid_cards_and_takes_valid_feedback(app: Any) -> None:
    client = app.test_client()
    discovery = client.get("/cds-services").get_json()
    DISCOVERY.validate(discovery)
    services = discovery["services"]
    assert {s["hook"] for s in services} >= {"patient-view", "encounter-start", "order-select", "order-sign"}
    for service in services:
        body = _body_for(service["hook"])
        REQUEST.validate(body)
        response = client.post(f"/cds-services/{service['id']}", json=body)
        assert response.status_code == 200, (service["id"], response.get_json())
        payload = response.get_json()
        RESPONSE.validate(payload)
        assert payload["cards"], service["id"]  # something was validated
        card = next((c for c in payload["cards"] if c.get("suggestions")), payload["cards"][0])
        item: dict[str, Any] = {"card": card["uuid"], "outcomeTimestamp": "2026-12-02T08:00:00Z"}
        if card.get("suggestions"):
            item |= {"outcome": "accepted", "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}]}
        else:
            item |= {"outcome": "overridden", "overrideReason": {"reason": card["overrideReasons"][0]}} if card.get("overrideReasons") else {"outcome": "overridden"}
        feedback = {"feedback": [item]}
        FEEDBACK.validate(feedback)
        stored = client.post(f"/cds-services/{service['id']}/feedback", json=feedback)
        assert stored.status_code == 200, stored.get_json()
        result = Draft202012Validator({"$ref": "#/components/schemas/FeedbackResult", **_components()})
        result.validate(stored.get_json())


def _components() -> dict[str, Any]:
    return {"components": openapi_document(Settings())["components"]}


def test_error_and_health_responses_match_their_schemas(app: Any) -> None:
    client = app.test_client()
    outcome = Draft202012Validator({"$ref": "#/components/schemas/OperationOutcome", **_components()})
    health = Draft202012Validator({"$ref": "#/components/schemas/Health", **_components()})
    refused = client.post("/cds-services/derm3r-patient-view", json={"hook": "patient-view"})
    assert refused.status_code == 400
    outcome.validate(refused.get_json())
    health.validate(client.get("/healthz").get_json())


# ------------------------------------------------------------------ (c) what the models refuse, the schemas refuse


def _card(**overrides: Any) -> dict[str, Any]:
    card = {"uuid": UUID_A, "summary": "Check the dose", "indicator": "info", "source": {"label": "derm3r"}}
    card.update(overrides)
    return {"cards": [card]}


def _suggestion(**overrides: Any) -> dict[str, Any]:
    suggestion = {"label": "Create", "uuid": UUID_B, "actions": [{"type": "create", "description": "d", "resource": {"resourceType": "CarePlan"}}]}
    suggestion.update(overrides)
    return suggestion


# name, invalid response JSON, the same mistake made with the model (must raise ValueError) or None
# where the model has no way to express it (a serialiser never emits null, empty or unknown fields).
INVALID_RESPONSES: list[tuple[str, dict[str, Any], Callable[[], Any] | None]] = [
    ("summary of 140 characters", _card(summary="x" * 140), lambda: Card(UUID_A, "x" * 140, "info", Source("derm3r"))),
    ("empty summary", _card(summary=""), lambda: Card(UUID_A, "", "info", Source("derm3r"))),
    ("unknown indicator", _card(indicator="danger"), lambda: Card(UUID_A, "s", "danger", Source("derm3r"))),
    ("card uuid not a uuid", _card(uuid="card-1"), lambda: Card("card-1", "s", "info", Source("derm3r"))),
    ("source without label", _card(source={}), lambda: Source("")),
    ("source url relative", _card(source={"label": "x", "url": "/about"}), lambda: Source("x", url="/about")),
    (
        "suggestions without selectionBehavior (cds-resp-6)",
        _card(suggestions=[_suggestion()]),
        lambda: Card(UUID_A, "s", "info", Source("x"), suggestions=(Suggestion("l", UUID_B),)),
    ),
    (
        "unknown selectionBehavior",
        _card(suggestions=[_suggestion()], selectionBehavior="all"),
        lambda: Card(UUID_A, "s", "info", Source("x"), suggestions=(Suggestion("l", UUID_B),), selection_behavior="all"),
    ),
    ("override reason without display (cds-resp-4)", _card(overrideReasons=[{"code": "c", "system": "s"}]),
     lambda: Card(UUID_A, "s", "info", Source("x"), override_reasons=(Coding("c", "s"),))),
    ("coding without system", _card(overrideReasons=[{"code": "c", "display": "d"}]), lambda: Coding("c", "")),
    ("link with unknown type", _card(links=[{"label": "l", "url": "https://a.test", "type": "other"}]), lambda: Link("l", "https://a.test", "other")),
    (
        "appContext on an absolute link (cds-resp-3)",
        _card(links=[{"label": "l", "url": "https://a.test", "type": "absolute", "appContext": "x"}]),
        lambda: Link("l", "https://a.test", "absolute", app_context="x"),
    ),
    ("action of unknown type", _card(suggestions=[_suggestion(actions=[{"type": "merge", "description": "d"}])], selectionBehavior="any"),
     lambda: Action("merge", "d")),
    ("create without resource", _card(suggestions=[_suggestion(actions=[{"type": "create", "description": "d"}])], selectionBehavior="any"),
     lambda: Action("create", "d")),
    (
        "delete with a resource (cds-resp-2)",
        _card(suggestions=[_suggestion(actions=[{"type": "delete", "description": "d", "resourceId": "X/1", "resource": {"resourceType": "X"}}])], selectionBehavior="any"),
        lambda: Action("delete", "d", resource={"resourceType": "X"}, resource_id="X/1"),
    ),
    ("action without description (cds-resp-5)", _card(suggestions=[_suggestion(actions=[{"type": "delete", "resourceId": "X/1"}])], selectionBehavior="any"),
     lambda: Action("delete", "", resource_id="X/1")),
    ("null detail (no null values)", _card(detail=None), None),
    ("empty detail (no empty values)", _card(detail=""), None),
    ("empty suggestions array", _card(suggestions=[], selectionBehavior="any"), None),
    ("unknown card field", _card(severity="high"), None),
    ("no cards array", {}, None),
]


@pytest.mark.parametrize("name,payload,model", INVALID_RESPONSES, ids=[c[0] for c in INVALID_RESPONSES])
def test_invalid_responses_are_refused_by_schema_and_model(name: str, payload: dict[str, Any], model: Callable[[], Any] | None) -> None:
    assert not RESPONSE.is_valid(payload), name
    if model is not None:
        with pytest.raises(ValueError):
            model()


def test_valid_response_example_passes() -> None:
    payload = _card(suggestions=[_suggestion()], selectionBehavior="at-most-one", links=[{"label": "App", "url": "https://a.test/launch", "type": "smart", "appContext": "x"}])
    RESPONSE.validate(payload)


INVALID_DISCOVERY = [
    ("no services", {}),
    ("service without id", {"services": [{"hook": "patient-view", "description": "d"}]}),
    ("id with a slash", {"services": [{"hook": "patient-view", "description": "d", "id": "a/b"}]}),
    ("empty prefetch", {"services": [{"hook": "patient-view", "description": "d", "id": "a", "prefetch": {}}]}),
    ("unknown field", {"services": [{"hook": "patient-view", "description": "d", "id": "a", "priority": 1}]}),
]


@pytest.mark.parametrize("name,payload", INVALID_DISCOVERY, ids=[c[0] for c in INVALID_DISCOVERY])
def test_invalid_discovery_is_refused(name: str, payload: dict[str, Any]) -> None:
    assert not DISCOVERY.is_valid(payload)


def _request(**overrides: Any) -> dict[str, Any]:
    body = {"hook": "patient-view", "hookInstance": UUID_A, "context": {"userId": "Practitioner/u1", "patientId": "p1"}}
    body.update(overrides)
    return body


_AUTH = {"access_token": "t", "token_type": "Bearer", "expires_in": 300, "scope": "patient/*.read", "subject": "c"}

# Requests both the parser (`parse_request`) and the schema refuse.
INVALID_REQUESTS = [
    ("no hook", {k: v for k, v in _request().items() if k != "hook"}),
    ("hookInstance not a uuid", _request(hookInstance="abc")),
    ("no context", {k: v for k, v in _request().items() if k != "context"}),
    ("patientId not a FHIR id", _request(context={"userId": "Practitioner/u1", "patientId": "p1&_include=*"})),
    ("userId not a reference", _request(context={"userId": "u1", "patientId": "p1"})),
    ("fhirServer relative", _request(fhirServer="/fhir")),
    ("fhirAuthorization without fhirServer (cds-r-1)", _request(fhirAuthorization=_AUTH)),
    ("token_type not Bearer", _request(fhirServer="https://ehr.test/fhir", fhirAuthorization={**_AUTH, "token_type": "MAC"})),
    ("negative expires_in", _request(fhirServer="https://ehr.test/fhir", fhirAuthorization={**_AUTH, "expires_in": -1})),
    ("prefetch value a number", _request(prefetch={"patient": 3})),
    ("extension not an object", _request(extension=[1])),
    (
        "draft order of a non-request type",
        _request(hook="order-sign", context={"userId": "Practitioner/u1", "patientId": "p1",
                                             "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Patient", "id": "x"}}]}}),
    ),
    ("draftOrders not a Bundle", _request(hook="order-sign", context={"userId": "Practitioner/u1", "patientId": "p1", "draftOrders": {"resourceType": "List"}})),
    ("order context without draftOrders", _request(hook="order-sign", context={"userId": "Practitioner/u1", "patientId": "p1"})),
]


@pytest.mark.parametrize("name,body", INVALID_REQUESTS, ids=[c[0] for c in INVALID_REQUESTS])
def test_invalid_requests_are_refused_by_schema_and_parser(name: str, body: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        parse_request(body, expected_hook=body.get("hook", "patient-view"))
    assert not REQUEST.is_valid(body), name


def test_valid_requests_pass_both() -> None:
    body = _request(fhirServer="https://ehr.test/fhir", fhirAuthorization={**_AUTH, "token_type": "bearer"}, prefetch={"patient": None})
    REQUEST.validate(body)
    parse_request(body, expected_hook="patient-view")


_ACCEPTED = {"card": UUID_A, "outcome": "accepted", "acceptedSuggestions": [{"id": UUID_B}], "outcomeTimestamp": "2021-12-11T10:05:31Z"}
_OVERRIDDEN = {"card": UUID_A, "outcome": "overridden", "outcomeTimestamp": "2020-12-11T00:00:00Z"}

INVALID_FEEDBACK = [
    ("empty feedback", {"feedback": []}),
    ("too many items", {"feedback": [_OVERRIDDEN] * 201}),
    ("missing card", {"feedback": [{k: v for k, v in _OVERRIDDEN.items() if k != "card"}]}),
    ("card not a uuid", {"feedback": [{**_OVERRIDDEN, "card": "card-1"}]}),
    ("unknown outcome (cds-fb-1)", {"feedback": [{**_OVERRIDDEN, "outcome": "ignored"}]}),
    ("accepted without suggestions (cds-fb-2)", {"feedback": [{k: v for k, v in _ACCEPTED.items() if k != "acceptedSuggestions"}]}),
    ("accepted with empty suggestions", {"feedback": [{**_ACCEPTED, "acceptedSuggestions": []}]}),
    ("suggestion id not a uuid", {"feedback": [{**_ACCEPTED, "acceptedSuggestions": [{"id": "s1"}]}]}),
    ("overridden with accepted suggestions", {"feedback": [{**_OVERRIDDEN, "acceptedSuggestions": [{"id": UUID_B}]}]}),
    ("override reason empty (cds-fb-3)", {"feedback": [{**_OVERRIDDEN, "overrideReason": {}}]}),
    ("override reason without system", {"feedback": [{**_OVERRIDDEN, "overrideReason": {"reason": {"code": "x"}}}]}),
    ("override reason on accepted", {"feedback": [{**_ACCEPTED, "overrideReason": {"userComment": "x"}}]}),
    ("missing outcomeTimestamp", {"feedback": [{k: v for k, v in _OVERRIDDEN.items() if k != "outcomeTimestamp"}]}),
]


@pytest.mark.parametrize("name,body", INVALID_FEEDBACK, ids=[c[0] for c in INVALID_FEEDBACK])
def test_invalid_feedback_is_refused_by_schema_and_parser(name: str, body: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        parse_feedback(body)
    assert not FEEDBACK.is_valid(body), name


def test_valid_feedback_passes_both() -> None:
    reason = {"reason": {"code": "c", "system": "https://derm3r.org/fhir/CodeSystem/x", "display": "d"}, "userComment": "no"}
    body = {"feedback": [_ACCEPTED, {**_OVERRIDDEN, "overrideReason": reason, "card": str(uuid.uuid4())}]}
    FEEDBACK.validate(body)
    assert len(parse_feedback(body)) == 2
