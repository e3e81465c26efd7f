"""Text rules for cards a clinician reads in 20 seconds.

* A summary is under 140 characters, made of whole phrases (a phrase that does not fit is left out,
  never cut mid-word or mid-phrase), and starts with the action.
* A detail is at most `DETAIL_WORDS` words: the decision, the one or two reasons, the red flags;
  everything else belongs to the review app.
* Nothing internal reaches the clinician: FHIR resource references and UUIDs, dotted rule ids,
  file names and notes such as "(unverified) configurable default" are removed from agent text, and
  records are named by what they are ("BSA 24% (2026-11-29)", "trunk photo (2026-11-29)").
* Sources are real citations from the citation table (label, year, section, link).
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Sequence

from cds_hooks.markdown import escape
from fhir_mapping.plain_text import scrub
from inference.case import Case, Finding
from inference.citations import CitationTable, clean_free_text
from inference.i18n import current_language, localize, t

# Table entries that mark a value as the service's own default: never listed as a source.
NOT_CITATIONS = frozenset({"derm3r_default"})

SUMMARY_MAX = 139  # CDS Hooks: summary SHALL be < 140 characters
DETAIL_WORDS = 150
# Chinese has no spaces, so a word cap cannot be counted; its cap is in reading units: each Han
# character (and each full-width punctuation mark) is one, each Latin word or number (PASI, 24%,
# IL-17) one. 360 units: the same card takes about 2.4 units in Chinese per English word (measured
# on the clinical vignettes' cards without a cap, tests/i18n/test_language.py: 2.1 for alert and
# screening cards, 2.7 for assessment cards, whose drug lists grow most - a Chinese drug name is 3-6
# characters for one English word; 1.8 on the catalogue's sentences), so 150 English words read as
# about 360 units in the same 20 seconds.
DETAIL_UNITS_ZH = 360

_HAN = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")


def detail_budget() -> int:
    """The detail cap in the current language's units (`reading_units`)."""
    return DETAIL_UNITS_ZH if current_language() == "zh-CN" else DETAIL_WORDS


def _separator() -> str:
    return "；" if current_language() == "zh-CN" else "; "


def fit_summary(parts: Sequence[str], limit: int = SUMMARY_MAX) -> str:
    """Join phrases with "; " ("；" in Chinese) while they fit. The first phrase is required: if it
    alone is too long it is shortened to whole words (never with an ellipsis, never mid-word; in
    Chinese, at the last punctuation mark that fits)."""
    phrases = [" ".join(localize(p).split()) for p in parts if p and localize(p).strip()]
    if not phrases:
        return "derm3r"
    first = phrases[0]
    if len(first) > limit:
        if _HAN.search(first):
            cut = max((first.rfind(mark, 0, limit) for mark in "，；：、。（ "), default=-1)
            return _balance(first[:cut].rstrip("，；：、（ ") if cut > 0 else first[:limit])
        words = first.split(" ")
        while words and len(" ".join(words)) > limit:
            words.pop()
        first = " ".join(words).rstrip(",;:-(") or first[:limit]
        return _balance(first)
    out = first
    for phrase in phrases[1:]:
        candidate = out + _separator() + phrase
        if len(candidate) <= limit:
            out = candidate
    return out


def _balance(text: str) -> str:
    """Drop a trailing unclosed parenthetical left by shortening."""
    for open_, close in (("(", ")"), ("（", "）")):
        if text.count(open_) > text.count(close):
            text = text[: text.rindex(open_)].rstrip(" ,;:，；：")
    return text


def reading_units(markdown: str) -> int:
    """What a reader reads: words in English; in Chinese each Han character (or full-width mark) and
    each Latin word or number. Link targets and Markdown markers are not read."""
    text = re.sub(r"\]\([^)]*\)", "]", localize(markdown))
    text = re.sub(r"[*_#>\[\]\\|]+", " ", text)
    han = len(_HAN.findall(text))
    if not han:
        return len([w for w in text.split() if re.search(r"\w", w)])
    latin = _HAN.sub(" ", text)
    return han + len([w for w in latin.split() if re.search(r"\w", w)])


def word_count(markdown: str) -> int:
    """`reading_units` (the name the budget helpers have always used: words, for English)."""
    return reading_units(markdown)


def fit_blocks(blocks: Iterable[str], budget: int | None = None, *, tail: str = "") -> tuple[list[str], int]:
    """The blocks (paragraphs or bullets), in order, that fit in `budget` reading units (default: the
    language's detail cap) together with `tail`, and how many were left out (the review app has
    everything). Blocks come back rendered in the current language."""
    budget = detail_budget() if budget is None else budget
    blocks = [localize(b) for b in blocks]
    used = word_count(tail)
    kept: list[str] = []
    dropped = 0
    for block in blocks:
        if not block:
            continue
        words = word_count(block)
        if used + words > budget:
            dropped += 1
            continue
        kept.append(block)
        used += words
    return kept, dropped


def join_blocks(blocks: Sequence[str]) -> str:
    """Paragraphs apart by a blank line; consecutive bullets stay one list."""
    out = ""
    for block in (localize(b) for b in blocks):
        if out:
            out += "\n" if block.startswith("- ") and out.rsplit("\n", 1)[-1].startswith("- ") else "\n\n"
        out += block
    return out


def within_budget_by_priority(blocks: Sequence[tuple[int, str]], budget: int | None = None, *, tail: str = "") -> str:
    """Blocks chosen by priority (0 first) while they fit, shown in their original order: when the
    budget is short, the follow-up line goes before the decision does."""
    budget = detail_budget() if budget is None else budget
    blocks = [(p, localize(b)) for p, b in blocks]
    order = sorted(range(len(blocks)), key=lambda i: blocks[i][0])
    used = word_count(tail)
    keep: set[int] = set()
    for i in order:
        words = word_count(blocks[i][1])
        if blocks[i][1] and used + words <= budget:
            keep.add(i)
            used += words
    kept = [blocks[i][1] for i in range(len(blocks)) if i in keep]
    return join_blocks([*kept, tail] if tail else kept)


def within_budget(blocks: Iterable[str], budget: int | None = None, *, tail: str = "") -> str:
    """`fit_blocks` joined, with `tail` last."""
    kept, _ = fit_blocks(blocks, budget, tail=tail)
    return join_blocks([*kept, tail] if tail else kept)


def clip_words(text: str, words: int) -> str:
    """At most `words` words of `text`, cut after a whole word; Chinese text at most about as much
    reading (`DETAIL_UNITS_ZH / DETAIL_WORDS` units per word), cut after a punctuation mark."""
    text = localize(text)
    if _HAN.search(text):
        units = round(words * DETAIL_UNITS_ZH / DETAIL_WORDS)
        if reading_units(text) <= units:
            return text
        cut = text[:units]
        if re.match(r"[A-Za-z]", text[units:units + 1]):  # never inside a Latin word (an INN, a record display)
            cut = re.sub(r"[A-Za-z][\w-]*$", "", cut)
        mark = max(cut.rfind(m) for m in "，；。、：")
        return _balance((cut[:mark] if mark > units // 2 else cut).rstrip("，；：、")) + "……"
    parts = text.split()
    return text if len(parts) <= words else _balance(" ".join(parts[:words]).rstrip(",;:")) + " ..."


# ---------------------------------------------------------------- records named by what they are


# Short names clinicians use for the measures derm3r reads (the record's display is often a long
# LOINC name such as "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma").
_SHORT_NAMES = {"pasi": "PASI", "bsa_percent": "BSA", "pga": "PGA", "dlqi": "DLQI", "pest_score": "PEST",
                "itch_nrs": t("itch NRS"), "phq2": "PHQ-2", "bmi": "BMI", "systolic_bp": t("systolic BP"),
                "diastolic_bp": t("diastolic BP"), "hba1c": "HbA1c", "alt": "ALT", "ast": "AST", "egfr": "eGFR",
                "wbc": "WBC", "creatinine": t("creatinine"), "platelets": t("platelets"), "neutrophils": t("neutrophils"),
                "haemoglobin": t("haemoglobin"), "ldl": t("LDL cholesterol"), "total_cholesterol": t("total cholesterol")}


def finding_label(finding: Finding, *, with_value: bool = True) -> str:
    """"BSA 6% (2026-11-29)", "ALT 168 U/L (2026-11-28)": short name, value and date."""
    key = finding.key.value
    name = _SHORT_NAMES.get(key) or (finding.display or key.replace("_", " ")).split(" [")[0]
    text = name
    if with_value and isinstance(finding.value, (int, float)) and not isinstance(finding.value, bool):
        number = f"{finding.value:g}"
        unit = "%" if key == "bsa_percent" else (t(" {unit}", unit=finding.unit) if finding.unit and finding.unit not in ("{score}", "1") else "")
        text += t(" {number}{unit}", number=number, unit=unit)
    if finding.effective:
        text += t(" ({date})", date=finding.effective.date().isoformat())
    return text


_KEY_PREFIX = re.compile(r"^([a-z][a-z0-9_]*)(?::\s|：)")


def readable_message(message: str) -> str:
    """A data-issue message that starts with an internal finding key ("alt: result recorded as
    text") starts with the measure's name instead ("ALT: result recorded as text")."""
    message = localize(message)  # the key stays first in every language's template
    match = _KEY_PREFIX.match(message)
    if match and match.group(1) in _SHORT_NAMES:
        return localize(_SHORT_NAMES[match.group(1)]) + message[match.end(1):]
    return message


def ref_label(case: Case, ref: str | None) -> str | None:
    """A clinician's name for a record reference: "PASI 28 (2026-11-29)", "trunk photo (2026-11-29)"."""
    if not ref:
        return None
    for photo in case.photos:
        if photo.ref == ref:
            where = (photo.body_site or photo.region.value.replace("_", " ")).lower()
            when = t(" ({date})", date=photo.taken.date().isoformat()) if photo.taken else ""
            return t("{where} photo{when}", where=where, when=when)
    for finding in case.findings:
        if finding.source_ref == ref:
            return finding_label(finding)
    for condition in case.conditions:
        if condition.source_ref == ref:
            return condition.display
    for medication in case.medications:
        if medication.source_ref == ref:
            return medication.display
    return None


# ---------------------------------------------------------------- sources


def source_lines(citations: Iterable[str | None], table: CitationTable, *, limit: int = 2) -> list[str]:
    """Distinct citations as Markdown ("[AAD-NPF guideline: biologics (2019)](https://doi.org/...)"),
    at most `limit`; unknown free text is shown only if something publishable remains."""
    seen: dict[str, str] = {}
    for raw in citations:
        if not raw:
            continue
        reference = table.resolve(raw)
        if reference is not None and reference.citation.id in NOT_CITATIONS:
            continue  # a local default is not a source; the review app says which values are defaults
        if reference is not None:
            key = f"{reference.citation.id}#{reference.section or ''}"
            text = escape(reference.text())
            url = reference.citation.url
            seen.setdefault(key, f"[{text}]({url})" if url else text)
        else:
            cleaned = clean_free_text(raw)
            if cleaned:
                seen.setdefault(cleaned, escape(cleaned))
        if len(seen) >= limit:
            break
    return list(seen.values())


def clinician_citations(value: Any, table: CitationTable) -> Any:
    """A JSON view (e.g. of an Assessment for the review app) with every `citation` string replaced
    by the citation a clinician should see ("AAD-NPF guideline: biologics (2019)"); internal notes
    and file names never reach the app."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "citation" and isinstance(item, str):
                reference = table.resolve(item)
                if reference is not None and reference.citation.id in NOT_CITATIONS:
                    out[key] = None
                else:
                    out[key] = reference.text() if reference is not None else clean_free_text(item)
            else:
                out[key] = clinician_citations(item, table)
        return out
    if isinstance(value, list):
        return [clinician_citations(item, table) for item in value]
    return value
