"""Feedback: POST {baseUrl}/cds-services/{id}/feedback - validated, idempotent, durable."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from cds_hooks.routes import RUNTIME_KEY
from service_support import ES, PV, make_app as _make_app, operation_outcome_issue

CARD = "4e0a3a1e-3283-4575-ab82-028d55fe2719"
SUGGESTION = "e56e1945-20b3-4393-8503-a1a20fd73152"

ACCEPTED = {"card": CARD, "outcome": "accepted", "acceptedSuggestions": [{"id": SUGGESTION}], "outcomeTimestamp": "2021-12-11T10:05:31Z"}
OVERRIDDEN = {"card": CARD, "outcome": "overridden", "outcomeTimestamp": "2020-12-11T00:00:00Z"}
OVERRIDDEN_WITH_REASON = {
    "card": "9368d37b-283f-44a0-93ea-547cebab93ed",
    "outcome": "overridden",
    "overrideReason": {
        "reason": {"code": "severity-wrong", "system": "https://derm3r.org/fhir/CodeSystem/review-override-reason"},
        "userComment": "A comment entered by the clinician.",
    },
    "outcomeTimestamp": "2020-12-11T00:00:00Z",
}


def make_app(tmp_path: Path):
    """The app with the spec examples' cards recorded as issued by both services to this client
    (auth off: no issuer). Feedback on cards never issued is refused (issue 12, tests/security)."""
    app = _make_app(tmp_path)
    store = app.extensions[RUNTIME_KEY].store
    for service in (PV, ES):
        store.record_issued_cards(service, None, [CARD, OVERRIDDEN_WITH_REASON["card"]])
    return app


def post(client, items, service=PV):
    return client.post(f"/cds-services/{service}/feedback", json={"feedback": items})


def test_spec_examples_are_stored(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    client = app.test_client()
    response = post(client, [ACCEPTED, OVERRIDDEN, OVERRIDDEN_WITH_REASON])
    assert response.status_code == 200
    assert response.get_json() == {"stored": 3, "duplicates": 0}
    stored = app.extensions[RUNTIME_KEY].store.list_feedback(PV)
    assert [s["outcome"] for s in stored] == ["accepted", "overridden", "overridden"]
    assert stored[0]["acceptedSuggestions"] == [{"id": SUGGESTION}]
    assert stored[2]["overrideReason"]["userComment"] == "A comment entered by the clinician."


def test_feedback_is_idempotent(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    client = app.test_client()
    assert post(client, [ACCEPTED]).get_json() == {"stored": 1, "duplicates": 0}
    assert post(client, [ACCEPTED]).get_json() == {"stored": 0, "duplicates": 1}
    # The same instant written differently is the same feedback.
    same_instant = {**ACCEPTED, "outcomeTimestamp": "2021-12-11T10:05:31+00:00"}
    assert post(client, [same_instant]).get_json() == {"stored": 0, "duplicates": 1}
    assert len(app.extensions[RUNTIME_KEY].store.list_feedback(PV)) == 1


def test_feedback_is_per_service(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    client = app.test_client()
    assert post(client, [ACCEPTED], PV).get_json()["stored"] == 1
    assert post(client, [ACCEPTED], ES).get_json()["stored"] == 1
    store = app.extensions[RUNTIME_KEY].store
    assert len(store.list_feedback(PV)) == 1 and len(store.list_feedback(ES)) == 1


def test_feedback_survives_an_app_restart(tmp_path: Path) -> None:
    first = make_app(tmp_path)
    assert post(first.test_client(), [OVERRIDDEN]).get_json()["stored"] == 1
    first.extensions[RUNTIME_KEY].store.close()
    second = make_app(tmp_path)  # same data_dir: a new process would see the same
    assert [f["card"] for f in second.extensions[RUNTIME_KEY].store.list_feedback(PV)] == [CARD]
    assert post(second.test_client(), [OVERRIDDEN]).get_json() == {"stored": 0, "duplicates": 1}


def test_feedback_is_audited_without_comments(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    post(app.test_client(), [OVERRIDDEN_WITH_REASON])
    audit = app.extensions[RUNTIME_KEY].store.list_audit(limit=5)
    (record,) = [r for r in audit if r["type"] == "cds-feedback"]
    assert record["cards"] == [OVERRIDDEN_WITH_REASON["card"]] and record["stored"] == 1
    assert "comment" not in str(record).lower()


INVALID = [
    ("missing card", {k: v for k, v in OVERRIDDEN.items() if k != "card"}, "feedback[0].card"),
    ("card not a uuid", {**OVERRIDDEN, "card": "card-1"}, "feedback[0].card"),
    ("unknown outcome (cds-fb-1)", {**OVERRIDDEN, "outcome": "ignored"}, "feedback[0].outcome"),
    ("accepted without suggestions (cds-fb-2)", {k: v for k, v in ACCEPTED.items() if k != "acceptedSuggestions"}, "feedback[0].acceptedSuggestions"),
    ("accepted with empty suggestions", {**ACCEPTED, "acceptedSuggestions": []}, "feedback[0].acceptedSuggestions"),
    ("suggestion id not a uuid", {**ACCEPTED, "acceptedSuggestions": [{"id": "s1"}]}, "feedback[0].acceptedSuggestions[0].id"),
    ("override reason empty (cds-fb-3)", {**OVERRIDDEN, "overrideReason": {}}, "feedback[0].overrideReason"),
    ("override reason without system", {**OVERRIDDEN, "overrideReason": {"reason": {"code": "x"}}}, "feedback[0].overrideReason.reason.system"),
    ("override reason on accepted", {**ACCEPTED, "overrideReason": {"userComment": "x"}}, "feedback[0].overrideReason"),
    ("missing outcomeTimestamp", {k: v for k, v in OVERRIDDEN.items() if k != "outcomeTimestamp"}, "feedback[0].outcomeTimestamp"),
    ("timestamp without offset", {**OVERRIDDEN, "outcomeTimestamp": "2020-12-11T00:00:00"}, "feedback[0].outcomeTimestamp"),
    ("timestamp date only", {**OVERRIDDEN, "outcomeTimestamp": "2020-12-11"}, "feedback[0].outcomeTimestamp"),
    ("timestamp garbage", {**OVERRIDDEN, "outcomeTimestamp": "yesterday"}, "feedback[0].outcomeTimestamp"),
]


@pytest.mark.parametrize("name,item,expression", INVALID, ids=[i[0] for i in INVALID])
def test_invalid_feedback_is_refused_and_nothing_is_stored(tmp_path: Path, name: str, item: dict, expression: str) -> None:
    app = make_app(tmp_path)
    response = post(app.test_client(), [item])
    assert response.status_code == 400
    assert operation_outcome_issue(response)["expression"] == [expression]
    assert app.extensions[RUNTIME_KEY].store.list_feedback() == []


def test_one_bad_item_refuses_the_whole_post(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    response = post(app.test_client(), [ACCEPTED, {**OVERRIDDEN, "card": str(uuid.uuid4()), "outcome": "maybe"}])
    assert response.status_code == 400
    assert app.extensions[RUNTIME_KEY].store.list_feedback() == []
