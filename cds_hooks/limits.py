"""Request guards: cheap checks that run before any real work, so a hostile or broken caller costs
us bytes, not CPU or memory, and never reaches a 5xx.

The service core calls these at the boundary:

    raw = read_body(request.stream, request.content_length, settings.max_body_bytes)
    body = parse_json_body(raw, max_bytes=settings.max_body_bytes)
    check_prefetch(body.get("prefetch"))
    budget = ImageBudget(); budget.add(len(photo_bytes)) ...    # per photo, before decoding
    check_outbound_host(fhir_server_url, settings.allow_private_fhir)   # before any FHIR call
    FhirClient(..., session=outbound.outbound_session(settings))         # re-checked at connect

Image *decoding* limits (pixels, formats, bombs) live with the decoder in `inference.imaging`;
here we only bound how many photo bytes one request may make us decode.
"""

from __future__ import annotations

import ipaddress
import socket
from socket import timeout as SocketTimeout
from typing import Any, Iterable, Mapping, Protocol, TypeVar, cast
from urllib.parse import urlsplit

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import connection as urllib3_connection
from werkzeug.exceptions import RequestEntityTooLarge

from fhir_mapping.searchset import resource_count
from fhir_mapping.strict_json import DEFAULT_MAX_VALUES, JsonRejected, loads_strict

from .errors import Forbidden, InvalidRequest, PayloadTooLarge

# Nesting beyond this is never a CDS Hooks request (FHIR Bundles nest ~10 deep) and only serves to
# blow the parser's or a later walker's recursion limit.
MAX_JSON_DEPTH = 64
MAX_PREFETCH_KEYS = 32
MAX_PREFETCH_ENTRIES = 2000  # resources across all prefetch Bundles of one request
# Resources one request reads in total, prefetched and fetched from FHIR together (each FHIR search
# also stops at MAX_PREFETCH_ENTRIES); beyond it the data-quality card says what was left out.
MAX_REQUEST_RESOURCES = 2 * MAX_PREFETCH_ENTRIES
MAX_IMAGES = 12  # photos decoded per request (the model batches them; more is a batch job)
MAX_IMAGE_BYTES = 20 * 1024 * 1024  # one encoded photo
MAX_TOTAL_IMAGE_BYTES = 48 * 1024 * 1024  # all encoded photos of one request
MAX_STRING_CHARS = 64 * 1024 * 1024  # any single JSON string (base64 photos are the big ones)
MAX_JSON_VALUES = DEFAULT_MAX_VALUES  # values + keys per body, counted before parsing (issue 12)


# -- body ------------------------------------------------------------------------------------------


def check_content_length(content_length: int | None, max_bytes: int) -> None:
    """Refuse a declared oversize body before reading it. (A body without Content-Length, e.g.
    chunked, is bounded again by `parse_json_body` once read with a cap.)"""
    if content_length is not None and content_length > max_bytes:
        raise PayloadTooLarge(f"request body exceeds {max_bytes} bytes")


class _BodyStream(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def read_body(stream: _BodyStream, content_length: int | None, max_bytes: int) -> bytearray:
    """Read a request body of at most `max_bytes`, raising PayloadTooLarge (413) beyond it, also
    for chunked bodies without Content-Length. (Werkzeug's own streaming limit silently truncates
    at the maximum, which then surfaces as a misleading 400 "not valid JSON".) Pass
    `request.stream`; reads in 64 KiB pieces so memory never exceeds the limit plus one piece.
    Behind werkzeug's LimitedStream a chunked body of exactly MAX_CONTENT_LENGTH bytes is also
    refused (the stream cannot tell "ended at the limit" from "more to come").

    The body is held exactly once: with a Content-Length the pieces are copied into one buffer
    allocated at that size (no growing, no final `bytes(...)` copy: an 8-photo hook is ~14 MB),
    and the buffer itself is returned."""
    check_content_length(content_length, max_bytes)
    body = bytearray(content_length or 0)
    filled = 0
    try:
        while True:
            piece = stream.read(65536)
            if not piece:
                del body[filled:]  # a body shorter than declared: trim in place
                return body
            end = filled + len(piece)
            if end > max_bytes:
                raise PayloadTooLarge(f"request body exceeds {max_bytes} bytes")
            body[filled:end] = piece  # within the preallocated size: a copy; past it: grows
            filled = end
    except RequestEntityTooLarge as exc:
        # The stream is werkzeug's LimitedStream at MAX_CONTENT_LENGTH and was read past it.
        raise PayloadTooLarge(f"request body exceeds {max_bytes} bytes") from exc


def parse_json_body(
    raw: bytes | bytearray, *, max_bytes: int, max_depth: int = MAX_JSON_DEPTH, max_values: int = MAX_JSON_VALUES
) -> Any:
    """Strict, bounded JSON (`fhir_mapping.strict_json`: UTF-8 only, no NaN/Infinity, no duplicate
    keys, no lone surrogates, bounded size, nesting and number of values - the last counted on the
    bytes before any Python object is built) as the service's 400/413.

    Memory: pass the buffer straight in (`parse_json_body(read_body(...), ...)`): it is freed once
    decoded, so at most two copies (text + parsed values) are alive at once."""
    try:
        return loads_strict(raw, max_bytes=max_bytes, max_depth=max_depth, max_values=max_values, max_string_chars=MAX_STRING_CHARS)
    except JsonRejected as exc:
        reason = exc.reason.replace("JSON document", "request body", 1)
        raise (PayloadTooLarge if exc.too_large else InvalidRequest)(reason) from exc


# -- prefetch and images ---------------------------------------------------------------------------


def check_prefetch(prefetch: Any) -> None:
    """Bound the prefetch object: number of keys and total resources across Bundles."""
    if prefetch is None:
        return
    if not isinstance(prefetch, Mapping):
        raise InvalidRequest("prefetch must be an object", expression="prefetch")
    if len(prefetch) > MAX_PREFETCH_KEYS:
        raise PayloadTooLarge(f"more than {MAX_PREFETCH_KEYS} prefetch keys", expression="prefetch")
    total = 0
    for key, resource in prefetch.items():
        total += resource_count(resource)
        if total > MAX_PREFETCH_ENTRIES:
            raise PayloadTooLarge(
                f"prefetch holds more than {MAX_PREFETCH_ENTRIES} resources", expression=f"prefetch.{key}"[:200]
            )


def base64_decoded_size(data: str) -> int:
    """Upper bound of the decoded size of a base64 string, without decoding it (so a 40 MB
    attachment can be refused before allocating its bytes)."""
    return (len(data) * 3) // 4


class ImageBudget:
    """Counts photos and bytes for one request; `add` before decoding each photo."""

    def __init__(
        self,
        *,
        max_images: int = MAX_IMAGES,
        max_image_bytes: int = MAX_IMAGE_BYTES,
        max_total_bytes: int = MAX_TOTAL_IMAGE_BYTES,
    ) -> None:
        self.max_images = max_images
        self.max_image_bytes = max_image_bytes
        self.max_total_bytes = max_total_bytes
        self.count = 0
        self.total_bytes = 0

    def add(self, size: int, *, expression: str | None = None) -> None:
        if size > self.max_image_bytes:
            raise PayloadTooLarge(f"an image exceeds {self.max_image_bytes} bytes", expression=expression)
        if self.count + 1 > self.max_images:
            raise PayloadTooLarge(f"more than {self.max_images} images in one request", expression=expression)
        if self.total_bytes + size > self.max_total_bytes:
            raise PayloadTooLarge(f"images exceed {self.max_total_bytes} bytes in total", expression=expression)
        self.count += 1
        self.total_bytes += size


def check_images(sizes: Iterable[int]) -> None:
    """One-shot form of ImageBudget for a list of encoded photo sizes."""
    budget = ImageBudget()
    for size in sizes:
        budget.add(size)


# -- outbound requests (SSRF) ----------------------------------------------------------------------

# Never a FHIR server, whatever DERM3R_ALLOW_PRIVATE_FHIR says: link-local includes the cloud
# metadata endpoints (169.254.169.254, fd00:ec2::254 is ULA and covered by is_private), and
# unspecified/multicast/reserved addresses have no legitimate use as an HTTP peer.
def _always_refused(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if ip.is_loopback:  # ::1 sits inside the IPv6 "reserved" ::/8 block; loopback is judged apart
        return False
    return ip.is_link_local or ip.is_unspecified or ip.is_multicast or ip.is_reserved


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return ip.is_global and not ip.is_private and not ip.is_loopback


def _unwrap(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """IPv4-mapped (::ffff:127.0.0.1), 6to4 (2002:7f00:1::) and NAT64 forms reach IPv4 hosts, so
    judge the IPv4 address they embed."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def resolve_outbound(url: str, allow_private: bool) -> list[str]:
    """Validate an outbound URL and return the IP addresses it resolves to (all checked). Callers
    that can pin the connection to these addresses defeat DNS rebinding between check and use."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise Forbidden("outbound URL is malformed") from exc
    if parts.scheme not in {"http", "https"}:
        raise Forbidden("outbound URL scheme must be http or https")
    if parts.username is not None or parts.password is not None:
        raise Forbidden("outbound URL must not carry credentials")
    host = parts.hostname
    if not host:
        raise Forbidden("outbound URL has no host")
    return vet_host(host, port, allow_private)


def vet_host(host: str, port: int, allow_private: bool) -> list[str]:
    """Resolve `host` and return its addresses if every one of them may be contacted; Forbidden
    otherwise (a name with one public and one private address is refused as a whole)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise Forbidden("outbound host does not resolve") from exc
    addresses: list[str] = []
    for info in infos:
        raw = str(info[4][0])
        ip = _unwrap(ipaddress.ip_address(raw.split("%", 1)[0]))  # drop an IPv6 zone id
        if _always_refused(ip):
            raise Forbidden("outbound host is a link-local, multicast or reserved address")
        if not allow_private and not _is_public(ip):
            raise Forbidden("outbound host is a private or loopback address")
        if raw not in addresses:
            addresses.append(raw)
    if not addresses:
        raise Forbidden("outbound host does not resolve")
    return addresses


def check_outbound_host(url: str, allow_private: bool) -> None:
    """Refuse outbound requests (FHIR server, attachment URLs) to hosts that resolve to private,
    loopback or link-local addresses unless `allow_private` (DERM3R_ALLOW_PRIVATE_FHIR). Every
    resolved address must pass: a name resolving to one public and one private address is refused.
    Raises Forbidden (403) with a reason that names no address."""
    resolve_outbound(url, allow_private)


# -- connect-time guard (DNS rebinding) --------------------------------------------------------------


class OutboundBlocked(ConnectionRefusedError):
    """A connection the guard refused; an OSError so HTTP libraries report a failed connection."""


_Conn = TypeVar("_Conn", bound=HTTPConnection)


def _guarded_connection(base: type[_Conn], allow_private: bool) -> type[_Conn]:
    class Guarded(base):  # type: ignore[valid-type,misc]
        def _new_conn(self) -> socket.socket:
            # Resolve once, vet every address, then connect to a vetted address: a name that
            # resolved to a public address at check time and to 127.0.0.1 now (DNS rebinding)
            # is judged by what we actually connect to. Host header and TLS SNI/verification
            # still use the name (self.host), so HTTPS works unchanged.
            try:
                addresses = vet_host(self.host, self.port, allow_private)
            except Forbidden as exc:
                raise NewConnectionError(self, f"Failed to establish a new connection: {exc.message}") from OutboundBlocked(exc.message)
            last: OSError | None = None
            for address in addresses:
                try:
                    return urllib3_connection.create_connection(
                        (address, self.port), self.timeout, source_address=self.source_address, socket_options=self.socket_options
                    )
                except SocketTimeout as exc:
                    raise ConnectTimeoutError(self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})") from exc
                except OSError as exc:
                    last = exc
            raise NewConnectionError(self, f"Failed to establish a new connection: {last}") from last

    Guarded.__name__ = f"Guarded{base.__name__}"
    return cast("type[_Conn]", Guarded)


class GuardedAdapter(HTTPAdapter):
    """requests adapter whose connections re-check the peer address at connect time."""

    def __init__(self, allow_private: bool, *, allow_proxy: bool = False, **kwargs: Any) -> None:
        self.allow_private = allow_private
        self.allow_proxy = allow_proxy
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        http_conn = _guarded_connection(HTTPConnection, self.allow_private)
        https_conn = _guarded_connection(HTTPSConnection, self.allow_private)

        class HttpPool(HTTPConnectionPool):
            ConnectionCls = http_conn

        class HttpsPool(HTTPSConnectionPool):
            ConnectionCls = https_conn

        self.poolmanager.pool_classes_by_scheme = {"http": HttpPool, "https": HttpsPool}

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        # Through a proxy we would vet the proxy, not the target. Only a proxy the operator
        # configured (Settings.outbound) is used, and `outbound` vets the target's name before
        # each proxied request; the proxy is the hospital's own egress.
        if not self.allow_proxy:
            raise OutboundBlocked("outbound requests through a proxy are not supported by the guard")
        return super().proxy_manager_for(proxy, **proxy_kwargs)
