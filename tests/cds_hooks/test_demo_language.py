"""`derm3r demo --language zh-CN`: the printout's own labels (table header, indicators, what a card
writes, file lines, the closing note) are Chinese like the cards; English stays as it was."""

from __future__ import annotations

import io
from pathlib import Path

from cds_hooks.demo.run import DemoResult, render_cards, summary_table, write_results
from i18n.leak import english_words
from inference.i18n import use_language

CARDS = [
    {
        "summary": "银屑病中度：照片估计 PASI 约 9.6（初步），加重",
        "indicator": "warning",
        "source": {"label": "derm3r 银屑病评估"},
        "suggestions": [{"label": "创建诊疗计划草稿", "actions": [
            {"type": "create", "description": "创建诊疗计划", "resource": {"resourceType": "CarePlan"}},
            {"type": "create", "description": "x", "resource": {"resourceType": "Observation"}},
            {"type": "create", "description": "x", "resource": {"resourceType": "Observation"}},
            {"type": "update", "description": "x", "resource": {"resourceType": "Device"}},
        ]}],
        "links": [{"label": "在审阅应用中打开", "type": "smart", "url": "https://derm3r.example/app/launch.html"}],
    },
    {"summary": "甲氨蝶呤禁忌：妊娠", "indicator": "critical",
     "source": {"label": "derm3r 处方核查"},
     "suggestions": [{"label": "删除医嘱", "actions": [{"type": "delete", "description": "x", "resourceId": "MedicationRequest/m1"}]}]},
    {"summary": "筛查到期", "indicator": "info", "source": {"label": "derm3r"}},
]


def _printout(language: str, verbose: bool = True) -> str:
    result = DemoResult("pso-1", "Alex Synthetic, female, born 1984-03-02", 200, CARDS, Path("out/careplan-pso-1.json"),
                        None, Path("out/cds-response-pso-1.json"), None, Path("out/order-sign-pso-1.json"))
    stream = io.StringIO()
    with use_language(language):
        write_results([result], stream, verbose=verbose)
    return stream.getvalue()


def test_demo_printout_labels_are_chinese() -> None:
    text = _printout("zh-CN")
    assert "级别" in text and "摘要 / 写入" in text and "警告" in text and "危急" in text and "信息" in text
    assert "写入：诊疗计划、观察记录 2 项、更新设备" in text  # CarePlan, 2 Observation, update Device
    assert "写入：删除用药医嘱" in text and "创建：创建诊疗计划" in text
    assert "完整响应：" in text and "诊疗计划草稿已写入" in text and "（服务拒绝了该调用" in text
    assert "来源：derm3r 银屑病评估" in text and "建议：创建诊疗计划草稿" in text and "链接（smart）" in text
    # Nothing a clinician reads is English, beyond the patient's synthetic name and record words.
    allowed = frozenset({"alex", "synthetic", "female", "born", "smart", "methotrexate", "oral", "tablet", "out",
                         "careplan", "cds", "response", "order-sign", "json", "http", "pso"})  # order-sign: the hook's id
    leaked = [(line, words) for line in text.splitlines() if (words := english_words(line, allowed))]
    assert not leaked, leaked


def test_demo_printout_in_english_is_unchanged() -> None:
    text = _printout("en", verbose=False)
    assert "INDICATOR" in text and "SUMMARY / WRITES" in text and "WARNING" in text
    assert "writes: CarePlan, 2 Observation, update Device" in text
    assert "full response: out/cds-response-pso-1.json" in text and "(the service refused the call; see the JSON)" in text


def test_chinese_table_fits_the_terminal_width() -> None:
    """Chinese characters take two terminal columns: the table wraps them by columns, not characters."""
    from cds_hooks.demo.run import _columns

    long = dict(CARDS[2], summary="银屑病评估：" + "照片估计的严重程度与医生记录一致，" * 8)
    with use_language("zh-CN"):
        table = summary_table([long], width=80)
        cards = render_cards([long], width=80)
    assert all(_columns(line) <= 80 for line in table.splitlines()), table
    assert len(table.splitlines()) >= 3 and cards.startswith("[信息]")


def test_patient_label_follows_the_printout_language() -> None:
    from cds_hooks.demo.fhir_server import patient_label
    from inference.i18n import localize

    label = patient_label({"name": [{"given": ["Alex"], "family": "Synthetic"}], "gender": "female", "birthDate": "1984-03-02"})
    assert label == "Alex Synthetic, female, born 1984-03-02"
    with use_language("zh-CN"):
        assert localize(label) == "Alex Synthetic、女、出生于 1984-03-02"
