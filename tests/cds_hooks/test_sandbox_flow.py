"""What the CDS Hooks Sandbox does, over real HTTP on loopback: a browser preflight, discovery, an
order-sign call and override feedback, each with a token shaped like the Sandbox's (ES384, `kid`,
a `jku` naming its JWKS URL that the trust file does not allow-list) against its key pinned inline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest
import requests

from cds_hooks.app import create_app
from cds_hooks.demo.run import LoopbackServer
from order_support import Chart, medication_order, order_request
from service_support import StubPipeline, settings_for
from test_auth_interop import SANDBOX_ISS, SANDBOX_KEY, SANDBOX_KID, _jwk, sandbox_token

ORIGIN = "http://localhost:3000"  # where a locally built Sandbox is served from


@pytest.fixture()
def service(tmp_path: Path) -> Iterator[str]:
    trust = tmp_path / "sandbox-trust.json"
    trust.write_text(json.dumps({SANDBOX_ISS: {"jwks": {"keys": [_jwk(SANDBOX_KEY, SANDBOX_KID)]}, "algorithms": ["ES384"]}}))
    server = LoopbackServer()
    settings = settings_for(tmp_path, auth_enabled=True, trusted_issuers_file=trust, public_base_url=server.base_url)
    server.start(create_app(settings, pipeline=StubPipeline()))
    try:
        yield server.base_url
    finally:
        server.stop()


def test_sandbox_session_against_the_order_sign_service(service: str) -> None:
    url = f"{service}/cds-services/derm3r-order-sign"
    preflight = requests.options(
        url,
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"},
        timeout=10,
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] in ("*", ORIGIN)
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()

    discovery_url = f"{service}/cds-services"
    discovery = requests.get(discovery_url, headers={"Authorization": f"Bearer {sandbox_token(aud=discovery_url)}", "Origin": ORIGIN}, timeout=10)
    assert discovery.status_code == 200
    hooks = {s["hook"] for s in discovery.json()["services"]}
    assert {"patient-view", "order-select", "order-sign"} <= hooks

    record = Chart(birth="1992-01-01").condition("psoriasis").condition("pregnancy", onset_days=50).all_checks_done()
    body = order_request("order-sign", record, medication_order("methotrexate", coded=False, text="Methotrexate 2.5 MG Oral Tablet"))
    answer = requests.post(url, json=body, headers={"Authorization": f"Bearer {sandbox_token(aud=url)}", "Origin": ORIGIN}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Access-Control-Allow-Origin"] in ("*", ORIGIN)
    card = next(c for c in answer.json()["cards"] if c["indicator"] == "critical")
    assert "pregnan" in card["summary"].lower()

    feedback_url = f"{url}/feedback"
    feedback = {"feedback": [{"card": card["uuid"], "outcome": "overridden", "overrideReason": {"reason": card["overrideReasons"][0]},
                              "outcomeTimestamp": "2026-12-02T05:00:00Z"}]}
    stored = requests.post(feedback_url, json=feedback, headers={"Authorization": f"Bearer {sandbox_token(aud=feedback_url)}"}, timeout=10)
    assert stored.status_code == 200 and stored.json()["stored"] == 1

    # The same call signed with another key is refused, and the body says why.
    from test_auth_interop import OTHER_KEY

    refused = requests.post(url, json=body, headers={"Authorization": f"Bearer {sandbox_token(aud=url, key=OTHER_KEY)}"}, timeout=10)
    assert refused.status_code == 401 and refused.json()["issue"][0]["diagnostics"] == "invalid signature"
