"""The only module that imports fhir.resources, and only its R4B (FHIR R4-compatible) models: the
package default is R5, which has no Media and a different DocumentReference.

`validate` guards every resource the service emits; `check` lets the case builder read input
leniently (an invalid input resource becomes a DataIssue, never a crash).
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError

from fhir_mapping.errors import InvalidResource

_MAX_PATHS = 5


def _model_class(resource: Any) -> type:
    if not isinstance(resource, dict):
        raise InvalidResource("resource is not a JSON object")
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str) or not resource_type:
        raise InvalidResource("resource has no resourceType")
    model_class = _resource_class(resource_type)
    if model_class is None:
        raise InvalidResource("unknown FHIR R4 resource type", resource_type=resource_type)
    return model_class


def _resource_class(resource_type: str) -> type | None:
    # get_fhir_model_class also answers for data types ("Coding"); only resources count here.
    if not resource_type.isalnum():
        return None
    try:
        model_class = get_fhir_model_class(resource_type)
    except (ValueError, KeyError, AttributeError):
        return None
    return model_class if isinstance(model_class, type) and issubclass(model_class, Resource) else None


def _error_paths(exc: ValidationError) -> tuple[str, ...]:
    # Only locations and error kinds: pydantic's default message echoes input values (possibly PHI).
    paths: list[str] = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = ".".join(str(p) for p in err.get("loc", ()) if not str(p).startswith("function-"))
        paths.append(f"{loc or '(root)'}: {err.get('type', 'invalid')}")
    return tuple(paths)


def _model(resource: dict) -> Any:
    """The validated fhir.resources model of `resource`; raises InvalidResource (paths, never values)."""
    model_class = _model_class(resource)
    resource_type = resource["resourceType"]
    try:
        return model_class.model_validate(resource)
    except ValidationError as exc:
        paths = _error_paths(exc)
        shown = "; ".join(paths[:_MAX_PATHS]) + (" ..." if len(paths) > _MAX_PATHS else "")
        raise InvalidResource(f"{resource_type} is not valid FHIR R4: {shown}", resource_type=resource_type,
                              paths=paths) from None
    except (ValueError, TypeError, AttributeError) as exc:
        # fhir.resources raises plain ValueError/TypeError (and, for a non-string where a string
        # is expected, AttributeError) from some root validators; keep the message out (it may
        # quote values) and name only the exception kind.
        raise InvalidResource(f"{resource_type} is not valid FHIR R4 ({type(exc).__name__})",
                              resource_type=resource_type) from None


def validate(resource: dict) -> dict:
    """Validate `resource` against the FHIR R4 (R4B) model; return it as normalised FHIR JSON.

    Raises InvalidResource naming the resource type and the failing element paths (never values).
    """
    return _model(resource).model_dump(mode="json", by_alias=True, exclude_none=True)


def require_valid(resource: dict) -> None:
    """Raise InvalidResource unless `resource` is valid FHIR R4. Validation only: for a resource used
    as it is, the normalised JSON `validate` returns is not needed, and dumping the model back to JSON
    costs about as much as validating it."""
    _model(resource)


def check(resource: dict) -> InvalidResource | None:
    """Lenient input check: None if `resource` is valid FHIR R4, else the (safe) problem."""
    try:
        require_valid(resource)
    except InvalidResource as exc:
        return exc
    return None


def is_known_type(resource_type: str) -> bool:
    """True if `resource_type` is a FHIR R4 resource type (e.g. False for R5-only types)."""
    return _resource_class(resource_type) is not None
