"""The review web app's own labels (headings, buttons, table headers, status and error messages) in
one language, from the service's one message catalogue.

The app marks its labels `t("...")` in `cds_hooks/review/web/src/**.js`; Babel's JavaScript
extractor puts them into the same template (`derm3r.pot`) and catalogues as the Python and knowledge
texts (see babel.cfg), so one `catalogue update` / translate / `compile` covers all of them. The
template's source locations say which msgids are the app's; the compiled catalogue (.mo, read by
`inference.i18n.gettext`) gives their translations. The app asks for them once per page
(`GET /app/messages.json`) and falls back to the English msgid for anything missing.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import PurePosixPath

from babel.messages.pofile import read_po

from inference.i18n import DEFAULT_LANGUAGE, DOMAIN, LOCALE_DIR, gettext

WEB_SOURCES = PurePosixPath("cds_hooks/review/web/src")


@lru_cache(maxsize=1)
def web_msgids() -> tuple[str, ...]:
    """The msgids the web app uses (those the template locates in its sources), sorted."""
    with open(LOCALE_DIR / f"{DOMAIN}.pot", "rb") as handle:
        template = read_po(handle)
    found = {
        message.id
        for message in template
        if message.id and isinstance(message.id, str)
        and any(PurePosixPath(path).is_relative_to(WEB_SOURCES) for path, _ in message.locations)
    }
    return tuple(sorted(found))


@lru_cache(maxsize=None)
def web_messages(language: str) -> dict[str, str]:
    """{msgid: translation} of the app's labels in `language`; English needs none (msgid = text)."""
    if language == DEFAULT_LANGUAGE:
        return {}
    return {msgid: text for msgid in web_msgids() if (text := gettext(msgid, language)) != msgid}
