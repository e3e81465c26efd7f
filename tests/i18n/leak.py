"""English left in Chinese output: what a zh-CN clinician would read that is still an English word.

`english_words(text, allowed)` removes what may stay Latin in Chinese clinical text and returns the
Latin-letter words that remain:

* codes and identifiers (SNOMED/LOINC/RxNorm/ATC/ICD codes, UUIDs, URLs and Markdown link targets),
* drug INN names, brand and synonym names from drugs.json and the TCM herbs' Latin pharmaceutical
  names and pinyin (with or without tone marks),
* units (mg, mL/min/1.73m2, U/L, ...), numbers and dates,
* acronyms written in capitals (PASI, BSA, DLQI, PGA, PEST, TB, ALT, eGFR, HbA1c, AAD-NPF, NICE),
* text copied from the patient's record (a condition or medication display is shown as recorded):
  the caller passes the record's words in `allowed`.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator

KNOWLEDGE = Path(__file__).resolve().parents[2] / "inference" / "knowledge"

UNITS = {"mg", "g", "kg", "ml", "l", "dl", "min", "mmol", "umol", "µmol", "u", "iu", "x", "m2", "m", "cm", "mmhg", "h",
         "d", "wk", "yr", "nrs", "vas", "mg/dl", "ml/min", "kg/m2", "g/l", "u/l", "mmol/l", "µmol/l", "10^9/l", "mcg"}
PRODUCT = {"derm3r", "derm", "smart", "fhir", "cds", "hooks", "ai"}
_WORD = re.compile(r"[A-Za-zÀ-ɏ][A-Za-zÀ-ɏ'’-]*")
_URL = re.compile(r"https?://\S+|\]\([^)]*\)|urn:uuid:\S+|\b[\w.-]+\.(?:json|md|org|com)\b")
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE)
_FHIR_REF = re.compile(r"\b(?:Observation|Media|Condition|MedicationStatement|MedicationRequest|DocumentReference|Patient|Binary|Encounter|Device|ServiceRequest)/[A-Za-z0-9.-]+")
# Proper names in citations (authors, guideline and journal names) stay as published.
PROPER_NAMES = {"hongbo", "finlay", "fredriksson", "pettersson", "euroguiderm", "chan", "izzo", "ernst", "lin", "wu",
                "yuan", "sézary", "sezary", "livertox", "am", "fam", "physician", "et", "al", "s2k"}
_TONE = re.compile(r"[āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü]", re.IGNORECASE)


def _strings(value: Any, keys: set[str] | None = None, key: str | None = None) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, keys, k)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v, keys, key)
    elif isinstance(value, str) and (keys is None or key in keys):
        yield value


@lru_cache(maxsize=1)
def knowledge_names() -> frozenset[str]:
    """Lower-case words of drug names (INN, brands, synonyms, RxNorm displays), herb Latin names and
    pinyin: they may stay Latin in Chinese text."""
    words: set[str] = set()
    drugs = json.loads((KNOWLEDGE / "drugs.json").read_text(encoding="utf-8"))
    for entry in [*drugs["drugs"], *drugs["interactants"], drugs["systemic_corticosteroids"]]:
        for text in _strings(entry, {"names", "display", "members", "brands"}):
            words.update(w.lower() for w in _WORD.findall(text))
    herbs = json.loads((KNOWLEDGE / "tcm_herbs.json").read_text(encoding="utf-8"))
    formulas = json.loads((KNOWLEDGE / "tcm_formulas.json").read_text(encoding="utf-8"))
    tcm = json.loads((KNOWLEDGE / "tcm.json").read_text(encoding="utf-8"))
    for doc in (herbs, formulas, tcm):
        for text in _strings(doc, {"latin", "pinyin", "incompatible"}):
            words.update(w.lower() for w in _WORD.findall(text))
    # Drug class words are translated; they must not be excused as part of a display.
    return frozenset(words - _CLASS_WORDS)


_CLASS_WORDS = {"topical", "systemic", "corticosteroid", "corticosteroids", "inhibitor", "inhibitors", "analogue",
                "therapy", "oral", "phototherapy", "and", "or", "with", "of", "the", "for", "ointment", "cream",
                "tablet", "tablets", "injection", "vitamin", "retinoid", "agent", "agents", "plain", "potent", "mild",
                "moderate", "potency", "other", "anti", "light", "narrowband", "band", "uvb", "puva"}


def record_words(resources: Iterable[Any]) -> frozenset[str]:
    """Words of the patient's record (displays and texts as the EHR wrote them)."""
    words: set[str] = set()
    for text in _strings(list(resources), {"display", "text", "name", "family", "given", "valueString", "title", "description"}):
        words.update(w.lower() for w in _WORD.findall(text))
    return frozenset(words)


def _allowed_word(word: str, allowed: frozenset[str]) -> bool:
    w = word.strip("'’-")
    if not w:
        return True
    lower = w.lower()
    if lower in UNITS or lower in PRODUCT or lower in PROPER_NAMES or lower in allowed or lower in knowledge_names():
        return True
    if _TONE.search(w):  # pinyin
        return True
    letters = [c for c in w if c.isalpha()]
    # Acronyms and measures written in capitals (PASI, BSA, HbA1c, eGFR, IL-17, AAD-NPF, TM1).
    upper = sum(1 for c in letters if c.isupper())
    if upper >= 2 and upper >= len(letters) - 2:
        return True
    if len(letters) == 1:  # single letters: units, list markers, "x" in "3x"
        return True
    return False


def english_words(text: str, allowed: frozenset[str] = frozenset()) -> list[str]:
    """The English words left in `text` once allowed tokens are removed (empty: no leak)."""
    text = _FHIR_REF.sub(" ", text)
    text = _URL.sub(" ", text)
    text = _UUID.sub(" ", text)
    # FHIR references (Observation/7) and tokens with digits glued to letters (58410-2, 3HP, 1.73m2,
    # G3a, 4R, model versions) are identifiers, codes or units.
    text = re.sub(r"(?<![A-Za-z0-9])[A-Za-z0-9.-]*\d[A-Za-z0-9.-]*", " ", text)
    return [w for w in _WORD.findall(text) if not _allowed_word(w, allowed)]


# ---------------------------------------------------------------- what a clinician reads in a response

_READABLE = {"display", "text", "description", "title", "valueString", "label", "summary", "detail"}


def clinician_texts(body: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(where, text) for every human-readable string of a CDS Hooks response, the resources its
    suggestions would write included. Coding displays are the code system's own (never translated)."""
    if isinstance(body, dict):
        is_coding = "system" in body and "code" in body
        for key, value in body.items():
            if key == "display" and is_coding:
                continue
            if isinstance(value, str) and key in _READABLE:
                yield f"{path}.{key}", value
            else:
                yield from clinician_texts(value, f"{path}.{key}")
    elif isinstance(body, list):
        for n, item in enumerate(body):
            yield from clinician_texts(item, f"{path}[{n}]")


def leaks(body: Any, allowed: frozenset[str] = frozenset()) -> list[str]:
    """One line per clinician text of `body` that still has English words."""
    found = []
    for where, text in clinician_texts(body):
        words = english_words(text, allowed)
        if words:
            found.append(f"{where}: {sorted(set(words))[:8]} in {text[:160]!r}")
    return found
