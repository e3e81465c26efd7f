"""GitHub-flavoured Markdown for card details: escaping of interpolated text and small builders.

Card detail is Markdown the EHR renders. Anything that came from the record or the agents is escaped,
so a display string such as `*urgent*` or `<img src=x>` shows as text instead of changing the card."""

from __future__ import annotations

from typing import Iterable

from fhir_mapping.safe_text import markdown_text
from inference.i18n import localize
from inference.results import Evidence


def escape(text: str) -> str:
    """Escape GFM inline syntax and HTML; collapse line breaks (one statement, one line); remove
    control and bidi characters and defang bare URLs (issue 12). The rules live in
    `fhir_mapping.safe_text`, shared with the FHIR writers."""
    return markdown_text(localize(text))


def bullets(lines: Iterable[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)


def evidence_line(item: Evidence) -> str:
    """`statement (source; rule)` with the citation as a footnote-like suffix."""
    parts = [escape(item.statement)]
    # Agents often name the source inside the statement already; do not repeat it.
    refs = [escape(r) for r in (item.source_ref, item.rule) if r and r not in item.statement]
    if refs:
        parts.append(f"({'; '.join(refs)})")
    return " ".join(parts)


def evidence_bullets(items: Iterable[Evidence], *, limit: int = 8) -> str:
    items = list(items)
    lines = [evidence_line(e) for e in items[:limit]]
    if len(items) > limit:
        lines.append(f"... and {len(items) - limit} more (see the review app)")
    return bullets(lines)


def citations(items: Iterable[Evidence]) -> list[str]:
    """Distinct citations in first-seen order."""
    return list(dict.fromkeys(e.citation for e in items if e.citation))


def section(title: str, body: str) -> str:
    return f"### {title}\n\n{body.strip()}\n" if body.strip() else ""


def percent(value: float) -> str:
    return f"{value * 100:.0f}%"
