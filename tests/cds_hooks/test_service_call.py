"""Calling a service: POST {baseUrl}/cds-services/{id} with prefetch -> cards."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from service_support import ES, PV, REPO, StubPipeline, make_app, patient, real_pipeline, request_body, searchset

RESPONSE_SCHEMA = json.loads((REPO / "cds_hooks" / "schemas" / "cds-hooks-response.schema.json").read_text())


def photo_b64(seed: int) -> str:
    """A distinct small PNG per seed (the case builder drops byte-identical duplicates)."""
    import base64
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (seed % 256, 80, 80)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def media(pid: str = "p1", mid: str = "m1") -> dict:
    return {
        "resourceType": "Media",
        "id": mid,
        "status": "completed",
        "subject": {"reference": f"Patient/{pid}"},
        "createdDateTime": "2026-11-02T10:00:00Z",
        "bodySite": {"text": "trunk", "coding": [{"system": "http://snomed.info/sct", "code": "22943007", "display": "Trunk structure"}]},
        "content": {"contentType": "image/png", "data": photo_b64(sum(map(ord, mid)))},
    }


@pytest.fixture()
def stub() -> StubPipeline:
    return StubPipeline()


@pytest.fixture()
def client(tmp_path: Path, stub: StubPipeline):
    return make_app(tmp_path, pipeline=stub).test_client()


def test_patient_view_with_prefetch_returns_valid_cards(tmp_path: Path, stub: StubPipeline) -> None:
    # An allow-listed fhirServer: the review link is only offered for records bound to one (issue 12).
    client = make_app(tmp_path, pipeline=stub, fhir_allowlist=("https://ehr.example.org/fhir",)).test_client()
    body = request_body(prefetch={"patient": patient(), "conditions": searchset(), "media": searchset(media(), media(mid="m2"))},
                        fhirServer="https://ehr.example.org/fhir")
    response = client.post(f"/cds-services/{PV}", json=body)
    assert response.status_code == 200, response.get_json()
    payload = response.get_json()
    jsonschema.validate(payload, RESPONSE_SCHEMA)
    assert stub.calls == 1
    cards = payload["cards"]
    topics = [c["source"]["topic"]["code"] for c in cards]
    assert topics == ["psoriasis-assessment", "comorbidity-screening", "data-quality"]
    assessment = cards[0]
    assert assessment["summary"].startswith("Step: ")  # action first (issue 11, item 8)
    assert "preliminary" in assessment["source"]["label"].lower() and "Preliminary AI" in assessment["detail"]
    assert assessment["indicator"] == "info"  # severity is not an alarm; red flags have their own cards
    assert assessment["selectionBehavior"] == "at-most-one"
    (suggestion,) = assessment["suggestions"]
    kinds = [a["resource"]["resourceType"] for a in suggestion["actions"]]
    assert "CarePlan" in kinds and "Provenance" in kinds and "Observation" in kinds
    # The shared software Device is an update (PUT to its fixed id, idempotent); the rest are creates.
    assert [a["type"] for a in suggestion["actions"]] == [
        "update" if a["resource"]["resourceType"] == "Device" else "create" for a in suggestion["actions"]]
    assert kinds.count("Device") == 1
    careplan = next(a["resource"] for a in suggestion["actions"] if a["resource"]["resourceType"] == "CarePlan")
    assert careplan["status"] == "draft"
    assert all(
        a["resource"]["status"] == "preliminary" for a in suggestion["actions"] if a["resource"]["resourceType"] == "Observation"
    )
    (link,) = assessment["links"]
    assert link["type"] == "smart" and link["url"] == "http://derm3r.test/app/launch.html" and link["appContext"]
    # The unusable second photo is explained on the data-quality card, named by site, not by id.
    assert "trunk photo" in cards[2]["detail"] and "blurred" in cards[2]["detail"] and "Media/m2" not in cards[2]["detail"]


def test_encounter_start_uses_the_same_pipeline(client, stub: StubPipeline) -> None:
    response = client.post(f"/cds-services/{ES}", json=request_body(hook="encounter-start"))
    assert response.status_code == 200, response.get_json()
    jsonschema.validate(response.get_json(), RESPONSE_SCHEMA)
    assert stub.calls == 1


def test_patient_without_skin_disease_gets_no_cards(client, stub: StubPipeline) -> None:
    response = client.post(f"/cds-services/{PV}", json=request_body(prefetch={"patient": patient(), "conditions": None, "media": searchset()}))
    assert response.status_code == 200
    assert response.get_json() == {"cards": []}
    assert stub.calls == 0


def test_each_call_gets_fresh_uuids_and_an_audit_record(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    client = app.test_client()
    first = client.post(f"/cds-services/{PV}", json=request_body()).get_json()
    second = client.post(f"/cds-services/{PV}", json=request_body()).get_json()
    uuids = lambda payload: {c["uuid"] for c in payload["cards"]}  # noqa: E731
    assert uuids(first) and not uuids(first) & uuids(second)
    from cds_hooks.routes import RUNTIME_KEY

    audit = app.extensions[RUNTIME_KEY].store.list_audit(limit=10)
    decisions = [r for r in audit if r.get("type") == "cds-decision"]
    assert len(decisions) == 2
    record = decisions[0]
    assert set(record["cards"]) == uuids(second)
    assert record["service"] == PV and record["modelVersion"] == "stub-1" and record["knowledgeVersion"] == "stub-kb-1"
    assert record["prefetch"]["patient"] == "prefetch"
    text = json.dumps(audit)
    assert "1980-04-02" not in text and "female" not in text  # references only, no PHI values


def test_severity_alone_never_interrupts(tmp_path: Path) -> None:
    """Issue 11 item 8: only red flags (safety-alert cards) are warning/critical; a severe assessment
    without one is info, with the step first in its summary."""
    client = make_app(tmp_path, pipeline=StubPipeline(severity="severe")).test_client()
    cards = client.post(f"/cds-services/{PV}", json=request_body()).get_json()["cards"]
    assert cards[0]["indicator"] == "info" and cards[0]["summary"].startswith("Step: ")
    assert all(c["indicator"] == "info" for c in cards)


def test_mild_assessment_is_info(tmp_path: Path) -> None:
    client = make_app(tmp_path, pipeline=StubPipeline(severity="mild")).test_client()
    cards = client.post(f"/cds-services/{PV}", json=request_body()).get_json()["cards"]
    assert cards[0]["indicator"] == "info"


def test_real_pipeline_end_to_end_on_synthetic_patients(tmp_path: Path) -> None:
    """The real agents, real mapping and real writeback on every demo patient, via prefetch."""
    synthetic = pytest.importorskip("cds_hooks.demo.synthetic")
    from cds_hooks.demo.ehr_request import bundle_patient_id, prefetch_from_bundle
    from cds_hooks.services import default_registry

    app = make_app(tmp_path, pipeline=real_pipeline())
    client = app.test_client()
    health = client.get("/healthz").get_json()
    assert health["modelVersion"] and health["knowledgeVersion"]
    service = default_registry().get(PV)
    for bundle in synthetic.demo_patients():
        pid = bundle_patient_id(bundle)
        response = client.post(f"/cds-services/{PV}", json=request_body(pid, prefetch=prefetch_from_bundle(bundle, service)))
        assert response.status_code == 200, response.get_json()
        payload = response.get_json()
        jsonschema.validate(payload, RESPONSE_SCHEMA)
        assert payload["cards"], pid
        main = next(c for c in payload["cards"] if c["source"]["topic"]["code"] == "psoriasis-assessment")
        assert "Preliminary AI" in main["detail"]


def test_a_failing_review_store_costs_only_the_link(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cds_hooks.review.store import ReviewStore

    def broken_put(self, *args, **kwargs):
        raise ValueError("Out of range float values are not JSON compliant")

    monkeypatch.setattr(ReviewStore, "put", broken_put)
    response = make_app(tmp_path).test_client().post(f"/cds-services/{PV}", json=request_body())
    assert response.status_code == 200
    assessment = response.get_json()["cards"][0]
    assert "links" not in assessment and assessment["suggestions"]


def test_nan_never_reaches_the_wire(tmp_path: Path) -> None:
    """NaN is not JSON: the app's encoder refuses it (-> 500) rather than emit a body clients reject."""
    app = make_app(tmp_path)
    with app.app_context():
        with pytest.raises(ValueError):
            app.json.dumps({"value": float("nan")})


def test_client_jwt_is_verified_against_the_endpoint_url(tmp_path: Path) -> None:
    """Auth wiring: aud = DERM3R_PUBLIC_BASE_URL + path, one use per jti, on calls and feedback."""
    from cds_hooks.demo.issuer import DemoIssuer

    issuer = DemoIssuer()
    client = make_app(tmp_path, auth_enabled=True, trusted_issuers_file=issuer.write_trust_file(tmp_path)).test_client()
    url = f"http://derm3r.test/cds-services/{PV}"
    token = issuer.authorization(url)
    first = client.post(f"/cds-services/{PV}", json=request_body(), headers={"Authorization": token})
    assert first.status_code == 200
    replay = client.post(f"/cds-services/{PV}", json=request_body(), headers={"Authorization": token})
    assert replay.status_code == 401 and "replay" in replay.get_json()["issue"][0]["diagnostics"]
    other_endpoint = issuer.authorization("http://derm3r.test/cds-services")
    assert client.post(f"/cds-services/{PV}", json=request_body(), headers={"Authorization": other_endpoint}).status_code == 401
    feedback_url = f"{url}/feedback"
    # A card this service issued to this client (feedback on any other card is refused, issue 12).
    item = {"card": first.get_json()["cards"][0]["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-11-27T10:00:00Z"}
    ok = client.post(f"/cds-services/{PV}/feedback", json={"feedback": [item]}, headers={"Authorization": issuer.authorization(feedback_url)})
    assert ok.status_code == 200
