"""The one reader of FHIR Bundles: prefetch values, search result pages, draft-order Bundles and
Bundles handed to the case builder all go through here.

A searchset page splits into its entry resources (the data), its outcomes (server warnings about the
search: entries with `search.mode == "outcome"` and OperationOutcome resources, which some servers
send as ordinary entries) and its `next` link. Entries that are not objects or carry no resource
object are skipped. A Bundle whose `entry` or `link` is not an array raises `MalformedBundle`; the
caller decides what that means for it (a 400 for a prefetch value, a bad response for a FHIR server).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Mapping

from fhir_mapping.errors import MalformedBundle

OUTCOME = "OperationOutcome"


@dataclass(frozen=True)
class SearchPage:
    resources: tuple[dict, ...]  # the data, in the server's order
    outcomes: tuple[dict, ...]  # OperationOutcome resources: warnings about the search, not data
    next_url: str | None  # the `next` link, absolute or relative as the server wrote it


@dataclass(frozen=True)
class Entry:
    """One entry of a Bundle, read leniently (for the case builder, which reports what it cannot use)."""

    resource: object  # as sent: not necessarily a FHIR resource
    full_url: str | None


def is_bundle(value: object) -> bool:
    return isinstance(value, Mapping) and value.get("resourceType") == "Bundle"


def _array(bundle: Mapping[str, Any], element: str) -> list:
    value = bundle.get(element)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedBundle(f"{element} must be an array", element=element)
    return value


def entry_resources(bundle: Mapping[str, Any]) -> tuple[object, ...]:
    """The `resource` of each entry, in order and one per entry (None where an entry is not an
    object or has no resource), so a caller can point at `entry[i]`. Strict, for Bundles a client
    sends us (draft orders): `entry` absent is no entries, anything but an array (null included:
    FHIR JSON has no nulls) raises MalformedBundle."""
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        raise MalformedBundle("entry must be an array", element="entry")
    return tuple(entry.get("resource") if isinstance(entry, dict) else None for entry in entries)


def read_searchset(bundle: Mapping[str, Any]) -> SearchPage:
    """Split one search result page (or a prefetched searchset) into data, outcomes and `next`."""
    if not is_bundle(bundle):
        raise MalformedBundle("the value is not a Bundle", element="resourceType")
    entries = _array(bundle, "entry")
    links = _array(bundle, "link")
    resources: list[dict] = []
    outcomes: list[dict] = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
            continue
        resource = entry["resource"]
        search = entry.get("search")
        if (isinstance(search, dict) and search.get("mode") == "outcome") or resource.get("resourceType") == OUTCOME:
            outcomes.append(resource)
        else:
            resources.append(resource)
    return SearchPage(tuple(resources), tuple(outcomes), _next_url(links))


def _next_url(links: list) -> str | None:
    for link in links:
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return link["url"]
    return None


def walk_entries(bundle: Mapping[str, Any]) -> Iterator[Entry]:
    """Every entry that has a `resource`, leniently: a Bundle whose `entry` is not an array reads as
    empty (the case builder never fails on what it is given; it reports what it cannot use)."""
    entries = bundle.get("entry")
    for entry in entries if isinstance(entries, list) else ():
        if isinstance(entry, dict) and "resource" in entry:
            full_url = entry.get("fullUrl")
            yield Entry(entry["resource"], full_url if isinstance(full_url, str) else None)


def resource_count(value: object) -> int:
    """How many resources a prefetch value holds: a Bundle's entries, else one (for size bounds,
    before anything is validated)."""
    if isinstance(value, Mapping) and isinstance(value.get("entry"), list):
        return len(value["entry"])
    return 1


__all__ = ["Entry", "SearchPage", "entry_resources", "is_bundle", "read_searchset", "resource_count", "walk_entries"]
