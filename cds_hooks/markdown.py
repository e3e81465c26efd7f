"""GitHub-flavoured Markdown for card details: escaping of interpolated text.

Card detail is Markdown the EHR renders. Anything that came from the record or the agents is escaped,
so a display string such as `*urgent*` or `<img src=x>` shows as text instead of changing the card."""

from __future__ import annotations

from fhir_mapping.safe_text import markdown_text
from inference.i18n import localize


def escape(text: str) -> str:
    """Escape GFM inline syntax and HTML; collapse line breaks (one statement, one line); remove
    control and bidi characters and defang bare URLs (issue 12). The rules live in
    `fhir_mapping.safe_text`, shared with the FHIR writers."""
    return markdown_text(localize(text))
