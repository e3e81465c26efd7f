"""fhir_mapping.r4: validation errors are typed and never echo values."""

from __future__ import annotations

import pytest

from fhir_mapping import r4
from fhir_mapping.errors import InvalidResource

SECRET = "Jane Secret-Doe"


@pytest.mark.parametrize(
    "resource, fragment",
    [({"resourceType": "Observation", "status": "final", "code": {"text": SECRET}, "bogus": SECRET}, "bogus"),
     ({"resourceType": "Observation", "status": "final"}, "code"),
     ({"resourceType": "Patient", "birthDate": SECRET}, "birthDate"),
     ({"resourceType": "Observation", "id": "has space", "status": "final", "code": {"text": SECRET}}, "id"),
     ({"resourceType": "NotAType", "name": SECRET}, "unknown"),
     ({"resourceType": "Coding", "code": SECRET}, "unknown"),
     ({"name": SECRET}, "resourceType"),
     ([SECRET], "JSON object")],
)
def test_invalid_resources(resource: object, fragment: str) -> None:
    with pytest.raises(InvalidResource) as info:
        r4.validate(resource)  # type: ignore[arg-type]
    assert fragment in info.value.message
    assert SECRET not in info.value.message and SECRET not in str(info.value)
    assert r4.check(resource) is not None  # type: ignore[arg-type]


def test_valid_resource_round_trips() -> None:
    resource = {"resourceType": "Patient", "id": "p", "birthDate": "1980-01-02", "gender": "female"}
    assert r4.validate(resource) == resource
    assert r4.check(resource) is None


@pytest.mark.parametrize("name, known", [("Media", True), ("DocumentReference", True), ("Coding", False), ("Nope", False),
                                         ("../x", False)])
def test_is_known_type(name: str, known: bool) -> None:
    assert r4.is_known_type(name) is known
