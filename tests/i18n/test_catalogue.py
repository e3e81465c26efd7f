"""The message catalogues match the sources: every clinician msgid of the code and of the knowledge
files is in every catalogue, translated into Chinese (unless it is only placeholders, codes and
acronyms), with the msgid's own placeholders, and the committed .mo files are compiled from the .po."""

from __future__ import annotations

import string

import pytest
from babel.messages.pofile import read_po

from inference.i18n import LANGUAGES, gettext, localize, t, use_language
from inference.i18n.catalogue import _po, extract, needs_translation, problems
from inference.i18n.extract import FIELDS, knowledge_texts


@pytest.fixture(scope="module")
def template():
    return extract()


def test_catalogues_are_in_step_with_the_sources(template) -> None:
    found = problems(template)
    assert not found, "run `python -m inference.i18n.catalogue update`, translate, `compile`:\n  " + "\n  ".join(found[:40])


def test_extraction_finds_code_and_knowledge_texts(template) -> None:
    ids = {m.id for m in template if m.id}
    assert "**Offer:** {items}" in ids  # a card sentence (cds_hooks/cards.py)
    assert "Psoriasis care plan (AI-generated draft)" in ids  # the CarePlan title (fhir_mapping)
    assert "moderate" in ids  # a value word (inference/i18n/vocabulary.py)
    assert "Clear heat and cool blood" in ids  # a TCM principle (tcm.json)
    assert "AAD-NPF guideline: biologics" in ids  # a citation label (citations.json)
    assert len(ids) > 1000


def test_every_knowledge_file_with_clinician_text_is_listed() -> None:
    import json

    from inference.knowledge_base import DEFAULT_DIR

    for path in sorted(DEFAULT_DIR.glob("*.json")):
        assert path.name in FIELDS, f"{path.name}: add its clinician-text fields to inference/i18n/extract.py"
        assert list(knowledge_texts(path.name, json.loads(path.read_text(encoding="utf-8")))), path.name


def test_codes_and_synonyms_are_not_extracted() -> None:
    doc = {"drugs": [{"display": "Methotrexate", "names": ["mtx"], "codings": [{"display": "methotrexate 2.5 MG"}]}]}
    assert list(knowledge_texts("drugs.json", doc)) == ["Methotrexate"]


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES.values() if lang != "en"])
def test_translations_keep_format_fields_and_python_can_format_them(language: str) -> None:
    """A translation that formats with the msgid's parameters (a broken `{` would raise at render)."""
    with open(_po(language), "rb") as handle:
        catalog = read_po(handle)
    for message in catalog:
        if not message.id or not message.string:
            continue
        names = {n for _, n, _, _ in string.Formatter().parse(message.id) if n}
        values = {n: 1.5 for n in names}
        message.string.format(**values)  # raises on a malformed or unknown field


def test_chinese_uses_the_standard_terms() -> None:
    """Spot checks of the terminology the issue names (the full catalogue is reviewed by hand)."""
    zh = {
        "erythrodermic psoriasis": "红皮病型银屑病",
        "generalised pustular psoriasis": "泛发性脓疱型银屑病",
        "Methotrexate": "甲氨蝶呤",
        "Cyclosporine": "环孢素",
        "Biologic therapy": "生物制剂治疗",
        "pregnancy": "妊娠",
        "breastfeeding": "哺乳期",
        "Blood-heat": "血热证",
        "Blood-dryness": "血燥证",
        "Blood-stasis": "血瘀证",
        "Damp-heat": "湿热证",
        "Heat-toxin": "热毒证",
        "Clear heat and cool blood": "清热凉血",
    }
    for msgid, expected in zh.items():
        assert gettext(msgid, "zh-CN") == expected, msgid
    assert "肝功能" in gettext("Liver function tests (ALT, AST)", "zh-CN")
    assert "结核" in gettext("TB screening (interferon-gamma release assay)", "zh-CN")


def test_needs_translation() -> None:
    assert needs_translation("**Offer:** {items}")
    assert needs_translation("Methotrexate")
    assert not needs_translation("{display} ({source_ref})")
    assert not needs_translation("PASI")
    assert not needs_translation("HbA1c")


def test_chinese_reading_units_per_english_word_is_what_the_cap_assumes() -> None:
    """Chinese sentences of the catalogue (not its single words and templates) take fewer reading
    units per English word than whole cards do (1.8 vs 2.4: cards carry more drug names), so the
    card cap (DETAIL_UNITS_ZH / DETAIL_WORDS = 2.4) is not below what plain sentences need."""
    from cds_hooks.card_text import DETAIL_UNITS_ZH, DETAIL_WORDS, reading_units

    with open(_po("zh_CN"), "rb") as handle:
        catalog = read_po(handle)
    words = units = 0
    for message in catalog:
        english = "".join(part for part, *_ in string.Formatter().parse(message.id or ""))
        if message.string and len(english.split()) >= 6:
            words += len(english.split())
            chinese = "".join(part for part, *_ in string.Formatter().parse(message.string))
            units += reading_units(chinese)
    ratio = units / words
    print(f"zh-CN reading units per English word: {ratio:.2f} over {words} words")
    assert 1.2 <= ratio <= 2.4
    assert ratio <= DETAIL_UNITS_ZH / DETAIL_WORDS


def test_english_rendering_needs_no_catalogue() -> None:
    message = t("PASI {value:g} ({date})", value=21.5, date="2026-11-29")
    assert message == "PASI 21.5 (2026-11-29)"
    with use_language("zh-CN"):
        assert localize(t("Severity: {level}", level="severe")) == "严重程度：重度"  # the parameter is a msgid too
        assert localize(message) == message  # no catalogue entry: the English template, formatted
    assert localize(t("Severity: {level}", level="severe")) == "Severity: severe"


def test_catalogues_are_package_data() -> None:
    """`pip install .` (the Docker image) and `pip install -e .` ship the compiled catalogues: the
    package-data patterns cover every file under inference/i18n/locale."""
    import fnmatch
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["inference"]
    files = [p.relative_to(root / "inference").as_posix() for p in (root / "inference" / "i18n" / "locale").rglob("*") if p.is_file()]
    assert any(f.endswith("zh_CN/LC_MESSAGES/derm3r.mo") for f in files)
    assert all(any(fnmatch.fnmatch(f, pattern) for pattern in patterns) for f in files), files
