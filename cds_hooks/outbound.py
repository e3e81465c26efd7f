"""The one outbound HTTP path: every call derm3r makes to another server (FHIR reads and photo
fetches for a hook, the review app's token check, JWK Set downloads) goes through a session built
here, so the same guards hold everywhere:

- every connection is vetted at connect time (`limits.GuardedAdapter`: the address actually
  connected to must be public, or private/loopback only with DERM3R_ALLOW_PRIVATE_FHIR; link-local
  such as cloud metadata, multicast and unspecified addresses never), which also closes the DNS
  rebinding window between an allow-list check and the connection;
- no proxies and no .netrc credentials from the environment (`trust_env` off) unless the operator
  turns them on with DERM3R_OUTBOUND_TRUST_ENV; through a proxy the target name is vetted before
  the request (the proxy does the connecting);
- TLS verified against the configured CA bundle (DERM3R_CA_BUNDLE, else REQUESTS_CA_BUNDLE or
  SSL_CERT_FILE, else certifi's) - set in exactly one place, `guarded_session`.

Allow-lists (which FHIR servers, which JWKS URLs) stay with the callers that know them (the FHIR
client, the review token check, the trust file); this module makes sure that whatever they decide
to contact is contacted safely.
"""

from __future__ import annotations

from typing import Any

import requests

from cds_hooks.errors import Forbidden
from cds_hooks.limits import GuardedAdapter, OutboundBlocked, resolve_outbound
from cds_hooks.settings import Settings, ca_bundle_from_env

class _ProxyVettingAdapter(GuardedAdapter):
    """GuardedAdapter that also allows configured proxies: the proxy connects for us, so the
    target's name is resolved and vetted before each request instead."""

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        return super(GuardedAdapter, self).proxy_manager_for(proxy, **proxy_kwargs)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("proxies"):
            try:
                resolve_outbound(str(request.url), self.allow_private)
            except Forbidden as exc:
                raise requests.ConnectionError(OutboundBlocked(exc.message), request=request) from exc
        return super().send(request, **kwargs)


def guarded_session(allow_private: bool, *, ca_bundle: str | None = None, trust_env: bool = False) -> requests.Session:
    """A requests Session whose every connection passes the address guard; see the module doc."""
    session = requests.Session()
    session.trust_env = trust_env
    adapter: GuardedAdapter = _ProxyVettingAdapter(allow_private) if trust_env else GuardedAdapter(allow_private)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    if ca_bundle:
        session.verify = ca_bundle
    return session


def outbound_session(settings: Settings, *, allow_private: bool | None = None) -> requests.Session:
    """The session for one kind of outbound call, configured from the service settings.
    `allow_private` overrides DERM3R_ALLOW_PRIVATE_FHIR for targets the operator named explicitly
    (JWKS URLs in the trust file may sit on a private network; link-local stays refused)."""
    return guarded_session(
        settings.allow_private_fhir if allow_private is None else allow_private,
        ca_bundle=str(settings.ca_bundle) if settings.ca_bundle else None,
        trust_env=settings.outbound_trust_env,
    )


def jwks_session() -> requests.Session:
    """Session for JWK Set downloads (called from `auth.fetch_jwks`, which has no settings): the
    URLs come from the operator's trust file, so private addresses are allowed, link-local and
    metadata addresses are not; no proxies/.netrc; CA bundle from the environment."""
    return guarded_session(True, ca_bundle=ca_bundle_from_env())
