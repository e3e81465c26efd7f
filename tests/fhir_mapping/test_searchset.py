"""The one Bundle reader (`fhir_mapping.searchset`): data, outcomes of both kinds, `next` links,
and malformed shapes as `MalformedBundle`."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_mapping.errors import FhirError, MalformedBundle
from fhir_mapping.searchset import Entry, entry_resources, read_searchset, resource_count, walk_entries

OBS = {"resourceType": "Observation", "id": "o1"}
COND = {"resourceType": "Condition", "id": "c1"}
OUTCOME = {"resourceType": "OperationOutcome", "issue": [{"severity": "warning", "code": "processing"}]}


def page(*entries: Any, links: Any = None) -> dict:
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "entry": list(entries)}
    if links is not None:
        bundle["link"] = links
    return bundle


def test_entries_become_resources_in_order() -> None:
    read = read_searchset(page({"resource": OBS}, {"resource": COND, "search": {"mode": "match"}}))
    assert read.resources == (OBS, COND) and read.outcomes == () and read.next_url is None


@pytest.mark.parametrize(
    "entry",
    [
        {"resource": OUTCOME, "search": {"mode": "outcome"}},  # the spec's way
        {"resource": OUTCOME},  # an OperationOutcome sent as an ordinary entry
        {"resource": {"resourceType": "Observation", "id": "odd"}, "search": {"mode": "outcome"}},  # mode decides
    ],
)
def test_both_kinds_of_outcome_are_outcomes_not_data(entry: dict) -> None:
    read = read_searchset(page({"resource": OBS}, entry))
    assert read.resources == (OBS,)
    assert read.outcomes == (entry["resource"],)


def test_the_next_link_is_found_among_other_links() -> None:
    links = [{"relation": "self", "url": "Observation?patient=1"}, "junk", {"relation": "next", "url": "Observation?page=2"}]
    assert read_searchset(page(links=links)).next_url == "Observation?page=2"


@pytest.mark.parametrize("link", [{"relation": "next"}, {"relation": "next", "url": 7}, {"relation": "previous", "url": "x"}])
def test_a_next_link_without_a_usable_url_is_no_next_link(link: dict) -> None:
    assert read_searchset(page(links=[link])).next_url is None


@pytest.mark.parametrize("entry", ["text", 3, None, {"fullUrl": "Observation/1"}, {"resource": "Observation/1"}])
def test_entries_without_a_resource_object_are_skipped(entry: Any) -> None:
    assert read_searchset(page(entry, {"resource": OBS})).resources == (OBS,)


@pytest.mark.parametrize(
    "bundle,element",
    [
        ({"resourceType": "Bundle", "entry": {"resource": OBS}}, "entry"),
        ({"resourceType": "Bundle", "entry": [], "link": {"relation": "next", "url": "x"}}, "link"),
        ({"resourceType": "Observation"}, "resourceType"),
    ],
)
def test_malformed_shapes_raise_the_mapping_error(bundle: dict, element: str) -> None:
    with pytest.raises(MalformedBundle) as caught:
        read_searchset(bundle)
    assert caught.value.element == element
    assert isinstance(caught.value, FhirError)  # callers translate it at their boundary


def test_absent_entry_and_link_are_an_empty_page() -> None:
    read = read_searchset({"resourceType": "Bundle", "type": "searchset", "total": 0})
    assert (read.resources, read.outcomes, read.next_url) == ((), (), None)


def test_entry_resources_keeps_one_slot_per_entry_and_is_strict() -> None:
    assert entry_resources({"resourceType": "Bundle", "entry": [{"resource": OBS}, "x", {}]}) == (OBS, None, None)
    assert entry_resources({"resourceType": "Bundle"}) == ()
    for bad in (None, {}, "entry"):
        with pytest.raises(MalformedBundle, match="entry must be an array"):
            entry_resources({"resourceType": "Bundle", "entry": bad})


def test_walk_entries_is_lenient_and_keeps_full_urls() -> None:
    bundle = {"resourceType": "Bundle", "entry": [{"fullUrl": "urn:uuid:1", "resource": OBS}, {"resource": "text", "fullUrl": 5}, "x"]}
    assert list(walk_entries(bundle)) == [Entry(OBS, "urn:uuid:1"), Entry("text", None)]
    assert list(walk_entries({"resourceType": "Bundle", "entry": {"resource": OBS}})) == []


@pytest.mark.parametrize("value,count", [(page({"resource": OBS}, "x", {}), 3), (OBS, 1), ({"resourceType": "Bundle"}, 1), (None, 1)])
def test_resource_count_counts_entries(value: Any, count: int) -> None:
    assert resource_count(value) == count
