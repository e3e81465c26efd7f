"""The citation table: which published source a knowledge rule rests on, as a clinician should see it.

Knowledge files name their sources by id (`"source": "aad_npf_biologics_2019"`) and the agents put
that id, or the source's full text, into `Evidence.citation`. Clinician-facing text must show a real
citation (guideline, year, section, link), never a file name, rule id or a note such as
"(unverified) configurable default". `inference/knowledge/citations.json` (validated against its
schema at load) maps ids, and known free-text spellings, to that citation.

    table = CitationTable.load()
    found = table.resolve("nice_cg153#1.3")   # -> Reference(citation=NICE CG153, section="1.3")
    found.text()                              # -> "NICE CG153: Psoriasis, assessment and management (2017), section 1.3"
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from jsonschema import Draft202012Validator

from inference.knowledge_base import DEFAULT_DIR, KnowledgeError
from inference.i18n import t

FILE = "citations.json"
SCHEMA = Path("schema") / "citations.schema.json"

# Fragments that are about the project, not the literature: never shown to a clinician.
_INTERNAL = re.compile(r"\.md\b|\.json\b|unverified|configurable default|derm3r|clinical reference", re.IGNORECASE)


@dataclass(frozen=True)
class Citation:
    id: str
    label: str  # short, e.g. "AAD-NPF guideline: biologics"
    reference: str  # full bibliographic reference
    year: int | None = None
    url: str | None = None


@dataclass(frozen=True)
class Reference:
    """A citation as used by one rule: the source and, optionally, the section it rests on."""

    citation: Citation
    section: str | None = None

    def text(self) -> str:
        """Plain text: "<label> (<year>), section <section>"."""
        label = t(self.citation.label)  # the label is a msgid (knowledge extractor: citations.json)
        out = t("{label} ({year})", label=label, year=self.citation.year) if self.citation.year else label
        return t("{citation}, section {section}", citation=out, section=self.section) if self.section else out


class CitationTable:
    def __init__(self, citations: dict[str, Citation], matchers: tuple[tuple[str, str], ...], version: str,
                 aliases: dict[str, str] | None = None) -> None:
        self._by_id = citations
        self._aliases = aliases or {}  # other source ids -> citation id
        self._matchers = matchers  # (lower-case fragment, citation id), longest fragment first
        self.version = version

    @classmethod
    def load(cls, directory: Path | None = None) -> CitationTable:
        """The table in `directory` (default: the packaged knowledge), validated; cached."""
        return _load((directory or DEFAULT_DIR).resolve())

    def __contains__(self, citation_id: str) -> bool:
        return citation_id in self._by_id

    def get(self, citation_id: str) -> Citation | None:
        return self._by_id.get(citation_id)

    def resolve(self, text: str | None) -> Reference | None:
        """The citation behind an `Evidence.citation`: an id ("nice_cg153"), an id with a section
        ("nice_cg153#1.3"), or free text that contains a known spelling. None if unknown."""
        if not text:
            return None
        head, _, section = text.strip().partition("#")
        head = self._aliases.get(head, head)
        if head in self._by_id:
            return Reference(self._by_id[head], section.strip() or None)
        low = text.lower()
        for fragment, citation_id in self._matchers:
            if fragment in low:
                return Reference(self._by_id[citation_id])
        return None


def clean_free_text(text: str) -> str | None:
    """A citation the table does not know, without its project-internal fragments (file names,
    "(unverified)" notes); None if nothing publishable is left."""
    parts = [p.strip(" .;") for p in re.split(r";|\[|\]", text)]
    kept = [p for p in parts if p and not _INTERNAL.search(p)]
    return "; ".join(kept) or None


@lru_cache(maxsize=4)
def _load(directory: Path) -> CitationTable:
    try:
        document = json.loads((directory / FILE).read_text(encoding="utf-8"))
        schema = json.loads((directory / SCHEMA).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise KnowledgeError(f"citation table unreadable: {exc}") from exc
    errors = sorted(Draft202012Validator(schema).iter_errors(document), key=lambda e: list(e.path))
    if errors:
        raise KnowledgeError(f"{FILE}: {errors[0].message} at {'/'.join(map(str, errors[0].path))}")
    citations: dict[str, Citation] = {}
    matchers: list[tuple[str, str]] = []
    aliases: dict[str, str] = {}
    for citation_id, raw in document["citations"].items():
        aliases.update({alias: citation_id for alias in raw.get("aliases", ())})
        citations[citation_id] = Citation(citation_id, raw["label"], raw["reference"], raw.get("year"), raw.get("url"))
        matchers += [(fragment, citation_id) for fragment in raw["match"]]
        matchers.append((citation_id, citation_id))
    # Longer fragments are more specific ("aad-npf joint guideline: biologics" before "aad-npf").
    matchers.sort(key=lambda m: len(m[0]), reverse=True)
    return CitationTable(citations, tuple(matchers), document["version"], aliases)
