"""JWT verification (cds_hooks.auth): a table of defective tokens, each refused with its own
reason; valid ES384/RS384 tokens accepted; JWK Sets served by a real loopback HTTP server;
replay detection across two Store instances (two workers) on one data directory."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cds_hooks.auth import (
    Claims,
    JwtVerifier,
    TrustConfigError,
    fetch_jwks,
    JwksFetchError,
    parse_trusted_issuers,
)
from cds_hooks.errors import Unauthorized
from cds_hooks.settings import Settings
from cds_hooks.storage import open_store
from loopback import JsonServer, json_server

ISSUER = "https://ehr.example.org"
BASE = "https://cds.example.org"
SERVICE_AUD = f"{BASE}/cds-services/derm-assess"
DISCOVERY_AUD = f"{BASE}/cds-services"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwk(public_key: Any, kid: str, alg: str | None = None) -> dict:
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        jwk_dict = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(public_key))
    else:
        jwk_dict = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public_key))
    jwk_dict.update({"kid": kid, "use": "sig"})
    if alg:
        jwk_dict["alg"] = alg
    return jwk_dict


# Key generation (RSA especially) is the slow part: once per test session.
EC_KEY = ec.generate_private_key(ec.SECP384R1())
EC_OTHER = ec.generate_private_key(ec.SECP384R1())
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_PEM_PUBLIC = RSA_KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)
JWKS = {"keys": [_jwk(EC_KEY.public_key(), "ec1", "ES384"), _jwk(RSA_KEY.public_key(), "rsa1")]}


@dataclass
class Minter:
    """Builds tokens for the tests; defaults give a valid ES384 token for SERVICE_AUD."""

    def claims(self, **overrides: Any) -> dict:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": SERVICE_AUD, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())}
        body.update(overrides)
        return {k: v for k, v in body.items() if v is not _DROP}

    def token(
        self,
        *,
        alg: str = "ES384",
        key: Any = None,
        kid: str | None = "ec1",
        headers: dict | None = None,
        **claims: Any,
    ) -> str:
        if key is None:
            key = EC_KEY if alg.startswith("ES") else RSA_KEY
        hdr = {"typ": "JWT"}
        if kid is not None:
            hdr["kid"] = kid
        hdr.update(headers or {})
        return jwt.encode(self.claims(**claims), key, algorithm=alg, headers=hdr)

    def raw(self, header: dict, payload: dict, signature: bytes = b"") -> str:
        """Hand-assembled token (for algorithms PyJWT rightly refuses to produce)."""
        return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}.{_b64(signature)}"


_DROP = object()
M = Minter()


def _hs256_with_public_key() -> str:
    """Classic algorithm confusion: HMAC-sign with the issuer's *public* RSA key as the secret."""
    header = {"alg": "HS256", "typ": "JWT", "kid": "rsa1"}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(M.claims()).encode())}"
    sig = hmac.new(RSA_PEM_PUBLIC, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(sig)}"


def _tamper_payload() -> str:
    h, _, s = M.token().split(".")
    return f"{h}.{_b64(json.dumps(M.claims(sub='admin')).encode())}.{s}"


def _tamper_signature() -> str:
    h, p, s = M.token().split(".")
    sig = bytearray(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
    sig[10] ^= 0x01
    return f"{h}.{p}.{_b64(bytes(sig))}"


def _bearer(token: str) -> str:
    return f"Bearer {token}"


now = int(time.time())
# (case id, builder of the Authorization header value, expected Unauthorized message)
DEFECTS: list[tuple[str, Callable[[], str | None], str]] = [
    ("no header", lambda: None, "missing Authorization header"),
    ("empty header", lambda: "", "missing Authorization header"),
    ("bearer without token", lambda: "Bearer ", "missing bearer token"),
    ("not bearer", lambda: "Basic dXNlcjpwYXNz", "Authorization scheme is not Bearer"),
    ("token without scheme", lambda: M.token(), "Authorization scheme is not Bearer"),
    ("two tokens", lambda: f"Bearer {M.token()} {M.token()}", "malformed Authorization header"),
    ("two bearer values", lambda: f"Bearer {M.token()}, Bearer {M.token()}", "malformed Authorization header"),
    ("huge token", lambda: "Bearer " + "a" * 10_000, "Authorization header too large"),
    ("two segments", lambda: _bearer(".".join(M.token().split(".")[:2])), "malformed token"),
    ("non base64url chars", lambda: _bearer(M.token().replace(".", ".+/", 1)), "malformed token"),
    ("malformed header", lambda: _bearer("bm90IGpzb24." + M.token().split(".", 1)[1]), "malformed token header"),
    ("missing alg", lambda: _bearer(M.raw({"typ": "JWT", "kid": "ec1"}, M.claims(), b"x")), "missing alg header"),
    ("alg none", lambda: _bearer(M.raw({"alg": "none", "typ": "JWT", "kid": "ec1"}, M.claims())), "algorithm 'none' is not allowed"),
    ("alg NoNe", lambda: _bearer(M.raw({"alg": "NoNe", "typ": "JWT", "kid": "ec1"}, M.claims())), "algorithm 'none' is not allowed"),
    ("HS256 with public key as secret", lambda: _bearer(_hs256_with_public_key()), "symmetric algorithm is not allowed"),
    ("unsupported alg", lambda: _bearer(M.raw({"alg": "ES256K", "typ": "JWT", "kid": "ec1"}, M.claims(), b"x")), "algorithm not allowed"),
    ("RS256 when only ES384/RS384 allowed", lambda: _bearer(M.token(alg="RS256", kid="rsa1")), "algorithm not allowed for this issuer"),
    ("typ not JWT", lambda: _bearer(M.token(headers={"typ": "JWE"})), "unsupported token type"),
    ("crit header", lambda: _bearer(M.token(headers={"crit": ["exp"]})), "unsupported critical header"),
    ("embedded jwk", lambda: _bearer(M.token(headers={"jwk": _jwk(EC_OTHER.public_key(), "ec1")})), "embedded keys are not accepted"),
    ("missing kid", lambda: _bearer(M.token(kid=None)), "missing kid header"),
    ("missing iss", lambda: _bearer(M.token(iss=_DROP)), "missing iss claim"),
    ("unknown iss", lambda: _bearer(M.token(iss="https://evil.example.com")), "unknown issuer"),
    # An off-list jku is never fetched; a token signed with the attacker's own key (a kid the issuer
    # never published) is refused, and the 401 says the jku was not fetched.
    (
        "jku not allow-listed, kid not configured",
        lambda: _bearer(M.token(key=EC_OTHER, kid="attacker", headers={"jku": "https://evil.example.com/jwks"})),
        "unknown kid: not among the issuer's configured keys, and the token's jku is not allow-listed (not fetched)",
    ),
    ("jku not allow-listed, configured kid, other key", lambda: _bearer(M.token(key=EC_OTHER, headers={"jku": "https://evil.example.com/jwks"})), "invalid signature"),
    ("unknown kid", lambda: _bearer(M.token(kid="nope")), "unknown kid"),
    ("ES384 header on RSA key", lambda: _bearer(M.token(kid="rsa1")), "key does not match algorithm"),
    ("RS384 header on EC key", lambda: _bearer(M.token(alg="RS384", key=RSA_KEY, kid="ec1")), "key does not match algorithm"),
    ("wrong key", lambda: _bearer(M.token(key=EC_OTHER)), "invalid signature"),
    ("tampered payload", lambda: _bearer(_tamper_payload()), "invalid signature"),
    ("tampered signature", lambda: _bearer(_tamper_signature()), "invalid signature"),
    ("expired", lambda: _bearer(M.token(iat=now - 900, exp=now - 300)), "token expired"),
    ("iat in the future", lambda: _bearer(M.token(iat=now + 600, exp=now + 900)), "token not yet valid"),
    ("nbf in the future", lambda: _bearer(M.token(nbf=now + 600)), "token not yet valid"),
    ("missing exp", lambda: _bearer(M.token(exp=_DROP)), "missing exp claim"),
    ("missing iat", lambda: _bearer(M.token(iat=_DROP)), "missing iat claim"),
    ("missing jti", lambda: _bearer(M.token(jti=_DROP)), "missing jti claim"),
    ("missing aud", lambda: _bearer(M.token(aud=_DROP)), "missing aud claim"),
    ("exp not a number", lambda: _bearer(M.token(exp="tomorrow")), "invalid exp claim"),
    ("iat not a number", lambda: _bearer(M.token(iat="today")), "invalid iat claim"),
    ("wrong aud host", lambda: _bearer(M.token(aud="https://other.example.org/cds-services/derm-assess")), "audience mismatch"),
    ("wrong aud path (discovery token)", lambda: _bearer(M.token(aud=DISCOVERY_AUD)), "audience mismatch"),
    ("aud list with extra audience", lambda: _bearer(M.token(aud=[SERVICE_AUD, "https://x.example"])), "audience mismatch"),
    ("aud not a string", lambda: _bearer(M.token(aud=42)), "audience mismatch"),
    ("jti not a string", lambda: _bearer(M.token(jti=12345)), "invalid jti claim"),
    ("jti too long", lambda: _bearer(M.token(jti="j" * 300)), "invalid jti claim"),
    ("lifetime too long", lambda: _bearer(M.token(exp=now + 3 * 86400)), "token lifetime too long"),
    ("tenant not a string", lambda: _bearer(M.token(tenant={"id": 1})), "invalid tenant claim"),
    ("sub not a string", lambda: _bearer(M.token(sub=["a"])), "invalid sub claim"),
]


@pytest.fixture()
def verifier(tmp_path: Path) -> JwtVerifier:
    policies = parse_trusted_issuers(
        {
            ISSUER: {"jwks": JWKS, "algorithms": ["ES384", "RS384"], "jku_allowlist": ["https://ehr.example.org/jwks"]},
            "https://other-ehr.example.org": {"jwks": {"keys": []}},
        }
    )
    return JwtVerifier(policies, open_store(tmp_path))


@pytest.mark.parametrize(("case", "build", "message"), DEFECTS, ids=[d[0] for d in DEFECTS])
def test_defective_token_is_refused_with_specific_reason(
    verifier: JwtVerifier, case: str, build: Callable[[], str | None], message: str
) -> None:
    authorization = build()
    with pytest.raises(Unauthorized) as err:
        verifier.verify(authorization, SERVICE_AUD)
    assert err.value.message == message
    assert err.value.status == 401
    if authorization and len(authorization) > 20:
        token = authorization.split()[-1]
        assert token not in err.value.message  # never echo the credential


def test_defect_table_is_large_enough() -> None:
    assert len(DEFECTS) >= 20
    assert len({d[0] for d in DEFECTS}) == len(DEFECTS)


@pytest.mark.parametrize(("alg", "kid"), [("ES384", "ec1"), ("RS384", "rsa1")])
def test_valid_token_passes(verifier: JwtVerifier, alg: str, kid: str) -> None:
    token = M.token(alg=alg, kid=kid, sub="Practitioner/123", tenant="hosp-1")
    claims = verifier.verify(f"Bearer {token}", SERVICE_AUD)
    assert isinstance(claims, Claims)
    assert (claims.issuer, claims.subject, claims.tenant) == (ISSUER, "Practitioner/123", "hosp-1")
    assert claims.expires_at > time.time()


@pytest.mark.parametrize(
    "authorization",
    [
        lambda: f"bearer {M.token()}",  # scheme is case-insensitive (RFC 7235)
        lambda: f"  Bearer   {M.token()}  ",
        lambda: f"Bearer {M.token(aud=[SERVICE_AUD])}",  # single-element aud array (spec allows)
        lambda: f"Bearer {M.token(aud=SERVICE_AUD + '/')}",
        lambda: f"Bearer {M.token(iat=now - 20, exp=int(time.time()) - 10)}",  # within 30 s leeway
    ],
    ids=["lowercase scheme", "extra spaces", "aud array", "aud trailing slash", "expired within leeway"],
)
def test_accepted_variants(verifier: JwtVerifier, authorization: Callable[[], str]) -> None:
    assert verifier.verify(authorization(), SERVICE_AUD).issuer == ISSUER


def test_discovery_token_works_only_for_discovery(verifier: JwtVerifier) -> None:
    assert verifier.verify(f"Bearer {M.token(aud=DISCOVERY_AUD)}", DISCOVERY_AUD).issuer == ISSUER


def test_replayed_jti_is_refused(verifier: JwtVerifier) -> None:
    header = f"Bearer {M.token()}"
    verifier.verify(header, SERVICE_AUD)
    with pytest.raises(Unauthorized, match="^replayed jti$"):
        verifier.verify(header, SERVICE_AUD)


def test_replay_detected_across_two_workers(tmp_path: Path) -> None:
    """Two Store instances on one data dir stand in for two gunicorn worker processes."""
    policies = parse_trusted_issuers({ISSUER: {"jwks": JWKS}})
    worker_a = JwtVerifier(policies, open_store(tmp_path))
    worker_b = JwtVerifier(policies, open_store(tmp_path))
    header = f"Bearer {M.token()}"
    worker_a.verify(header, SERVICE_AUD)
    with pytest.raises(Unauthorized, match="^replayed jti$"):
        worker_b.verify(header, SERVICE_AUD)


def test_same_jti_from_two_issuers_is_not_a_replay(tmp_path: Path) -> None:
    other_key = ec.generate_private_key(ec.SECP384R1())
    policies = parse_trusted_issuers(
        {ISSUER: {"jwks": JWKS}, "https://b.example.org": {"jwks": {"keys": [_jwk(other_key.public_key(), "b1")]}}}
    )
    verifier = JwtVerifier(policies, open_store(tmp_path))
    verifier.verify(f"Bearer {M.token(jti='shared')}", SERVICE_AUD)
    verifier.verify(f"Bearer {M.token(jti='shared', iss='https://b.example.org', key=other_key, kid='b1')}", SERVICE_AUD)


def test_forged_token_does_not_burn_the_jti(verifier: JwtVerifier) -> None:
    with pytest.raises(Unauthorized, match="invalid signature"):
        verifier.verify(f"Bearer {M.token(key=EC_OTHER, jti='victim')}", SERVICE_AUD)
    verifier.verify(f"Bearer {M.token(jti='victim')}", SERVICE_AUD)


def test_symmetric_keys_in_jwks_are_ignored(tmp_path: Path) -> None:
    secret_jwk = {"kty": "oct", "kid": "hs", "k": _b64(b"0" * 32)}
    policies = parse_trusted_issuers({ISSUER: {"jwks": {"keys": [secret_jwk]}, "algorithms": ["ES384"]}})
    verifier = JwtVerifier(policies, open_store(tmp_path))
    with pytest.raises(Unauthorized, match="^unknown kid$"):
        verifier.verify(f"Bearer {M.token(kid='hs')}", SERVICE_AUD)


def test_weak_rsa_key_is_refused(tmp_path: Path) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    policies = parse_trusted_issuers({ISSUER: {"jwks": {"keys": [_jwk(weak.public_key(), "weak")]}}})
    verifier = JwtVerifier(policies, open_store(tmp_path))
    header = {"alg": "RS384", "typ": "JWT", "kid": "weak"}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(M.claims()).encode())}"
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    sig = weak.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA384())
    with pytest.raises(Unauthorized, match="^key does not match algorithm$"):
        verifier.verify(f"Bearer {signing_input}.{_b64(sig)}", SERVICE_AUD)


# -- trust file ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [
        [],
        {ISSUER: "https://ehr.example.org/jwks"},
        {ISSUER: {"jwks": JWKS, "algorithms": ["HS256"]}},
        {ISSUER: {"jwks": JWKS, "algorithms": ["none"]}},
        {ISSUER: {"jwks": JWKS, "algorithms": []}},
        {ISSUER: {"jwks_uri": "https://ehr.example.org/jwks"}},  # typo'd setting name
        {ISSUER: {}},
        {ISSUER: {"jwks_url": "http://ehr.example.org/jwks"}},  # plain http, not loopback
        {ISSUER: {"jwks_url": "file:///etc/passwd"}},
        {ISSUER: {"jwks": JWKS, "jku_allowlist": ["http://evil.example.com/"]}},
        {ISSUER: {"jwks": {"kty": "EC"}}},
        {ISSUER: {"jwks": JWKS, "max_lifetime_seconds": 0}},
    ],
)
def test_invalid_trust_file_is_rejected(config: Any) -> None:
    with pytest.raises(TrustConfigError):
        parse_trusted_issuers(config)


def test_from_settings_reads_trust_file(tmp_path: Path) -> None:
    trust = tmp_path / "issuers.json"
    trust.write_text(json.dumps({ISSUER: {"jwks": JWKS}}))
    verifier = JwtVerifier.from_settings(Settings(trusted_issuers_file=trust, data_dir=tmp_path), open_store(tmp_path))
    assert verifier.verify(f"Bearer {M.token()}", SERVICE_AUD).issuer == ISSUER


def test_from_settings_without_trust_file_fails_closed(tmp_path: Path) -> None:
    verifier = JwtVerifier.from_settings(Settings(trusted_issuers_file=None, data_dir=tmp_path), open_store(tmp_path))
    with pytest.raises(Unauthorized, match="^unknown issuer$"):
        verifier.verify(f"Bearer {M.token()}", SERVICE_AUD)


def test_from_settings_with_broken_trust_file_raises(tmp_path: Path) -> None:
    trust = tmp_path / "issuers.json"
    trust.write_text("{not json")
    with pytest.raises(TrustConfigError):
        JwtVerifier.from_settings(Settings(trusted_issuers_file=trust, data_dir=tmp_path), open_store(tmp_path))


# -- JWK Sets over HTTP (a real loopback server) ---------------------------------------------------


@pytest.fixture()
def jwks_server() -> Iterator[JsonServer]:
    """documents: path -> JSON body, bytes, or ("redirect", url); hits: the paths fetched, in order."""
    with json_server() as server:
        yield server


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _url_verifier(tmp_path: Path, config: dict, clock: FakeClock) -> JwtVerifier:
    return JwtVerifier(parse_trusted_issuers(config), open_store(tmp_path), monotonic=clock)


def test_jwks_fetched_by_url_and_cached(tmp_path: Path, jwks_server: JsonServer) -> None:
    jwks_server.documents["/jwks"] = JWKS
    clock = FakeClock()
    verifier = _url_verifier(tmp_path, {ISSUER: {"jwks_url": f"{jwks_server.base}/jwks"}}, clock)
    verifier.verify(f"Bearer {M.token()}", SERVICE_AUD)
    verifier.verify(f"Bearer {M.token(alg='RS384', kid='rsa1')}", SERVICE_AUD)
    assert jwks_server.hits.count("/jwks") == 1


def test_unknown_kid_triggers_rate_limited_refresh(tmp_path: Path, jwks_server: JsonServer) -> None:
    jwks_server.documents["/jwks"] = {"keys": [JWKS["keys"][0]]}
    clock = FakeClock()
    verifier = _url_verifier(tmp_path, {ISSUER: {"jwks_url": f"{jwks_server.base}/jwks"}}, clock)
    verifier.verify(f"Bearer {M.token()}", SERVICE_AUD)
    assert jwks_server.hits.count("/jwks") == 1

    # Key rotation: the EHR publishes a new key; the first token using it triggers one refresh.
    rotated = ec.generate_private_key(ec.SECP384R1())
    jwks_server.documents["/jwks"] = {"keys": [JWKS["keys"][0], _jwk(rotated.public_key(), "ec2")]}
    clock.t += 31
    verifier.verify(f"Bearer {M.token(key=rotated, kid='ec2')}", SERVICE_AUD)
    assert jwks_server.hits.count("/jwks") == 2

    # A flood of unknown kids within the refresh interval costs at most one more fetch.
    clock.t += 31
    for i in range(20):
        with pytest.raises(Unauthorized, match="^unknown kid$"):
            verifier.verify(f"Bearer {M.token(kid=f'random-{i}')}", SERVICE_AUD)
        clock.t += 1
    assert jwks_server.hits.count("/jwks") == 3
    clock.t += 30
    with pytest.raises(Unauthorized, match="^unknown kid$"):
        verifier.verify(f"Bearer {M.token(kid='again')}", SERVICE_AUD)
    assert jwks_server.hits.count("/jwks") == 4


def test_cached_keys_survive_jwks_outage(tmp_path: Path, jwks_server: JsonServer) -> None:
    jwks_server.documents["/jwks"] = JWKS
    clock = FakeClock()
    verifier = _url_verifier(tmp_path, {ISSUER: {"jwks_url": f"{jwks_server.base}/jwks"}}, clock)
    verifier.verify(f"Bearer {M.token()}", SERVICE_AUD)
    del jwks_server.documents["/jwks"]  # now 404
    clock.t += 7200  # cache is stale: a refresh is attempted, fails, last good keys still serve
    verifier.verify(f"Bearer {M.token()}", SERVICE_AUD)
    assert jwks_server.hits.count("/jwks") == 2


def test_jwks_unavailable_without_cache_is_unauthorized(tmp_path: Path, jwks_server: JsonServer) -> None:
    clock = FakeClock()
    verifier = _url_verifier(tmp_path, {ISSUER: {"jwks_url": f"{jwks_server.base}/missing"}}, clock)
    with pytest.raises(Unauthorized, match="^issuer keys unavailable$"):
        verifier.verify(f"Bearer {M.token()}", SERVICE_AUD)


def test_jwks_redirect_is_not_followed(tmp_path: Path, jwks_server: JsonServer) -> None:
    jwks_server.documents["/jwks"] = JWKS
    jwks_server.documents["/moved"] = ("redirect", f"{jwks_server.base}/jwks")
    clock = FakeClock()
    verifier = _url_verifier(tmp_path, {ISSUER: {"jwks_url": f"{jwks_server.base}/moved"}}, clock)
    with pytest.raises(Unauthorized, match="^issuer keys unavailable$"):
        verifier.verify(f"Bearer {M.token()}", SERVICE_AUD)
    assert "/jwks" not in jwks_server.hits


def test_jwks_size_cap(jwks_server: JsonServer) -> None:
    jwks_server.documents["/big"] = b'{"keys": [' + b'{"kty":"EC"},' * 40_000 + b'{}]}'
    with pytest.raises(JwksFetchError, match="too large"):
        fetch_jwks(f"{jwks_server.base}/big")


def test_jwks_not_json(jwks_server: JsonServer) -> None:
    jwks_server.documents["/html"] = b"<html>login</html>"
    with pytest.raises(JwksFetchError, match="not JSON"):
        fetch_jwks(f"{jwks_server.base}/html")


def test_allow_listed_jku_is_used(tmp_path: Path, jwks_server: JsonServer) -> None:
    jku_key = ec.generate_private_key(ec.SECP384R1())
    jwks_server.documents["/jku"] = {"keys": [_jwk(jku_key.public_key(), "jk1")]}
    jku = f"{jwks_server.base}/jku"
    clock = FakeClock()
    verifier = _url_verifier(tmp_path, {ISSUER: {"jwks": JWKS, "jku_allowlist": [jku]}}, clock)
    verifier.verify(f"Bearer {M.token(key=jku_key, kid='jk1', headers={'jku': jku})}", SERVICE_AUD)
    # The same kid without the jku header is looked up in the configured JWK Set, where it is absent.
    with pytest.raises(Unauthorized, match="^unknown kid$"):
        verifier.verify(f"Bearer {M.token(key=jku_key, kid='jk1')}", SERVICE_AUD)
    # An allow-listed jku cannot be combined with another path on the same host: that URL is not
    # fetched, and jk1 is not among the configured keys.
    with pytest.raises(Unauthorized, match="^unknown kid: .*jku is not allow-listed \\(not fetched\\)$"):
        verifier.verify(f"Bearer {M.token(key=jku_key, kid='jk1', headers={'jku': jku + '/../evil'})}", SERVICE_AUD)
    assert jwks_server.hits.count("/jku") == 1
