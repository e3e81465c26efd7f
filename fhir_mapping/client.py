"""A small FHIR R4 REST client for data the EHR did not prefetch, and for photo attachments.

Safety properties (each has a test against a real local HTTP server):
- only allow-listed base URLs (exact match after normalisation); every URL it fetches, including
  paging `next` links, redirects and attachment URLs, must stay under that base;
- redirects are never followed automatically (`allow_redirects=False`); an in-base redirect is
  followed by hand, a few times at most;
- every response is streamed and capped at `max_bytes`, and every call is bounded in time
  (connect/read timeouts plus an overall per-call deadline against slow-drip servers);
- failures are typed (`fhir_mapping.errors`) with safe messages: no token, no URL query, no body;
- work and memory are bounded, not only bytes (issue 12: a few pages of tens of thousands of
  Observations each held a worker far too long; 100,000-deep JSON escaped as RecursionError):
  responses are parsed strictly with `strict_json` (depth, duplicate keys, NaN), the JSON values one
  client may parse in total are capped (`max_values`, counted on the bytes before parsing), and a
  search stops collecting at `max_resources` resources;
- search pages are read by `fhir_mapping.searchset` (the reader prefetch resolution uses too):
  outcomes of either kind are not data, and a malformed Bundle is a `FhirBadResponse`.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from dataclasses import dataclass
from typing import Sequence
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

import requests
import urllib3

from fhir_mapping.strict_json import (
    DEFAULT_MAX_VALUES,
    JsonRejected,
    count_values_exact,
    count_values_upper_bound,
    loads_strict,
)
from fhir_mapping.errors import (
    FhirAuthError,
    FhirBadResponse,
    FhirNotAllowed,
    FhirNotFound,
    FhirUnavailable,
    MalformedBundle,
)
from fhir_mapping.searchset import read_searchset

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
_ACCEPT_JSON = f"{FHIR_JSON}, application/json;q=0.9"
_ACCEPT_ATTACHMENT = f"{FHIR_JSON};q=0.9, image/*, */*;q=0.5"
_MAX_REDIRECTS = 3
_CHUNK = 64 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Resources one search collects across its pages: the same bound the service puts on prefetch.
DEFAULT_MAX_RESOURCES = 2000


@dataclass(frozen=True)
class _Base:
    scheme: str
    netloc: str  # lower-case host, with the port only when not the scheme default
    path: str  # no trailing slash

    @property
    def url(self) -> str:
        return urlunsplit((self.scheme, self.netloc, self.path, "", ""))


def _normalise(url: str) -> _Base:
    """Canonical form of a base URL; raises FhirNotAllowed for anything that is not plain http(s)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise FhirNotAllowed("FHIR server URL is malformed") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise FhirNotAllowed("FHIR server URL must be an http(s) URL")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise FhirNotAllowed("FHIR server URL must not carry credentials, a query or a fragment")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    return _Base(scheme, netloc, parts.path.rstrip("/"))


class FhirClient:
    """Reads from one allow-listed FHIR R4 server on behalf of one CDS Hooks request."""

    def __init__(self, base_url: str, *, access_token: str | None, timeout: float, allowlist: Sequence[str],
                 max_pages: int = 5, max_bytes: int = 20_000_000, session: requests.Session | None = None,
                 max_resources: int = DEFAULT_MAX_RESOURCES, max_values: int = DEFAULT_MAX_VALUES) -> None:
        base = _normalise(base_url)
        allowed = set()
        for entry in allowlist:
            try:
                allowed.add(_normalise(entry))
            except FhirNotAllowed:
                log.warning("ignoring a malformed FHIR allow-list entry")
        if base not in allowed:
            raise FhirNotAllowed("FHIR server is not on the allow-list")
        if timeout <= 0 or max_pages < 1 or max_bytes < 1 or max_resources < 1 or max_values < 1:
            raise ValueError("timeout, max_pages, max_bytes, max_resources and max_values must be positive")
        self._base = base
        self._timeout = timeout
        self._max_pages = max_pages
        self._max_bytes = max_bytes
        self._max_resources = max_resources
        self._values_left = max_values  # shared by every response this client parses
        self.truncated = False  # set when a search stopped at max_resources
        if session is None:
            session = requests.Session()
            session.trust_env = False  # no proxies or .netrc credentials from the environment
        self._session = session
        self._headers = {"Authorization": f"Bearer {access_token}"} if access_token else {}

    @property
    def base_url(self) -> str:
        return self._base.url

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> "FhirClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ public API

    def search(self, relative_query: str) -> list[dict]:
        """Resources of a search ("Observation?patient=1&code=..."; an absolute URL under the base is
        accepted too, e.g. a `next` link), following `next` links for at most `max_pages` pages."""
        url = self._resolve(relative_query)
        found: list[dict] = []
        for page in range(self._max_pages):
            bundle = self._get_json(url, what="search")
            if bundle.get("resourceType") != "Bundle":
                raise FhirBadResponse("FHIR search did not return a Bundle")
            try:
                page_read = read_searchset(bundle)
            except MalformedBundle as exc:
                raise FhirBadResponse(f"FHIR search returned a malformed Bundle ({exc.message})") from exc
            # Outcomes (server warnings about the search) are not data: dropped, as the spec's
            # search.mode=outcome entries are meant to be.
            found.extend(page_read.resources)
            if len(found) >= self._max_resources:
                log.warning("FHIR search stopped at the resource limit (%d)", self._max_resources)
                self.truncated = True
                return found[: self._max_resources]
            next_url = page_read.next_url
            if next_url is None:
                return found
            try:
                url = self._resolve(next_url)
            except FhirNotAllowed:
                # A server pointing its paging elsewhere is misconfigured (or hostile): keep what we have.
                log.warning("FHIR search paging left the allowed base; stopped after %d page(s)", page + 1)
                return found
        log.info("FHIR search stopped at the page limit (%d)", self._max_pages)
        return found

    def read(self, reference: str) -> dict:
        """One resource by reference ("Patient/123", or an absolute URL under the base)."""
        url = self._resolve(reference)
        resource = self._get_json(url, what="read")
        expected = _reference_type(reference)
        if expected and resource.get("resourceType") != expected:
            raise FhirBadResponse(f"FHIR read returned a different resource type than {expected}")
        return resource

    def attachment(self, url: str) -> bytes:
        """Bytes of an attachment URL: relative ("Binary/123") or absolute under the base. A Binary
        returned as FHIR JSON is decoded; any other content type is returned as raw bytes."""
        target = self._resolve(url)
        response, body = self._get(target, accept=_ACCEPT_ATTACHMENT, what="attachment")
        content_type = response.headers.get("Content-Type", "").lower()
        if "json" not in content_type:
            if not body:
                raise FhirBadResponse("FHIR attachment was empty")
            return body
        resource = self._parse(body, what="attachment")
        if resource.get("resourceType") != "Binary":
            raise FhirBadResponse("FHIR attachment was JSON but not a Binary resource")
        data = resource.get("data")
        if not isinstance(data, str) or not data:
            raise FhirBadResponse("FHIR Binary has no data")
        try:
            decoded = base64.b64decode("".join(data.split()), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise FhirBadResponse("FHIR Binary data is not valid base64") from exc
        if len(decoded) > self._max_bytes:
            raise FhirBadResponse("FHIR attachment is larger than the limit")
        return decoded

    # ------------------------------------------------------------------ internals

    def _resolve(self, target: str) -> str:
        """Absolute URL for `target`, which must end up under the allowed base."""
        if not isinstance(target, str) or not target.strip():
            raise FhirNotAllowed("empty FHIR URL")
        target = target.strip()
        if target.startswith("//") or "\\" in target:
            raise FhirNotAllowed("FHIR URL form not accepted")
        parts = urlsplit(target)
        if parts.scheme or parts.netloc:
            absolute = target
        else:
            absolute = f"{self._base.url}/{target.lstrip('/')}"
        self._check_under_base(absolute)
        return absolute

    def _check_under_base(self, url: str) -> None:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise FhirNotAllowed("FHIR URL is malformed") from exc
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").lower()
        if ":" in host:
            host = f"[{host}]"
        netloc = host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
        # Decoded too: some servers resolve "%2e%2e" as "..".
        segments = [unquote(segment) for segment in parts.path.split("/")]
        if (scheme != self._base.scheme or netloc != self._base.netloc or parts.username or parts.password
                or ".." in segments or "." in segments
                or not (parts.path == self._base.path or parts.path.startswith(self._base.path + "/"))):
            raise FhirNotAllowed("URL is outside the allowed FHIR server")

    def _get_json(self, url: str, *, what: str) -> dict:
        _, body = self._get(url, accept=_ACCEPT_JSON, what=what)
        return self._parse(body, what=what)

    def _parse(self, body: bytes, *, what: str) -> dict:
        """Strict parse charged to this client's value budget (bounded before objects are built)."""
        values = count_values_upper_bound(body)
        if values > self._values_left:
            values = count_values_exact(body)  # commas in narrative text are not values
        if values > self._values_left:
            raise FhirBadResponse(f"FHIR {what} response holds more data than one request may read")
        value = _parse_json(body, what=what, max_bytes=self._max_bytes, max_values=self._values_left)
        self._values_left -= values
        return value

    def _get(self, url: str, *, accept: str, what: str) -> tuple[requests.Response, bytes]:
        deadline = time.monotonic() + self._timeout
        headers = {**self._headers, "Accept": accept}
        for _ in range(_MAX_REDIRECTS + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FhirUnavailable(f"FHIR {what} timed out")
            try:
                response = self._session.get(url, headers=headers, timeout=(remaining, remaining),
                                             allow_redirects=False, stream=True)
            except requests.Timeout as exc:
                raise FhirUnavailable(f"FHIR {what} timed out") from exc
            except requests.RequestException as exc:
                # The exception text can include the URL (with patient ids in the query): drop it.
                raise FhirUnavailable(f"FHIR server unreachable during {what} ({type(exc).__name__})") from exc
            try:
                if response.is_redirect:
                    location = response.headers.get("Location", "")
                    next_url = urljoin(url, location)
                    try:
                        self._check_under_base(next_url)
                    except FhirNotAllowed as exc:
                        raise FhirNotAllowed(f"FHIR {what} redirected outside the allowed server") from exc
                    url = next_url
                    continue
                self._raise_for_status(response.status_code, what)
                return response, self._read_body(response, deadline, what)
            finally:
                response.close()
        raise FhirBadResponse(f"FHIR {what} redirected too many times")

    @staticmethod
    def _raise_for_status(status: int, what: str) -> None:
        if 200 <= status < 300:
            return
        if status in (401, 403):
            raise FhirAuthError(f"FHIR server refused the {what} ({status})", status=status)
        if status in (404, 410):
            raise FhirNotFound(f"FHIR {what}: not found ({status})", status=status)
        if status == 429 or status >= 500:
            raise FhirUnavailable(f"FHIR server error during {what} ({status})", status=status)
        raise FhirBadResponse(f"FHIR {what} failed ({status})", status=status)

    def _read_body(self, response: requests.Response, deadline: float, what: str) -> bytes:
        declared = response.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_bytes:
            raise FhirBadResponse(f"FHIR {what} response is larger than the limit")
        chunks: list[bytes] = []
        size = 0
        # read1 returns what one socket read gives, so the overall deadline is checked even when a
        # server drips bytes just fast enough to beat the per-read timeout.
        read1 = getattr(response.raw, "read1", None)
        pieces = (iter(lambda: read1(_CHUNK, decode_content=True), b"") if read1 is not None
                  else response.iter_content(_CHUNK))
        try:
            for chunk in pieces:
                size += len(chunk)
                if size > self._max_bytes:
                    raise FhirBadResponse(f"FHIR {what} response is larger than the limit")
                if time.monotonic() > deadline:
                    raise FhirUnavailable(f"FHIR {what} timed out while reading the response")
                chunks.append(chunk)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise FhirUnavailable(f"FHIR {what} response was interrupted ({type(exc).__name__})") from exc
        return b"".join(chunks)


def _parse_json(body: bytes, *, what: str, max_bytes: int, max_values: int) -> dict:
    try:
        value = loads_strict(body, max_bytes=max_bytes, max_values=max_values)
    except JsonRejected as exc:
        # No detail from the document itself: this message reaches the clinician's card.
        why = "holds more data than one request may read" if exc.too_large else "is not valid JSON"
        raise FhirBadResponse(f"FHIR {what} response {why}") from exc
    if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
        raise FhirBadResponse(f"FHIR {what} response is not a FHIR resource")
    return value


def _reference_type(reference: str) -> str | None:
    path = urlsplit(reference).path.strip("/").split("/")
    if "_history" in path:
        path = path[: path.index("_history")]
    return path[-2] if len(path) >= 2 and path[-2][:1].isupper() else None
