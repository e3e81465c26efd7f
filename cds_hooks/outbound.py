"""How derm3r's outbound HTTPS calls (trust-file JWK Sets, the EHR's FHIR server) trust servers
and reach them: one CA bundle and one proxy table, read once into `Settings`, applied here to
every `requests.Session` that leaves the process.

Why not just `trust_env=True`: requests would then also attach `.netrc` credentials to any host
and pick up proxies the operator never meant for patient data. So sessions keep `trust_env=False`
and get exactly two things from the environment, explicitly:

* `verify`: the CA bundle (`DERM3R_CA_BUNDLE`, else `REQUESTS_CA_BUNDLE`, else `SSL_CERT_FILE`),
  for hospitals with an internal CA or a TLS-inspecting proxy. Like requests, a bundle *replaces*
  the default trust store, so it must also hold the public roots the service needs.
* `proxies`: `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` (either case), minus hosts matched by
  `NO_PROXY`, decided per URL here because requests only applies `NO_PROXY` with `trust_env`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import ip_address, ip_network
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

import requests

CA_BUNDLE_VARIABLES = ("DERM3R_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")


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
        for name in CA_BUNDLE_VARIABLES:
            value = env.get(name, "").strip()
            if value:
                path = Path(value)
                if not path.is_file():
                    # At start-up, naming the variable: a typo here would otherwise surface as
                    # "certificate verify failed" on the first EHR call.
                    raise ValueError(f"{name} points at {value!r}, which is not a readable file")
                ca_bundle = path
                break
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


__all__ = ["CA_BUNDLE_VARIABLES", "Outbound"]
