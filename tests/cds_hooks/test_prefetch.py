"""Prefetch resolution: use what the EHR sent, fetch what it did not (allow-listed servers only,
bounded by the request deadline), 412 when the patient cannot be had, DataIssues otherwise."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest

from cds_hooks.deadline import Deadline
from cds_hooks.errors import InvalidRequest, PrefetchUnavailable
from cds_hooks.prefetch import PrefetchResolver, is_allowed_server
from cds_hooks.services import default_registry
from cds_hooks.wire.request import parse_request
from fhir_mapping.errors import FhirAuthError, FhirError, FhirNotFound, FhirUnavailable
from service_support import PV, condition, make_app, operation_outcome_issue, patient, request_body, searchset, start_fhir_server

EHR = "https://ehr.example.org/fhir"
TOKEN = "opaque-access-token-123"
AUTH = {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 300, "scope": "user/*.read", "subject": "derm3r"}
SERVICE = default_registry().get(PV)
OUTCOME = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout"}]}


@dataclass
class FakeFhir:
    """Answers queries from a table; values that are exceptions are raised. Records every call."""

    answers: dict[str, Any] = field(default_factory=dict)
    calls: list[tuple[str, str, str | None, float]] = field(default_factory=list)
    closed: int = 0
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: int = 0
    max_in_flight: int = 0  # how many calls overlapped at most: proves parallelism without timing

    def factory(self, base: str, token: str | None, timeout: float) -> "FakeClient":
        return FakeClient(self, base, token, timeout)


@dataclass
class FakeClient:
    fake: FakeFhir
    base: str
    token: str | None
    timeout: float

    def _answer(self, kind: str, query: str) -> Any:
        with self.fake.lock:
            self.fake.calls.append((kind, query, self.token, self.timeout))
            self.fake.in_flight += 1
            self.fake.max_in_flight = max(self.fake.max_in_flight, self.fake.in_flight)
        try:
            if self.fake.delay:
                time.sleep(self.fake.delay)
        finally:
            with self.fake.lock:
                self.fake.in_flight -= 1
        answer = self.fake.answers.get(query, [] if kind == "search" else FhirNotFound("not found"))
        if isinstance(answer, FhirError):
            raise answer
        return answer

    def search(self, query: str) -> list[dict]:
        return self._answer("search", query)

    def read(self, ref: str) -> dict:
        return self._answer("read", ref)

    def attachment(self, url: str) -> bytes:
        return self._answer("attachment", url)

    def close(self) -> None:
        self.fake.closed += 1


def resolve(body: dict, fake: FakeFhir, *, allow: tuple[str, ...] = (EHR,), seconds: float = 2.0):
    request = parse_request(body, expected_hook="patient-view")
    resolver = PrefetchResolver(allowlist=allow, allow_private=False, client_factory=fake.factory, deadline=Deadline(seconds), per_call_timeout=1.0)
    return resolver.resolve(request, SERVICE)


@pytest.fixture(autouse=True)
def public_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """ehr.example.org does not resolve in the test sandbox; the outbound check is tested in
    test_limits. Here it is replaced by 'public'."""
    monkeypatch.setattr("cds_hooks.prefetch.check_outbound_host", lambda url, allow_private: None)


def full_prefetch(pid: str = "p1") -> dict:
    return {key: (patient(pid) if key == "patient" else searchset()) for key in SERVICE.prefetch}


def test_complete_prefetch_makes_no_fhir_calls() -> None:
    fake = FakeFhir()
    data = resolve(request_body(prefetch=full_prefetch(), fhirServer=EHR, fhirAuthorization=AUTH), fake)
    assert fake.calls == []
    assert set(data.origins.values()) == {"prefetch"}
    assert data.issues == ()
    assert [r["resourceType"] for r in data.resources] == ["Patient"]


def test_null_means_no_data_and_is_not_fetched() -> None:
    fake = FakeFhir()
    prefetch = {**full_prefetch(), "media": None, "documents": None}
    data = resolve(request_body(prefetch=prefetch, fhirServer=EHR, fhirAuthorization=AUTH), fake)
    assert fake.calls == []
    assert data.origins["media"] == "prefetch-null"


def test_absent_and_operation_outcome_keys_are_fetched_with_the_bearer_token() -> None:
    fake = FakeFhir(answers={SERVICE.prefetch["conditions"].replace("{{context.patientId}}", "p1"): [condition()], "Patient/p1": patient()})
    prefetch = {"patient": OUTCOME, "observations": searchset()}
    data = resolve(request_body(prefetch=prefetch, fhirServer=EHR, fhirAuthorization=AUTH), fake)
    queries = sorted(q for _, q, _, _ in fake.calls)
    expected = [t.replace("{{context.patientId}}", "p1") for k, t in SERVICE.prefetch.items() if k != "observations"]
    assert queries == sorted(expected)
    assert {token for _, _, token, _ in fake.calls} == {TOKEN}
    assert all(0 < timeout <= 1.0 for *_, timeout in fake.calls)
    assert data.origins["patient"] == "fhir" and data.origins["observations"] == "prefetch"
    assert {r["resourceType"] for r in data.resources} == {"Patient", "Condition"}
    assert fake.closed >= len(fake.calls)  # every client is closed


def test_paginated_prefetch_is_followed_through_the_server() -> None:
    next_url = f"{EHR}/Observation?patient=p1&_page=2"
    first = {**searchset({"resourceType": "Observation", "id": "o1"}), "link": [{"relation": "next", "url": next_url}]}
    fake = FakeFhir(answers={next_url: [{"resourceType": "Observation", "id": "o2"}]})
    data = resolve(request_body(prefetch={**full_prefetch(), "observations": first}, fhirServer=EHR, fhirAuthorization=AUTH), fake)
    assert [q for _, q, _, _ in fake.calls] == [next_url]
    assert [r["id"] for r in data.resources if r["resourceType"] == "Observation"] == ["o1", "o2"]


def test_paginated_prefetch_without_a_server_is_reported() -> None:
    first = {**searchset({"resourceType": "Observation", "id": "o1"}), "link": [{"relation": "next", "url": f"{EHR}/x"}]}
    data = resolve(request_body(prefetch={**full_prefetch(), "observations": first}), FakeFhir())
    assert [i.code for i in data.issues] == ["prefetch_truncated"]


def test_operation_outcome_entries_in_a_bundle_are_dropped_and_reported() -> None:
    bundle = searchset(condition(), OUTCOME)
    data = resolve(request_body(prefetch={**full_prefetch(), "conditions": bundle}), FakeFhir())
    assert "OperationOutcome" not in {r["resourceType"] for r in data.resources}
    assert [i.code for i in data.issues] == ["prefetch_warning"]


@pytest.mark.parametrize(
    "error,phrase",
    [
        (FhirUnavailable("timeout"), "did not answer in time"),
        (FhirAuthError("401", status=401), "refused the access token"),
        (FhirNotFound("404", status=404), "does not have it"),
    ],
)
def test_optional_data_that_fails_becomes_a_data_issue(error: FhirError, phrase: str) -> None:
    prefetch = {k: v for k, v in full_prefetch().items() if k != "media"}
    media_query = SERVICE.prefetch["media"].replace("{{context.patientId}}", "p1")
    data = resolve(request_body(prefetch=prefetch, fhirServer=EHR, fhirAuthorization=AUTH), FakeFhir(answers={media_query: error}))
    (issue,) = data.issues
    assert issue.code == "data_unavailable" and phrase in issue.message and "Media" in issue.message
    assert TOKEN not in issue.message


@pytest.mark.parametrize(
    "error,phrase",
    [
        (FhirUnavailable("timeout"), "did not answer in time"),
        (FhirAuthError("403", status=403), "refused the access token"),
        (FhirNotFound("404", status=404), "does not have it"),
    ],
)
def test_patient_that_cannot_be_had_is_412(error: FhirError, phrase: str) -> None:
    prefetch = {k: v for k, v in full_prefetch().items() if k != "patient"}
    with pytest.raises(PrefetchUnavailable, match=phrase) as info:
        resolve(request_body(prefetch=prefetch, fhirServer=EHR, fhirAuthorization=AUTH), FakeFhir(answers={"Patient/p1": error}))
    assert info.value.status == 412 and info.value.expression == "prefetch.patient"


def test_servers_off_the_allow_list_are_never_contacted() -> None:
    fake = FakeFhir(answers={"Patient/p1": patient()})
    with pytest.raises(PrefetchUnavailable, match="allow-list"):
        resolve(request_body(prefetch={}, fhirServer="https://evil.example.org/fhir", fhirAuthorization=AUTH), fake)
    assert fake.calls == []
    # Optional data from a refused server is a DataIssue, not an error.
    data = resolve(request_body(prefetch={"patient": patient()}, fhirServer="https://evil.example.org/fhir", fhirAuthorization=AUTH), fake)
    assert fake.calls == [] and {i.code for i in data.issues} == {"data_unavailable"}
    assert all("allow-list" in i.message for i in data.issues)


def test_allow_list_is_an_exact_match() -> None:
    assert is_allowed_server("https://ehr.example.org/fhir/", [EHR])
    assert not is_allowed_server("https://ehr.example.org.evil.net/fhir", [EHR])
    assert not is_allowed_server("https://ehr.example.org/fhir/../admin", [EHR])
    assert not is_allowed_server("https://ehr.example.org/fhir2", [EHR])


def test_fetches_run_in_parallel_within_the_deadline() -> None:
    fake = FakeFhir(answers={"Patient/p1": patient()}, delay=0.3)
    resolve(request_body(prefetch={}, fhirServer=EHR, fhirAuthorization=AUTH), fake)
    assert len(fake.calls) == 7
    assert fake.max_in_flight > 1  # parallel, not one after the other


def test_deadline_already_spent_means_412() -> None:
    with pytest.raises(PrefetchUnavailable, match="deadline"):
        resolve(request_body(prefetch={}, fhirServer=EHR, fhirAuthorization=AUTH), FakeFhir(answers={"Patient/p1": patient()}), seconds=0.0)


def test_prefetched_patient_must_be_the_context_patient() -> None:
    with pytest.raises(InvalidRequest):
        resolve(request_body(prefetch={"patient": patient("p2")}), FakeFhir())


def test_encounter_start_resolves_the_same_keys() -> None:
    service = default_registry().get("derm3r-encounter-start")
    request = parse_request(request_body(hook="encounter-start", prefetch=full_prefetch()), expected_hook="encounter-start")
    resolver = PrefetchResolver(allowlist=(), allow_private=False, client_factory=FakeFhir().factory, deadline=Deadline(1), per_call_timeout=1)
    assert set(resolver.resolve(request, service).origins) == set(SERVICE.prefetch)


def test_referenced_photos_are_fetched_through_the_client(tmp_path: Path) -> None:
    media = {
        "resourceType": "Media",
        "id": "m1",
        "status": "completed",
        "subject": {"reference": "Patient/p1"},
        "createdDateTime": "2026-11-02T10:00:00Z",
        "content": {"contentType": "image/png", "url": "Binary/b1"},
    }
    fake = FakeFhir(answers={"Binary/b1": b"\x89PNG\r\n\x1a\n" + b"\x00" * 32})
    app = make_app(tmp_path, client_factory=fake.factory, fhir_allowlist=(EHR,))
    prefetch = {**full_prefetch(), "media": searchset(media), "conditions": searchset(condition())}
    response = app.test_client().post(f"/cds-services/{PV}", json=request_body(prefetch=prefetch, fhirServer=EHR, fhirAuthorization=AUTH))
    assert response.status_code == 200, response.get_json()
    assert ("attachment", "Binary/b1", TOKEN, pytest.approx(1.0, abs=1.0)) in [(k, q, t, pytest.approx(x, abs=1.0)) for k, q, t, x in fake.calls]
    assert "Media/m1" in response.get_data(as_text=True)


# ---------------------------------------------------------------- against a real FHIR server


@pytest.fixture(scope="module")
def fhir_server() -> Iterator[Any]:
    yield from start_fhir_server()


@pytest.fixture()
def loaded(fhir_server):
    synthetic = pytest.importorskip("cds_hooks.demo.synthetic")
    fhir_server.clear()
    bundle = synthetic.patient_bundle("psoriasis_moderate", photos="binary", seed=11, visits=2)
    fhir_server.load(bundle)
    fhir_server.forget_requests()  # only the service's own calls count
    return fhir_server, synthetic.patient_id(bundle)


def _server_app(tmp_path: Path, server, **overrides: Any):
    # The stand-in pipeline: these tests are about getting the data, not about the agents.
    return make_app(
        tmp_path,
        fhir_allowlist=(server.base,),
        allow_private_fhir=True,  # the test server is on loopback
        **overrides,
    )


def test_everything_fetched_from_a_real_fhir_server(tmp_path: Path, loaded) -> None:
    server, pid = loaded
    server.require_token(TOKEN)
    client = _server_app(tmp_path, server).test_client()
    body = request_body(pid, prefetch=None, fhirServer=server.base, fhirAuthorization=AUTH)
    body.pop("prefetch")
    response = client.post(f"/cds-services/{PV}", json=body)
    assert response.status_code == 200, response.get_json()
    cards = response.get_json()["cards"]
    assert cards and cards[0]["source"]["topic"]["code"] == "psoriasis-assessment"
    seen = server.seen()
    assert seen and all(r["auth"] == "valid" for r in seen)
    assert any(r["path"].endswith("/Patient/" + pid) for r in seen)
    assert any("/Binary/" in r["path"] for r in seen)  # photos fetched by reference


def test_real_fhir_server_failing_patient_read_is_412(tmp_path: Path, loaded) -> None:
    server, pid = loaded
    server.fault(match=r"GET /fhir/Patient/", status=500, count=-1)
    client = _server_app(tmp_path, server).test_client()
    body = request_body(pid, prefetch={"patient": OUTCOME}, fhirServer=server.base, fhirAuthorization=AUTH)
    response = client.post(f"/cds-services/{PV}", json=body)
    assert response.status_code == 412
    assert operation_outcome_issue(response)["expression"] == ["prefetch.patient"]
    assert client.get("/healthz").status_code == 200


def test_slow_fhir_server_is_bounded_by_the_deadline(tmp_path: Path, loaded) -> None:
    server, pid = loaded
    server.fault(match=r"GET /fhir/Patient/", delay_ms=5000, count=-1)
    client = _server_app(tmp_path, server, request_deadline_seconds=1.5, fhir_timeout_seconds=1.0).test_client()
    body = request_body(pid, prefetch={}, fhirServer=server.base, fhirAuthorization=AUTH)
    response = client.post(f"/cds-services/{PV}", json=body)
    # The server answers the Patient read after 5 s; a 412 (not the 200 that answer would give) saying
    # the server did not answer in time shows the service gave up at its own per-call timeout and
    # deadline instead of waiting, and it did not retry past the deadline.
    assert response.status_code == 412
    assert "did not answer in time" in operation_outcome_issue(response)["diagnostics"]
    assert len([r for r in server.seen() if "/Patient/" in r["path"]]) == 1


def test_a_fully_prefetched_request_never_checks_or_contacts_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[str] = []
    monkeypatch.setattr("cds_hooks.prefetch.check_outbound_host", lambda url, allow_private: checked.append(url))
    fake = FakeFhir()
    data = resolve(request_body(prefetch=full_prefetch(), fhirServer=EHR, fhirAuthorization=AUTH), fake)
    assert checked == [] and fake.calls == []  # no DNS lookup, no connection
    assert data.open_reader is not None  # referenced photos could still be fetched on demand


@pytest.mark.parametrize("element", ["entry", "link"])
def test_a_malformed_prefetched_bundle_is_a_400_naming_the_element(element: str) -> None:
    bundle = {**searchset(condition()), element: {"not": "an array"}}
    with pytest.raises(InvalidRequest) as caught:
        resolve(request_body(prefetch={**full_prefetch(), "conditions": bundle}), FakeFhir())
    assert caught.value.message == f"prefetch.conditions.{element} must be an array"
    assert caught.value.expression == f"prefetch.conditions.{element}"


def test_outcome_mode_entries_in_a_prefetched_bundle_are_reported_not_used() -> None:
    bundle = searchset(condition())
    bundle["entry"].append({"resource": OUTCOME, "search": {"mode": "outcome"}})
    data = resolve(request_body(prefetch={**full_prefetch(), "conditions": bundle}), FakeFhir())
    assert "OperationOutcome" not in {r["resourceType"] for r in data.resources}
    assert [i.code for i in data.issues] == ["prefetch_warning"]
