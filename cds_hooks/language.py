"""Which language a response is written in: the client's `Accept-Language` (q-values parsed by
werkzeug), else the service's `DERM3R_LANGUAGE`. The choice is applied for the duration of one
request (`inference.i18n.use_language`, context-local) and stated in `Content-Language`."""

from __future__ import annotations

from werkzeug.datastructures import LanguageAccept

from inference.i18n import normalize_language


def negotiate(accept: LanguageAccept | None, default: str) -> str:
    """The supported language the client prefers most (highest q; among equals, its order); `*`
    means any (the default); a header naming only unsupported languages (fr, zh-TW) gets the
    default. Languages with q=0 are refused, never chosen."""
    if not accept:
        return default
    for tag, quality in accept:  # werkzeug keeps them sorted by quality, stable for equal q
        if quality <= 0:
            continue
        if tag == "*":
            return default
        language = normalize_language(tag)
        if language is not None:
            return language
    return default
