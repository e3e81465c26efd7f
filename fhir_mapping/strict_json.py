"""Strict, bounded JSON parsing for everything derm3r reads from outside: CDS Hooks request bodies,
review-app posts, and FHIR server responses.

Strict: UTF-8 only, no byte order mark, no NaN/Infinity (nor numbers that overflow to infinity), no
duplicate keys (two parsers could disagree on which value wins), no lone surrogates.

Bounded *before* Python objects are built, not only after: a body under the byte limit can still
hold millions of tiny values (`[],[],...`: 30 MB became 1.5 GB of lists, issue 12), so the number of
JSON values is counted on the raw bytes first. Every value other than the first follows one of
`[ { , :` outside a string, so counting those characters gives an upper bound on values plus keys;
the count runs in C (one `bytes.translate` pass that deletes them), and only when that quick bound
exceeds the limit are strings blanked out (one regex pass, also C) for an exact count. Nesting beyond `max_depth` is refused; the
parser's own recursion limit is caught too (a 100,000-deep document never escapes as RecursionError).

Errors are `JsonRejected` with a short reason that quotes no input; callers turn them into their own
error types (HTTP 400/413 at the service edge, FhirBadResponse for a FHIR server).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

DEFAULT_MAX_DEPTH = 64
# Values (plus object keys) one document may hold. A CDS Hooks request at the prefetch limit (2,000
# resources) holds ~100k; 500k parsed values are at most ~60 MB of Python objects.
DEFAULT_MAX_VALUES = 500_000
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_STRUCTURAL = b"[{,:"
_BLANK = re.compile(rb"[ \t\n\r\x0b\x0c]*")  # what bytes.strip() removes


class JsonRejected(ValueError):
    """The document is not acceptable; `too_large` says whether it is a size problem (413-like) or
    a syntax/strictness problem (400-like). The message never contains input text."""

    def __init__(self, reason: str, *, too_large: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.too_large = too_large


def count_values_upper_bound(raw: bytes | bytearray) -> int:
    """Upper bound on the values and keys a JSON document holds (see the module doc)."""
    # One pass for the four characters (four `count` calls cost three times as much on a 5 MB body).
    return 1 + len(raw) - len(raw.translate(None, _STRUCTURAL))


def count_values_exact(raw: bytes | bytearray) -> int:
    """Values and keys outside strings (strings blanked first; one C-speed regex pass)."""
    return count_values_upper_bound(_STRING.sub(b'""', raw))


def check_value_count(raw: bytes | bytearray, max_values: int) -> None:
    if count_values_upper_bound(raw) <= max_values:
        return
    if count_values_exact(raw) > max_values:
        raise JsonRejected(f"JSON document holds more than {max_values} values", too_large=True)


def loads_strict(
    raw: bytes | bytearray,
    *,
    max_bytes: int,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_values: int = DEFAULT_MAX_VALUES,
    max_string_chars: int | None = None,
) -> Any:
    """Parse `raw` strictly within the limits; JsonRejected otherwise. Memory: the text is decoded
    once and the local reference to the bytes dropped before parsing (callers that pass a buffer
    straight in let it be freed)."""
    if len(raw) > max_bytes:
        raise JsonRejected(f"JSON document exceeds {max_bytes} bytes", too_large=True)
    if _BLANK.fullmatch(raw):  # not raw.strip(): that copies a 5 MB body to learn it is not empty
        raise JsonRejected("JSON document is empty")
    check_value_count(raw, max_values)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonRejected("JSON document is not UTF-8") from exc
    del raw
    if text.startswith("\ufeff"):
        raise JsonRejected("JSON document starts with a byte order mark")
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except RecursionError as exc:
        raise JsonRejected(f"JSON nesting deeper than {max_depth}") from exc
    except _DuplicateKey as exc:
        raise JsonRejected(f"duplicate JSON key {str(exc)[:64]!r}") from exc
    except _NonFiniteNumber as exc:
        raise JsonRejected("NaN and Infinity are not JSON") from exc
    except ValueError as exc:  # json.JSONDecodeError
        raise JsonRejected("not valid JSON") from exc
    del text
    check_shape(value, max_depth=max_depth, max_string_chars=max_string_chars)
    return value


class _DuplicateKey(ValueError):
    pass


class _NonFiniteNumber(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _no_constants(name: str) -> Any:
    raise _NonFiniteNumber(name)


def check_shape(value: Any, *, max_depth: int = DEFAULT_MAX_DEPTH, max_string_chars: int | None = None) -> None:
    """Depth and string sanity of a parsed value, walked iteratively (a recursive walk is exactly
    what a deep document is built to break)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            if depth > max_depth:
                raise JsonRejected(f"JSON nesting deeper than {max_depth}")
            for key, child in node.items():
                _check_string(key, max_string_chars)
                stack.append((child, depth + 1))
        elif isinstance(node, list):
            if depth > max_depth:
                raise JsonRejected(f"JSON nesting deeper than {max_depth}")
            stack.extend((child, depth + 1) for child in node)
        elif isinstance(node, str):
            _check_string(node, max_string_chars)
        elif isinstance(node, float) and not math.isfinite(node):
            # 1e999 parses to inf without passing through parse_constant; it would come back out as
            # the non-JSON token `Infinity` (or crash a strict serialiser) later.
            raise JsonRejected("number out of range")


def _check_string(text: str, max_chars: int | None) -> None:
    if max_chars is not None and len(text) > max_chars:
        raise JsonRejected("a JSON string is too long", too_large=True)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise JsonRejected("JSON string contains an unpaired surrogate") from exc
