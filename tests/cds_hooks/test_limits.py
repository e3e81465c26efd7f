"""Request guards (cds_hooks.limits): body, JSON shape, prefetch and image budgets, outbound host
checks (SSRF)."""

from __future__ import annotations

import io
import socket
from pathlib import Path
from typing import Any

import pytest
import requests

from cds_hooks.errors import Forbidden, InvalidRequest, PayloadTooLarge
from cds_hooks.limits import (
    MAX_IMAGES,
    MAX_JSON_DEPTH,
    MAX_PREFETCH_ENTRIES,
    ImageBudget,
    base64_decoded_size,
    check_content_length,
    check_images,
    check_outbound_host,
    check_prefetch,
    parse_json_body,
    read_body,
    resolve_outbound,
)
from cds_hooks.outbound import guarded_session
from loopback import json_server

MB = 1024 * 1024


def test_valid_body_parses() -> None:
    assert parse_json_body(b'{"hook": "patient-view", "context": {"patientId": "p1"}}', max_bytes=MB) == {
        "hook": "patient-view",
        "context": {"patientId": "p1"},
    }


@pytest.mark.parametrize(
    ("raw", "error", "message"),
    [
        (b"", InvalidRequest, "empty"),
        (b"   \n", InvalidRequest, "empty"),
        (b"{", InvalidRequest, "not valid JSON"),
        (b"{'a': 1}", InvalidRequest, "not valid JSON"),
        (b'{"a": 1,}', InvalidRequest, "not valid JSON"),
        (b'{"a": 1} {"b": 2}', InvalidRequest, "not valid JSON"),
        (b"\xff\xfe{\x00}\x00", InvalidRequest, "not UTF-8"),
        (b'{"a": "\xc3\x28"}', InvalidRequest, "not UTF-8"),
        ('\ufeff{"a": 1}'.encode(), InvalidRequest, "byte order mark"),
        (b'{"a": NaN}', InvalidRequest, "NaN"),
        (b'{"a": -Infinity}', InvalidRequest, "NaN"),
        (b'{"a": 1, "a": 2}', InvalidRequest, "duplicate JSON key"),
        (b'{"a": 1e999}', InvalidRequest, "out of range"),
        (b'{"a": -1e400}', InvalidRequest, "out of range"),
        (b'{"a": 1' + b"0" * 5000 + b"}", InvalidRequest, "not valid JSON"),  # int digit limit
        (b'{"a": "\\ud800"}', InvalidRequest, "surrogate"),
        (b'{"\\udfff": 1}', InvalidRequest, "surrogate"),
        (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), InvalidRequest, "nesting"),
        (b"[" * 100_000 + b"]" * 100_000, InvalidRequest, "nesting"),  # would exhaust recursion
        (b'{"a":' * 5000 + b"1" + b"}" * 5000, InvalidRequest, "nesting"),
        (b"x" * (MB + 1), PayloadTooLarge, "exceeds"),
    ],
    ids=[
        "empty", "whitespace", "truncated", "single quotes", "trailing comma", "two documents",
        "utf16", "bad utf8", "bom", "nan", "infinity", "duplicate key", "overflow float",
        "overflow negative float", "huge integer", "lone surrogate value",
        "lone surrogate key", "depth+1", "deep arrays", "deep objects", "oversize",
    ],
)
def test_hostile_bodies(raw: bytes, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        parse_json_body(raw, max_bytes=MB)


def test_depth_limit_is_exact() -> None:
    ok = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert parse_json_body(ok, max_bytes=MB) is not None


def test_declared_content_length() -> None:
    check_content_length(None, MB)
    check_content_length(MB, MB)
    with pytest.raises(PayloadTooLarge):
        check_content_length(MB + 1, MB)


def test_read_body_bounds_streams() -> None:
    assert read_body(io.BytesIO(b"x" * 100), None, 100) == b"x" * 100
    assert read_body(io.BytesIO(b"x" * 100), 100, 100) == b"x" * 100
    with pytest.raises(PayloadTooLarge):
        read_body(io.BytesIO(b"x" * 101), None, 100)  # chunked: no Content-Length
    with pytest.raises(PayloadTooLarge):
        read_body(io.BytesIO(b""), 10**9, 100)  # declared too large: refused before reading


def test_read_body_behind_werkzeug_limit() -> None:
    from werkzeug.wsgi import LimitedStream

    with pytest.raises(PayloadTooLarge):
        read_body(LimitedStream(io.BytesIO(b"x" * 500), 100, is_max=True), None, 100)
    assert read_body(LimitedStream(io.BytesIO(b"x" * 50), 100, is_max=True), None, 100) == b"x" * 50


def test_prefetch_limits() -> None:
    check_prefetch(None)
    check_prefetch({"patient": {"resourceType": "Patient"}, "obs": {"resourceType": "Bundle", "entry": [{}] * 10}})
    with pytest.raises(InvalidRequest):
        check_prefetch(["not", "an", "object"])
    with pytest.raises(PayloadTooLarge):
        check_prefetch({f"k{i}": {} for i in range(100)})
    with pytest.raises(PayloadTooLarge):
        check_prefetch({"obs": {"resourceType": "Bundle", "entry": [{}] * (MAX_PREFETCH_ENTRIES + 1)}})


def test_image_budget() -> None:
    check_images([100] * MAX_IMAGES)
    with pytest.raises(PayloadTooLarge, match="more than"):
        check_images([100] * (MAX_IMAGES + 1))
    with pytest.raises(PayloadTooLarge, match="an image exceeds"):
        ImageBudget(max_image_bytes=10).add(11)
    budget = ImageBudget(max_total_bytes=25)
    budget.add(10)
    budget.add(10)
    with pytest.raises(PayloadTooLarge, match="in total"):
        budget.add(10)
    assert base64_decoded_size("QUJD") == 3


# -- SSRF -------------------------------------------------------------------------------------------


def _fake_dns(monkeypatch: pytest.MonkeyPatch, table: dict[str, list[str]]) -> None:
    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "not found")
        return [(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in table[host]]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


SSRF_VECTORS = [
    "http://127.0.0.1/fhir",
    "http://localhost:8080/fhir",
    "http://[::1]/fhir",
    "http://[::ffff:127.0.0.1]/fhir",
    "http://2130706433/fhir",  # decimal 127.0.0.1
    "http://0x7f.0.0.1/fhir",  # hex octet
    "http://0177.0.0.1/fhir",  # octal octet
    "http://10.0.0.5/fhir",
    "http://192.168.1.1/fhir",
    "http://172.16.0.1/fhir",
    "http://100.64.0.1/fhir",  # carrier-grade NAT
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://[fe80::1]/fhir",
    "http://0.0.0.0/fhir",
    "http://[2002:7f00:1::]/fhir",  # 6to4 wrapping 127.0.0.1
    "http://[64:ff9b::7f00:1]/fhir",  # NAT64 wrapping 127.0.0.1
    "http://rebind.example/fhir",  # resolves to public AND private
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_INFO",
    "ftp://ehr.example/fhir",
    "http://user:secret@ehr.example/fhir",
    "http:///fhir",
    "http://nxdomain.example/fhir",
    "http://[::1/fhir",  # malformed
]


@pytest.mark.parametrize("url", SSRF_VECTORS)
def test_ssrf_vectors_refused(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    _fake_dns(
        monkeypatch,
        {
            "localhost": ["127.0.0.1", "::1"],
            "rebind.example": ["93.184.216.34", "10.0.0.1"],
            "ehr.example": ["93.184.216.34"],
            "127.0.0.1": ["127.0.0.1"],
            "::1": ["::1"],
            "::ffff:127.0.0.1": ["::ffff:127.0.0.1"],
            "2130706433": ["127.0.0.1"],
            "0x7f.0.0.1": ["127.0.0.1"],
            "0177.0.0.1": ["127.0.0.1"],
            "10.0.0.5": ["10.0.0.5"],
            "192.168.1.1": ["192.168.1.1"],
            "172.16.0.1": ["172.16.0.1"],
            "100.64.0.1": ["100.64.0.1"],
            "169.254.169.254": ["169.254.169.254"],
            "fe80::1": ["fe80::1"],
            "0.0.0.0": ["0.0.0.0"],
            "2002:7f00:1::": ["2002:7f00:1::"],
            "64:ff9b::7f00:1": ["64:ff9b::7f00:1"],
        },
    )
    with pytest.raises(Forbidden):
        check_outbound_host(url, allow_private=False)


def test_real_resolver_refuses_numeric_loopback_forms() -> None:
    # No monkeypatching: the system resolver turns these into 127.0.0.1.
    for url in ("http://127.1/", "http://2130706433/", "http://0x7f000001/", "http://[::ffff:7f00:1]/"):
        with pytest.raises(Forbidden):
            check_outbound_host(url, allow_private=False)


def test_public_host_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_dns(monkeypatch, {"ehr.example": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]})
    assert resolve_outbound("https://ehr.example/fhir", allow_private=False) == [
        "93.184.216.34",
        "2606:2800:220:1:248:1893:25c8:1946",
    ]


def test_private_allowed_when_configured() -> None:
    check_outbound_host("http://127.0.0.1:8103/fhir/R4", allow_private=True)
    check_outbound_host("http://[::1]:8103/fhir/R4", allow_private=True)


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/", "http://0.0.0.0/", "http://224.0.0.1/"])
def test_link_local_and_unspecified_refused_even_when_private_allowed(url: str) -> None:
    with pytest.raises(Forbidden):
        check_outbound_host(url, allow_private=True)


def test_forbidden_message_names_no_address(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_dns(monkeypatch, {"internal.example": ["10.1.2.3"]})
    with pytest.raises(Forbidden) as err:
        check_outbound_host("http://internal.example/fhir", allow_private=False)
    assert "10.1.2.3" not in err.value.message and "internal.example" not in err.value.message


# -- connect-time guard (DNS rebinding) -------------------------------------------------------------


@pytest.fixture()
def loopback_server() -> Any:
    with json_server(default=b"ok") as server:
        yield int(server.base.rsplit(":", 1)[1]), server.hits


def test_guarded_session_refuses_loopback(loopback_server: Any) -> None:
    port, hits = loopback_server
    with pytest.raises(requests.ConnectionError):
        guarded_session(allow_private=False).get(f"http://127.0.0.1:{port}/secret", timeout=5)
    with pytest.raises(requests.ConnectionError):
        guarded_session(allow_private=False).get(f"http://localhost:{port}/secret", timeout=5)
    assert hits == []


def test_guarded_session_allows_private_when_configured(loopback_server: Any) -> None:
    port, hits = loopback_server
    response = guarded_session(allow_private=True).get(f"http://127.0.0.1:{port}/fhir/metadata", timeout=5)
    assert response.status_code == 200 and hits == ["/fhir/metadata"]


def test_guarded_session_defeats_dns_rebinding(monkeypatch: pytest.MonkeyPatch, loopback_server: Any) -> None:
    """The name resolves to a public address when checked and to 127.0.0.1 when connecting."""
    port, hits = loopback_server
    real_getaddrinfo = socket.getaddrinfo
    answers = iter(["93.184.216.34"] + ["127.0.0.1"] * 10)

    def rebinding(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == "rebind.test":
            ip = next(answers)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, args[0] if args else 0))]
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    url = f"http://rebind.test:{port}/internal"
    check_outbound_host(url, allow_private=False)  # the pre-flight check sees the public address
    with pytest.raises(requests.ConnectionError):
        guarded_session(allow_private=False).get(url, timeout=5)
    assert hits == []
    # Without the guard the same sequence reaches the internal server: the attack is real.
    plain = requests.Session()
    plain.trust_env = False
    assert plain.get(url, timeout=5).status_code == 200
    assert hits == ["/internal"]


def test_guarded_session_keeps_tls_hostname_verification(tmp_path: Path) -> None:
    """Connecting to the vetted IP must not change what TLS verifies: the certificate is still
    checked against the host name (SNI and hostname match), so HTTPS works and a wrong name fails."""
    import datetime
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    with json_server(default=b"ok", tls=context) as server:
        port = int(server.base.rsplit(":", 1)[1])
        session = guarded_session(allow_private=True)
        assert session.get(f"https://localhost:{port}/", verify=str(cert_path), timeout=5).text == "ok"
        with pytest.raises(requests.exceptions.SSLError):
            session.get(f"https://127.0.0.1:{port}/", verify=str(cert_path), timeout=5)  # name not in cert
