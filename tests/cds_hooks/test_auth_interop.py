"""Key rules that interoperate with real CDS Clients, and outbound HTTPS that works behind a
hospital CA or proxy.

* A token shaped exactly like the CDS Hooks Sandbox's (ES384, a `kid`, a `jku` naming its JWKS
  URL that the trust file does not allow-list) verifies against the key pinned inline; the same
  token signed with another key is refused; the off-list jku is never fetched.
* An allow-listed jku is fetched.
* A JWK Set (and a FHIR server) on a loopback HTTPS server with its own CA: refused without the
  CA bundle, accepted with `DERM3R_CA_BUNDLE` / `REQUESTS_CA_BUNDLE` / `SSL_CERT_FILE`.
* Proxies per HTTPS_PROXY / HTTP_PROXY / NO_PROXY, through a real loopback proxy.
* Every 401 names its reason in the OperationOutcome and in the log, never the token.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import logging
import ssl
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import jwt
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cds_hooks.app import create_app
from cds_hooks.auth import JwksFetchError, JwtVerifier, fetch_jwks, parse_trusted_issuers
from cds_hooks.errors import Unauthorized
from cds_hooks.outbound import Outbound
from cds_hooks.runtime import fhir_client_factory
from cds_hooks.settings import Settings
from cds_hooks.storage import open_store
from loopback import JsonServer, json_server
from service_support import StubPipeline, settings_for

SANDBOX_ISS = "https://sandbox.cds-hooks.org"
SANDBOX_JKU = "https://sandbox.cds-hooks.org/.well-known/jwks.json"
SANDBOX_KID = "44823f3d-0b01-4a6c-a80e-b9d3e8a7226f"  # the kid the Sandbox puts in its header
AUD = "http://derm3r.test/cds-services/derm3r-order-sign"

SANDBOX_KEY = ec.generate_private_key(ec.SECP384R1())
OTHER_KEY = ec.generate_private_key(ec.SECP384R1())


def _jwk(private_key: Any, kid: str) -> dict:
    key = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private_key.public_key()))
    key.update({"kid": kid, "use": "sig", "alg": "ES384"})
    return key


def sandbox_token(*, key: Any = SANDBOX_KEY, aud: str = AUD, jku: str = SANDBOX_JKU, kid: str = SANDBOX_KID, iss: str = SANDBOX_ISS) -> str:
    """Header and claims exactly as the Sandbox builds them (its generateJWT)."""
    now = int(time.time())
    payload = {"iss": iss, "aud": aud, "exp": now + 300, "iat": now, "jti": str(uuid.uuid4())}
    return jwt.encode(payload, key, algorithm="ES384", headers={"alg": "ES384", "typ": "JWT", "kid": kid, "jku": jku})


class NeverFetch:
    """A fetcher that records calls: the off-list jku must never reach it."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def __call__(self, url: str) -> dict:
        self.urls.append(url)
        raise JwksFetchError("must not be fetched")


def _inline_verifier(tmp_path: Path, fetcher: Any) -> JwtVerifier:
    policies = parse_trusted_issuers({SANDBOX_ISS: {"jwks": {"keys": [_jwk(SANDBOX_KEY, SANDBOX_KID)]}, "algorithms": ["ES384"]}})
    return JwtVerifier(policies, open_store(tmp_path), fetcher=fetcher)


def test_sandbox_token_verifies_against_inline_key_without_fetching_its_jku(tmp_path: Path) -> None:
    fetcher = NeverFetch()
    verifier = _inline_verifier(tmp_path, fetcher)
    claims = verifier.verify(f"Bearer {sandbox_token()}", AUD)
    assert claims.issuer == SANDBOX_ISS
    assert fetcher.urls == []


def test_sandbox_shaped_token_signed_with_another_key_is_refused(tmp_path: Path) -> None:
    fetcher = NeverFetch()
    verifier = _inline_verifier(tmp_path, fetcher)
    with pytest.raises(Unauthorized, match="^invalid signature$"):
        verifier.verify(f"Bearer {sandbox_token(key=OTHER_KEY)}", AUD)
    # An attacker naming their own kid and JWKS URL gets nowhere either, and nothing is fetched.
    with pytest.raises(Unauthorized, match="jku is not allow-listed \\(not fetched\\)"):
        verifier.verify(f"Bearer {sandbox_token(key=OTHER_KEY, kid='attacker', jku='https://evil.example/jwks')}", AUD)
    assert fetcher.urls == []


# -- loopback servers ---------------------------------------------------------------------------


@pytest.fixture()
def http_server() -> Iterator[JsonServer]:
    with json_server() as server:
        yield server


def test_allow_listed_jku_is_fetched(tmp_path: Path, http_server: JsonServer) -> None:
    jku = f"{http_server.base}/.well-known/jwks.json"
    http_server.documents["/.well-known/jwks.json"] = {"keys": [_jwk(SANDBOX_KEY, SANDBOX_KID)]}
    policies = parse_trusted_issuers({SANDBOX_ISS: {"jku_allowlist": [jku], "algorithms": ["ES384"]}})
    verifier = JwtVerifier(policies, open_store(tmp_path))
    verifier.verify(f"Bearer {sandbox_token(jku=jku)}", AUD)
    assert http_server.hits == ["/.well-known/jwks.json"]


@dataclass(frozen=True)
class Pki:
    ca_file: Path
    cert_file: Path
    key_file: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _make_pki(directory: Path) -> Pki:
    """A private CA and a server certificate for 127.0.0.1 signed by it (as a hospital would have)."""
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("derm3r test hospital CA"))
        .issuer_name(_name("derm3r test hospital CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca_cert.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pki = Pki(directory / "hospital-ca.pem", directory / "server.pem", directory / "server.key")
    pki.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    pki.cert_file.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    pki.key_file.write_bytes(
        server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return pki


@pytest.fixture()
def https_server(tmp_path: Path) -> Iterator[tuple[JsonServer, Pki]]:
    pki = _make_pki(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.cert_file, pki.key_file)
    with json_server(tls=context) as server:
        yield server, pki


def _verifier_from_settings(tmp_path: Path, jwks_url: str, env: dict[str, str]) -> JwtVerifier:
    tmp_path.mkdir(parents=True, exist_ok=True)
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps({SANDBOX_ISS: {"jwks_url": jwks_url, "algorithms": ["ES384"]}}), encoding="utf-8")
    settings = Settings.from_env({"DERM3R_TRUSTED_ISSUERS": str(trust), "DERM3R_DATA_DIR": str(tmp_path / "var"), **env})
    return JwtVerifier.from_settings(settings, open_store(tmp_path / "var"))


@pytest.mark.parametrize("variable", ["DERM3R_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"])
def test_jwks_over_https_with_a_private_ca_needs_the_ca_bundle(
    tmp_path: Path, https_server: tuple[JsonServer, Pki], variable: str
) -> None:
    served, pki = https_server
    served.documents["/jwks"] = {"keys": [_jwk(SANDBOX_KEY, SANDBOX_KID)]}
    url = f"{served.base}/jwks"
    token = sandbox_token(jku=url)  # the jku is the configured jwks_url: allowed

    without = _verifier_from_settings(tmp_path / "a", url, {})
    with pytest.raises(Unauthorized, match="^issuer keys unavailable$"):
        without.verify(f"Bearer {token}", AUD)

    with_ca = _verifier_from_settings(tmp_path / "b", url, {variable: str(pki.ca_file)})
    assert with_ca.verify(f"Bearer {sandbox_token(jku=url)}", AUD).issuer == SANDBOX_ISS


def test_fhir_client_honours_the_ca_bundle(tmp_path: Path, https_server: tuple[JsonServer, Pki]) -> None:
    served, pki = https_server
    served.documents["/fhir/Patient/p1"] = {"resourceType": "Patient", "id": "p1"}
    base = f"{served.base}/fhir"
    plain = settings_for(tmp_path, fhir_allowlist=(base,), allow_private_fhir=True)
    client = fhir_client_factory(plain)(base, "token", 2.0)
    with pytest.raises(Exception) as err:  # certificate verify failed -> FhirUnavailable / FhirError
        client.read("Patient/p1")
    assert "Fhir" in type(err.value).__name__
    client.close()

    with_ca = settings_for(tmp_path, fhir_allowlist=(base,), allow_private_fhir=True, outbound=Outbound(ca_bundle=pki.ca_file))
    client = fhir_client_factory(with_ca)(base, "token", 2.0)
    try:
        assert client.read("Patient/p1")["id"] == "p1"
    finally:
        client.close()


def test_settings_read_the_ca_bundle_in_order_and_refuse_a_missing_file(tmp_path: Path) -> None:
    first, second = tmp_path / "one.pem", tmp_path / "two.pem"
    first.write_text("x")
    second.write_text("y")
    env = {"DERM3R_CA_BUNDLE": str(first), "REQUESTS_CA_BUNDLE": str(second)}
    assert Settings.from_env(env).outbound.ca_bundle == first
    assert Settings.from_env({"SSL_CERT_FILE": str(second)}).outbound.verify == str(second)
    assert Settings.from_env({}).outbound.verify is True
    with pytest.raises(ValueError, match="DERM3R_CA_BUNDLE"):
        Settings.from_env({"DERM3R_CA_BUNDLE": str(tmp_path / "missing.pem")})


# -- proxies ------------------------------------------------------------------------------------


@pytest.fixture()
def proxy(http_server: JsonServer) -> Iterator[JsonServer]:
    """A forward HTTP proxy on loopback that answers every absolute-URI GET from its own table
    (`hits` then lists absolute URIs: those came through as proxy requests)."""
    with json_server(default={"keys": []}) as server:
        yield server


def test_jwks_fetch_goes_through_the_configured_proxy(proxy: JsonServer) -> None:
    target = "http://jwks.hospital.test/keys"  # resolvable only by the proxy
    proxy.documents[target] = {"keys": [_jwk(SANDBOX_KEY, SANDBOX_KID)]}
    outbound = Outbound.from_env({"HTTP_PROXY": proxy.base})
    assert fetch_jwks(target, outbound=outbound)["keys"][0]["kid"] == SANDBOX_KID
    assert proxy.hits == [target]


def test_no_proxy_hosts_connect_directly(proxy: JsonServer, http_server: JsonServer) -> None:
    http_server.documents["/jwks"] = {"keys": [_jwk(SANDBOX_KEY, "direct")]}
    outbound = Outbound.from_env({"http_proxy": proxy.base, "NO_PROXY": "localhost,127.0.0.0/8"})
    assert fetch_jwks(f"{http_server.base}/jwks", outbound=outbound)["keys"][0]["kid"] == "direct"
    assert proxy.hits == [] and http_server.hits == ["/jwks"]


@pytest.mark.parametrize(
    ("no_proxy", "url", "bypass"),
    [
        ("", "https://ehr.example.org/fhir", False),
        ("*", "https://ehr.example.org/fhir", True),
        ("example.org", "https://ehr.example.org/fhir", True),
        (".example.org", "https://ehr.example.org/fhir", True),
        ("ample.org", "https://ehr.example.org/fhir", False),
        ("ehr.example.org:8443", "https://ehr.example.org/fhir", False),
        ("ehr.example.org:8443", "https://ehr.example.org:8443/fhir", True),
        ("10.0.0.0/8", "https://10.1.2.3/fhir", True),
        ("10.0.0.0/8", "https://11.1.2.3/fhir", False),
    ],
)
def test_no_proxy_matching(no_proxy: str, url: str, bypass: bool) -> None:
    outbound = Outbound.from_env({"HTTPS_PROXY": "http://proxy.hospital.test:3128", "NO_PROXY": no_proxy})
    assert (outbound.proxies_for(url) == {}) is bypass


def test_environment_proxies_and_netrc_are_not_used_implicitly(monkeypatch: pytest.MonkeyPatch, http_server: JsonServer) -> None:
    """Only Settings decides: a proxy in os.environ after start-up is not picked up by a session."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    http_server.documents["/jwks"] = {"keys": []}
    assert fetch_jwks(f"{http_server.base}/jwks", outbound=Outbound())["keys"] == []


# -- 401s say why ---------------------------------------------------------------------------------


def test_every_401_names_its_reason_in_body_and_log_but_not_the_token(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps({SANDBOX_ISS: {"jwks": {"keys": [_jwk(SANDBOX_KEY, SANDBOX_KID)]}}}), encoding="utf-8")
    settings = settings_for(tmp_path, auth_enabled=True, trusted_issuers_file=trust)
    client = create_app(settings, pipeline=StubPipeline()).test_client()
    url = "/cds-services"
    good = sandbox_token(aud=f"{settings.public_base_url}{url}")
    assert client.get(url, headers={"Authorization": f"Bearer {good}"}).status_code == 200

    bad = sandbox_token(aud=f"{settings.public_base_url}{url}", key=OTHER_KEY, kid="k9", jku="https://evil.example/jwks")
    cases = [
        (None, "missing Authorization header"),
        (f"Bearer {sandbox_token(aud='https://elsewhere.example/cds-services')}", "audience mismatch"),
        (f"Bearer {bad}", "unknown kid: not among the issuer's configured keys, and the token's jku is not allow-listed (not fetched)"),
        (f"Bearer {sandbox_token(aud=f'{settings.public_base_url}{url}', iss='https://unknown.example')}", "unknown issuer"),
    ]
    for authorization, reason in cases:
        caplog.clear()
        with caplog.at_level(logging.INFO):
            response = client.get(url, headers={"Authorization": authorization} if authorization else {})
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.get_json()["issue"][0]["diagnostics"] == reason
        assert any(reason in r.getMessage() for r in caplog.records), reason
        if authorization:
            token = authorization.split()[1]
            assert all(token not in r.getMessage() and token.split(".")[1] not in r.getMessage() for r in caplog.records)


def test_requests_session_defaults_are_what_we_rely_on() -> None:
    """`configure` must leave a session that ignores the environment (no .netrc) and verifies TLS."""
    session = Outbound().configure(requests.Session(), "https://ehr.example.org/fhir")
    assert session.trust_env is False and session.verify is True and session.proxies == {}
