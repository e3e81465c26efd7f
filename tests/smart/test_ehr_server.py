"""The test EHR is strict where SMART says an EHR must be, so a passing browser test means the app
really does a conforming EHR launch: PKCE S256 required, aud and launch checked, launch context in
the token response, tokens checked by the FHIR API within scopes and the patient compartment."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlsplit

import pytest

from .ehr import TestEhr

APP = "http://127.0.0.1:9/app/index.html"
SCOPE = "launch openid fhirUser patient/Patient.r patient/CarePlan.c"


@pytest.fixture()
def ehr() -> TestEhr:
    ehr = TestEhr("http://127.0.0.1:8", redirect_uris=(APP,))
    ehr.add({"resourceType": "Patient", "id": "p1"})
    ehr.add({"resourceType": "Patient", "id": "p2"})
    return ehr


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_params(ehr: TestEhr, challenge: str | None, **overrides: str) -> dict:
    params = {"response_type": "code", "client_id": "derm3r-review", "redirect_uri": APP, "scope": SCOPE,
              "state": "s1", "aud": ehr.fhir_base, "launch": ehr.new_launch("p1", "ctx-123")}
    if challenge:
        params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def get_code(client, params: dict) -> str:
    r = client.get("/auth/authorize", query_string=params)
    assert r.status_code == 302, r.get_data(as_text=True)
    query = parse_qs(urlsplit(r.headers["Location"]).query)
    assert query["state"] == ["s1"]
    return query["code"][0]


def exchange(client, code: str, verifier: str | None):
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": APP, "client_id": "derm3r-review"}
    if verifier:
        form["code_verifier"] = verifier
    return client.post("/auth/token", data=form)


def test_discovery_advertises_s256_and_ehr_launch(ehr: TestEhr) -> None:
    config = ehr.app.test_client().get("/fhir/.well-known/smart-configuration").json
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert {"launch-ehr", "client-public", "permission-v2"} <= set(config["capabilities"])


def test_full_exchange_returns_launch_context(ehr: TestEhr) -> None:
    client = ehr.app.test_client()
    verifier, challenge = pkce()
    token = exchange(client, get_code(client, authorize_params(ehr, challenge)), verifier)
    assert token.status_code == 200, token.json
    body = token.json
    assert body["patient"] == "p1" and body["appContext"] == "ctx-123" and body["token_type"] == "Bearer"
    assert "id_token" in body and "patient/Patient.r" in body["scope"].split()
    assert token.headers["Access-Control-Allow-Origin"] == "*"
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    assert client.get("/fhir/Patient/p1", headers=auth).status_code == 200
    assert client.get("/fhir/Patient/p2", headers=auth).status_code == 404  # other patient's compartment
    assert client.get("/fhir/Observation/x", headers=auth).status_code == 403  # no Observation.r scope


@pytest.mark.parametrize(
    ("overrides", "use_challenge"),
    [
        ({}, False),  # no PKCE at all
        ({"code_challenge_method": "plain"}, True),
        ({"aud": "http://127.0.0.1:8/other-fhir"}, True),
        ({"launch": "not-issued"}, True),
        ({"scope": "patient/Patient.r"}, True),  # EHR launch without the launch scope
        ({"redirect_uri": "http://127.0.0.1:9/evil"}, True),
        ({"client_id": "someone-else"}, True),
    ],
)
def test_authorize_rejects(ehr: TestEhr, overrides: dict, use_challenge: bool) -> None:
    _, challenge = pkce()
    r = ehr.app.test_client().get("/auth/authorize", query_string=authorize_params(ehr, challenge if use_challenge else None, **overrides))
    assert r.status_code in (302, 400)
    if r.status_code == 302:  # errors after the redirect URI is validated go back to the app
        assert "error=" in r.headers["Location"] and "code=" not in r.headers["Location"]


def test_launch_is_single_use(ehr: TestEhr) -> None:
    client = ehr.app.test_client()
    _, challenge = pkce()
    params = authorize_params(ehr, challenge)
    get_code(client, params)
    assert client.get("/auth/authorize", query_string=params).status_code == 400


@pytest.mark.parametrize("verifier", [None, "wrong-verifier-" + "x" * 40])
def test_token_requires_matching_verifier(ehr: TestEhr, verifier: str | None) -> None:
    client = ehr.app.test_client()
    _, challenge = pkce()
    r = exchange(client, get_code(client, authorize_params(ehr, challenge)), verifier)
    assert r.status_code == 400 and r.json["error"] in ("invalid_request", "invalid_grant")


def test_code_is_single_use(ehr: TestEhr) -> None:
    client = ehr.app.test_client()
    verifier, challenge = pkce()
    code = get_code(client, authorize_params(ehr, challenge))
    assert exchange(client, code, verifier).status_code == 200
    assert exchange(client, code, verifier).status_code == 400


def test_transaction_outside_patient_is_refused(ehr: TestEhr) -> None:
    client = ehr.app.test_client()
    token = ehr.bearer_for("p1", "patient/CarePlan.c")
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "CarePlan", "status": "draft", "intent": "proposal",
                                                "subject": {"reference": "Patient/p2"}},
         "request": {"method": "POST", "url": "CarePlan"}}]}
    r = client.post("/fhir", json=bundle, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403 and not ehr.created
