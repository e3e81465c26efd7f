"""Issue 12, problem 6, and its family: data from an allow-listed FHIR server is bounded in
resources and parsed values per request, not only in bytes per response (5 pages x 20,000
Observations took 23-38 s and 440 MB). Beyond the bounds the data-quality card says what was left
out; the answer is never a 5xx."""

from __future__ import annotations

import json
import resource
from typing import Any

import pytest

from cds_hooks.limits import MAX_PREFETCH_ENTRIES, MAX_REQUEST_RESOURCES
from fhir_mapping.client import FhirClient
from fhir_mapping.errors import FhirBadResponse
from security_support import SERVICE_ID, Canary, Signer, hook_body, strict_json, synthetic_patient

URL = f"/cds-services/{SERVICE_ID}"
FHIR_JSON = {"Content-Type": "application/fhir+json"}


def _observation(pid: str, i: int) -> dict:
    return {
        "resourceType": "Observation", "id": f"o{i}", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
        "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": "2026-01-01T00:00:00Z",
        "valueQuantity": {"value": 70, "unit": "/min"},
    }


def _page(canary: Canary, pid: str, count: int, *, next_link: bool = True) -> bytes:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle", "type": "searchset",
        "entry": [{"resource": _observation(pid, i), "search": {"mode": "match"}} for i in range(count)],
    }
    if next_link:
        bundle["link"] = [{"relation": "next", "url": f"{canary.url}/Observation?page=next"}]
    return json.dumps(bundle).encode()


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_red_team_page_of_20000_observations_is_refused_before_parsing(canary: Canary) -> None:
    """~600,000 values in one page: more than one request may parse, refused on the byte count."""
    canary.routes["/Observation"] = (200, FHIR_JSON, _page(canary, "p1", 20_000))
    client = FhirClient(canary.url, access_token=None, timeout=10.0, allowlist=[canary.url], max_pages=5)
    before = _peak_rss_mb()
    with pytest.raises(FhirBadResponse, match="more data than one request may read"):
        client.search("Observation?patient=p1")
    assert len(canary.hits) == 1
    assert _peak_rss_mb() - before < 100  # the page's bytes, never its objects


@pytest.mark.parametrize("per_page", [10_000, 1999, 1000, 700])
def test_paging_stops_at_the_resource_bound(canary: Canary, per_page: int) -> None:
    canary.routes["/Observation"] = (200, FHIR_JSON, _page(canary, "p1", per_page))
    client = FhirClient(canary.url, access_token=None, timeout=10.0, allowlist=[canary.url], max_pages=50)
    found = client.search("Observation?patient=p1")
    assert len(found) == MAX_PREFETCH_ENTRIES
    assert len(canary.hits) == -(-MAX_PREFETCH_ENTRIES // per_page)


def test_parsed_values_are_budgeted_across_pages(canary: Canary) -> None:
    """Pages of few resources but many values each (an Observation with a 40,000-item extension):
    the client's value budget runs out before memory does."""
    heavy = {"resourceType": "Bundle", "type": "searchset",
             "link": [{"relation": "next", "url": f"{canary.url}/Observation?page=next"}],
             "entry": [{"resource": {**_observation("p1", i), "extension": [0] * 40_000}} for i in range(5)]}
    canary.routes["/Observation"] = (200, FHIR_JSON, json.dumps(heavy).encode())
    client = FhirClient(canary.url, access_token=None, timeout=10.0, allowlist=[canary.url], max_pages=50)
    with pytest.raises(FhirBadResponse, match="more data than one request may read"):
        client.search("Observation?patient=p1")
    assert 2 <= len(canary.hits) <= 3  # 200k values per page: the third page would pass the 500k budget


def test_red_team_volume_through_the_full_hook(make_app: Any, canary: Canary, signer: Signer) -> None:
    bundle = synthetic_patient(visits=1)
    body = hook_body(bundle, fhir_server=canary.url, with_token=True)
    pid = body["context"]["patientId"]
    del body["prefetch"]["observations"]
    canary.routes["/Observation"] = (200, FHIR_JSON, _page(canary, pid, 20_000))
    app = make_app(fhir_allowlist=(canary.url,), allow_private_fhir=True, fhir_timeout_seconds=10.0, request_deadline_seconds=20.0)
    before = _peak_rss_mb()
    response = app.test_client().post(URL, json=body, headers=signer.header())
    assert response.status_code == 200, response.data[:300]
    text = json.dumps(strict_json(response))
    assert "Observations" in text and "more data than one request may read" in text
    assert _peak_rss_mb() - before < 300  # was +440 MB for five such pages


def test_all_keys_together_stay_within_the_request_bound(make_app: Any, canary: Canary, signer: Signer) -> None:
    """Every search key fetched, each at its own bound: the request keeps MAX_REQUEST_RESOURCES."""
    bundle = synthetic_patient(visits=1)
    body = hook_body(bundle, fhir_server=canary.url, with_token=True)
    pid = body["context"]["patientId"]
    body["prefetch"] = {"patient": body["prefetch"]["patient"], "conditions": body["prefetch"]["conditions"]}  # psoriasis: cards due
    page = _page(canary, pid, 2000, next_link=False)
    for path in ("/Observation", "/MedicationStatement", "/MedicationRequest", "/Media", "/DocumentReference"):
        canary.routes[path] = (200, FHIR_JSON, page)  # Observations under every search: worst case for counting
    app = make_app(fhir_allowlist=(canary.url,), allow_private_fhir=True, fhir_timeout_seconds=10.0, request_deadline_seconds=20.0)
    from cds_hooks.routes import RUNTIME_KEY

    response = app.test_client().post(URL, json=body, headers=signer.header())
    assert response.status_code == 200, response.data[:300]
    assert "more records than one request may read" in response.get_data(as_text=True)
    audit = app.extensions[RUNTIME_KEY].store.list_audit(limit=1)[0]
    assert audit["type"] == "cds-decision"
    assert MAX_REQUEST_RESOURCES == 2 * MAX_PREFETCH_ENTRIES
