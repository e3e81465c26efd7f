"""card_text: summaries of whole phrases, word budgets, internal identifiers scrubbed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cds_hooks.card_text import fit_summary, scrub, within_budget, word_count


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("BSA 24% (Observation/8c2f-1, 2026-11-29): severe (BSA > 10) (severity.bsa.severe)", "BSA 24% (2026-11-29): severe (BSA > 10)"),
        ("Systolic 123 (Observation/a5fe7cf2-933f-5518-bd0d-2fb347fbf7fd, 2026-11-02) (screen.cardiometabolic.bp)", "Systolic 123 (2026-11-02)"),
        ("regions seen: upper_limbs, trunk", "regions seen: upper limbs, trunk"),
        ("AAD-NPF 2019; clinical.md 'Comorbidity screening' [(unverified) configurable default]", "AAD-NPF 2019"),
        ("urn:uuid:6f6c2f4e-8f7e-5b0c-9d7a-2f1f0b6c3d11 photo unusable", "photo unusable"),
        ("e.g. calcipotriol. Then review.", "e.g. calcipotriol. Then review."),
    ],
)
def test_scrub(raw: str, expected: str) -> None:
    assert scrub(raw) == expected


def test_fit_summary_drops_whole_phrases_never_cuts() -> None:
    long = "x" * 100
    assert fit_summary(["Step: biologic therapy for severe psoriasis (BSA 24%)", long, "2 screenings due"]) == \
        "Step: biologic therapy for severe psoriasis (BSA 24%); 2 screenings due"


@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=200), min_size=1, max_size=5))
def test_fit_summary_always_fits_without_ellipsis(parts: list[str]) -> None:
    out = fit_summary(parts)
    assert 0 < len(out) < 140 and not out.endswith("…")


def test_within_budget_keeps_the_tail_and_drops_what_does_not_fit() -> None:
    blocks = ["one two three", "word " * 200, "four five"]
    out = within_budget(blocks, 10, tail="tail words")
    assert out == "one two three\n\nfour five\n\ntail words"
    assert word_count("[AAD-NPF guideline (2019)](https://doi.org/10.1016/j.jaad.2018.11.057)") == 3


def test_review_app_view_carries_clinician_citations() -> None:
    from cds_hooks.card_text import clinician_citations
    from inference.citations import CitationTable

    view = {"severity": {"basis": [{"statement": "BSA 24%", "citation": "AAD-NPF joint guideline: biologics; clinical.md 'x'"},
                                   {"statement": "cut-off", "citation": "derm3r_default"}]},
            "tcm": {"citation": "Some society 2011; clinical.md 'TCM'"}}
    out = clinician_citations(view, CitationTable.load())
    assert out["severity"]["basis"][0]["citation"] == "AAD-NPF guideline: biologics (2019)"
    assert out["severity"]["basis"][1]["citation"] is None
    assert out["tcm"]["citation"] == "Some society 2011"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("alt: result recorded as text, not a number", "ALT: result recorded as text, not a number"),
     ("egfr: unit not convertible", "eGFR: unit not convertible"),
     ("note: nothing internal here", "note: nothing internal here")],
)
def test_messages_name_measures_not_keys(raw: str, expected: str) -> None:
    from cds_hooks.card_text import readable_message

    assert readable_message(raw) == expected


def test_budget_by_priority_keeps_the_decision_and_the_display_order() -> None:
    from cds_hooks.card_text import within_budget_by_priority

    blocks = [(0, "decision here"), (9, "follow up " * 10), (1, "red flag")]
    assert within_budget_by_priority(blocks, 6) == "decision here\n\nred flag"
    assert within_budget_by_priority(blocks, 100).startswith("decision here\n\nfollow up")
