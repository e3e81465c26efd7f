"""Babel extractor for the clinician-facing texts of the knowledge files (`inference/knowledge/*.json`).

The agents copy these texts into their results (a drug's reason to avoid it, a red flag, a screening
action, a TCM principle, a citation's label); renderers look them up in the same catalogue as the
code's own sentences, msgid = the English text. Which fields are clinician text is listed here, per
file: everything else in the files (ids, codes, matching synonyms, bibliographic references, Latin
and pinyin names, numbers) is not translated.

Used by `pybabel extract -F babel.cfg` (method `inference.i18n.extract.extract_knowledge`), and by
the catalogue test, which checks that every msgid found here and in the code has a translation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, BinaryIO, Iterator, Mapping

# file name -> (keys whose string values are clinician text, keys of objects whose values all are)
FIELDS: Mapping[str, tuple[frozenset[str], frozenset[str]]] = {
    "citations.json": (frozenset({"label"}), frozenset()),
    "drugs.json": (frozenset({"display", "note", "action", "alternatives_note"}), frozenset({"notes"})),
    "treatment.json": (frozenset({"display", "note", "statement", "action", "step_display"}), frozenset({"option_display"})),
    "severity.json": (frozenset({"statement"}), frozenset()),
    "screening.json": (frozenset({"display", "action", "abnormal_action", "statement"}), frozenset()),
    "scope.json": (frozenset({"display", "test", "statement"}), frozenset({"image_classes"})),
    "follow_up.json": (frozenset({"statement", "text"}), frozenset()),
    "tcm.json": (frozenset({"statement", "note", "en", "treatment_principle", "withhold_note", "urgent_note", "display"}), frozenset()),
    "tcm_formulas.json": (frozenset({"use", "substitution", "label_note", "note", "origin", "unverified_note", "dose_note"}), frozenset()),
    "tcm_herbs.json": (frozenset({"preparation", "unverified_note", "dose_note"}), frozenset()),
    "tcm_safety.json": (frozenset({"statement", "display", "evidence", "unverified_note"}), frozenset()),
}
# Top-level keys never shown to a clinician (file metadata and the raw bibliographic sources: cards
# cite through citations.json's labels).
_SKIPPED_TOP = frozenset({"title", "version", "sources", "$schema", "description"})
# Objects that hold codes (their displays are the code system's own, never translated) or the
# synonyms a record is matched against.
_SKIPPED_ANYWHERE = frozenset({"codings", "coding", "codes", "order", "orders", "names", "condition_text", "photo_sites"})


def knowledge_texts(name: str, document: Any) -> Iterator[str]:
    """Every clinician text of one knowledge file, in file order (duplicates included)."""
    keys, maps = FIELDS.get(name, (frozenset(), frozenset()))

    def walk(value: Any, key: str | None, in_map: bool) -> Iterator[str]:
        if isinstance(value, dict):
            for k, v in value.items():
                if (key is None and k in _SKIPPED_TOP) or k in _SKIPPED_ANYWHERE:
                    continue
                yield from walk(v, k, in_map or k in maps)
        elif isinstance(value, list):
            for item in value:
                yield from walk(item, key, in_map)
        elif isinstance(value, str) and value.strip() and (in_map or key in keys):
            yield value

    yield from walk(document, None, False)


def extract_knowledge(fileobj: BinaryIO, keywords: Any, comment_tags: Any, options: Mapping[str, Any]) -> Iterator[tuple[int, str | None, str, list[str]]]:
    """Babel extraction method: (line, function, message, comments) per clinician text."""
    name = Path(getattr(fileobj, "name", "")).name
    raw = fileobj.read().decode("utf-8")
    document = json.loads(raw)
    lines = raw.splitlines()
    for text in knowledge_texts(name, document):
        needle = json.dumps(text, ensure_ascii=False)
        line = next((n for n, row in enumerate(lines, 1) if needle in row), 0)
        yield line, None, text, [f"knowledge: {name}"]
