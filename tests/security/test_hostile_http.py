"""HTTP-level tricks against the real app: Host / X-Forwarded-* spoofing to bend the JWT audience,
method overrides, TRACE, CORS from a hostile origin, and security-relevant response headers."""

from __future__ import annotations

from typing import Any

import pytest

from security_support import BASE_URL, SERVICE_ID, SERVICE_URL, Signer, assert_operation_outcome, hook_body, synthetic_patient

URL = f"/cds-services/{SERVICE_ID}"
EVIL = "https://evil.example"


@pytest.fixture()
def client(edge_app: Any) -> Any:
    return edge_app().test_client()


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "evil.example"},
        {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"},
        {"Forwarded": "host=evil.example;proto=https"},
        {"X-Original-URL": "/cds-services", "X-Rewrite-URL": "/cds-services"},
    ],
    ids=["Host", "X-Forwarded-Host", "Forwarded", "X-Original-URL"],
)
def test_audience_cannot_be_bent_by_request_headers(client: Any, signer: Signer, headers: dict[str, str]) -> None:
    """The audience is the configured public base URL + path, never taken from the request: a token
    minted for the attacker's host is refused whatever Host/forwarding headers say."""
    token_for_evil = signer.token(f"{EVIL}{URL}")
    response = client.post(URL, json={}, headers={**headers, "Authorization": f"Bearer {token_for_evil}"})
    assert response.status_code == 401
    assert response.get_json()["issue"][0]["diagnostics"] == "audience mismatch"


def test_discovery_token_cannot_call_a_service(client: Any, signer: Signer) -> None:
    response = client.post(URL, json=hook_body(synthetic_patient(visits=1)), headers=signer.header(f"{BASE_URL}/cds-services"))
    assert response.status_code == 401


@pytest.mark.parametrize("override", ["DELETE", "PUT", "GET"])
def test_method_override_headers_are_ignored(client: Any, signer: Signer, override: str) -> None:
    response = client.get(
        "/cds-services",
        headers={**signer.header(f"{BASE_URL}/cds-services"), "X-HTTP-Method-Override": override, "X-Method-Override": override},
    )
    assert response.status_code == 200
    assert "services" in response.get_json()


@pytest.mark.parametrize("method", ["TRACE", "PUT", "DELETE", "PATCH"])
def test_unsupported_methods(client: Any, signer: Signer, method: str) -> None:
    response = client.open(URL, method=method, headers=signer.header(SERVICE_URL))
    assert response.status_code in {401, 405}
    assert_operation_outcome(response)
    assert "Authorization" not in response.get_data(as_text=True)


def test_cors_from_hostile_origin_grants_no_credentials(client: Any, signer: Signer) -> None:
    preflight = client.options(
        URL,
        headers={"Origin": EVIL, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type"},
    )
    assert preflight.status_code < 500
    assert preflight.headers.get("Access-Control-Allow-Credentials") in (None, "false")
    # A browser on a hostile origin still needs a valid JWT: CORS is not an authentication path.
    response = client.post(URL, json={}, headers={"Origin": EVIL})
    assert response.status_code == 401
    assert response.headers.get("Access-Control-Allow-Credentials") in (None, "false")


def test_error_responses_are_json_not_html(client: Any, signer: Signer) -> None:
    for response in (
        client.get("/no/such/path"),
        client.post(URL, data="x", headers={**signer.header(), "Content-Type": "text/html"}),
        client.get(URL, headers=signer.header()),
    ):
        assert response.status_code >= 400
        assert response.headers["Content-Type"].startswith("application/json"), response.headers["Content-Type"]
        assert_operation_outcome(response)
        assert b"<html" not in response.data.lower()


def test_unauthorized_carries_www_authenticate(client: Any) -> None:
    response = client.get("/cds-services")
    assert response.status_code == 401
    assert response.headers.get("WWW-Authenticate", "").startswith("Bearer")
