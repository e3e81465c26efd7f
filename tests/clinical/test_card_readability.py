"""Cards a clinician reads in 20 seconds (issue 11 item 8), checked on every card of every vignette:
short whole-word summaries, details of at most 150 words, no internal identifiers, real citations,
versions outside the detail, and indicators that mean something."""

from __future__ import annotations

import re

import pytest

from cds_hooks.card_text import DETAIL_WORDS, word_count

from .expect import Outcome, plain
from .vignettes import VIGNETTES

_RESOURCE_REF = re.compile(r"\b(Observation|Media|Condition|MedicationStatement|MedicationRequest|DocumentReference|Patient|Binary)/\S")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
_RULE_ID = re.compile(r"\b[a-z][a-z0-9_]*(\.[a-z0-9_]+){2,}\b|\b[a-z]+\.[a-z0-9]*_[a-z0-9_]+\b")
_SNAKE_CASE = re.compile(r"\b[a-z]+_[a-z_]+\b")
_FILE = re.compile(r"\.(md|json|py)\b", re.IGNORECASE)
_INTERNAL_WORDS = re.compile(r"unverified|configurable default|clinical\.md|sha256|knowledge base", re.IGNORECASE)
_VERSION = re.compile(r"\b20\d\d\.\d{1,2}\.\d+\b|\bseverity=\d|\btreatment=\d")
_LINK_TARGET = re.compile(r"\]\((https?://[^)]+)\)")


def _ids() -> list:
    return [pytest.param(v.id, id=v.id) for v in VIGNETTES]


def _clinician_text(card: dict) -> str:
    """What a clinician reads: summary and detail without link targets (URLs are not text)."""
    return _LINK_TARGET.sub("]", f"{card['summary']}\n{card.get('detail', '')}")


@pytest.mark.parametrize("vignette_id", _ids())
def test_summaries_are_short_whole_phrases(vignette_id: str, outcomes) -> None:
    for card in outcomes[vignette_id].cards:
        summary = card["summary"]
        assert 0 < len(summary) < 140, summary
        assert not summary.endswith(("…", "...", ",", ";", ":", "(", "-")), summary
        assert summary.count("(") == summary.count(")"), summary
        assert summary[0].isupper(), summary


@pytest.mark.parametrize("vignette_id", _ids())
def test_details_fit_in_150_words(vignette_id: str, outcomes) -> None:
    for card in outcomes[vignette_id].cards:
        words = word_count(card.get("detail", ""))
        assert words <= DETAIL_WORDS, f"{card['summary']!r}: {words} words"


@pytest.mark.parametrize("vignette_id", _ids())
def test_no_internal_identifiers_reach_the_clinician(vignette_id: str, outcomes) -> None:
    for card in outcomes[vignette_id].cards:
        text = plain(_clinician_text(card))
        for name, pattern in (("resource reference", _RESOURCE_REF), ("uuid", _UUID), ("rule id", _RULE_ID),
                              ("snake_case key", _SNAKE_CASE), ("file name", _FILE), ("internal note", _INTERNAL_WORDS),
                              ("version", _VERSION)):
            hit = pattern.search(text)
            assert hit is None, f"{name} {hit.group(0)!r} in card {card['summary']!r}"


_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)]+)\)")


@pytest.mark.parametrize("vignette_id", _ids())
def test_sources_are_citations_with_links(vignette_id: str, outcomes) -> None:
    """Each source is a citation with its year (guidelines, papers) or a link (e.g. a product label)."""
    for card in outcomes[vignette_id].cards:
        for line in card.get("detail", "").splitlines():
            if not line.startswith(("Source: ", "Sources: ")):
                continue
            items = line.split(": ", 1)[1]
            for _, url in _LINK.findall(items):
                assert url.startswith("https://"), url
            for bare in (b.strip() for b in _LINK.sub("", items).split(";")):
                if bare:
                    assert re.search(r"\(\d{4}\)", bare), f"citation without a year or link: {line}"


@pytest.mark.parametrize("vignette_id", _ids())
def test_only_red_flags_interrupt(vignette_id: str, outcomes) -> None:
    """`warning` and `critical` are for safety alerts; assessments, screenings and data quality are `info`."""
    outcome: Outcome = outcomes[vignette_id]
    for card in outcome.cards:
        if card["indicator"] != "info":
            assert outcome.topic(card) == "safety-alert", (card["indicator"], card["summary"])
        assert "derm3r" in card["source"]["label"] and "preliminary" in card["source"]["label"].lower()


@pytest.mark.parametrize("vignette_id", _ids())
def test_ai_output_is_labelled_preliminary(vignette_id: str, outcomes) -> None:
    for card in outcomes[vignette_id].cards:
        if Outcome.topic(outcomes[vignette_id], card) in {"psoriasis-assessment", "safety-alert", "diagnosis-not-psoriasis"}:
            assert "Preliminary AI" in card.get("detail", ""), card["summary"]


# ---------------------------------------------------------------- the draft CarePlan


def _careplan_text(plan: dict) -> str:
    parts = [plan.get("description", "")] + [n.get("text", "") for n in plan.get("note", [])]
    for activity in plan.get("activity", []):
        detail = activity.get("detail", {})
        parts += [detail.get("description", ""), detail.get("statusReason", {}).get("text", "")]
    return "\n".join(parts)


@pytest.mark.parametrize("vignette_id", _ids())
def test_careplan_text_is_plain(vignette_id: str, outcomes) -> None:
    for plan in outcomes[vignette_id].careplans():
        text = plain(_careplan_text(plan))
        for name, pattern in (("resource reference", _RESOURCE_REF), ("uuid", _UUID), ("rule id", _RULE_ID),
                              ("file name", _FILE), ("internal note", _INTERNAL_WORDS), ("version", _VERSION)):
            hit = pattern.search(text)
            assert hit is None, f"{name} {hit.group(0)!r} in the CarePlan text"


@pytest.mark.parametrize("vignette_id", _ids())
def test_careplan_treatments_carry_standard_codes(vignette_id: str, outcomes) -> None:
    """Drugs: RxNorm or ATC; phototherapy: SNOMED CT (issue 11 item 9)."""
    from fhir_mapping import r4

    for plan in outcomes[vignette_id].careplans():
        r4.check(plan)
        for activity in plan.get("activity", []):
            detail = activity["detail"]
            systems = {c["system"] for c in detail.get("code", {}).get("coding", [])}
            label = detail.get("code", {}).get("text", "")
            if detail.get("kind") == "MedicationRequest":
                assert systems & {"http://www.nlm.nih.gov/research/umls/rxnorm", "http://www.whocc.no/atc"}, label
            if re.search(r"UVB|PUVA|excimer", label, re.IGNORECASE):
                assert "http://snomed.info/sct" in systems, label
