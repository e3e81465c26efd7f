"""Authenticating CDS Clients (CDS Hooks 2.0.1 "Trusting CDS Clients").

Every request carries `Authorization: Bearer <JWT>` signed by the EHR with an asymmetric key. We
trust only issuers listed in the trust file (`DERM3R_TRUSTED_ISSUERS`), only the algorithms allowed
for that issuer, only keys from that issuer's JWK Set (inline, configured URL, or a `jku` URL that
the trust file allow-lists for it), and only tokens whose `aud` is the endpoint being called and
whose `jti` has not been used before (checked in the shared Store, so it holds across workers).

Signature maths is PyJWT's (audited); this module decides *which* key and algorithm may be used,
because that choice is where JWT verification is usually broken (alg confusion, `none`, attacker
supplied `jku`, unknown-kid refresh storms).

Which key verifies a token (`kid` always required):
  * the token's `jku` is on the issuer's allow-list (or is its `jwks_url`): that JWK Set is fetched
    and the kid looked up there first;
  * otherwise the kid is looked up in the issuer's configured keys (inline `jwks`, then `jwks_url`).
    A `jku` that is not allow-listed is never fetched, and does not by itself refuse the token: a
    client whose keys are pinned out of band (the CDS Hooks Sandbox always names its JWKS URL in
    `jku`) is verified with the pinned key. Only when the kid is not among the configured keys is
    the token refused, and the 401 then says that the jku was not fetched.

Trust file format (JSON object, one entry per issuer, keyed by the exact `iss` value):

    {
      "https://ehr.example.org": {
        "jwks_url": "https://ehr.example.org/.well-known/jwks.json",   # or "jwks": {"keys": [...]}
        "algorithms": ["ES384", "RS384"],                               # optional
        "jku_allowlist": ["https://ehr.example.org/jwks"],              # optional
        "max_lifetime_seconds": 3600                                     # optional
      }
    }
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from ipaddress import ip_address
from pathlib import Path
from typing import Any, Callable, Mapping, TypeGuard
from urllib.parse import urlsplit

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from .errors import Unauthorized
from .outbound import Outbound, jwks_session
from .settings import Settings
from .storage import Store

log = logging.getLogger(__name__)

# Asymmetric JWS algorithms we are willing to verify at all. HS* (shared secret: the spec forbids
# symmetric algorithms) and `none` are absent on purpose; EdDSA is left out until an EHR needs it.
SUPPORTED_ALGORITHMS = frozenset({"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
# CDS Hooks 2.0.1 recommends ES384 and RS384; an issuer entry may widen or narrow this.
DEFAULT_ALGORITHMS = frozenset({"ES384", "RS384"})
_EC_CURVES = {"ES256": ec.SECP256R1, "ES384": ec.SECP384R1, "ES512": ec.SECP521R1}
MIN_RSA_BITS = 2048

MAX_AUTHORIZATION_CHARS = 8192  # a CDS Hooks JWT is < 1 KB; anything huge is an attack or a bug
MAX_JTI_CHARS = 256
DEFAULT_MAX_LIFETIME_SECONDS = 3600  # bounds exp - iat, and so the size of the replay cache

JWKS_MIN_REFRESH_SECONDS = 30.0  # unknown-kid refreshes per key source at most this often
JWKS_MAX_AGE_SECONDS = 3600.0  # re-fetch a URL-based JWK Set at least this often (key rotation)
JWKS_TIMEOUT = (2.0, 3.0)  # (connect, read) seconds
JWKS_MAX_BYTES = 256 * 1024


class TrustConfigError(ValueError):
    """The trust file is missing, unreadable or invalid. Raised at start-up, never per request."""


@dataclass(frozen=True)
class Claims:
    """The verified identity of the CDS Client behind one request."""

    issuer: str
    subject: str | None
    jti: str
    expires_at: float
    tenant: str | None


@dataclass(frozen=True)
class IssuerPolicy:
    """What the trust file says about one issuer."""

    issuer: str
    algorithms: frozenset[str] = DEFAULT_ALGORITHMS
    jwks: Mapping[str, Any] | None = None  # inline JWK Set
    jwks_url: str | None = None
    jku_allowlist: frozenset[str] = frozenset()
    max_lifetime_seconds: int = DEFAULT_MAX_LIFETIME_SECONDS


# -- trust file -----------------------------------------------------------------------------------


def _check_key_url(url: Any, what: str) -> str:
    """Key URLs must be https; plain http is accepted only for loopback (local test servers)."""
    if not isinstance(url, str) or not url:
        raise TrustConfigError(f"{what} must be a non-empty string")
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return url
    if parts.scheme == "http" and _is_loopback(host):
        return url
    raise TrustConfigError(f"{what} must be an https URL (http only for loopback): {url!r}")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def parse_trusted_issuers(data: Any) -> dict[str, IssuerPolicy]:
    """Validate the decoded trust file and return one policy per issuer."""
    if not isinstance(data, dict):
        raise TrustConfigError("trust file must be a JSON object mapping issuer -> settings")
    policies: dict[str, IssuerPolicy] = {}
    for issuer, entry in data.items():
        if not issuer or not isinstance(entry, dict):
            raise TrustConfigError(f"issuer {issuer!r}: entry must be an object")
        unknown = set(entry) - {"jwks", "jwks_url", "algorithms", "jku_allowlist", "max_lifetime_seconds"}
        if unknown:
            # A typo such as "jwks_uri" would otherwise silently leave the issuer without keys.
            raise TrustConfigError(f"issuer {issuer!r}: unknown settings {sorted(unknown)}")
        algorithms = entry.get("algorithms", sorted(DEFAULT_ALGORITHMS))
        if not isinstance(algorithms, list) or not algorithms:
            raise TrustConfigError(f"issuer {issuer!r}: algorithms must be a non-empty list")
        bad = [a for a in algorithms if a not in SUPPORTED_ALGORITHMS]
        if bad:
            raise TrustConfigError(f"issuer {issuer!r}: algorithms not allowed (asymmetric only): {bad}")
        jwks = entry.get("jwks")
        if jwks is not None and not (isinstance(jwks, dict) and isinstance(jwks.get("keys"), list)):
            raise TrustConfigError(f"issuer {issuer!r}: jwks must be a JWK Set object with a keys list")
        jwks_url = entry.get("jwks_url")
        if jwks_url is not None:
            jwks_url = _check_key_url(jwks_url, f"issuer {issuer!r}: jwks_url")
        jku = entry.get("jku_allowlist", [])
        if not isinstance(jku, list):
            raise TrustConfigError(f"issuer {issuer!r}: jku_allowlist must be a list")
        jku_set = frozenset(_check_key_url(u, f"issuer {issuer!r}: jku_allowlist entry") for u in jku)
        if jwks is None and jwks_url is None and not jku_set:
            raise TrustConfigError(f"issuer {issuer!r}: needs jwks, jwks_url or jku_allowlist")
        lifetime = entry.get("max_lifetime_seconds", DEFAULT_MAX_LIFETIME_SECONDS)
        if not isinstance(lifetime, int) or isinstance(lifetime, bool) or lifetime <= 0:
            raise TrustConfigError(f"issuer {issuer!r}: max_lifetime_seconds must be a positive integer")
        policies[issuer] = IssuerPolicy(
            issuer=issuer,
            algorithms=frozenset(algorithms),
            jwks=jwks,
            jwks_url=jwks_url,
            jku_allowlist=jku_set,
            max_lifetime_seconds=lifetime,
        )
    return policies


def load_trusted_issuers(path: Path) -> dict[str, IssuerPolicy]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TrustConfigError(f"cannot read trust file {path}: {type(exc).__name__}") from exc
    return parse_trusted_issuers(data)


# -- JWK Sets ------------------------------------------------------------------------------------


class JwksFetchError(Exception):
    """A JWK Set could not be fetched or parsed (reason is safe to log)."""


def fetch_jwks(
    url: str,
    *,
    timeout: tuple[float, float] = JWKS_TIMEOUT,
    max_bytes: int = JWKS_MAX_BYTES,
    outbound: Outbound | None = None,
) -> dict[str, Any]:
    """GET a JWK Set through the one guarded outbound path (`outbound.jwks_session`: connect-time
    address check, link-local/metadata never): no redirects (a redirect could point anywhere),
    bounded time and size, no ambient credentials (.netrc); the CA bundle and proxy come from
    `outbound` (Settings), so a hospital CA or a TLS-inspecting proxy works."""
    session = jwks_session(outbound)
    try:
        with session.get(url, timeout=timeout, allow_redirects=False, stream=True, headers={"Accept": "application/json"}) as resp:
            if resp.status_code != 200:
                raise JwksFetchError(f"HTTP {resp.status_code}")
            declared = resp.headers.get("Content-Length")
            if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                raise JwksFetchError("JWK Set too large")
            body = bytearray()
            for chunk in resp.iter_content(chunk_size=16384):
                body += chunk
                if len(body) > max_bytes:
                    raise JwksFetchError("JWK Set too large")
    except requests.RequestException as exc:
        raise JwksFetchError(type(exc).__name__) from exc
    finally:
        session.close()
    try:
        data = json.loads(bytes(body))
    except ValueError as exc:
        raise JwksFetchError("JWK Set is not JSON") from exc
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise JwksFetchError("JWK Set has no keys list")
    return data


def _usable_keys(jwks: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """kid -> signature-verification JWKs. Symmetric (`oct`) keys are dropped: accepting one would
    let an HS* token verify against a 'public' secret. Keys marked for another use are dropped."""
    out: dict[str, list[dict[str, Any]]] = {}
    for key in jwks.get("keys", []):
        if not isinstance(key, dict) or key.get("kty") not in {"EC", "RSA"}:
            continue
        kid = key.get("kid")
        if not isinstance(kid, str) or not kid:
            continue
        if key.get("use", "sig") != "sig":
            continue
        ops = key.get("key_ops")
        if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
            continue
        if "d" in key or "p" in key:
            # A private key published by mistake: still usable for verification, but say so.
            log.warning("JWK Set contains private key material (kid %.64r); it should be rotated", kid)
        out.setdefault(kid, []).append(key)
    return out


@dataclass
class _KeySource:
    """One JWK Set (inline or at a URL) with its cache and refresh bookkeeping."""

    url: str | None
    keys: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    fetched_at: float | None = None  # monotonic time of the last successful fetch
    attempted_at: float | None = None  # monotonic time of the last fetch attempt
    lock: threading.Lock = field(default_factory=threading.Lock)


class JwtVerifier:
    """Verifies CDS Hooks client JWTs. One instance per process; thread-safe."""

    def __init__(
        self,
        issuers: Mapping[str, IssuerPolicy],
        store: Store,
        *,
        leeway_seconds: float = 30,
        fetcher: Callable[[str], dict[str, Any]] = fetch_jwks,
        monotonic: Callable[[], float] = time.monotonic,
        min_refresh_seconds: float = JWKS_MIN_REFRESH_SECONDS,
        max_age_seconds: float = JWKS_MAX_AGE_SECONDS,
    ) -> None:
        self._issuers = dict(issuers)
        self._store = store
        self._leeway = float(leeway_seconds)
        self._fetch = fetcher
        self._now = monotonic
        self._min_refresh = min_refresh_seconds
        self._max_age = max_age_seconds
        self._sources: dict[tuple[str, str | None], _KeySource] = {}
        self._sources_lock = threading.Lock()
        for policy in self._issuers.values():
            if policy.jwks is not None:
                src = _KeySource(url=None, keys=_usable_keys(policy.jwks))
                self._sources[(policy.issuer, None)] = src

    @classmethod
    def from_settings(cls, settings: Settings, store: Store) -> "JwtVerifier":
        """Build from `DERM3R_TRUSTED_ISSUERS`. With no trust file every token is refused
        ("unknown issuer"): failing closed. A present but invalid file raises TrustConfigError so
        the service does not start with a half-read trust list."""
        if settings.trusted_issuers_file is None:
            if settings.auth_enabled:
                log.warning("DERM3R_TRUSTED_ISSUERS is not set: every request will be refused as unauthorized")
            issuers: dict[str, IssuerPolicy] = {}
        else:
            issuers = load_trusted_issuers(settings.trusted_issuers_file)
        outbound = settings.outbound

        def fetcher(url: str) -> dict[str, Any]:
            return fetch_jwks(url, outbound=outbound)

        return cls(issuers, store, leeway_seconds=settings.jwt_leeway_seconds, fetcher=fetcher)

    @property
    def issuers(self) -> frozenset[str]:
        return frozenset(self._issuers)

    # -- public entry point ----------------------------------------------------------------------

    def verify(self, authorization: str | None, audience: str) -> Claims:
        """Verify the `Authorization` header value for a request to `audience` (the full URL of
        the endpoint called). Raises Unauthorized with a short reason; never echoes the token."""
        issuer_for_log = "-"
        try:
            token = _bearer_token(authorization)
            header = _header(token)
            alg = _check_alg_globally(header)
            kid = header.get("kid")
            if not isinstance(kid, str) or not kid:
                raise Unauthorized("missing kid header")
            unverified = _unverified_payload(token)
            issuer = unverified.get("iss")
            if not isinstance(issuer, str) or not issuer:
                raise Unauthorized("missing iss claim")
            policy = self._issuers.get(issuer)
            if policy is None:
                raise Unauthorized("unknown issuer")
            issuer_for_log = issuer  # only ever a value from our own trust file
            if alg not in policy.algorithms:
                raise Unauthorized("algorithm not allowed for this issuer")
            _precheck_claim_types(unverified)
            key = self._key_for(policy, header, kid, alg)
            payload = self._decode(token, key, alg)
            claims = self._check_claims(payload, policy, audience)
            # Replay check last: only a fully valid token may consume its jti, so forged tokens
            # cannot burn a legitimate client's jti values.
            if self._store.jti_seen(claims.issuer, claims.jti, claims.expires_at + self._leeway):
                raise Unauthorized("replayed jti")
            return claims
        except Unauthorized as exc:
            log.info("JWT rejected: %s (issuer %s)", exc.message, issuer_for_log)
            raise

    # -- keys --------------------------------------------------------------------------------

    def _source(self, issuer: str, url: str | None) -> _KeySource:
        with self._sources_lock:
            src = self._sources.get((issuer, url))
            if src is None:
                src = self._sources[(issuer, url)] = _KeySource(url=url)
            return src

    def _key_for(self, policy: IssuerPolicy, header: Mapping[str, Any], kid: str, alg: str) -> jwt.PyJWK:
        jku = header.get("jku")
        if jku is not None and not isinstance(jku, str):
            raise Unauthorized("malformed jku header")
        # The jku header is attacker-controlled: following it unchecked would let anyone sign with
        # their own key. Only the exact URLs the trust file lists for this issuer are fetched.
        jku_trusted = jku is not None and (jku in policy.jku_allowlist or jku == policy.jwks_url)
        sources: list[_KeySource] = []
        if jku_trusted:
            sources.append(self._source(policy.issuer, jku))
        if policy.jwks is not None:
            sources.append(self._source(policy.issuer, None))
        if policy.jwks_url is not None and policy.jwks_url != jku:
            sources.append(self._source(policy.issuer, policy.jwks_url))
        if not sources:
            # The issuer is configured with jku URLs only.
            if jku is None:
                raise Unauthorized("missing jku header: this issuer's keys are known only by allow-listed jku URLs")
            raise Unauthorized("jku not allow-listed for this issuer (not fetched) and no keys are configured for it")
        unavailable: Unauthorized | None = None
        for src in sources:
            try:
                candidates = self._lookup(src, kid)
            except Unauthorized as exc:  # this JWK Set could not be fetched: try the others
                unavailable = unavailable or exc
                continue
            if candidates:
                return _key_for_alg(candidates, alg)
        if unavailable is not None:
            raise unavailable
        if jku is not None and not jku_trusted:
            raise Unauthorized("unknown kid: not among the issuer's configured keys, and the token's jku is not allow-listed (not fetched)")
        raise Unauthorized("unknown kid")

    def _lookup(self, src: _KeySource, kid: str) -> list[dict[str, Any]]:
        if src.url is None:
            return src.keys.get(kid, [])
        now = self._now()
        stale = src.fetched_at is None or now - src.fetched_at > self._max_age
        if not stale and kid in src.keys:
            return src.keys[kid]
        with src.lock:
            # Re-check under the lock: another thread may just have refreshed.
            if kid in src.keys and src.fetched_at is not None and self._now() - src.fetched_at <= self._max_age:
                return src.keys[kid]
            # Rate bound: an attacker sending random kids must not turn us into a JWKS flooder.
            if src.attempted_at is None or self._now() - src.attempted_at >= self._min_refresh:
                src.attempted_at = self._now()
                try:
                    data = self._fetch(src.url)
                except JwksFetchError as exc:
                    # Keep serving the last good keys (if any): a JWKS outage should not lock
                    # out an EHR whose keys have not changed.
                    log.warning("JWK Set fetch failed for a trusted issuer: %s", exc)
                    if not src.keys:
                        raise Unauthorized("issuer keys unavailable") from exc
                else:
                    src.keys = _usable_keys(data)
                    src.fetched_at = self._now()
            return src.keys.get(kid, [])

    # -- signature and claims --------------------------------------------------------------------

    def _decode(self, token: str, key: jwt.PyJWK, alg: str) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                key=key.key,
                algorithms=[alg],
                leeway=self._leeway,
                options={
                    "require": ["exp", "iat", "jti", "iss", "aud"],
                    "verify_signature": True,
                    "verify_exp": True,
                    "verify_iat": True,
                    "verify_nbf": True,
                    # aud and iss are compared below with CDS Hooks' exact rules and messages.
                    "verify_aud": False,
                    "verify_iss": False,
                },
            )
        except jwt.InvalidSignatureError as exc:
            raise Unauthorized("invalid signature") from exc
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("token expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise Unauthorized("token not yet valid") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthorized(f"missing {exc.claim} claim") from exc
        except jwt.InvalidIssuedAtError as exc:
            raise Unauthorized("invalid iat claim") from exc
        except jwt.InvalidKeyError as exc:
            raise Unauthorized("key does not match algorithm") from exc
        except jwt.InvalidTokenError as exc:
            # DecodeError (e.g. non-numeric exp) and anything else PyJWT adds later.
            raise Unauthorized("malformed token") from exc

    def _check_claims(self, payload: Mapping[str, Any], policy: IssuerPolicy, audience: str) -> Claims:
        if payload.get("iss") != policy.issuer:
            raise Unauthorized("issuer mismatch")  # cannot happen unless the payload changed
        aud = payload.get("aud")
        if isinstance(aud, list) and len(aud) == 1:
            aud = aud[0]
        # CDS Hooks: aud is the URL of the endpoint invoked, nothing else (a token minted for the
        # discovery endpoint or another service must not work here).
        if not isinstance(aud, str) or aud.rstrip("/") != audience.rstrip("/"):
            raise Unauthorized("audience mismatch")
        jti = payload.get("jti")
        if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_CHARS:
            raise Unauthorized("invalid jti claim")
        exp, iat = payload.get("exp"), payload.get("iat")
        if not _is_number(exp):
            raise Unauthorized("invalid exp claim")
        if not _is_number(iat):
            raise Unauthorized("invalid iat claim")
        if exp - iat > policy.max_lifetime_seconds + self._leeway:
            raise Unauthorized("token lifetime too long")
        sub, tenant = payload.get("sub"), payload.get("tenant")
        if sub is not None and not isinstance(sub, str):
            raise Unauthorized("invalid sub claim")
        if tenant is not None and not isinstance(tenant, str):
            raise Unauthorized("invalid tenant claim")
        return Claims(issuer=policy.issuer, subject=sub, jti=jti, expires_at=float(exp), tenant=tenant)


# -- helpers (pure) --------------------------------------------------------------------------------


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _precheck_claim_types(payload: Mapping[str, Any]) -> None:
    """Type checks PyJWT would otherwise report as a generic decode error. Only a better message:
    the same checks run again on the verified payload."""
    for name in ("exp", "iat", "nbf"):
        if name in payload and not _is_number(payload[name]):
            raise Unauthorized(f"invalid {name} claim")
    for name in ("jti", "sub", "tenant"):
        if name in payload and not isinstance(payload[name], str):
            raise Unauthorized(f"invalid {name} claim")


def _bearer_token(authorization: str | None) -> str:
    if authorization is None or not authorization.strip():
        raise Unauthorized("missing Authorization header")
    if len(authorization) > MAX_AUTHORIZATION_CHARS:
        raise Unauthorized("Authorization header too large")
    scheme, _, rest = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise Unauthorized("Authorization scheme is not Bearer")
    token = rest.strip()
    if not token:
        raise Unauthorized("missing bearer token")
    # Exactly one token: "Bearer a b", "Bearer a,Bearer b" and the like are refused rather than
    # guessing which part the client meant.
    if any(c.isspace() or c == "," for c in token):
        raise Unauthorized("malformed Authorization header")
    parts = token.split(".")
    if len(parts) != 3 or not all(parts[:2]) or not all(_is_b64url(p) for p in parts):
        raise Unauthorized("malformed token")
    return token


_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _is_b64url(segment: str) -> bool:
    return all(c in _B64URL for c in segment)


def _header(token: str) -> dict[str, Any]:
    # Decoded here rather than with jwt.get_unverified_header so that each header problem gets
    # its own reason (PyJWT folds e.g. a bad `crit` into a generic error).
    segment = token.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise Unauthorized("malformed token header") from exc
    if not isinstance(header, dict):
        raise Unauthorized("malformed token header")
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.upper() != "JWT"):
        raise Unauthorized("unsupported token type")
    if "crit" in header:
        # We understand no critical extensions (e.g. b64=false); RFC 7515 says refuse.
        raise Unauthorized("unsupported critical header")
    if any(k in header for k in ("jwk", "x5u", "x5c")):
        # Keys embedded in or pointed to by the token are never trusted; refuse rather than ignore
        # so a misconfigured client learns why.
        raise Unauthorized("embedded keys are not accepted")
    return header


def _check_alg_globally(header: Mapping[str, Any]) -> str:
    alg = header.get("alg")
    if not isinstance(alg, str) or not alg:
        raise Unauthorized("missing alg header")
    if alg.lower() == "none":
        raise Unauthorized("algorithm 'none' is not allowed")
    if alg.upper().startswith("HS"):
        raise Unauthorized("symmetric algorithm is not allowed")
    if alg not in SUPPORTED_ALGORITHMS:
        raise Unauthorized("algorithm not allowed")
    return alg


def _unverified_payload(token: str) -> dict[str, Any]:
    """The payload before verification, used only to pick the issuer's policy and keys."""
    try:
        payload = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError as exc:
        raise Unauthorized("malformed token payload") from exc
    if not isinstance(payload, dict):
        raise Unauthorized("malformed token payload")
    return payload


def _key_for_alg(candidates: list[dict[str, Any]], alg: str) -> jwt.PyJWK:
    """Bind the JWK to the token's algorithm, refusing keys whose type, curve, declared `alg` or
    size do not fit (an RSA key must not verify an ES384 token and vice versa)."""
    for jwk_dict in candidates:
        declared = jwk_dict.get("alg")
        if declared is not None and declared != alg:
            continue
        try:
            key = jwt.PyJWK(jwk_dict, algorithm=alg)
        except jwt.PyJWTError:
            continue
        public = key.key
        if alg.startswith("ES"):
            if not isinstance(public, ec.EllipticCurvePublicKey) or not isinstance(public.curve, _EC_CURVES[alg]):
                continue
        elif not isinstance(public, rsa.RSAPublicKey) or public.key_size < MIN_RSA_BITS:
            continue
        return key
    raise Unauthorized("key does not match algorithm")
