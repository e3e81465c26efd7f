"""The CDS Hooks service request (`POST {baseUrl}/cds-services/{id}`), parsed and validated."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Generic, Mapping, TypeVar

from cds_hooks.errors import InvalidRequest
from cds_hooks.wire.context import HookContext, parse_context
from cds_hooks.wire.fields import (
    optional_extension,
    require_fhir_id,
    require_object,
    require_str,
    require_url,
    require_uuid,
)

# The context class of the request's hook (`cds_hooks.wire.context.CONTEXTS`): a handler declares
# the one it serves, e.g. `HookRequest[OrderContext]`.
C = TypeVar("C", bound=HookContext)


@dataclass(frozen=True)
class FhirAuthorization:
    """OAuth 2.0 bearer token the EHR grants for this call. `access_token` is excluded from repr so
    it cannot slip into a log line or a traceback by accident."""

    access_token: str = field(repr=False)
    token_type: str
    expires_in: int
    scope: str
    subject: str
    patient: str | None = None


@dataclass(frozen=True)
class HookRequest(Generic[C]):
    hook: str
    hook_instance: str
    context: C
    fhir_server: str | None = None
    fhir_authorization: FhirAuthorization | None = None
    # key -> prefetched value exactly as sent (a resource object or None). Absent keys are absent.
    prefetch: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    extension: Mapping[str, Any] | None = field(default=None, repr=False)


def _parse_fhir_authorization(value: Any) -> FhirAuthorization:
    raw = require_object(value, "fhirAuthorization")
    path = "fhirAuthorization"
    token_type = require_str(raw, "token_type", path, max_len=16)
    if token_type.lower() != "bearer":
        raise InvalidRequest("fhirAuthorization.token_type must be 'Bearer'", expression=f"{path}.token_type")
    expires_in = raw.get("expires_in")
    # bool is an int subclass in Python; JSON true is not an integer lifetime.
    if not isinstance(expires_in, int) or isinstance(expires_in, bool) or expires_in < 0:
        raise InvalidRequest("fhirAuthorization.expires_in must be a non-negative integer", expression=f"{path}.expires_in")
    return FhirAuthorization(
        access_token=require_str(raw, "access_token", path, max_len=16384),
        token_type="Bearer",
        expires_in=expires_in,
        scope=require_str(raw, "scope", path),
        subject=require_str(raw, "subject", path, max_len=512),
        patient=require_fhir_id(raw, "patient", path, required=False),
    )


def _parse_prefetch(value: Any) -> Mapping[str, Any]:
    if value is None:
        return MappingProxyType({})
    raw = require_object(value, "prefetch")  # its size was bounded by limits.check_prefetch
    for key, item in raw.items():
        # A prefetch value is a FHIR resource (object) or null; the spec's user-id example also shows
        # a bare string for a user token, which we do not request and therefore ignore.
        if item is not None and not isinstance(item, (dict, str)):
            raise InvalidRequest(f"prefetch.{key} must be a FHIR resource or null", expression=f"prefetch.{key}")
    return MappingProxyType(dict(raw))


def parse_request(body: Any, *, expected_hook: str) -> HookRequest[HookContext]:
    """Validate a decoded JSON body against the CDS Hooks 2.0 request model for `expected_hook`."""
    raw = require_object(body, "request")
    hook = require_str(raw, "hook", "request", max_len=128)
    if hook != expected_hook:
        raise InvalidRequest(f"this service answers the {expected_hook!r} hook, not {hook!r}", expression="hook")
    hook_instance = require_uuid(raw, "hookInstance", "request")
    fhir_server = require_url(raw, "fhirServer", "request").rstrip("/") if raw.get("fhirServer") is not None else None
    fhir_authorization = None
    if raw.get("fhirAuthorization") is not None:
        if fhir_server is None:  # invariant cds-r-1
            raise InvalidRequest("fhirAuthorization requires fhirServer", expression="fhirServer")
        fhir_authorization = _parse_fhir_authorization(raw["fhirAuthorization"])
    if "context" not in raw:
        raise InvalidRequest("request.context is required", expression="context")
    context = parse_context(hook, raw["context"])
    if fhir_authorization is not None and fhir_authorization.patient not in (None, context.patient_id):
        # A token restricted to another patient: using it would at best fail, at worst mix records.
        raise InvalidRequest("fhirAuthorization.patient differs from context.patientId", expression="fhirAuthorization.patient")
    return HookRequest(
        hook=hook,
        hook_instance=hook_instance,
        context=context,
        fhir_server=fhir_server,
        fhir_authorization=fhir_authorization,
        prefetch=_parse_prefetch(raw.get("prefetch")),
        extension=optional_extension(raw, "request"),
    )


__all__ = ["FhirAuthorization", "HookRequest", "parse_request"]
