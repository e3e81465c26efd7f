"""Issue 12, problems 3 and 11, and their family: text from the patient's record reaches every
field derm3r writes - FHIR markdown (`note[].text` of the CarePlan, Goal and AI Observations), FHIR
strings (descriptions, displays), card Markdown, card summaries, the review app's record - without
becoming live Markdown, HTML or links, and without bidi-override or control characters.

The carriers are the record fields a patient or a careless import controls (medication text,
condition text); the payloads are what the red team used plus their relatives. Markdown is checked
by rendering it with CommonMark + HTML + linkify (markdown-it-py "gfm-like", whose linkify is more
eager than GitHub's: it also links bare `name.tld`); no image may come out, and no link but the
knowledge base's own cited sources (issue 11 renders those as links)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

import pytest
from markdown_it import MarkdownIt

from cds_hooks.demo.synthetic import resources
from fhir_mapping.safe_text import markdown_text, plain_text, sanitise_resource, strip_unsafe, strip_unsafe_everywhere
from security_support import SERVICE_ID, hook_body, strict_json, synthetic_patient

URL = f"/cds-services/{SERVICE_ID}"
FHIR = "https://ehr.markdown-tests.example/fhir"
RENDER = MarkdownIt("gfm-like")  # html on, linkify on, tables, strikethrough

PAYLOADS = {
    "markdown link with javascript: URL": "[x](javascript:alert(1))",
    "HTML image with handler": "<img src=x onerror=alert(1)>",
    "script tag": "<script>alert(2)</script>",
    "autolink": "<https://evil.example/a>",
    "bare https URL": "https://evil.example/phish",
    "bare www host": "www.evil.example",
    "bare e-mail": "billing@evil.example",
    "bare domain with path": "evil.com/phish",
    "data: URL": "data:text/html,<b>x</b>",
    "image markdown": "![t](https://evil.example/t.png)",
    "emphasis and code": "**URGENT** `rm`",
    "heading marker": "# stop",
    "RLO bidi override": "abc\u202edcb",
    "LRI isolate": "x\u2066y\u2069z",
    "NUL": "a\x00b",
    "zero-width space": "w\u200bw",
    "line separator": "l\u2028m",
    "escape character": "\x1b[31mred",
}
INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2028\u2029\u2060-\u2069\ufeff]")
HOSTILE = "ciclosporin " + " ".join(PAYLOADS.values())


def _carrier_medication(bundle: dict) -> None:
    for r in resources(bundle, "MedicationStatement"):
        r["medicationCodeableConcept"] = {"text": HOSTILE}


def _carrier_condition(bundle: dict) -> None:
    for r in resources(bundle, "Condition"):
        r["code"]["text"] = HOSTILE
        for coding in r["code"].get("coding", []):
            coding["display"] = HOSTILE


CARRIERS = {"MedicationStatement text": _carrier_medication, "Condition text and display": _carrier_condition}


def _strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k, f"{path}.{k}#key")
            yield from _strings(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{path}[{i}]")


# Links derm3r itself writes: the sources its knowledge cites (issue 11 renders them as links in
# card detail). Every other link - anything patient text could produce - is a failure.
_KNOWLEDGE_CITATIONS = Path(__file__).resolve().parents[2] / "inference" / "knowledge" / "citations.json"
CITED_URLS = frozenset(re.findall(r'"(https://[^"\s]+)"', _KNOWLEDGE_CITATIONS.read_text(encoding="utf-8")))


def _assert_rendered_safe(markdown: str, where: str) -> None:
    html = RENDER.render(markdown)
    assert "<img" not in html and "<script" not in html, f"{where}: {html[:400]}"
    anchors = re.findall(r"<a [^>]*>", html)
    hrefs = [m for a in anchors for m in re.findall(r'href="([^"]*)"', a)]
    assert len(hrefs) == len(anchors) and all(h in CITED_URLS for h in hrefs), f"{where}: {html[:400]}"
    assert "evil" not in "".join(hrefs), where


@pytest.fixture(scope="module")
def client(module_app: Any) -> Any:
    return module_app.test_client()


@pytest.fixture(scope="module", params=list(CARRIERS), ids=list(CARRIERS))
def answered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, trust_file: Any, pipeline: Any) -> tuple[dict, dict | None]:
    """One full hook per carrier (allow-listed fhirServer, so a review record is kept too)."""
    from security_support import build_app

    app = build_app(tmp_path_factory.mktemp("md"), trust_file, pipeline, fhir_allowlist=(FHIR,))
    bundle = synthetic_patient("psoriasis_moderate")
    CARRIERS[request.param](bundle)
    signer = request.getfixturevalue("signer")
    response = app.test_client().post(URL, json=hook_body(bundle, fhir_server=FHIR), headers=signer.header())
    assert response.status_code == 200, response.data[:300]
    body = strict_json(response)
    review = None
    links = [link for card in body["cards"] for link in card.get("links", [])]
    if links:
        from cds_hooks.routes import RUNTIME_KEY

        review = app.extensions[RUNTIME_KEY].review_store.get(links[0]["appContext"])
    return body, review


def _suggested_resources(body: dict) -> list[dict]:
    return [a["resource"] for c in body["cards"] for s in c.get("suggestions", []) for a in s.get("actions", []) if "resource" in a]


def test_the_hostile_text_reaches_the_written_fields(answered: tuple[dict, dict | None]) -> None:
    """Guard against a vacuous pass: the carrier text does arrive in what derm3r writes (medication
    text in the CarePlan's reasoning and the cards; condition text in the review record)."""
    body, review = answered
    assert "ciclosporin" in json.dumps(body) + json.dumps(review)


def test_every_fhir_markdown_field_renders_inert(answered: tuple[dict, dict | None]) -> None:
    body, _ = answered
    notes = [(f"{r['resourceType']}.note[{i}]", n["text"]) for r in _suggested_resources(body) for i, n in enumerate(r.get("note", []))]
    goals = [("contained Goal.note", n["text"]) for r in _suggested_resources(body) for g in r.get("contained", []) for n in g.get("note", [])]
    assert notes
    for where, text in notes + goals:
        _assert_rendered_safe(text, where)


def test_every_fhir_string_field_has_no_live_links(answered: tuple[dict, dict | None]) -> None:
    body, _ = answered
    for resource in _suggested_resources(body):
        for path, text in _strings(resource):
            if path.endswith((".system", ".url", ".reference", ".fullUrl", ".id", ".value", "#key")) or ".coding[" in path and path.endswith(".code"):
                continue
            assert not any(link in text for link in ("https://evil", "www.evil", "billing@evil", "evil.com")), (resource["resourceType"], path, text)
            assert "javascript:" not in text.replace("\\", ""), (resource["resourceType"], path)


def test_card_markdown_and_summaries_render_inert(answered: tuple[dict, dict | None]) -> None:
    body, _ = answered
    for card in body["cards"]:
        _assert_rendered_safe(card.get("detail", ""), f"card {card['summary'][:30]} detail")
        assert "https://evil" not in card["summary"] and "www.evil" not in card["summary"]
        for suggestion in card.get("suggestions", []):
            assert "https://evil" not in suggestion["label"]


def test_no_invisible_or_control_character_leaves_the_service(answered: tuple[dict, dict | None]) -> None:
    body, review = answered
    for path, text in _strings(body):
        assert not INVISIBLE.search(text.replace("\n", "")), f"response{path}: {text[:80]!r}"
    assert review is not None, "the allow-listed hook must leave a review record"
    for path, text in _strings(review):
        assert not INVISIBLE.search(text), f"review record{path}: {text[:80]!r}"


# -- the sanitiser itself ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(PAYLOADS))
def test_markdown_text_renders_each_payload_inert_but_readable(name: str) -> None:
    out = markdown_text(f"on ciclosporin {PAYLOADS[name]} daily")
    _assert_rendered_safe(out, name)
    assert not INVISIBLE.search(out)
    assert "ciclosporin" in RENDER.render(out) and "daily" in out


@pytest.mark.parametrize("name", list(PAYLOADS))
def test_plain_text_defangs_and_strips(name: str) -> None:
    out = plain_text(PAYLOADS[name])
    assert not INVISIBLE.search(out)
    assert "://evil" not in out and "www.evil" not in out and "@evil" not in out and "evil.com" not in out


def test_markdown_text_clips_before_escaping() -> None:
    out = markdown_text("<" * 50, max_chars=10)
    assert not out.endswith("\\") and out.count("\\<") == 9 and out.endswith("\u2026")


def test_sanitise_resource_leaves_machine_values_alone() -> None:
    resource = {
        "resourceType": "CarePlan",
        "meta": {"profile": ["https://derm3r.example.org/StructureDefinition/x"]},
        "subject": {"reference": "Patient/p\u202e1"},
        "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "x", "display": "see www.evil.example"}]}],
        "description": "Plan https://evil.example",
        "note": [{"text": "[x](javascript:alert(1))"}],
    }
    out = sanitise_resource(resource)
    assert out["meta"] == resource["meta"] and out["category"][0]["coding"][0]["system"] == "http://snomed.info/sct"
    assert out["category"][0]["coding"][0]["display"] == "see www[.]evil[.]example"
    assert out["description"] == "Plan https[:]//evil[.]example"
    assert out["note"][0]["text"].startswith("\\[x\\]")
    assert resource["description"] == "Plan https://evil.example"  # a copy, the input untouched


def test_strip_unsafe_keeps_line_structure_only_where_asked() -> None:
    assert strip_unsafe("a\nb\u202ec") == "a bc"
    assert strip_unsafe_everywhere({"d": "line1\nline2\u202e\x00"}) == {"d": "line1\nline2"}
