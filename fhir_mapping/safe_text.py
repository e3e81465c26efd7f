"""Text from the patient's record (medication names, condition displays, free text a clinician or
patient typed) made safe for the places derm3r writes it: FHIR `markdown` fields, FHIR `string`
fields, CDS card Markdown, and the review app's record. One module, called by every writer.

Three dangers, three treatments:
- invisible or reordering characters: C0/C1 control characters (NUL included), bidirectional
  overrides and isolates (U+202A-U+202E, U+2066-U+2069: "Trojan Source" text that displays
  differently from what it says), zero-width and joiner characters, line/paragraph separators.
  Removed everywhere (`strip_unsafe`): they have no place in clinical text.
- links the text did not ask for: GitHub-flavoured Markdown and many EHR viewers turn bare
  `https://...`, `www....`, `name@host.tld` and (linkify-style viewers) `host.tld` into live links.
  They are defanged (`https[:]//`, `www[.]`, `name[@]host`, `host[.]tld`) in every human-readable
  field we write (`plain_text`), so a URL a patient typed into a medication name stays readable
  but never becomes clickable.
- Markdown and HTML syntax: in markdown fields (`markdown_text`) every character that starts
  Markdown or HTML syntax is backslash-escaped (CommonMark lets any ASCII punctuation be escaped),
  so `[x](javascript:...)` or `<img onerror=...>` shows as the text it is.
"""

from __future__ import annotations

import re
from typing import Any

from inference.i18n import Text, localize

# Format characters that reorder or hide text. (Category Cf also holds e.g. the soft hyphen and
# Arabic number signs; only the ones below are removed.)
_BIDI_AND_INVISIBLE = [
    0x061C, 0x200B, 0x200C, 0x200D, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2060, 0x2065),
    *range(0x2066, 0x206A), 0xFEFF, 0xFFF9, 0xFFFA, 0xFFFB,
]
_REMOVE: dict[int, Any] = {cp: None for cp in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), *_BIDI_AND_INVISIBLE)}
# Whitespace controls become spaces (then collapsed), not glued words.
_REMOVE.update({ord("\t"): " ", ord("\n"): " ", ord("\r"): " ", 0x0B: " ", 0x0C: " ", 0x85: " ", 0x2028: " ", 0x2029: " "})
# For multi-line text (card Markdown): the same, but line feeds stay (they carry the structure).
_REMOVE_KEEP_LINES: dict[int, Any] = {**_REMOVE, ord("\n"): "\n", ord("\r"): None}

_SCHEME_SLASHES = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{0,31}):(?=\s*/\s*/)")
_SCRIPT_SCHEMES = re.compile(r"(?i)\b(javascript|vbscript|data|file|mailto|xmpp|tel|sms|ftp)\s*:")
_WWW = re.compile(r"(?i)\b(www)\.")
_EMAIL = re.compile(r"([A-Za-z0-9._%+-])@(?=[A-Za-z0-9-]+\.)")
# Bare domains (`evil.com/x`): GFM needs `www.` or a scheme, but other viewers (linkify-style
# "fuzzy" links) link any name ending in a known top-level domain. A dot between a 2+ character
# label and an alphabetic label that ends the word is defanged: it catches every such name and
# leaves numbers (`2.5mg`, `0.05%`) and abbreviations (`e.g.`) alone.
_BARE_DOMAIN = re.compile(r"(?i)\b([a-z0-9-]{2,})\.([a-z]{2,24})(?![a-z0-9-])")
# Inline Markdown/HTML syntax characters (CommonMark lets any ASCII punctuation be backslash-escaped;
# these are the ones that start emphasis, code, links, images, autolinks, HTML, entities, tables,
# strikethrough and headings), and block markers that only count at the start of the text.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~&])")
_LEADING_BLOCK = re.compile(r"^([-+=]|\d{1,9}(?=[.)]))")

ELLIPSIS = "\u2026"


def strip_unsafe(text: str) -> str:
    """`text` without control, bidirectional-override or invisible characters; line breaks and tabs
    become spaces, runs of whitespace one space. Safe for any human-readable field."""
    # A lazy message (inference.i18n.Text) is written in the request's language; other strings as
    # they are (a Coding.display must stay the code system's own).
    cleaned = (localize(text) if isinstance(text, Text) else str(text)).translate(_REMOVE)
    return " ".join(cleaned.split())


def defang_links(text: str) -> str:
    """Break what viewers would auto-link, keeping it readable."""
    text = _SCHEME_SLASHES.sub(r"\1[:]", text)
    text = _SCRIPT_SCHEMES.sub(lambda m: f"{m.group(1)}[:]", text)
    text = _WWW.sub(r"\1[.]", text)
    text = _EMAIL.sub(r"\1[@]", text)
    return _BARE_DOMAIN.sub(r"\1[.]\2", text)


def plain_text(text: str, *, max_chars: int | None = None) -> str:
    """For FHIR `string` fields and plain-text wire fields (card summary, labels): unsafe characters
    removed, links defanged, optionally clipped with an ellipsis."""
    return _clip(defang_links(strip_unsafe(text)), max_chars)


def markdown_text(text: str, *, max_chars: int | None = None) -> str:
    """For FHIR `markdown` fields and card Markdown: `plain_text`, then clipped (before escaping,
    so an escape is never cut in half), then every Markdown/HTML syntax character escaped."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", plain_text(text, max_chars=max_chars))
    return _LEADING_BLOCK.sub(lambda m: "\\" + m.group(1) if not m.group(1).isdigit() else m.group(1) + "\\", escaped, count=1)


def _clip(text: str, max_chars: int | None) -> str:
    if max_chars is None or len(text) <= max_chars:
        return text
    return text[: max(0, max_chars - 1)].rstrip() + ELLIPSIS


# -- whole FHIR resources -----------------------------------------------------------------------------

# Keys whose string values are human-readable text in the resources derm3r writes. Everything else
# (system, code, url, reference, id, identifier values, dates) is left alone: those are machine
# values, and a URL there is meant to be one.
_READABLE_KEYS = frozenset({"display", "text", "description", "title", "comment", "valueString"})


def sanitise_resource(resource: dict[str, Any]) -> dict[str, Any]:
    """A copy of a FHIR resource derm3r is about to write with every readable text made safe:
    Annotation.text (`note[].text`, FHIR markdown) through `markdown_text`, other readable strings
    through `plain_text`. Idempotent on text derm3r generated itself apart from the escaping,
    which is why it runs exactly once, where resources are finished (`writeback`)."""
    return _walk(resource, key=None, in_note=False)


def _walk(value: Any, *, key: str | None, in_note: bool) -> Any:
    if isinstance(value, dict):
        return {k: _walk(v, key=k, in_note=in_note or k == "note") for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, key=key, in_note=in_note) for v in value]
    if isinstance(value, str) and key in _READABLE_KEYS:
        if in_note and key == "text":
            return markdown_text(value)
        return plain_text(value)
    return value


def strip_unsafe_everywhere(value: Any) -> Any:
    """Control, bidirectional-override and invisible characters removed from every string of a
    JSON value, keys included; line feeds kept, nothing else changed. The last pass over whatever
    derm3r sends out (CDS responses, review-app records): whichever module assembled a string,
    U+202E or NUL does not leave the service."""
    if isinstance(value, Text):
        value = localize(value)
    if isinstance(value, str):
        return value if value.isprintable() else value.translate(_REMOVE_KEEP_LINES)
    if isinstance(value, dict):
        return {strip_unsafe_everywhere(k): strip_unsafe_everywhere(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strip_unsafe_everywhere(v) for v in value]
    return value

