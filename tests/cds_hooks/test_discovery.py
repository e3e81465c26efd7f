"""Discovery: GET {baseUrl}/cds-services, derived from the registry."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from cds_hooks.registry import Registry, ServiceDefinition
from cds_hooks.services import default_registry
from fhir_mapping.queries import ORDER_PREFETCH_TEMPLATES, PREFETCH_TEMPLATES
from service_support import ES, PV, REPO, make_app

DISCOVERY_SCHEMA = json.loads((REPO / "cds_hooks" / "schemas" / "cds-hooks-discovery.schema.json").read_text())
# An instance read, or a search by patient reference with optional `_sort` (newest first on a date
# parameter) and `_count`: the spec's recommended subset.
RECOMMENDED_QUERY = re.compile(
    r"^[A-Z][A-Za-z]+(/\{\{context\.patientId\}\}|\?patient=\{\{context\.patientId\}\}(&_sort=-[a-z-]+)?(&_count=\d+)?)$"
)


@pytest.fixture()
def client(tmp_path: Path):
    return make_app(tmp_path).test_client()


def test_discovery_lists_services_from_the_registry(client) -> None:
    response = client.get("/cds-services")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    jsonschema.validate(body, DISCOVERY_SCHEMA)
    by_id = {s["id"]: s for s in body["services"]}
    assert by_id[PV]["hook"] == "patient-view"
    assert by_id[ES]["hook"] == "encounter-start"
    assert [s.id for s in default_registry()] == [s["id"] for s in body["services"]]
    for service in body["services"]:
        assert service["title"] and service["description"]
        # The ordering hooks prefetch no photographs (no image work while ordering): a subset.
        expected = ORDER_PREFETCH_TEMPLATES if service["hook"] in ("order-select", "order-sign") else PREFETCH_TEMPLATES
        assert service["prefetch"] == dict(expected)


def test_prefetch_templates_use_root_level_tokens_and_the_recommended_subset() -> None:
    for key, template in PREFETCH_TEMPLATES.items():
        assert RECOMMENDED_QUERY.match(template), (key, template)
        for token in re.findall(r"\{\{(.*?)\}\}", template):
            assert token.startswith("context.") and "." not in token[len("context.") :]
    assert {"patient", "observations", "media", "conditions", "medicationStatements", "medicationRequests", "documents"} <= set(PREFETCH_TEMPLATES)


def test_service_endpoint_is_base_plus_id(client) -> None:
    for service in client.get("/cds-services").get_json()["services"]:
        # A GET on a service endpoint is not allowed (only POST), which proves the route exists.
        assert client.get(f"/cds-services/{service['id']}").status_code == 405


def test_registry_refuses_nested_or_unknown_tokens() -> None:
    def noop(call, runtime):  # pragma: no cover - never called
        raise AssertionError

    with pytest.raises(ValueError, match="root-level"):
        ServiceDefinition(id="x", hook="patient-view", title="t", description="d", handler=noop, prefetch={"patient": "Patient/{{context.patient.id}}"})
    with pytest.raises(ValueError, match="duplicate"):
        s = ServiceDefinition(id="x", hook="patient-view", title="t", description="d", handler=noop)
        Registry([s, s])
    with pytest.raises(ValueError, match="URL-safe"):
        ServiceDefinition(id="a/b", hook="patient-view", title="t", description="d", handler=noop)


def test_empty_registry_discovers_an_empty_array(tmp_path: Path) -> None:
    from cds_hooks.app import create_app
    from service_support import StubPipeline, settings_for

    app = create_app(settings_for(tmp_path), pipeline=StubPipeline(), registry=Registry([]))
    assert app.test_client().get("/cds-services").get_json() == {"services": []}


def test_cors_headers_and_preflight(client) -> None:
    for path in ("/cds-services", f"/cds-services/{PV}", f"/cds-services/{PV}/feedback", "/no-such-path"):
        preflight = client.options(path, headers={"Origin": "https://ehr.example", "Access-Control-Request-Method": "POST"})
        assert preflight.status_code == 204
        assert preflight.headers["Access-Control-Allow-Origin"] == "*"
        assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
        assert "Content-Type" in preflight.headers["Access-Control-Allow-Headers"]
        assert set(preflight.headers["Access-Control-Allow-Methods"].replace(" ", "").split(",")) == {"GET", "POST", "OPTIONS"}
    assert client.get("/cds-services").headers["Access-Control-Allow-Origin"] == "*"
    assert client.get("/nope").headers["Access-Control-Allow-Origin"] == "*"


def test_healthz_reports_the_pipeline(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ok"
    assert response.get_json()["pipeline"] == "loaded"


def test_nothing_is_built_at_import_time() -> None:
    import importlib
    import sys

    for name in [m for m in sys.modules if m == "cds_hooks" or m.startswith("cds_hooks.")]:
        module = importlib.import_module(name)
        for value in vars(module).values():
            assert type(value).__name__ not in {"Flask", "Pipeline", "SqliteStore", "JwtVerifier", "ReviewStore", "Settings"}, (name, value)


def test_preflight_needs_no_token_even_with_auth_on(tmp_path: Path) -> None:
    client = make_app(tmp_path, auth_enabled=True).test_client()
    preflight = client.options(f"/cds-services/{PV}", headers={"Origin": "https://ehr.example", "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204 and preflight.headers["Access-Control-Allow-Origin"] == "*"
    refused = client.get("/cds-services")
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert refused.headers["Access-Control-Allow-Origin"] == "*"  # so a browser client can read the error
    assert client.get("/healthz").status_code == 200  # liveness probes carry no token
