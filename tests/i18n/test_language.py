"""Choosing the language and what the clinician reads in it.

* `Accept-Language` negotiation (q-values, fallbacks) and `DERM3R_LANGUAGE` validation.
* `DERM3R_LANGUAGE=zh-CN derm3r assess BUNDLE.json` (a subprocess) and the HTTP hook with
  `Accept-Language: zh-CN` answer in Chinese and say so.
* Every clinical vignette (tests/clinical, through the real service: JWT, agents, cards) in English
  and in Chinese: every card type is reached, summaries stay < 140 characters and details within
  the language's cap, and no English word is left in Chinese clinician text - cards, suggestions and
  the resources they would write - apart from codes, drug INNs, units, numbers, acronyms, citation
  proper names and the patient's own record text (tests/i18n/leak.py).
* The prescribing (order-sign / order-select) cards in Chinese, for each kind of problem.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from cds_hooks.card_text import DETAIL_UNITS_ZH, DETAIL_WORDS, reading_units
from cds_hooks.language import negotiate
from cds_hooks.settings import Settings
from inference.i18n import Text, localize, normalize_language, t, tjoin, use_language, validate_language

from .leak import english_words, leaks, record_words

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "cds_hooks"))  # order_support / service_support (the order-hook tests' builders)

MODEL_VERSION_WORDS = frozenset(w.lower() for w in json.loads((REPO / "inference" / "models" / "lesion_model.json").read_text())["version"].replace("-", " ").split())
TOPICS = {"psoriasis-assessment", "safety-alert", "diagnosis-not-psoriasis", "comorbidity-screening", "data-quality"}


# ---------------------------------------------------------------- choosing the language


def _accept(header: str) -> LanguageAccept:
    return parse_accept_header(header, LanguageAccept)


@pytest.mark.parametrize(("header", "default", "expected"), [
    ("zh-CN", "en", "zh-CN"),
    ("zh-cn", "en", "zh-CN"),
    ("zh", "en", "zh-CN"),
    ("zh-Hans-CN", "en", "zh-CN"),
    ("zh_CN", "en", "zh-CN"),
    ("en-US", "zh-CN", "en"),
    ("en;q=0.8, zh-CN;q=0.9", "en", "zh-CN"),  # the higher q wins, whatever the order
    ("zh-CN;q=0.5, en;q=0.9", "zh-CN", "en"),
    ("fr-FR, zh-CN;q=0.7", "en", "zh-CN"),  # the first supported one the client accepts
    ("zh-TW", "en", "en"),  # Traditional Chinese is not offered: the configured default
    ("zh-Hant", "zh-CN", "zh-CN"),
    ("fr, de;q=0.5", "zh-CN", "zh-CN"),  # nothing supported: the configured default
    ("*", "zh-CN", "zh-CN"),
    ("zh-CN;q=0, en;q=0.1", "zh-CN", "en"),  # q=0 is a refusal
    ("", "zh-CN", "zh-CN"),
])
def test_accept_language_negotiation(header: str, default: str, expected: str) -> None:
    assert negotiate(_accept(header), default) == expected


@pytest.mark.parametrize(("raw", "expected"), [("en", "en"), ("zh-CN", "zh-CN"), ("ZH_cn", "zh-CN"), ("zh-Hans", "zh-CN"), (" en ", "en")])
def test_supported_language_tags(raw: str, expected: str) -> None:
    assert validate_language(raw) == expected


@pytest.mark.parametrize("raw", ["fr", "zh-TW", "zh-Hant", "", "chinese", "en_GB; rm -rf"])
def test_a_bad_language_setting_stops_the_start_with_a_clear_error(raw: str) -> None:
    with pytest.raises(ValueError, match=r"DERM3R_LANGUAGE must be one of en, zh-CN"):
        Settings.from_env({"DERM3R_LANGUAGE": raw})
    assert normalize_language(raw) is None


def test_the_default_language_is_english() -> None:
    assert Settings.from_env({}).language == "en"
    assert Settings.from_env({"DERM3R_LANGUAGE": "zh-cn"}).language == "zh-CN"


# ---------------------------------------------------------------- lazy messages


def test_a_message_is_its_english_text_and_renders_in_chinese() -> None:
    message = t("Severity: {level}", level="severe")
    assert message == "Severity: severe" and isinstance(message, str)
    assert localize(message, "zh-CN") == "严重程度：重度"
    joined = tjoin("; ", [t("mild"), t("moderate")])
    assert joined == "mild; moderate" and localize(joined, "zh-CN") == "轻度；中度"
    concatenated = "**" + t("severe") + "**"
    assert isinstance(concatenated, Text) and localize(concatenated, "zh-CN") == "**重度**"
    assert localize(t("pregnancy").upper_first(), "zh-CN") == "妊娠" and t("pregnancy").upper_first() == "Pregnancy"
    assert pickle.loads(pickle.dumps(message)) == "Severity: severe"  # pickles as its English text


def test_the_language_is_context_local() -> None:
    message = t("mild")
    with use_language("zh-CN"):
        assert localize(message) == "轻度"
        with use_language("en"):
            assert localize(message) == "mild"
        assert localize(message) == "轻度"
    assert localize(message) == "mild"


def test_leak_checker_catches_english_and_allows_codes() -> None:
    assert english_words("治疗阶梯：生物制剂 (PASI 12, BSA 14%, eGFR 24 mL/min/1.73m2, adalimumab, LOINC 1742-6)") == []
    assert english_words("Offer：阿达木单抗") == ["Offer"]
    assert english_words("见 [AAD-NPF 指南](https://doi.org/10.1016/x)") == []


# ---------------------------------------------------------------- the HTTP hook and the CLI


@pytest.fixture(scope="module")
def bundle_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cds_hooks.demo import synthetic

    path = tmp_path_factory.mktemp("bundle") / "patient.json"
    path.write_text(json.dumps(synthetic.patient_bundle("psoriasis_moderate", seed=5, visits=2)))
    return path


def _chinese_cards(body: dict, allowed: frozenset[str] = frozenset()) -> None:
    cards = body["cards"]
    assert cards
    for card in cards:
        assert any("\u4e00" <= ch <= "\u9fff" for ch in card["summary"]), card["summary"]
        assert 0 < len(card["summary"]) < 140
    assert leaks(body, allowed | MODEL_VERSION_WORDS) == []


def test_cli_assess_in_chinese(bundle_file: Path) -> None:
    """`DERM3R_LANGUAGE=zh-CN derm3r assess BUNDLE.json`, as a user runs it."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "DERM3R_LANGUAGE": "zh-CN"}
    result = subprocess.run([sys.executable, "-m", "cds_hooks.cli", "assess", str(bundle_file)], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    _chinese_cards(body, record_words([json.loads(bundle_file.read_text())]))
    english = subprocess.run([sys.executable, "-m", "cds_hooks.cli", "assess", str(bundle_file), "--language", "en"],
                             cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert english.returncode == 0 and json.loads(english.stdout)["cards"][0]["summary"].isascii()


def test_cli_refuses_a_bad_language_in_one_line(bundle_file: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "DERM3R_LANGUAGE": "klingon"}
    result = subprocess.run([sys.executable, "-m", "cds_hooks.cli", "assess", str(bundle_file)], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == "derm3r assess: DERM3R_LANGUAGE must be one of en, zh-CN, got 'klingon'"


@pytest.fixture(scope="module")
def hook_client(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from cds_hooks.app import create_app

    settings = Settings(auth_enabled=False, data_dir=tmp_path_factory.mktemp("lang"))
    return create_app(settings).test_client()


def _hook_body(bundle: dict) -> dict:
    from cds_hooks.demo.ehr_request import bundle_patient_id, hook_request, prefetch_from_bundle
    from cds_hooks.services import default_registry

    service = default_registry().get("derm3r-patient-view")
    return hook_request(service, bundle_patient_id(bundle), prefetch=prefetch_from_bundle(bundle, service))


def test_http_hook_follows_accept_language(hook_client: Any, bundle_file: Path) -> None:
    bundle = json.loads(bundle_file.read_text())
    body = _hook_body(bundle)
    chinese = hook_client.post("/cds-services/derm3r-patient-view", json=body, headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert chinese.status_code == 200
    assert chinese.headers["Content-Language"] == "zh-CN" and "Accept-Language" in chinese.headers["Vary"]
    _chinese_cards(chinese.get_json(), record_words([bundle]))
    english = hook_client.post("/cds-services/derm3r-patient-view", json=body, headers={"Accept-Language": "fr, en;q=0.4"})
    assert english.headers["Content-Language"] == "en"
    assert all(card["summary"].isascii() for card in english.get_json()["cards"])
    plain = hook_client.post("/cds-services/derm3r-patient-view", json=body)  # no header: DERM3R_LANGUAGE (en)
    assert plain.headers["Content-Language"] == "en"


# ---------------------------------------------------------------- every vignette, both languages


@pytest.fixture(scope="module")
def vignette_answers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, tuple[dict, frozenset[str]]]]:
    """language -> vignette id -> (response body, words of the vignette's record)."""
    from clinical.conftest import SERVICE, _service
    from clinical.vignettes import VIGNETTES
    from inference.pipeline import build_pipeline

    pipeline = build_pipeline()
    clients: dict[str | None, Any] = {}
    answers: dict[str, dict[str, tuple[dict, frozenset[str]]]] = {"en": {}, "zh-CN": {}}
    for vignette in VIGNETTES:
        if vignette.profile not in clients:
            clients[vignette.profile] = _service(tmp_path_factory, pipeline if vignette.profile is None else None, vignette.profile)
        signed = clients[vignette.profile]
        chart = vignette.chart()
        path = f"/cds-services/{SERVICE}"
        prefetch = chart.prefetch()
        body = {"hook": "patient-view", "hookInstance": str(uuid.uuid4()),
                "context": {"userId": "Practitioner/clinical-reviewer", "patientId": chart.pid}, "prefetch": prefetch}
        for language in answers:
            response = signed.client.post(path, data=json.dumps(body), content_type="application/json",
                                          headers={"Authorization": f"Bearer {signed.token(path)}", "Accept-Language": language})
            assert response.status_code == 200, (vignette.id, language, response.get_json())
            assert response.headers["Content-Language"] == language
            answers[language][vignette.id] = (response.get_json(), record_words(prefetch.values()))
    return answers


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_every_card_type_within_limits_in_both_languages(vignette_answers: dict, language: str) -> None:
    cap = DETAIL_WORDS if language == "en" else DETAIL_UNITS_ZH
    topics: set[str] = set()
    indicators: set[str] = set()
    for vid, (body, _) in vignette_answers[language].items():
        for card in body["cards"]:
            topics.add(card["source"]["topic"]["code"])
            indicators.add(card["indicator"])
            assert 0 < len(card["summary"]) < 140, (vid, card["summary"])
            assert reading_units(card.get("detail", "")) <= cap, (vid, reading_units(card["detail"]), card["detail"])
    assert topics >= TOPICS, TOPICS - topics
    assert indicators == {"info", "warning", "critical"}


def test_no_english_in_chinese_clinician_text(vignette_answers: dict) -> None:
    found = [f"{vid}: {line}" for vid, (body, words) in vignette_answers["zh-CN"].items()
             for line in leaks(body, words | MODEL_VERSION_WORDS)]
    assert not found, "\n".join(found[:30])


def test_chinese_cards_say_the_same_as_the_english_ones(vignette_answers: dict) -> None:
    """Same cards (count, indicators, topics, suggestions and their actions) in both languages: only
    the words change; and the TCM line, labelled integrative, is Chinese with the pattern's hanzi."""
    tcm_lines = english_tcm = 0
    for vid, (english, _) in vignette_answers["en"].items():
        chinese = vignette_answers["zh-CN"][vid][0]
        shape = lambda b: [(c["indicator"], c["source"]["topic"]["code"], [[a["type"] for a in s["actions"]] for s in c.get("suggestions", [])]) for c in b["cards"]]  # noqa: E731
        assert shape(english) == shape(chinese), vid
        for card in chinese["cards"]:
            if "中医药（中西医结合，非指南治疗）" in card.get("detail", ""):
                tcm_lines += 1
                assert any(p in card["detail"] for p in ("血热证", "血燥证", "血瘀证", "湿热证", "热毒证", "火毒", "风湿"))
        english_tcm += sum("TCM (integrative, not guideline care)" in c.get("detail", "") for c in english["cards"])
    # TCM is the first block to go when the detail is full; Chinese keeps nearly all of them.
    assert tcm_lines >= max(4, english_tcm - 3), (tcm_lines, english_tcm)



def _block(detail: str, label: str) -> str | None:
    return next((b for b in detail.split("\n\n") if b.startswith(label)), None)


def test_chinese_avoid_and_caution_blocks_name_their_reasons_as_the_english_ones_do(vignette_answers: dict) -> None:
    """The reason after a drug to avoid is a few words (妊娠 for "pregnancy"), read from the English
    reason and translated on its own: never a clipped sentence, and a block the English card has is
    not lost to the length cap in Chinese."""
    checked = 0
    for vid, (english, _) in vignette_answers["en"].items():
        chinese = vignette_answers["zh-CN"][vid][0]
        for en_card, zh_card in zip(english["cards"], chinese["cards"]):
            for en_label, zh_label in (("**Avoid:**", "**避免：**"), ("**Caution:**", "**慎用：**")):
                en_block = _block(en_card.get("detail", ""), en_label)
                if en_block is None or en_block.endswith("..."):
                    continue
                zh_block = _block(zh_card.get("detail", ""), zh_label)
                assert zh_block is not None, (vid, en_block)
                assert "……" not in zh_block, (vid, en_block, zh_block)
                checked += 1
    assert checked >= 5, checked

def test_chinese_detail_length_per_english_word(vignette_answers: dict) -> None:
    """DETAIL_UNITS_ZH against what the cards measure: Chinese reading units per English word on the
    same cards, those neither language had to shorten (the cap was set from the uncapped ratio, 2.4;
    cards that fit are the shorter ones, about 2.0)."""
    words = units = 0
    for vid, (english, _) in vignette_answers["en"].items():
        for en_card, zh_card in zip(english["cards"], vignette_answers["zh-CN"][vid][0]["cards"]):
            w, u = reading_units(en_card.get("detail", "")), reading_units(zh_card.get("detail", ""))
            if w and w < 0.8 * DETAIL_WORDS and u < 0.8 * DETAIL_UNITS_ZH:
                words, units = words + w, units + u
    ratio = units / words
    print(f"zh-CN card detail: {ratio:.2f} reading units per English word over {words} words")
    assert 1.6 <= ratio <= DETAIL_UNITS_ZH / DETAIL_WORDS


def test_chinese_careplan_and_ai_observations(vignette_answers: dict) -> None:
    body, _ = vignette_answers["zh-CN"]["severe-with-photos"]
    resources = [a["resource"] for c in body["cards"] for s in c.get("suggestions", []) for a in s["actions"] if "resource" in a]
    plan = next(r for r in resources if r["resourceType"] == "CarePlan")
    assert plan["title"] == "银屑病诊疗计划（AI 生成草案）"
    assert plan["note"][0]["text"].startswith("AI 生成草案")
    assert any(a["detail"]["code"].get("text") for a in plan["activity"])
    observations = [r for r in resources if r["resourceType"] == "Observation"]
    assert observations and all("照片" in o["code"]["text"] for o in observations)
    # Codings keep the code system's own display.
    assert all(c["display"].isascii() for o in observations for c in o["code"]["coding"] if c.get("display"))


# ---------------------------------------------------------------- prescribing cards in Chinese


def _adult(**kw: Any) -> Any:
    from order_support import Chart

    return Chart(birth="1985-03-01", **kw).condition("psoriasis")


def _order_scenarios() -> list[tuple[str, Any, list[dict]]]:
    from order_support import Chart, medication_order, phototherapy_order

    return [
        ("pregnancy", _adult().condition("pregnancy", onset_days=60).all_checks_done(), [medication_order("methotrexate")]),
        ("active TB", _adult().condition("tuberculosis").all_checks_done(), [medication_order("adalimumab")]),
        ("heart failure", _adult().condition("heart_failure").all_checks_done(), [medication_order("infliximab")]),
        ("renal", _adult(sex="male").lab("egfr", 24, days=5).all_checks_done(), [medication_order("cyclosporine")]),
        ("child", Chart(birth="2018-01-01", sex="male").condition("psoriasis").all_checks_done(), [medication_order("infliximab")]),
        ("missing checks", _adult(sex="female"), [medication_order("methotrexate")]),
        ("interaction", _adult(sex="male").all_checks_done().taking("trimethoprim"), [medication_order("methotrexate")]),
        ("duplicate", _adult(sex="male").all_checks_done().taking("secukinumab", kind="MedicationRequest"), [medication_order("adalimumab")]),
        ("older adult caution", Chart(birth="1940-01-01", sex="male").condition("psoriasis").all_checks_done(), [medication_order("cyclosporine")]),
        ("phototherapy", _adult(sex="female").all_checks_done(), [phototherapy_order()]),
    ]


def test_prescribing_cards_in_chinese(tmp_path: Path) -> None:
    from cds_hooks.wire.context import ORDER_SELECT, ORDER_SIGN
    from order_support import order_request
    from service_support import make_app

    client = make_app(tmp_path).test_client()
    cap = round(80 * DETAIL_UNITS_ZH / DETAIL_WORDS)
    seen = 0
    for name, chart, orders in _order_scenarios():
        for hook, service in ((ORDER_SIGN, "derm3r-order-sign"), (ORDER_SELECT, "derm3r-order-select")):
            body = order_request(hook, chart, *orders)
            response = client.post(f"/cds-services/{service}", json=body, headers={"Accept-Language": "zh-CN"})
            assert response.status_code == 200 and response.headers["Content-Language"] == "zh-CN"
            payload = response.get_json()
            allowed = record_words([*chart.prefetch().values(), body["context"]["draftOrders"]])
            assert leaks(payload, allowed) == [], name
            for card in payload["cards"]:
                seen += 1
                assert 0 < len(card["summary"]) < 140 and reading_units(card["detail"]) <= cap, (name, card)
                assert "来源：" in card["detail"]
    assert seen >= 15
