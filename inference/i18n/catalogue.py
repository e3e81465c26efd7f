"""Keep the message catalogues in step with the sources (Babel): extract, update, compile, check.

    python -m inference.i18n.catalogue extract   # sources -> inference/i18n/locale/derm3r.pot
    python -m inference.i18n.catalogue update    # .pot -> every locale's derm3r.po (new msgids empty)
    python -m inference.i18n.catalogue compile   # every .po -> .mo (committed; read at run time)
    python -m inference.i18n.catalogue check     # exit 1 if a msgid is missing, untranslated or its
                                                 # placeholders differ (the catalogue test runs this)

The same as `pybabel extract -F babel.cfg -k t -k tr --no-default-keywords`, `pybabel update` and
`pybabel compile`, with one difference: derm3r's messages are `str.format` templates ("{value}%"),
never %-format, so the "python-format" flag Babel guesses from a "%" in the text is dropped (it would
make `pybabel compile` reject "BSA {value}% ..." translations). Run from the repository root.
"""

from __future__ import annotations

import argparse
import io
import string
import sys
from pathlib import Path
from typing import Iterable

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

from inference.i18n import DOMAIN, LANGUAGES, LOCALE_DIR

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"
KEYWORDS = {"t": None, "tr": None}
# Translations a clinician may read without one: a msgid made only of placeholders, codes, numbers,
# acronyms and punctuation reads the same in every language.
_SPARE = string.punctuation + string.digits + " "


def _po(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def locales() -> list[str]:
    return sorted(LANGUAGES.values())


def extract() -> Catalog:
    """Every clinician msgid of the code (`t(...)`, `tr(...)`) and of the knowledge files."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    catalog = Catalog(project="derm3r", domain=DOMAIN, fuzzy=False)
    sys.path.insert(0, str(ROOT))  # the knowledge extractor is imported by its dotted name
    for filename, lineno, message, comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True
    ):
        if "node_modules" in Path(filename).parts:
            continue
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    for message in catalog:
        message.flags.discard("python-format")
    return catalog


def _write(path: Path, catalog: Catalog) -> None:
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=0, sort_output=True, omit_header=False, include_lineno=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())


def _read(path: Path, locale: str | None = None) -> Catalog:
    with open(path, "rb") as handle:
        return read_po(handle, locale=locale)


def update(template: Catalog) -> None:
    """Each locale's .po gains the template's new msgids (untranslated) and drops obsolete ones."""
    for locale in locales():
        path = _po(locale)
        catalog = _read(path, locale) if path.exists() else Catalog(locale=locale, domain=DOMAIN, fuzzy=False)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        for message in catalog:
            message.flags.discard("python-format")
            message.flags.discard("fuzzy")
        _write(path, catalog)


def compile_all() -> None:
    for locale in locales():
        catalog = _read(_po(locale), locale)
        with open(_po(locale).with_suffix(".mo"), "wb") as handle:
            write_mo(handle, catalog, use_fuzzy=False)


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def needs_translation(msgid: str) -> bool:
    """A msgid with words outside its placeholders needs a translation in every non-English locale."""
    outside = "".join(part for part, *_ in string.Formatter().parse(msgid))
    words = [w for w in outside.replace("/", " ").replace("-", " ").split() if any(c.isalpha() for c in w)]
    # Acronyms (PASI, HbA1c, eGFR: two or more capitals) read the same in every language.
    return any(sum(c.isupper() for c in w) < 2 for w in words)


def problems(template: Catalog | None = None) -> list[str]:
    """What keeps the catalogues from matching the sources: msgids missing from a .po, untranslated
    entries, translations whose placeholders differ from the msgid's, .mo files out of date."""
    template = template or extract()
    wanted = {m.id for m in template if m.id}
    found: list[str] = []
    for locale in locales():
        path = _po(locale)
        catalog = _read(path, locale)
        have = {m.id: m for m in catalog if m.id}
        found += [f"{locale}: missing msgid {msgid!r}" for msgid in sorted(wanted - have.keys())]
        found += [f"{locale}: obsolete msgid {msgid!r}" for msgid in sorted(have.keys() - wanted)]
        if locale == "en":
            continue
        for msgid in sorted(wanted & have.keys()):
            msgstr = have[msgid].string
            if not msgstr and needs_translation(msgid):
                found.append(f"{locale}: untranslated {msgid!r}")
            elif msgstr and not _fields(msgstr) <= _fields(msgid):
                found.append(f"{locale}: placeholders of {msgstr!r} are not those of {msgid!r}")
        mo = path.with_suffix(".mo")
        if not mo.exists() or _translations(_read_mo_file(mo)) != _translations(_compiled(catalog)):
            found.append(f"{locale}: {mo.name} is not compiled from the current .po (run: compile)")
    return found


def _compiled(catalog: Catalog) -> Catalog:
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return read_mo(buffer)


def _read_mo_file(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_mo(handle)


def _translations(catalog: Catalog) -> dict:
    """What a .mo says, without its header: Babel versions write the same messages with different
    header bytes, so the committed file is compared by content, not byte for byte."""
    return {m.id: m.string for m in catalog if m.id}


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference.i18n.catalogue", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["extract", "update", "compile", "check"])
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.command == "extract":
        _write(TEMPLATE, extract())
    elif args.command == "update":
        template = extract()
        _write(TEMPLATE, template)
        update(template)
    elif args.command == "compile":
        compile_all()
    else:
        found = problems()
        for line in found:
            print(line)
        return 1 if found else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
