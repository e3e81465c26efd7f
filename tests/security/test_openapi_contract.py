"""The OpenAPI document (cds_hooks.openapi) is well-formed and true: its schemas are valid JSON
Schema 2020-12, every $ref resolves, every CDS route the app serves is documented, and real
responses from the app (discovery, errors, health) validate against the documented schemas."""

from __future__ import annotations

import json
import re
from typing import Any, Iterator

import pytest
from jsonschema import Draft202012Validator

from cds_hooks.openapi import openapi_blueprint, openapi_document
from cds_hooks.settings import Settings
from security_support import BASE_URL, SERVICE_ID, Signer


@pytest.fixture()
def app(edge_app: Any) -> Any:
    return edge_app()


@pytest.fixture()
def document(app: Any) -> dict[str, Any]:
    from cds_hooks.routes import RUNTIME_KEY

    return openapi_document(app.extensions[RUNTIME_KEY].settings, app.extensions[RUNTIME_KEY].registry)


def _validator(document: dict[str, Any], name: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": f"#/components/schemas/{name}", "components": document["components"]})


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_document_shape(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    assert document["servers"] == [{"url": BASE_URL}]
    for name, schema in document["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)
    for ref in set(_refs(document)):
        assert ref.startswith("#/components/schemas/")
        assert ref.rsplit("/", 1)[1] in document["components"]["schemas"], ref
    json.dumps(document)  # serialisable as served


def test_every_cds_route_is_documented(app: Any, document: dict[str, Any]) -> None:
    documented = {re.sub(r"\{(\w+)\}", r"<\1>", p) for p in document["paths"]}
    served = {re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", rule.rule) for rule in app.url_map.iter_rules()}
    cds = {r.replace("<service_id>", "<id>") for r in served if r.startswith("/cds-services")}
    assert cds <= documented, cds - documented
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if path.startswith("/cds-services"):
                assert operation["security"] == [{"cdsClientJwt": []}], (path, method)
                assert "401" in operation["responses"]


def test_service_ids_come_from_the_registry(document: dict[str, Any]) -> None:
    param = document["paths"]["/cds-services/{id}"]["post"]["parameters"][0]
    assert SERVICE_ID in param["schema"]["enum"]


def test_real_responses_match_documented_schemas(app: Any, document: dict[str, Any], signer: Signer) -> None:
    client = app.test_client()
    discovery = client.get("/cds-services", headers=signer.header(f"{BASE_URL}/cds-services"))
    assert discovery.status_code == 200
    _validator(document, "Discovery").validate(discovery.get_json())
    for response in (
        client.get("/cds-services"),  # 401
        client.post(f"/cds-services/{SERVICE_ID}", data=b"{", headers={**signer.header(), "Content-Type": "application/json"}),
        client.post("/cds-services/nope", json={}, headers=signer.header(f"{BASE_URL}/cds-services/nope")),
    ):
        assert response.status_code >= 400
        _validator(document, "OperationOutcome").validate(response.get_json())
    health = client.get("/healthz")
    _validator(document, "Health").validate(health.get_json())


def test_documented_request_schema_accepts_a_real_request(document: dict[str, Any]) -> None:
    from security_support import hook_body, synthetic_patient

    _validator(document, "HookRequest").validate(hook_body(synthetic_patient(visits=1)))
    _validator(document, "Feedback").validate(
        # Card and suggestion ids are UUIDs (the service refuses anything else with 400).
        {"feedback": [{"card": "5c7c4b1e-8f3a-4d2b-9a61-0e2f3b4c5d6e", "outcome": "accepted", "outcomeTimestamp": "2026-11-27T10:00:00Z",
                       "acceptedSuggestions": [{"id": "9b1d2c3e-4f5a-4b6c-8d7e-1f2a3b4c5d6e"}]}]}
    )


def test_blueprint_serves_the_document() -> None:
    from flask import Flask

    settings = Settings(public_base_url=BASE_URL)
    app = Flask("openapi-test")
    app.register_blueprint(openapi_blueprint(settings))
    response = app.test_client().get("/openapi.json")
    assert response.status_code == 200
    assert response.get_json() == json.loads(json.dumps(openapi_document(settings)))


def test_app_serves_openapi_when_registered(app: Any) -> None:
    if not any(rule.rule == "/openapi.json" for rule in app.url_map.iter_rules()):
        pytest.skip("openapi_blueprint not registered by create_app yet")
    response = app.test_client().get("/openapi.json")
    assert response.status_code == 200 and response.get_json()["openapi"].startswith("3.1")
