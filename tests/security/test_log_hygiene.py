"""Logs never contain access tokens, patient names or prefetch content: run full requests (success,
auth failure, malformed input, feedback, FHIR fetch) with every logger at DEBUG and search the
captured records (message, arguments and exception text)."""

from __future__ import annotations

import importlib.util
import json
import logging
from typing import Any

import pytest

from security_support import (
    BASE_URL,
    FHIR_TOKEN,
    SERVICE_ID,
    Canary,
    Signer,
    hook_body,
    prefetch_for,
    synthetic_patient,
)

URL = f"/cds-services/{SERVICE_ID}"


def _secrets_of(bundle: dict, jwt_token: str) -> list[str]:
    """Strings that must not appear in any log line."""
    patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    secrets = [jwt_token, jwt_token.split(".")[2], FHIR_TOKEN]
    for name in patient.get("name", []):
        secrets += [name.get("family", "")] + list(name.get("given", []))
    secrets += [patient.get("birthDate", "")]
    secrets += [i.get("value", "") for i in patient.get("identifier", [])]
    secrets += [t.get("value", "") for t in patient.get("telecom", [])]
    for address in patient.get("address", []):
        secrets += list(address.get("line", []))
    # A slice of inline photo data stands for "prefetch content".
    for entry in bundle["entry"]:
        data = entry["resource"].get("content", {}).get("data")
        if data:
            secrets.append(data[100:140])
            break
    return [s for s in secrets if s and len(s) >= 4]


def _log_text(records: list[logging.LogRecord]) -> str:
    parts = []
    for record in records:
        parts.append(record.getMessage())
        parts.append(repr(record.args))
        if record.exc_info:
            parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(parts)


def _assert_clean(caplog: pytest.LogCaptureFixture, secrets: list[str]) -> None:
    text = _log_text(caplog.records)
    leaked = [s[:12] + "..." for s in secrets if s in text]
    assert not leaked, f"secrets found in logs: {leaked}"


def _feedback_for(card: dict) -> dict:
    """Accept the first suggestion of a card that has one, otherwise override it with a comment."""
    item: dict[str, Any] = {"card": card["uuid"], "outcomeTimestamp": "2026-11-27T10:00:00Z"}
    suggestions = [s["uuid"] for s in card.get("suggestions", []) if "uuid" in s]
    if suggestions:
        item.update(outcome="accepted", acceptedSuggestions=[{"id": suggestions[0]}])
    else:
        item.update(outcome="overridden", overrideReason={"userComment": "not relevant today"})
    return item


def test_full_request_logs_nothing_sensitive(make_app: Any, signer: Signer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    app = make_app()
    client = app.test_client()
    bundle = synthetic_patient(visits=2)
    body = hook_body(bundle, fhir_server="https://ehr.example.org/fhir", with_token=True)
    token = signer.token()
    response = client.post(URL, json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.data[:300]
    # Replay the same token (401), then feedback on the returned cards.
    assert client.post(URL, json=body, headers={"Authorization": f"Bearer {token}"}).status_code == 401
    cards = response.get_json()["cards"]
    feedback_url = f"{URL}/feedback"
    items = [_feedback_for(card) for card in cards if "uuid" in card]
    if items:
        fb = client.post(feedback_url, json={"feedback": items}, headers=signer.header(BASE_URL + feedback_url))
        assert fb.status_code == 200, fb.data[:300]
    assert caplog.records, "expected the service to log something at DEBUG"
    _assert_clean(caplog, _secrets_of(bundle, token))


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b.update(hookInstance="not-a-uuid"),
        lambda b: b["context"].update(patientId="../x"),
        lambda b: b.update(prefetch=[b["prefetch"]]),
        lambda b: b.update(hook="order-sign"),
    ],
    ids=["bad hookInstance", "bad patientId", "prefetch array", "wrong hook"],
)
def test_refused_requests_log_nothing_sensitive(edge_app: Any, signer: Signer, caplog: pytest.LogCaptureFixture, mutate: Any) -> None:
    caplog.set_level(logging.DEBUG)
    client = edge_app().test_client()
    bundle = synthetic_patient(visits=1)
    body = hook_body(bundle, fhir_server="https://ehr.example.org/fhir", with_token=True)
    mutate(body)
    token = signer.token()
    response = client.post(URL, json=body, headers={"Authorization": f"Bearer {token}"})
    assert 400 <= response.status_code < 500
    _assert_clean(caplog, _secrets_of(bundle, token))


@pytest.mark.parametrize(
    "header",
    [
        lambda s: f"Bearer {s.token(aud='https://wrong.example/cds-services')}",
        lambda s: f"Bearer {s.token(exp=1)}",
        lambda s: f"Basic {s.token()}",
        lambda s: f"Bearer {s.token()} {s.token()}",
        lambda s: f"Bearer {s.token()[:-5]}AAAAA",
    ],
    ids=["wrong aud", "expired", "basic scheme", "two tokens", "bad signature"],
)
def test_auth_failures_never_log_the_token(edge_app: Any, signer: Signer, caplog: pytest.LogCaptureFixture, header: Any) -> None:
    caplog.set_level(logging.DEBUG)
    client = edge_app().test_client()
    value = header(signer)
    response = client.post(URL, json={}, headers={"Authorization": value})
    assert response.status_code == 401
    text = _log_text(caplog.records)
    for token in value.split()[1:]:
        assert token not in text
        assert token.split(".")[-1] not in text
    assert "rejected" in text  # the reason is logged, only the reason
    assert value not in response.get_data(as_text=True)


@pytest.mark.skipif(importlib.util.find_spec("fhir_mapping.client") is None, reason="fhir_mapping.client not available yet")
def test_fhir_fetch_logs_nothing_sensitive(make_app: Any, canary: Canary, signer: Signer, caplog: pytest.LogCaptureFixture) -> None:
    """Data fetched from the FHIR server (not prefetched): the bearer token we present and the
    resources we receive stay out of the logs."""
    caplog.set_level(logging.DEBUG)
    bundle = synthetic_patient(visits=1)
    prefetch = prefetch_for(bundle)
    patient = prefetch["patient"]
    base = f"{canary.url}/fhir"
    canary.routes[f"/fhir/Patient/{patient['id']}"] = (200, {"Content-Type": "application/fhir+json"}, json.dumps(patient).encode())
    for key in ("observations", "media", "conditions", "medicationStatements", "medicationRequests", "documents"):
        resource_type = prefetch[key]["entry"][0]["resource"]["resourceType"] if prefetch[key]["entry"] else None
        if resource_type:
            canary.routes[f"/fhir/{resource_type}"] = (200, {"Content-Type": "application/fhir+json"}, json.dumps(prefetch[key]).encode())
    body = hook_body(bundle, prefetch={}, fhir_server=base, with_token=True)
    app = make_app(fhir_allowlist=(base,), allow_private_fhir=True)
    token = signer.token()
    response = app.test_client().post(URL, json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code < 500, response.data[:300]
    assert canary.hits, "the service should have fetched from the FHIR server"
    _assert_clean(caplog, _secrets_of(bundle, token))
