"""The review app's API answers in the app's language (Accept-Language, else DERM3R_LANGUAGE): the
assessment's clinician text is rendered in it, ids and codes the app's code compares stay as they are."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask

from cds_hooks.review import ReviewStore, review_blueprint
from cds_hooks.review.access import TokenVerifier
from cds_hooks.settings import Settings
from smart.case_data import build_case, draft_resources, hand_built_assessment
from smart.test_review_api import FHIR, FakeFhir, auth


def _client(tmp_path: Path, language: str = "en"):
    settings = Settings(data_dir=tmp_path, fhir_allowlist=(FHIR,), language=language)
    store = ReviewStore(tmp_path, ttl_seconds=60)
    case = build_case()
    assessment = hand_built_assessment(case)
    context_id = store.put(assessment, case, draft_resources(assessment), fhir_server=FHIR, service_id="derm3r-psoriasis", card_uuid="c")
    app = Flask(__name__)
    app.register_blueprint(review_blueprint(settings, store, verifier=TokenVerifier(settings, session=FakeFhir())))  # type: ignore[arg-type]
    return app.test_client(), context_id


def _han(value: object) -> int:
    return sum("\u4e00" <= ch <= "\u9fff" for ch in json.dumps(value, ensure_ascii=False))


def test_review_api_follows_accept_language(tmp_path: Path) -> None:
    client, context_id = _client(tmp_path)
    english = client.get(f"/app/api/assessments/{context_id}", headers=auth())
    assert english.status_code == 200 and english.headers["Content-Language"] == "en" and english.json["language"] == "en"
    assert "translations" not in english.json
    chinese = client.get(f"/app/api/assessments/{context_id}", headers={**auth(), "Accept-Language": "zh-CN,en;q=0.5"})
    assert chinese.status_code == 200 and chinese.headers["Content-Language"] == "zh-CN"
    body = chinese.json
    assert body["language"] == "zh-CN" and "Accept-Language" in chinese.headers["Vary"]
    # Ids, levels and codes the app compares are the same; the clinician text is Chinese.
    assert body["assessment"]["severity"]["level"] == english.json["assessment"]["severity"]["level"] == "moderate"
    assert body["assessment"]["treatment"]["step"] == english.json["assessment"]["treatment"]["step"]
    assert _han(body["assessment"]) > 50 and _han(english.json["assessment"]) < _han(body["assessment"]) // 10


def test_review_api_default_is_the_configured_language(tmp_path: Path) -> None:
    client, context_id = _client(tmp_path, language="zh-CN")
    answer = client.get(f"/app/api/assessments/{context_id}", headers={**auth(), "Accept-Language": "fr"})
    assert answer.headers["Content-Language"] == "zh-CN" and answer.json["language"] == "zh-CN"
