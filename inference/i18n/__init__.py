"""Clinician-facing text in English or Simplified Chinese, from gettext message catalogues.

The catalogues (`locale/<lang>/LC_MESSAGES/derm3r.po`, compiled to `.mo`) hold every clinician
string: the code's own sentences (marked `t(...)` / `tr(...)`, extracted with `pybabel extract`) and
the knowledge files' texts (drug names and reasons, red flags, screening actions, TCM terms,
citation labels: extracted by `inference.i18n.extract`). The English text is the msgid, so English
output never depends on a catalogue and the knowledge files stay readable.

Two ways to mark text:

* `t("PASI {value} ({date})", value=..., date=...)` - a lazy message (`Text`). The agents use it: their
  results are computed once, cached, compared and stored in English, and rendered later in whatever
  language the clinician asked for. A `Text` *is* the English string (a `str` subclass), so existing
  logic keeps working; it also remembers its msgid and parameters so `localize` can render it again.
  `"; ".join(...)` loses that, so agents use `tjoin`; `+` and a few string methods keep it.
* `tr(...)` - the same, rendered now in the current language: for the renderers (cards, CarePlan,
  Observation text, CLI) that measure what they write (summary < 140 characters, detail caps).

The current language is context-local (`contextvars`): a request handler or the CLI runs its work in
`with use_locale("zh-CN"):`; nothing is global, threads and requests do not see each other's choice.
A plain `str` passed to `localize` (a knowledge-file text) is looked up as a msgid; text with no
entry (a patient's record display, a drug's INN) is shown as it is.
"""

from __future__ import annotations

import contextlib
import contextvars
import gettext as _gettext
import re
import string
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

DOMAIN = "derm3r"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DEFAULT_LANGUAGE = "en"
# Public language tags (BCP 47, as in Accept-Language / Content-Language) -> gettext catalogue names.
LANGUAGES: Mapping[str, str] = {"en": "en", "zh-CN": "zh_CN"}

_TAG = re.compile(r"[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*")
_current: contextvars.ContextVar[str] = contextvars.ContextVar("derm3r_language", default=DEFAULT_LANGUAGE)


# ---------------------------------------------------------------- choosing a language


def normalize_language(tag: str | None) -> str | None:
    """A supported language tag for `tag`, or None. Simplified Chinese is accepted as zh, zh-CN,
    zh-Hans, zh-Hans-CN, zh-SG (case and `_` tolerated); Traditional (zh-TW, zh-HK, zh-Hant) is not
    offered, so it is None and the caller falls back to its default. Any English is `en`."""
    if not tag or not _TAG.fullmatch(tag.strip()):
        return None  # not a language tag at all (BCP 47 shape: letters and subtags)
    parts = [p.lower() for p in re.split(r"[-_]", tag.strip()) if p]
    if not parts:
        return None
    if parts[0] == "en":
        return "en"
    if parts[0] == "zh":
        rest = parts[1:]
        if not rest or rest[0] in {"cn", "sg", "hans", "my"}:
            if "hant" in rest or any(r in {"tw", "hk", "mo"} for r in rest):
                return None
            return "zh-CN"
    return None


def validate_language(raw: str, *, variable: str = "DERM3R_LANGUAGE") -> str:
    """The configured default language; a clear start-up error for anything not supported."""
    language = normalize_language(raw)
    if language is None:
        raise ValueError(f"{variable} must be one of {', '.join(LANGUAGES)}, got {raw!r}")
    return language


def current_language() -> str:
    return _current.get()


@contextlib.contextmanager
def use_language(language: str) -> Iterator[str]:
    """Render text in `language` (a supported tag) inside the block; restored afterwards."""
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}")
    token = _current.set(language)
    try:
        yield language
    finally:
        _current.reset(token)


@lru_cache(maxsize=None)
def _catalogue(language: str) -> _gettext.NullTranslations:
    """The compiled catalogue (loaded once per process); English needs none (msgid = English)."""
    if language == DEFAULT_LANGUAGE:
        return _gettext.NullTranslations()
    return _gettext.translation(DOMAIN, localedir=str(LOCALE_DIR), languages=[LANGUAGES[language]])


def gettext(msgid: str, language: str | None = None) -> str:
    """The translation of one msgid (the msgid itself when the catalogue has none)."""
    language = language or _current.get()
    if language == DEFAULT_LANGUAGE or not msgid:
        return str(msgid)
    return _catalogue(language).gettext(str(msgid))


def has_translation(msgid: str, language: str) -> bool:
    catalogue = _catalogue(language)
    return language == DEFAULT_LANGUAGE or catalogue.gettext(msgid) != msgid


# ---------------------------------------------------------------- lazy messages


class Text(str):
    """A clinician message: its English rendering (the `str` value), plus how to render it again in
    another language. Subclasses say how: a catalogue template with parameters, a join, a
    concatenation, or a string operation applied to one."""

    def render(self, language: str) -> str:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    # Concatenation keeps both sides ("Avoid: " + reason); str.__add__ would drop the structure.
    def __add__(self, other: object) -> "Text":
        if not isinstance(other, str):
            return NotImplemented
        return _Joined("", (self, other))

    def __radd__(self, other: object) -> "Text":
        if not isinstance(other, str):
            return NotImplemented
        return _Joined("", (other, self))

    def lower(self) -> "Text":  # type: ignore[override]
        return _Transformed(self, "lower")

    def capitalize(self) -> "Text":  # type: ignore[override]
        return _Transformed(self, "capitalize")

    def strip(self, chars: str | None = None) -> "Text":  # type: ignore[override]
        return _Transformed(self, "strip", chars)

    def rstrip(self, chars: str | None = None) -> "Text":  # type: ignore[override]
        return _Transformed(self, "rstrip", chars)

    def last_clause(self) -> "Text":
        """The part after the last colon ("x on methotrexate: withhold" -> "withhold")."""
        return _Transformed(self, "last_clause")

    def lower_first(self) -> "Text":
        """First letter in lower case, for a name mid-sentence ("Methotrexate" -> "methotrexate")."""
        return _Transformed(self, "lower_first")

    def upper_first(self) -> "Text":
        """First letter in capitals ("record BSA" -> "Record BSA"); nothing to do in Chinese."""
        return _Transformed(self, "upper_first")

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled (multiprocessing, deepcopy) as plain English: the structure is for rendering only.
        return (str, (str(self),))

    def __deepcopy__(self, memo: dict) -> "Text":
        return self

    def __copy__(self) -> "Text":
        return self


_FORMATTER = string.Formatter()


class _Message(Text):
    def __new__(cls, msgid: str, params: Mapping[str, Any]) -> "_Message":
        obj = super().__new__(cls, _FORMATTER.vformat(msgid, (), dict(params)) if params else msgid)
        obj.msgid = msgid
        obj.params = dict(params)
        return obj

    def render(self, language: str) -> str:
        template = gettext(self.msgid, language)
        if not self.params:
            return template
        values = {k: _render_param(v, language) for k, v in self.params.items()}
        try:
            return _FORMATTER.vformat(template, (), values)
        except (KeyError, IndexError, ValueError):
            # A catalogue entry that names a parameter the code does not pass: English, not a crash
            # (the catalogue test catches it before release).
            return _FORMATTER.vformat(self.msgid, (), values)


class _Joined(Text):
    def __new__(cls, sep: str, items: Iterable[Any]) -> "_Joined":
        items = tuple(items)
        obj = super().__new__(cls, str(sep).join(str(i) for i in items))
        obj.sep = sep
        obj.items = items
        return obj

    def render(self, language: str) -> str:
        sep = self.sep.render(language) if isinstance(self.sep, Text) else _separator(self.sep, language)
        return sep.join(localize(i, language) for i in self.items)


class _Transformed(Text):
    _CASE_OPS = frozenset({"lower", "capitalize", "upper_first", "lower_first"})
    _STRIP_OPS = frozenset({"strip", "rstrip"})

    def __new__(cls, base: Text, op: str, arg: str | None = None) -> "_Transformed":
        english = _apply(str(base), op, arg)
        obj = super().__new__(cls, english)
        obj.base = base
        obj.op = op
        obj.arg = arg
        return obj

    def render(self, language: str) -> str:
        text = localize(self.base, language)
        if language != DEFAULT_LANGUAGE and self.op in self._CASE_OPS:
            return text  # Chinese has no case; lower-casing would only mangle embedded acronyms
        return _apply(text, self.op, self.arg)


def _apply(text: str, op: str, arg: str | None) -> str:
    if op == "upper_first":
        return text[:1].upper() + text[1:]
    if op == "lower_first":
        return text[:1].lower() + text[1:]
    if op == "last_clause":
        return re.split(r": |：", text)[-1].strip()
    return getattr(text, op)(arg) if op in _Transformed._STRIP_OPS else getattr(text, op)()


def upper_first(text: str) -> str:
    """`text` with its first letter in capitals, still renderable in another language."""
    return t(text).upper_first() if isinstance(text, str) else text


def _render_param(value: Any, language: str) -> Any:
    if isinstance(value, str):
        return localize(value, language)
    return value


# Separators the code joins phrases with, written the Chinese way.
_ZH_SEPARATORS = {", ": "、", "; ": "；", " and ": "和", " or ": "或", ": ": "：", ". ": "。"}


def _separator(sep: str, language: str) -> str:
    if language == "zh-CN":
        return _ZH_SEPARATORS.get(sep, sep)
    return sep


_KEY = re.compile(r"[a-z]+(?:_[a-z0-9]+)+")


def t(msgid: str, **params: Any) -> Text:
    """A lazy message: English now, any language later (`localize`). Mark every clinician sentence
    of the agents with it; `pybabel extract -k t` finds the msgid. `t(value)` of a knowledge-file
    text makes it a lazy message too (looked up when rendered); a `Text` is returned as it is."""
    if isinstance(msgid, Text) and not params:
        return msgid
    return _Message(str(msgid) if not isinstance(msgid, str) else msgid, params)


def tjoin(sep: str, items: Iterable[Any]) -> Text:
    """`sep.join(items)` that can still be rendered in another language (each item localized; the
    common separators written the language's way)."""
    return _Joined(sep, items)


def localize(value: Any, language: str | None = None) -> str:
    """`value` in `language` (default: the current one): a `Text` rendered, any other string looked
    up as a msgid (knowledge-file text), anything else formatted with `str`."""
    language = language or _current.get()
    if isinstance(value, Text):
        return str(value) if language == DEFAULT_LANGUAGE else value.render(language)
    if value is None:
        return ""
    if isinstance(value, str):
        if language == DEFAULT_LANGUAGE:
            return str(value)
        found = gettext(value, language)
        if found == value and _KEY.fullmatch(value):
            # An internal key ("upper_limbs", "palms_soles") reads as its words, as in English.
            words = value.replace("_", " ")
            found = gettext(words, language)
            return found if found != words else value
        return found
    return str(value)


def tr(msgid: str, **params: Any) -> str:
    """`t(...)` rendered now, in the current language: for renderers that measure what they write."""
    return localize(_Message(msgid, params))


def localize_tree(value: Any, language: str | None = None) -> Any:
    """A JSON-like value with every `Text` inside rendered (plain strings are left as they are: a
    tree also holds codes and ids that must never be looked up)."""
    if isinstance(value, Text):
        return localize(value, language)
    if isinstance(value, dict):
        return {k: localize_tree(v, language) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [localize_tree(v, language) for v in value]
    return value
