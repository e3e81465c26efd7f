"""Who may read a review record: the holder of a SMART access token that the record's FHIR server
honours for the record's patient.

Choice (documented in the README): the review API does not validate tokens itself (EHR tokens are
opaque to third parties and SMART defines no mandatory introspection). Instead it asks the FHIR
server the record came from: `GET {fhirServer}/{patient_ref}` with the bearer token. A 200 carrying
that Patient proves both that the token is live and that it grants access to this patient. Together
with the 256-bit, short-lived record id this makes a leaked id alone useless.

The FHIR server is never taken from the browser on trust: it is the `fhirServer` the record was
created for (the hook request's), which the service only stores when it is on the operator's
allow-list (issue 12: a record bound to an unchecked server sent the clinician's token there). A
record without a bound server is readable by nobody: with only an allow-list to go by, any
allow-listed server that knows the same patient id could otherwise unlock another tenant's record.
The bound server must still be on the allow-list when the token is checked (removing a server
revokes its records), and the check goes through the one guarded outbound path
(`cds_hooks.outbound`: connect-time address check, no ambient proxies or .netrc, the configured CA
bundle). Successful checks are remembered briefly (keyed by a hash of the token, never the token)
so that loading a record's photographs does not cost one FHIR call each.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from urllib.parse import urlsplit

import requests

from cds_hooks.errors import Forbidden, ServiceUnavailable, Unauthorized
from cds_hooks.outbound import outbound_session
from cds_hooks.prefetch import is_allowed_server
from cds_hooks.settings import Settings

log = logging.getLogger(__name__)

FHIR_SERVER_HEADER = "X-FHIR-Server"
_CACHE_MAX = 1024


class TokenVerifier:
    """Checks a SMART bearer token against the FHIR server a review record belongs to."""

    def __init__(self, settings: Settings, session: requests.Session | None = None, cache_seconds: float = 60.0) -> None:
        self._settings = settings
        self._session = session or outbound_session(settings)
        self._cache_seconds = cache_seconds
        self._cache: dict[str, float] = {}
        self._lock = threading.Lock()

    def verify(self, record: dict, authorization: str | None, fhir_server: str | None) -> str:
        """Return the FHIR base the token was checked against; raise Unauthorized / Forbidden."""
        token = _bearer(authorization)
        base = self._server_for(record, fhir_server)
        patient_ref = str(record.get("patient") or "")
        if not patient_ref.startswith("Patient/"):
            raise Forbidden("record has no patient")
        key = hashlib.sha256(f"{token}\n{base}\n{patient_ref}".encode()).hexdigest()
        now = time.monotonic()
        with self._lock:
            if self._cache.get(key, 0.0) > now:
                return base
        self._probe(base, patient_ref, token)
        with self._lock:
            if len(self._cache) >= _CACHE_MAX:
                self._cache = {k: t for k, t in self._cache.items() if t > now}
            self._cache[key] = now + self._cache_seconds
        return base

    def _server_for(self, record: dict, claimed: str | None) -> str:
        bound = str(record.get("fhirServer") or "").rstrip("/")
        claimed = (claimed or "").strip().rstrip("/")
        if not bound:
            # Not tied to a server: no token from any server may open it (see the module doc).
            raise Forbidden("review record is not bound to a FHIR server")
        # The record belongs to the hook's FHIR server; a client naming another one is confused
        # or probing.
        if claimed and claimed != bound:
            raise Forbidden("token issuer does not match the record's FHIR server")
        if not is_allowed_server(bound, self._settings.fhir_allowlist):
            raise Forbidden("the record's FHIR server is no longer on the allow-list")
        server = bound
        scheme = urlsplit(server).scheme
        if scheme != "https" and not (scheme == "http" and self._settings.allow_private_fhir):
            raise Forbidden("FHIR server must use https")
        return server

    def _probe(self, base: str, patient_ref: str, token: str) -> None:
        try:
            response = self._session.get(
                f"{base}/{patient_ref}",
                headers={"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"},
                timeout=self._settings.fhir_timeout_seconds,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            # Includes a connection the outbound guard refused (private/link-local address).
            raise ServiceUnavailable("FHIR server unreachable for token check") from exc
        if response.status_code == 401:
            raise Unauthorized("access token rejected by the FHIR server")
        if response.status_code in (403, 404):
            # 404 too: servers commonly hide resources the token may not see.
            raise Forbidden("access token does not grant access to this patient")
        if response.status_code != 200:
            log.warning("token check: FHIR server answered %s", response.status_code)
            raise ServiceUnavailable("FHIR server could not confirm the access token")
        try:
            body = response.json()
        except ValueError as exc:
            raise ServiceUnavailable("FHIR server sent an unreadable Patient") from exc
        if not isinstance(body, dict) or f"{body.get('resourceType')}/{body.get('id')}" != patient_ref:
            raise Forbidden("FHIR server returned a different resource")


def _bearer(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("SMART access token required (Authorization: Bearer ...)")
    return token
