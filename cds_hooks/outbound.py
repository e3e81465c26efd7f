"""The one outbound HTTP path: every call derm3r makes to another server (FHIR reads and photo
fetches for a hook, the review app's token check, JWK Set downloads) goes through a session built
here, so the same rules hold everywhere (issues 12 and 13):

* every direct connection is vetted at connect time (`limits.GuardedAdapter`: the address actually
  connected to must be public, or private/loopback only where allowed - DERM3R_ALLOW_PRIVATE_FHIR,
  or JWKS URLs the operator named; link-local such as cloud metadata, multicast and unspecified
  addresses never), which also closes the DNS rebinding window after an allow-list check;
* `trust_env` is always off: requests would otherwise attach `.netrc` credentials to any host and
  pick up proxy settings nobody vetted. Exactly two things come from the environment, read ONCE at
  start-up into `Settings.outbound` (an `Outbound`) and applied explicitly:
  - `verify`: the CA bundle (`DERM3R_CA_BUNDLE`, else `REQUESTS_CA_BUNDLE`, else `SSL_CERT_FILE`),
    for hospitals with an internal CA or a TLS-inspecting proxy. Like requests, a bundle *replaces*
    the default trust store, so it must also hold the public roots the service needs. A bundle
    that is not a readable file is a start-up error naming the variable.
  - `proxies`: `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` (either case), minus hosts matched by
    `NO_PROXY`, decided per request URL here because requests only applies `NO_PROXY` with
    `trust_env`. Through a proxy the proxy does the connecting, so the target's name is vetted
    before the request instead: a name that resolves here must resolve only to allowed addresses
    (an IP literal likewise); a name only the proxy can resolve is left to the hospital's egress.

Allow-lists (which FHIR servers, which JWKS URLs) stay with the callers that know them (the FHIR
client, the review token check, the trust file); this module makes sure that whatever they decide
to contact is contacted safely.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from ipaddress import ip_address, ip_network
from pathlib import Path
from typing import Any, Mapping, Protocol
from urllib.parse import urlsplit

import requests
from requests.utils import select_proxy

from cds_hooks.errors import Forbidden
from cds_hooks.limits import GuardedAdapter, OutboundBlocked, resolve_outbound

CA_BUNDLE_VARIABLES = ("DERM3R_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")


def _ca_bundle_variable(env: Mapping[str, str]) -> tuple[str, str] | None:
    """The first CA bundle variable set (see CA_BUNDLE_VARIABLES) and its value; the one reader."""
    return next(((name, env[name].strip()) for name in CA_BUNDLE_VARIABLES if (env.get(name) or "").strip()), None)


def ca_bundle_from_env(env: Mapping[str, str] | None = None) -> str | None:
    """The CA bundle file the operator configured, None for certifi's roots (not checked here;
    `Outbound.from_env` refuses a missing file at start-up)."""
    named = _ca_bundle_variable(os.environ if env is None else env)
    return named[1] if named else None


@dataclass(frozen=True)
class Outbound:
    """The trust store and proxies for outbound HTTPS. The default trusts the public roots
    shipped with requests (certifi) and uses no proxy."""

    ca_bundle: Path | None = None
    proxies: Mapping[str, str] = field(default_factory=dict)  # "https"/"http"/"all" -> proxy URL
    no_proxy: tuple[str, ...] = ()  # host names, ".suffix", "*", IPs or CIDR blocks

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Outbound":
        ca_bundle = None
        named = _ca_bundle_variable(env)
        if named is not None:
            name, value = named
            ca_bundle = Path(value)
            if not ca_bundle.is_file():
                # At start-up, naming the variable: a typo here would otherwise surface as
                # "certificate verify failed" on the first EHR call.
                raise ValueError(f"{name} points at {value!r}, which is not a readable file")
        proxies: dict[str, str] = {}
        for scheme in ("https", "http", "all"):
            value = (env.get(f"{scheme}_proxy") or env.get(f"{scheme.upper()}_PROXY") or "").strip()
            if value:
                proxies[scheme] = value
        raw_no_proxy = env.get("no_proxy") or env.get("NO_PROXY") or ""
        no_proxy = tuple(p.strip().lower() for p in raw_no_proxy.replace(" ", ",").split(",") if p.strip())
        return cls(ca_bundle=ca_bundle, proxies=proxies, no_proxy=no_proxy)

    @property
    def verify(self) -> str | bool:
        """The value for requests' `verify`: the bundle's path, or True (certifi's roots)."""
        return str(self.ca_bundle) if self.ca_bundle is not None else True

    def proxies_for(self, url: str) -> dict[str, str]:
        """The proxy table requests should use for `url` (empty: connect directly)."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        proxy = self.proxies.get(parts.scheme) or self.proxies.get("all")
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
        if not proxy or _bypassed(host, port, self.no_proxy):
            return {}
        return {parts.scheme: proxy}

    def configure(self, session: requests.Session, url: str) -> requests.Session:
        """Apply the trust store and the proxy for `url` (the one server this session talks to)."""
        session.trust_env = False  # never .netrc credentials or unvetted environment settings
        session.verify = self.verify
        session.proxies = self.proxies_for(url)
        return session


def _bypassed(host: str, port: int | None, no_proxy: tuple[str, ...]) -> bool:
    for entry in no_proxy:
        if entry == "*":
            return True
        name, _, entry_port = entry.partition(":") if entry.count(":") == 1 else (entry, "", "")
        if entry_port and port is not None and entry_port != str(port):
            continue
        if "/" in name:
            try:
                if ip_address(host) in ip_network(name, strict=False):
                    return True
            except ValueError:
                pass
            continue
        name = name.lstrip(".")
        if host == name or host.endswith("." + name):
            return True
    return False


# -- sessions ----------------------------------------------------------------------------------


class _OutboundSession(requests.Session):
    """A Session that picks the proxy per request URL from its `Outbound` (NO_PROXY applied)
    instead of from the environment; `trust_env` stays off (no .netrc)."""

    def __init__(self, outbound: "Outbound") -> None:
        super().__init__()
        self.outbound = outbound
        self.trust_env = False
        self.verify = outbound.verify

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> dict[str, Any]:
        if not proxies and not self.proxies and url:
            proxies = self.outbound.proxies_for(str(url))
        return super().merge_environment_settings(url, proxies, stream, verify, cert)


class _ProxyAwareGuardedAdapter(GuardedAdapter):
    """GuardedAdapter that also allows the operator's configured proxies: the proxy connects for
    us, so the target's name is vetted before the request instead (see the module doc)."""

    def __init__(self, allow_private: bool) -> None:
        super().__init__(allow_private, allow_proxy=True)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if select_proxy(str(request.url), kwargs.get("proxies") or {}):
            _vet_proxied_target(str(request.url), self.allow_private)
        return super().send(request, **kwargs)


def _vet_proxied_target(url: str, allow_private: bool) -> None:
    try:
        resolve_outbound(url, allow_private)
    except Forbidden as exc:
        if exc.message == "outbound host does not resolve":
            return  # only the proxy can resolve it (hospital egress); it refuses what it must
        raise requests.ConnectionError(OutboundBlocked(exc.message)) from exc


def guarded_session(allow_private: bool, *, outbound: Outbound | None = None, url: str | None = None) -> requests.Session:
    """A requests Session whose every connection passes the address guard, with the CA bundle and
    proxies of `outbound` (Settings.outbound; default: certifi's roots, no proxy). With `url` the
    proxy for that one server is fixed on the session (`Outbound.configure`); without it the proxy
    is chosen per request URL. See the module doc."""
    outbound = outbound or Outbound()
    session = _OutboundSession(outbound)
    if url is not None:
        outbound.configure(session, url)
    adapter = _ProxyAwareGuardedAdapter(allow_private) if outbound.proxies else GuardedAdapter(allow_private)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class OutboundSettings(Protocol):
    """What `outbound_session` reads of `cds_hooks.settings.Settings` (which imports this module
    for `Outbound`, so naming Settings here would be an import loop)."""

    @property
    def allow_private_fhir(self) -> bool: ...

    @property
    def outbound(self) -> Outbound: ...


def outbound_session(settings: OutboundSettings, *, allow_private: bool | None = None, url: str | None = None) -> requests.Session:
    """The session for one kind of outbound call, configured from the service settings.
    `allow_private` overrides DERM3R_ALLOW_PRIVATE_FHIR for targets the operator named explicitly
    (JWKS URLs in the trust file may sit on a private network; link-local stays refused)."""
    return guarded_session(
        settings.allow_private_fhir if allow_private is None else allow_private,
        outbound=settings.outbound,
        url=url,
    )


def jwks_session(outbound: Outbound | None = None) -> requests.Session:
    """Session for JWK Set downloads (`auth.fetch_jwks`): the URLs come from the operator's trust
    file, so private addresses are allowed, link-local and metadata addresses are not. Called with
    Settings.outbound by the service; without it (tools, tests), the CA bundle from the environment
    and no proxy - never the environment's proxies or .netrc."""
    if outbound is None:
        bundle = ca_bundle_from_env()
        outbound = Outbound(ca_bundle=Path(bundle) if bundle else None)
    return guarded_session(True, outbound=outbound)


__all__ = ["CA_BUNDLE_VARIABLES", "Outbound", "ca_bundle_from_env", "guarded_session", "jwks_session", "outbound_session"]
