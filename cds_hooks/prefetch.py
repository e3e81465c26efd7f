"""Resolve a service's prefetch keys into FHIR resources for one request.

For each prefetch key the request carries:
  * a resource (not an OperationOutcome) -> use it; a search Bundle is flattened to its entries, and
    its `next` links are followed through the FHIR client (the spec lets EHRs paginate prefetch);
  * null -> the EHR has no such data: nothing to fetch;
  * an OperationOutcome, or the key is absent -> fetch the query ourselves from `fhirServer` with the
    bearer token, but only from allow-listed FHIR servers and within the request deadline.
A required key that cannot be had raises `PrefetchUnavailable` (HTTP 412, spec SHALL); an optional
one becomes a `DataIssue` that the data-quality card shows."""

from __future__ import annotations

import dataclasses
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Protocol

from cds_hooks.deadline import Deadline
from cds_hooks.errors import Forbidden, InvalidRequest, PrefetchUnavailable
from cds_hooks.limits import MAX_REQUEST_RESOURCES, check_outbound_host
from cds_hooks.registry import ServiceDefinition, render_template
from cds_hooks.settings import Settings
from cds_hooks.wire.request import HookRequest
from fhir_mapping.errors import FhirAuthError, FhirError, FhirNotAllowed, FhirNotFound, FhirUnavailable, MalformedBundle
from fhir_mapping.queries import key_label
from fhir_mapping.searchset import is_bundle, read_searchset
from inference.case import DataIssue
from inference.i18n import t

log = logging.getLogger(__name__)

_MAX_PARALLEL_FETCHES = 4  # one request never opens more FHIR connections than this at once


class FhirReader(Protocol):
    """The part of `fhir_mapping.client.FhirClient` the service uses."""

    def search(self, query: str) -> list[dict]: ...

    def read(self, ref: str) -> dict: ...

    def attachment(self, url: str) -> bytes: ...

    def close(self) -> None: ...


# (base_url, access_token or None, timeout_seconds) -> client
ClientFactory = Callable[[str, "str | None", float], FhirReader]


@dataclass(frozen=True)
class ResolvedData:
    resources: tuple[dict, ...]
    issues: tuple[DataIssue, ...] = ()
    # key -> where its data came from: "prefetch", "prefetch-null", "fhir", "unavailable" (audit)
    origins: Mapping[str, str] = field(default_factory=dict)
    # Opens a client for photo attachments (the caller closes it); None when there is no usable server.
    open_reader: Callable[[], FhirReader] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class _Outcome:
    key: str
    resources: tuple[dict, ...] = ()
    origin: str = "prefetch"
    problem: str | None = None  # why the data could not be had (safe to show)
    issues: tuple[DataIssue, ...] = ()


def is_allowed_server(fhir_server: str, allowlist: Iterable[str]) -> bool:
    """Exact match of the normalised base URL: prefix matching would let `https://ehr.example.org.evil`
    or `https://ehr.example.org/../other` through."""
    normalised = fhir_server.rstrip("/")
    return any(normalised == allowed.rstrip("/") for allowed in allowlist)


def _flatten(resource: Mapping[str, Any], key: str) -> tuple[tuple[dict, ...], tuple[DataIssue, ...], str | None]:
    """A prefetch value -> (its resources, DataIssues for the EHR's search outcomes, the `next` link
    of a paginated searchset). A resource that is not a Bundle is its own single resource."""
    if not is_bundle(resource):
        return (dict(resource),), (), None
    try:
        page = read_searchset(resource)
    except MalformedBundle as exc:
        raise InvalidRequest(f"prefetch.{key}.{exc.message}", expression=f"prefetch.{key}.{exc.element}") from exc
    issues = tuple(
        DataIssue("prefetch_warning", t("{get}: the EHR reported a problem with this search.", get=key_label(key))) for _ in page.outcomes
    )
    return page.resources, issues, page.next_url


class PrefetchResolver:
    """Resolves one request's prefetch. Built per request (it holds the request's deadline)."""

    def __init__(
        self,
        *,
        allowlist: tuple[str, ...],
        allow_private: bool,
        client_factory: ClientFactory,
        deadline: Deadline,
        per_call_timeout: float,
    ) -> None:
        self._allowlist = allowlist
        self._allow_private = allow_private
        self._client_factory = client_factory
        self._deadline = deadline
        self._per_call_timeout = per_call_timeout
        self._problem: str | None | object = _UNCHECKED

    @classmethod
    def for_request(cls, settings: Settings, client_factory: ClientFactory, deadline: Deadline) -> "PrefetchResolver":
        """The resolver both handlers use: allow-list, private-address policy and per-call timeout
        from the service settings, the request's own deadline."""
        return cls(
            allowlist=settings.fhir_allowlist,
            allow_private=settings.allow_private_fhir,
            client_factory=client_factory,
            deadline=deadline,
            per_call_timeout=settings.fhir_timeout_seconds,
        )

    def _server_problem(self, request: HookRequest) -> str | None:
        """Why `fhirServer` cannot be used (None: it can). Checked once, and only when a FHIR call
        is actually needed: a fully prefetched request costs no DNS lookup."""
        if self._problem is _UNCHECKED:
            self._problem = self._check_server(request)
        return self._problem  # type: ignore[return-value]

    def resolve(self, request: HookRequest, service: ServiceDefinition) -> ResolvedData:
        tokens = request.context.tokens()
        outcomes: dict[str, _Outcome] = {}
        to_fetch: dict[str, str] = {}
        for key, template in service.prefetch.items():
            query = render_template(template, tokens)
            if query is None:  # e.g. an optional context field was not sent: nothing to ask for
                outcomes[key] = _Outcome(key, origin="prefetch-null")
                continue
            value = request.prefetch.get(key, _ABSENT)
            if value is None:
                outcomes[key] = _Outcome(key, origin="prefetch-null")
            elif isinstance(value, dict) and value.get("resourceType") not in (None, "OperationOutcome"):
                outcomes[key] = self._from_prefetch(key, value, request)
            else:  # absent, an OperationOutcome, or not a resource: the EHR could not satisfy it
                to_fetch[key] = query
        if to_fetch:
            server_problem = self._server_problem(request)
            if server_problem is not None:
                for key in to_fetch:
                    outcomes[key] = _Outcome(key, origin="unavailable", problem=server_problem)
            else:
                outcomes.update(self._fetch_all(request, to_fetch))
        self._check_patient(request, service, outcomes)
        return self._assemble(request, service, outcomes)

    # -- where data cannot come from ------------------------------------------------------------

    def _check_server(self, request: HookRequest) -> str | None:
        if request.fhir_server is None:
            return t("the request has no fhirServer to fetch it from")
        if not is_allowed_server(request.fhir_server, self._allowlist):
            return t("the request's fhirServer is not on this service's FHIR allow-list (DERM3R_FHIR_ALLOWLIST)")
        try:
            check_outbound_host(request.fhir_server, self._allow_private)
        except Forbidden as exc:
            return t("the request's fhirServer cannot be used ({message})", message=exc.message)
        return None

    def _client(self, request: HookRequest) -> FhirReader:
        token = request.fhir_authorization.access_token if request.fhir_authorization else None
        assert request.fhir_server is not None  # guarded by _server_problem
        return self._client_factory(request.fhir_server, token, self._deadline.timeout(self._per_call_timeout))

    # -- prefetched values ------------------------------------------------------------------------

    def _from_prefetch(self, key: str, value: Mapping[str, Any], request: HookRequest) -> _Outcome:
        resources, issues, next_url = _flatten(value, key)
        if next_url is None:
            return _Outcome(key, resources, "prefetch", issues=issues)
        # The EHR paginated the prefetch: the rest comes from its FHIR server (bounded by the client).
        if self._deadline.expired() or self._server_problem(request) is not None:
            issue = DataIssue("prefetch_truncated", t("{get}: only the first page was provided and the rest could not be fetched.", get=key_label(key)))
            return _Outcome(key, resources, "prefetch", issues=issues + (issue,))
        try:
            client = self._client(request)
            try:
                more = client.search(next_url)
                if getattr(client, "truncated", False):
                    issues = issues + (_truncation_issue(key),)
            finally:
                client.close()
        except FhirError as exc:
            log.info("prefetch %s: next page not fetched (%s)", key, type(exc).__name__)
            issue = DataIssue("prefetch_truncated", t("{get}: only the first page was provided ({message}).", get=key_label(key), message=exc.message))
            return _Outcome(key, resources, "prefetch", issues=issues + (issue,))
        return _Outcome(key, resources + tuple(more), "prefetch", issues=issues)

    # -- fetching ---------------------------------------------------------------------------------

    def _fetch_all(self, request: HookRequest, queries: Mapping[str, str]) -> dict[str, _Outcome]:
        if len(queries) == 1:
            key, query = next(iter(queries.items()))
            return {key: self._fetch(request, key, query)}
        # Parallel: the spec asks for answers in about 500 ms, and FHIR round-trips dominate.
        with ThreadPoolExecutor(max_workers=min(_MAX_PARALLEL_FETCHES, len(queries)), thread_name_prefix="prefetch") as pool:
            futures = {key: pool.submit(self._fetch, request, key, query) for key, query in queries.items()}
            return {key: future.result() for key, future in futures.items()}

    def _fetch(self, request: HookRequest, key: str, query: str) -> _Outcome:
        if self._deadline.expired():
            return _Outcome(key, origin="unavailable", problem=t("the request deadline passed before it could be fetched"))
        try:
            client = self._client(request)
            try:
                found = tuple(client.search(query)) if "?" in query else (client.read(query),)
                truncated = bool(getattr(client, "truncated", False))
            finally:
                client.close()
        except FhirNotFound:
            return _Outcome(key, origin="fhir", problem=t("the FHIR server does not have it"))
        except FhirAuthError:
            return _Outcome(key, origin="unavailable", problem=t("the FHIR server refused the access token or its scope"))
        except FhirUnavailable:
            return _Outcome(key, origin="unavailable", problem=t("the FHIR server did not answer in time"))
        except FhirNotAllowed:
            return _Outcome(key, origin="unavailable", problem=t("the FHIR server redirected outside the allow-list"))
        except FhirError as exc:
            return _Outcome(key, origin="unavailable", problem=exc.message)
        log.debug("prefetch %s fetched from FHIR (%d resources)", key, len(found))
        issues = (_truncation_issue(key),) if truncated else ()
        return _Outcome(key, tuple(r for r in found if r.get("resourceType") != "OperationOutcome"), "fhir", issues=issues)

    # -- checks and assembly ----------------------------------------------------------------------

    @staticmethod
    def _check_patient(request: HookRequest, service: ServiceDefinition, outcomes: Mapping[str, _Outcome]) -> None:
        """Prefetched data about another patient is a safety problem, not a data gap: refuse."""
        for key in service.required_prefetch:
            outcome = outcomes.get(key)
            if outcome is None:
                continue
            for resource in outcome.resources:
                if resource.get("resourceType") == "Patient" and resource.get("id") not in (None, request.context.patient_id):
                    raise InvalidRequest(f"prefetch.{key} is a different patient than context.patientId", expression=f"prefetch.{key}")

    def _assemble(
        self, request: HookRequest, service: ServiceDefinition, outcomes: Mapping[str, _Outcome]
    ) -> ResolvedData:
        resources: list[dict] = []
        issues: list[DataIssue] = []
        shares = _shares(service, outcomes)
        for key in service.prefetch:
            outcome = outcomes[key]
            label = key_label(key)
            if len(outcome.resources) > shares[key]:
                # Prefetched and fetched data together stay within one request's bound (issue 12:
                # the prefetch cap alone let FHIR paging bring in 100,000 resources).
                outcome = dataclasses.replace(outcome, resources=outcome.resources[: shares[key]],
                                              issues=outcome.issues + (_truncation_issue(key),))
            if key in service.required_prefetch and (outcome.problem is not None or not outcome.resources):
                why = outcome.problem or t("the EHR reported that it has no such data")
                raise PrefetchUnavailable(f"{label} is required and could not be obtained: {why}.", expression=f"prefetch.{key}")
            if outcome.problem is not None:
                issues.append(DataIssue("data_unavailable", t("{label} could not be retrieved ({problem}); the assessment used what was available.", label=label, problem=outcome.problem)))
            resources.extend(outcome.resources)
            issues.extend(outcome.issues)
        def open_reader() -> FhirReader:
            problem = self._server_problem(request)
            if problem is not None:
                raise FhirNotAllowed(problem)
            return self._client(request)

        return ResolvedData(
            resources=tuple(resources),
            issues=tuple(issues),
            origins={key: outcomes[key].origin for key in service.prefetch},
            open_reader=open_reader if request.fhir_server is not None else None,
        )


def _shares(service: ServiceDefinition, outcomes: Mapping[str, _Outcome]) -> dict[str, int]:
    """How many resources each key may keep within MAX_REQUEST_RESOURCES: what the EHR prefetched
    first (already bounded, and chosen by the EHR), then fetched data in the service's key order."""
    room = MAX_REQUEST_RESOURCES
    shares: dict[str, int] = {}
    for key in sorted(service.prefetch, key=lambda k: outcomes[k].origin != "prefetch"):
        shares[key] = min(len(outcomes[key].resources), room)
        room -= shares[key]
    return shares


def _truncation_issue(key: str) -> DataIssue:
    return DataIssue(
        "data_truncated",
        t("{get}: more records than one request may read; only the first were used.", get=key_label(key)),
    )


_ABSENT = object()
_UNCHECKED = object()
