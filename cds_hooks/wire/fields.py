"""Field-level parsing helpers shared by the inbound wire models.

Every failure raises `InvalidRequest` with the JSON path of the offending field as `expression`, so
the OperationOutcome tells the caller exactly what to fix. Values are never echoed back: they may be
tokens or patient data."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any, Mapping
from urllib.parse import urlsplit

from cds_hooks.errors import InvalidRequest

# FHIR R4 `id` datatype: 1-64 of [A-Za-z0-9-.]. Context ids end up in FHIR query URLs, so this is
# also what keeps a hostile patientId from smuggling extra query parameters or path segments.
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
# A CDS Service id: one URL path segment of unreserved characters (discovery, `/cds-services/{id}`).
SERVICE_ID = re.compile(r"^[A-Za-z0-9\-_.]{1,64}$")


def require_object(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise InvalidRequest(f"{path} must be a JSON object", expression=path)
    return value


def require_str(obj: Mapping[str, Any], key: str, path: str, *, max_len: int = 4096) -> str:
    value = obj.get(key)
    if value is None:
        raise InvalidRequest(f"{path}.{key} is required", expression=f"{path}.{key}")
    return _check_str(value, f"{path}.{key}", max_len)


def optional_str(obj: Mapping[str, Any], key: str, path: str, *, max_len: int = 4096) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    return _check_str(value, f"{path}.{key}", max_len)


def _check_str(value: Any, path: str, max_len: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"{path} must be a non-empty string", expression=path)
    if len(value) > max_len:
        raise InvalidRequest(f"{path} is longer than {max_len} characters", expression=path)
    return value


def require_uuid(obj: Mapping[str, Any], key: str, path: str) -> str:
    value = require_str(obj, key, path, max_len=64)
    if not is_uuid(value):
        raise InvalidRequest(f"{path}.{key} must be a UUID", expression=f"{path}.{key}")
    return value


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def require_fhir_id(obj: Mapping[str, Any], key: str, path: str, *, required: bool = True) -> str | None:
    value = require_str(obj, key, path, max_len=64) if required else optional_str(obj, key, path, max_len=64)
    if value is not None and not FHIR_ID.match(value):
        raise InvalidRequest(f"{path}.{key} must be a FHIR id ([A-Za-z0-9-.], at most 64)", expression=f"{path}.{key}")
    return value


def require_reference(obj: Mapping[str, Any], key: str, path: str, resource_types: tuple[str, ...]) -> str:
    """A relative reference `Type/id` whose type is one of `resource_types`."""
    value = require_str(obj, key, path, max_len=200)
    rtype, _, rid = value.partition("/")
    if rtype not in resource_types or not FHIR_ID.match(rid):
        allowed = ", ".join(f"{t}/<id>" for t in resource_types)
        raise InvalidRequest(f"{path}.{key} must be a reference of the form {allowed}", expression=f"{path}.{key}")
    return value


def is_absolute_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in {"http", "https"} and bool(parts.netloc)


def require_url(obj: Mapping[str, Any], key: str, path: str) -> str:
    value = require_str(obj, key, path, max_len=2048)
    if not is_absolute_http_url(value):
        raise InvalidRequest(f"{path}.{key} must be an absolute http(s) URL", expression=f"{path}.{key}")
    return value


def require_utc_timestamp(obj: Mapping[str, Any], key: str, path: str) -> datetime:
    """RFC 3339 section 5.6 date-time (the spec asks for UTC; any explicit offset is accepted and
    normalised, a missing offset is refused because it would be ambiguous)."""
    value = require_str(obj, key, path, max_len=64)
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidRequest(f"{path}.{key} must be an RFC 3339 date-time", expression=f"{path}.{key}") from exc
    if "T" not in value.upper() or parsed.tzinfo is None:
        raise InvalidRequest(f"{path}.{key} must be an RFC 3339 date-time with a UTC offset", expression=f"{path}.{key}")
    return parsed


def optional_extension(obj: Mapping[str, Any], path: str) -> Mapping[str, Any] | None:
    """The spec reserves `extension`; its value MUST be a JSON object."""
    value = obj.get("extension")
    if value is None:
        return None
    return require_object(value, f"{path}.extension")
