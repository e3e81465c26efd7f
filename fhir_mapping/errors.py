"""Typed errors raised by `fhir_mapping`: the FHIR REST client's failures and invalid resources.

Every message is safe to show or log: it never contains an access token, a response body or patient
data. `cds_hooks` translates these into its own error tree at its boundary.
"""

from __future__ import annotations


class FhirError(Exception):
    """Base class. `message` is safe to show; `status` is the HTTP status seen, if any."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class FhirNotAllowed(FhirError):
    """A URL is not under an allow-listed FHIR base (or would leave it by redirect or paging)."""


class FhirUnavailable(FhirError):
    """The FHIR server could not be reached in time: connection error, timeout or 5xx."""


class FhirAuthError(FhirError):
    """The FHIR server refused the access token (401) or the scope (403)."""


class FhirNotFound(FhirError):
    """The requested resource does not exist (404 or 410)."""


class FhirBadResponse(FhirError):
    """The server answered with something unusable: not JSON, not FHIR, too large, or an unexpected status."""


class InvalidResource(ValueError):
    """A resource failed FHIR R4 validation. `message` names resource type and failing element paths
    only (never the offending values, which may be patient data)."""

    def __init__(self, message: str, *, resource_type: str | None = None, paths: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.resource_type = resource_type
        self.paths = paths


class MalformedBundle(FhirError):
    """A Bundle whose shape is not FHIR's (e.g. `entry` or `link` is not an array). `element` names
    the offending element ("entry", "link", "resourceType") so a caller can point at it."""

    def __init__(self, message: str, *, element: str) -> None:
        super().__init__(message)
        self.element = element
