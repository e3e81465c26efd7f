"""The citation table: valid, every knowledge source id resolvable, clinician text free of internals."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from inference.citations import CitationTable, clean_free_text
from inference.knowledge_base import DEFAULT_DIR, KnowledgeError


def test_table_loads_and_every_entry_is_a_real_citation() -> None:
    table = CitationTable.load()
    document = json.loads((DEFAULT_DIR / "citations.json").read_text())
    for citation_id in document["citations"]:
        citation = table.get(citation_id)
        assert citation is not None and citation.label and citation.reference
        assert not re.search(r"\.md\b|unverified", citation.label + citation.reference, re.IGNORECASE)
        if citation.url:
            assert citation.url.startswith("https://")


def test_every_source_id_of_the_knowledge_files_is_in_the_table() -> None:
    """Rules cite sources by id; each id must render as a real citation on a card."""
    table = CitationTable.load()
    for path in sorted(DEFAULT_DIR.glob("*.json")):
        if path.name == "citations.json":
            continue
        for source_id, text in json.loads(path.read_text()).get("sources", {}).items():
            assert table.resolve(source_id) is not None, f"{path.name}: source {source_id!r} has no citation entry"
            assert table.resolve(str(text)) is not None, f"{path.name}: text of {source_id!r} is not recognised"


@pytest.mark.parametrize(
    ("raw", "label", "section"),
    [
        ("nice_cg153#1.3", "NICE CG153", "1.3"),
        ("aad_npf_biologics_2019", "AAD-NPF guideline: biologics", None),
        ("AAD-NPF joint guideline: comorbidities (Elmets et al., J Am Acad Dermatol 2019); clinical.md 'Comorbidity screening'",
         "AAD-NPF guideline: comorbidities", None),
        ("International Psoriasis Council 2020 (Strober et al.)", "International Psoriasis Council", None),
    ],
)
def test_resolve_by_id_section_or_text(raw: str, label: str, section: str | None) -> None:
    reference = CitationTable.load().resolve(raw)
    assert reference is not None and reference.citation.label.startswith(label) and reference.section == section
    assert ".md" not in reference.text()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Some Society guideline 2018; clinical.md 'Severity'", "Some Society guideline 2018"),
        ("Local rule [(unverified) configurable default]", "Local rule"),
        ("clinical.md 'Other measures'", None),
    ],
)
def test_unknown_text_loses_internal_fragments(raw: str, expected: str | None) -> None:
    assert clean_free_text(raw) == expected


def test_invalid_table_is_refused(tmp_path: Path) -> None:
    (tmp_path / "schema").mkdir()
    (tmp_path / "schema" / "citations.schema.json").write_text((DEFAULT_DIR / "schema" / "citations.schema.json").read_text())
    (tmp_path / "citations.json").write_text(json.dumps(
        {"version": "1.0.0", "title": "t", "citations": {"x": {"label": "see clinical.md", "reference": "ref text here", "match": []}}}))
    with pytest.raises(KnowledgeError):
        CitationTable.load(tmp_path)
