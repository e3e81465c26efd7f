"""The review app in Chinese: a browser whose Accept-Language asks for zh-CN gets the assessment
and the app's own labels (headings, buttons, table headers, status lines) in Simplified Chinese, with
`<html lang="zh-CN">`, and no English UI label left in what the clinician reads."""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Iterator

import pytest

from i18n.leak import english_words
from inference.results import Evidence
from .browser import screenshot, start_chromium, stop_chromium
from .conftest import Stack
from .pages import WAIT, By, WebDriverWait, open_app, text, wait_photos_loaded


@pytest.fixture()
def chinese_browser() -> Iterator[Any]:
    driver = start_chromium(accept_language="zh-CN,zh;q=0.9,en;q=0.5")
    try:
        yield driver
    finally:
        stop_chromium(driver)


def _record_words(stack: Stack) -> frozenset[str]:
    """Words the page shows as the EHR recorded them (the patient's name, body sites, condition and
    medication displays, the draft plan's activity names): not UI labels, so not a leak."""
    from i18n.leak import record_words

    record = stack.store.get(stack.context_id) or {}
    shown = [record.get("conditions"), record.get("medications"), record.get("resources"), {"name": "Alex Testpatient"},
             [{"text": photo.get("bodySite") or ""} for photo in record.get("photos") or []],
             # finding values the test record carries as free tokens (red_yellow_coat), shown as recorded
             [{"text": str(f.value).replace("_", " ")} for f in stack.case.findings if isinstance(f.value, str)]]
    return record_words(shown)


# Identifiers the page shows on purpose: the knowledge versions in the footer (tcm_herbs=1.0.0), not
# words a clinician reads. Rule ids (tcm.blood_heat.tongue_red) are internal names: never on screen.
_IDENTIFIERS = re.compile(r"\b[a-z][a-z0-9_]*=[0-9][0-9.]*")


def _all_evidence(value: Any) -> list[Evidence]:
    """Every Evidence anywhere in an assessment (dataclasses, tuples, dicts)."""
    if isinstance(value, Evidence):
        return [value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [e for f in dataclasses.fields(value) for e in _all_evidence(getattr(value, f.name))]
    if isinstance(value, (list, tuple)):
        return [e for item in value for e in _all_evidence(item)]
    if isinstance(value, dict):
        return [e for item in value.values() for e in _all_evidence(item)]
    return []


def test_review_app_labels_are_chinese(chinese_browser: Any, stack: Stack) -> None:
    browser = chinese_browser
    open_app(browser, stack)
    assert browser.execute_script("return document.documentElement.lang") == "zh-CN"
    assert browser.title == "derm3r 审阅"
    wait_photos_loaded(browser, 3)
    WebDriverWait(browser, WAIT).until(lambda d: "正在加载叠加图" not in text(d, "#photos"))

    nav = text(browser, "nav")
    for label in ("摘要", "照片", "治疗", "中医（中西医结合）", "筛查", "趋势", "诊疗计划", "提出异议"):
        assert label in nav
    assert "分区 PASI" in text(browser, "#pasi-title") and "红斑" in text(browser, "#pasi")
    assert "疾病概率" in text(browser, "#probabilities") and "这不是诊断" in text(browser, "#probabilities")
    tcm = text(browser, "#tcm")
    assert "中医辨证（中西医结合）" in tcm and "病机" in tcm and "药材拉丁名" in tcm
    assert stack.assessment.tcm is not None and stack.assessment.tcm.primary is not None
    assert stack.assessment.tcm.primary.hanzi in tcm and stack.assessment.tcm.primary.pinyin in tcm  # characters with pinyin
    assert browser.find_element(By.ID, "cp-accept").text == "采纳并写入电子病历"
    reasons = [o.text for o in browser.find_elements(By.CSS_SELECTOR, "#fb-reason option")]
    assert reasons and all(english_words(r) == [] for r in reasons), reasons
    assert "模型" in text(browser, "#footer-info")
    screenshot(browser, "review-zh-CN-1280x800-full", full_page=True)

    # Everything a clinician reads on the page (details opened, aria labels and alt texts included).
    browser.execute_script("document.querySelectorAll('details').forEach((d) => { d.open = true; })")
    visible = browser.execute_script("return document.body.innerText")
    labels = browser.execute_script(
        "return [...document.querySelectorAll('[aria-label], img[alt], [title]')]"
        ".map((e) => e.getAttribute('aria-label') || e.getAttribute('alt') || e.getAttribute('title') || '')")
    rule_ids = {e.rule for e in _all_evidence(stack.assessment) if e.rule}
    assert rule_ids and browser.find_elements(By.CSS_SELECTOR, "li[data-rule]"), "evidence carries its rule for support"
    shown_ids = sorted(r for r in rule_ids if r in visible)
    assert not shown_ids, f"internal rule ids on screen: {shown_ids}"
    leaked = {}
    allowed = _record_words(stack)
    for line in [*visible.splitlines(), *labels]:
        if line.startswith("编码："):
            continue  # the code systems' own displays (ICD-11 TM1), shown as the code system names them
        words = english_words(_IDENTIFIERS.sub(" ", line), allowed)
        if words:
            leaked[line[:120]] = words
    assert not leaked, "\n".join(f"{k!r}: {v}" for k, v in leaked.items())


def test_review_app_errors_are_chinese(chinese_browser: Any, stack: Stack) -> None:
    """Before any record is loaded (here: a launch for another patient, refused by the review API),
    the error the clinician reads is in the browser's language too."""
    from .pages import app_state

    stack.ehr.add({"resourceType": "Patient", "id": "other-patient-zh"})
    chinese_browser.get(stack.launch_url(patient_id="other-patient-zh"))
    WebDriverWait(chinese_browser, WAIT).until(lambda d: app_state(d) == "error")
    error = text(chinese_browser, "#app-error")
    assert "无法打开审阅" in error and "无法加载评估" in error
    assert chinese_browser.execute_script("return document.documentElement.lang") == "zh-CN"
    # Only the server's status detail (the OperationOutcome's diagnostics, English) is not the app's label.
    assert english_words(re.sub(r"（HTTP [^）]*）", "", error)) == [], error
    assert "正在加载评估" not in text(chinese_browser, "body")
