"""Issue 12, problems 8 (idempotency) and 12, and their family: feedback is accepted only for cards
this service issued to the same client, through either feedback path, and is idempotent by content
(the same outcome re-sent a second later is one piece of feedback, not two)."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from cds_hooks.routes import RUNTIME_KEY
from security_support import BASE_URL, SERVICE_ID, Signer, assert_operation_outcome, hook_body, strict_json

URL = f"/cds-services/{SERVICE_ID}"
FEEDBACK_URL = f"{URL}/feedback"
OTHER_SERVICE = "derm3r-encounter-start"
FHIR = "https://ehr.feedback-tests.example/fhir"


def _feedback(card: str, outcome: str = "overridden", at: str = "2026-12-02T10:00:00Z") -> dict:
    return {"card": card, "outcome": outcome, "outcomeTimestamp": at}


def _post(client: Any, signer: Signer, items: list[dict], url: str = FEEDBACK_URL) -> Any:
    return client.post(url, json={"feedback": items}, headers=signer.header(BASE_URL + url))


@pytest.fixture()
def issued(make_app: Any, signer: Signer) -> tuple[Any, Any, list[str]]:
    """An app, its client and the card uuids of one real hook answer."""
    app = make_app(fhir_allowlist=(FHIR,))
    client = app.test_client()
    response = client.post(URL, json=hook_body(fhir_server=FHIR), headers=signer.header())
    assert response.status_code == 200
    return app, client, [card["uuid"] for card in strict_json(response)["cards"]]


def _stored(app: Any) -> list[dict]:
    return app.extensions[RUNTIME_KEY].store.list_feedback()


def test_feedback_on_an_issued_card_is_stored(issued: tuple[Any, Any, list[str]], signer: Signer) -> None:
    app, client, cards = issued
    response = _post(client, signer, [_feedback(cards[0])])
    assert response.status_code == 200 and response.get_json() == {"stored": 1, "duplicates": 0}


@pytest.mark.parametrize("case", ["never issued (red team)", "issued to another client", "issued by another service", "one good, one forged"])
def test_feedback_on_cards_not_issued_to_this_client_is_refused(issued: tuple[Any, Any, list[str]], signer: Signer, case: str) -> None:
    app, client, cards = issued
    store = app.extensions[RUNTIME_KEY].store
    if case == "never issued (red team)":
        items = [_feedback(str(uuid.uuid4()))]
    elif case == "issued to another client":
        foreign = str(uuid.uuid4())
        store.record_issued_cards(SERVICE_ID, "https://other-ehr.example", [foreign])
        items = [_feedback(foreign)]
    elif case == "issued by another service":
        foreign = str(uuid.uuid4())
        store.record_issued_cards(OTHER_SERVICE, "https://ehr.security-tests.example", [foreign])
        items = [_feedback(foreign)]
    else:
        items = [_feedback(cards[0]), _feedback(str(uuid.uuid4()))]
    response = _post(client, signer, items)
    assert response.status_code == 400
    assert_operation_outcome(response)
    assert _stored(app) == []


def test_cards_of_one_service_cannot_take_feedback_at_the_other(issued: tuple[Any, Any, list[str]], signer: Signer) -> None:
    app, client, cards = issued
    response = _post(client, signer, [_feedback(cards[0])], url=f"/cds-services/{OTHER_SERVICE}/feedback")
    assert response.status_code in (400, 404) and _stored(app) == []


def test_cds_feedback_is_idempotent_by_content_not_by_second(issued: tuple[Any, Any, list[str]], signer: Signer) -> None:
    app, client, cards = issued
    first = _post(client, signer, [_feedback(cards[0], at="2026-12-02T10:00:00Z")]).get_json()
    later = _post(client, signer, [_feedback(cards[0], at="2026-12-02T10:00:01Z")]).get_json()
    much_later = _post(client, signer, [_feedback(cards[0], at="2026-12-02T10:05:00.5Z")]).get_json()
    assert first == {"stored": 1, "duplicates": 0}
    assert later == much_later == {"stored": 0, "duplicates": 1}
    changed = _post(client, signer, [_feedback(cards[0], outcome="overridden", at="2026-12-02T10:06:00Z") | {
        "overrideReason": {"userComment": "changed my mind"}}]).get_json()
    assert changed == {"stored": 1, "duplicates": 0}  # different content is new feedback
    assert len(_stored(app)) == 2


def test_review_feedback_posted_three_times_is_stored_once(make_app: Any, signer: Signer, canary: Any) -> None:
    """The red team's case: the same review feedback three times, across second boundaries."""
    app = make_app(fhir_allowlist=(canary.url,), allow_private_fhir=True)
    client = app.test_client()
    body = hook_body(fhir_server=canary.url, with_token=True)
    pid = body["context"]["patientId"]
    canary.routes[f"/Patient/{pid}"] = (200, {"Content-Type": "application/fhir+json"}, json.dumps({"resourceType": "Patient", "id": pid}).encode())
    card = strict_json(client.post(URL, json=body, headers=signer.header()))["cards"][0]
    url = f"/app/api/assessments/{card['links'][0]['appContext']}/feedback"
    sent = {"outcome": "overridden", "section": "severity", "reason": "severity-wrong", "comment": "PASI looks high"}
    for attempt in range(3):
        response = client.post(url, json=sent, headers={"Authorization": "Bearer smart-token"})
        assert response.status_code == 201, response.data[:200]
        if attempt < 2:
            time.sleep(1.05)  # cross a second boundary: the old dedup only caught repeats within one second
    stored = [f for f in _stored(app) if f["card"] == card["uuid"]]
    assert len(stored) == 1
