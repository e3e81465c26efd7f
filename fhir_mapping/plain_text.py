"""Plain text for clinicians, shared by the cards and the resources derm3r writes (CarePlan notes).

`scrub` removes what is internal to derm3r from agent text: FHIR resource references and UUIDs
(records are named by what they are elsewhere), dotted rule ids ("severity.pasi.moderate"), file
names and notes such as "(unverified) configurable default"; internal snake_case keys read as words.
`markdown_escape` makes text safe for FHIR `markdown` elements (Annotation.text, CarePlan notes):
record or agent text then shows as text instead of changing the rendering."""

from __future__ import annotations

import re

from fhir_mapping.queries import PHOTO_TYPES
from inference.i18n import localize

_RESOURCE_TYPES = ("Observation", *PHOTO_TYPES, "Condition", "MedicationStatement", "MedicationRequest",
                   "Patient", "Binary", "Encounter", "Procedure", "AllergyIntolerance", "DiagnosticReport")
# (?<![A-Za-z0-9]) rather than \b: in Chinese text a reference follows a Han character directly,
# and Han characters are word characters to `re`.
_REF = re.compile(r"(?<![A-Za-z0-9])(?:" + "|".join(_RESOURCE_TYPES) + r")/[A-Za-z0-9\-.]{1,64}")
_UUID = re.compile(r"(?<![A-Za-z0-9])(?:urn:uuid:)?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
# Rule ids look like "severity.pasi.moderate" or "screen.cardiometabolic.bp": two or more dots
# between lower-case identifiers (ordinary prose has a space after a full stop).
_RULE_ID = re.compile(r"\b[a-z][a-z0-9_]*(?:\.[a-z0-9_]+){2,}\b|\b[a-z]+\.[a-z0-9]*_[a-z0-9_]+\b")
# Applied in order: bracketed notes, a bare "(unverified)", a reference to the project's clinical
# notes up to the next ";", then any other file name.
_INTERNAL_NOTES = tuple(re.compile(p, re.IGNORECASE) for p in (
    r"\[[^\]]*(?:unverified|configurable default)[^\]]*\]",
    r"\(?\bunverified\b\)?",
    r"\bclinical\.md\b[^;]*",
    r"\b\w+\.(?:md|json)\b",
))
_SNAKE = re.compile(r"\b([a-z]+)_([a-z]+(?:_[a-z]+)*)\b")
# ASCII and full-width (Chinese) brackets and separators alike.
_EMPTY_PARENS = re.compile(r"[(（]\s*[,;，；]?\s*[)）]")
_PAREN_LEAD = re.compile(r"([(（])\s*[,;，；]\s*")
_PAREN_TAIL = re.compile(r"\s*[,;，；]\s*([)）])")
_SPACES = re.compile(r"\s{2,}")


def scrub(text: str) -> str:
    """Agent or record text with internal identifiers removed (see module docstring)."""
    text = _REF.sub("", localize(text))
    text = _UUID.sub("", text)
    text = _RULE_ID.sub("", text)
    for note in _INTERNAL_NOTES:
        text = note.sub("", text)
    text = _SNAKE.sub(lambda m: m.group(0).replace("_", " "), text)  # internal keys ("upper_limbs") read as words
    for _ in range(2):
        text = _PAREN_LEAD.sub(r"\1", text)
        text = _PAREN_TAIL.sub(r"\1", text)
        text = _EMPTY_PARENS.sub("", text)
    text = re.sub(r"\s+([,;:.)])", r"\1", text)
    text = re.sub(r"[;,]\s*[;,]", ";", text)
    return _SPACES.sub(" ", text).strip(" ;,")


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~&])")


def markdown_escape(text: str) -> str:
    """Escape Markdown inline syntax and HTML; one line."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(localize(text).split()))
