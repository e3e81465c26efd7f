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


def test_web_app_labels_follow_accept_language(tmp_path: Path) -> None:
    """GET /app/messages.json: the web app's own labels (and only those) in the negotiated language,
    cacheable, varying by Accept-Language; no token needed (nothing about a patient)."""
    from cds_hooks.review.messages import web_msgids

    client, _ = _client(tmp_path)
    chinese = client.get("/app/messages.json", headers={"Accept-Language": "zh-CN,en;q=0.5"})
    assert chinese.status_code == 200 and chinese.headers["Content-Language"] == "zh-CN"
    assert "Accept-Language" in chinese.headers["Vary"] and "max-age" in chinese.headers["Cache-Control"]
    body = chinese.json
    assert body["language"] == "zh-CN"
    messages = body["messages"]
    assert messages["Draft care plan"] == "诊疗计划草稿"
    assert messages["Accept and write to the EHR"] == "采纳并写入电子病历"
    assert messages["Source: {citation}"] == "来源：{citation}"  # placeholders kept for the app to fill
    # Only the app's msgids (the cards' and knowledge texts stay on the server), and all of them.
    assert set(messages) <= set(web_msgids()) and "**Offer:** {items}" not in messages
    assert len(messages) >= len(web_msgids()) - 5
    from inference.i18n.catalogue import needs_translation

    assert all(_han(text) for msgid, text in messages.items() if needs_translation(msgid))

    english = client.get("/app/messages.json", headers={"Accept-Language": "en-GB"})
    assert english.json == {"language": "en", "messages": {}}  # the msgids are the English labels
    # The app follows an assessment stored in another language; a tag it cannot serve is ignored.
    assert client.get("/app/messages.json?language=en", headers={"Accept-Language": "zh-CN"}).json["language"] == "en"
    assert client.get("/app/messages.json?language=fr", headers={"Accept-Language": "zh"}).json["language"] == "zh-CN"


def test_web_app_labels_default_to_the_configured_language(tmp_path: Path) -> None:
    client, _ = _client(tmp_path, language="zh-CN")
    answer = client.get("/app/messages.json")
    assert answer.json["language"] == "zh-CN" and answer.json["messages"]["Summary"] == "摘要"


def test_every_label_of_the_web_app_is_marked_for_translation() -> None:
    """Each string literal in the app's sources that reads as English words is inside t("...") (or
    is a code, an id, a CSS class or a URL): an unmarked label would stay English in zh-CN."""
    import re

    from cds_hooks.review.messages import web_msgids

    root = Path(__file__).resolve().parents[2] / "cds_hooks" / "review" / "web" / "src"
    ids = set(web_msgids())
    unmarked = []
    for path in sorted(root.rglob("*.js")):
        source = path.read_text(encoding="utf-8")
        source = re.sub(r"^\s*//.*$", "", source, flags=re.MULTILINE)
        for match in re.finditer(r'(?<![\w.])"((?:[^"\\]|\\.)*)"', source):
            literal = json.loads(f'"{match.group(1)}"')  # JS escapes (\\u2026) as the extractor reads them
            line_before = source[source.rfind("\n", 0, match.start()) + 1 : match.start()]
            css_class = re.search(r"\bclass: [^,]*$", line_before) and re.fullmatch(r"[a-z -]+", literal)
            if re.search(r"[A-Za-z]{2,}\s+[A-Za-z]{2,}", literal) and literal not in ids and not css_class:
                unmarked.append(f"{path.name}: {literal}")
    assert not unmarked, unmarked
