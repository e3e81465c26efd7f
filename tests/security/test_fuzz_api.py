"""Property-based tests against the running app (real routes, auth, parsing, pipeline): whatever
arrives, the service never answers 5xx, and every error is a FHIR OperationOutcome."""

from __future__ import annotations

import base64
import copy
import io
import json
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from security_support import (
    BASE_URL,
    SERVICE_ID,
    SERVICE_URL,
    Signer,
    assert_operation_outcome,
    hook_body,
    strict_json,
    synthetic_patient,
)

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

json_scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=25,
)


def _check(response: Any, *, method: str = "POST") -> None:
    assert response.status_code < 500, f"{response.status_code}: {response.data[:300]!r}"
    if response.status_code >= 400 and method != "HEAD":  # HEAD answers carry no body by definition
        assert_operation_outcome(response)
    if response.mimetype == "application/json" and method != "HEAD":
        strict_json(response)


@pytest.fixture(scope="module")
def client(module_app: Any) -> Any:
    return module_app.test_client()


@pytest.fixture(scope="module")
def base_body() -> dict[str, Any]:
    """A valid request without photographs (fast enough for hundreds of mutations)."""
    body = hook_body(synthetic_patient(visits=1))
    body["prefetch"]["media"] = {"resourceType": "Bundle", "type": "searchset", "entry": []}
    body["prefetch"]["documents"] = {"resourceType": "Bundle", "type": "searchset", "entry": []}
    return body


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a JSON value (bounded: the prefetch is big)."""
    out = [prefix]
    if len(prefix) >= 6:
        return out
    if isinstance(value, dict):
        for key, child in value.items():
            out += _paths(child, prefix + (key,))
    elif isinstance(value, list):
        for i, child in enumerate(value[:3]):
            out += _paths(child, prefix + (i,))
    return out


def _mutate(body: dict[str, Any], path: tuple[Any, ...], action: str, value: Any) -> Any:
    if not path:
        return value
    doc = copy.deepcopy(body)
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    if action == "delete":
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


@FUZZ
@given(body=json_values)
def test_arbitrary_json_bodies(client: Any, signer: Signer, body: Any) -> None:
    response = client.post(f"/cds-services/{SERVICE_ID}", json=body, headers=signer.header())
    _check(response)
    assert response.status_code != 200 or isinstance(body, dict)


@FUZZ
@given(data=st.data())
def test_mutated_valid_requests(client: Any, signer: Signer, base_body: dict[str, Any], data: st.DataObject) -> None:
    paths = _paths(base_body)
    path = data.draw(st.sampled_from(paths), label="path")
    action = data.draw(st.sampled_from(["delete", "replace"]) if path else st.just("replace"), label="action")
    value = data.draw(json_values, label="value")
    body = _mutate(base_body, path, action, value)
    _check(client.post(f"/cds-services/{SERVICE_ID}", json=body, headers=signer.header()))


@FUZZ
@given(raw=st.binary(max_size=2000) | st.text(max_size=2000).map(str.encode))
def test_raw_bytes_as_json(client: Any, signer: Signer, raw: bytes) -> None:
    response = client.post(
        f"/cds-services/{SERVICE_ID}", data=raw, headers={**signer.header(), "Content-Type": "application/json"}
    )
    _check(response)


@FUZZ
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]),
    path=st.lists(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=20), min_size=0, max_size=4).map(
        # Percent-encoded segments: any byte sequence reaches routing, none is taken as a host.
        lambda parts: "/" + "/".join(quote(part, safe="") for part in parts)
    )
    | st.sampled_from(["/cds-services", f"/cds-services/{SERVICE_ID}", f"/cds-services/{SERVICE_ID}/feedback", "/cds-services/../etc/passwd", "/cds-services/%00", "/app/api/assessments/x"]),
)
def test_arbitrary_paths_and_methods(client: Any, signer: Signer, method: str, path: str) -> None:
    audience = BASE_URL + path
    response = client.open(path, method=method, headers=signer.header(audience), json={})
    _check(response, method=method)


@FUZZ
@given(authorization=st.text(max_size=300) | st.binary(max_size=300).map(lambda b: "Bearer " + b.decode("latin-1")))
def test_arbitrary_authorization_headers(client: Any, authorization: str, base_body: dict[str, Any]) -> None:
    try:
        headers = {"Authorization": authorization}
        response = client.post(f"/cds-services/{SERVICE_ID}", json=base_body, headers=headers)
    except ValueError:
        return  # werkzeug refuses header values with newlines before a request exists
    assert response.status_code == 401
    assert_operation_outcome(response)
    if len(authorization.strip()) >= 16:  # shorter strings occur in any text by chance
        assert authorization not in response.get_data(as_text=True)


@FUZZ
@given(claims=st.dictionaries(st.sampled_from(["iss", "aud", "exp", "iat", "jti", "nbf", "sub", "tenant"]), json_values, max_size=4))
def test_arbitrary_claims_in_signed_tokens(client: Any, signer: Signer, base_body: dict[str, Any], claims: dict[str, Any]) -> None:
    """Even a correctly signed token with garbage claims yields 401 or success, never a crash."""
    try:
        token = signer.token(SERVICE_URL, **claims)
    except (TypeError, ValueError):
        return  # PyJWT cannot serialise it: not a token anyone can send
    response = client.post(f"/cds-services/{SERVICE_ID}", json=base_body, headers={"Authorization": f"Bearer {token}"})
    _check(response)
    assert response.status_code in {200, 401}


@FUZZ
@given(items=st.lists(json_values | st.fixed_dictionaries({"card": st.text(max_size=40), "outcome": st.sampled_from(["accepted", "overridden", "x"]), "outcomeTimestamp": st.text(max_size=30)}), max_size=4))
def test_arbitrary_feedback(client: Any, signer: Signer, items: list[Any]) -> None:
    url = f"/cds-services/{SERVICE_ID}/feedback"
    response = client.post(url, json={"feedback": items}, headers=signer.header(BASE_URL + url))
    _check(response)


def test_fuzz_sanity_valid_request_succeeds(client: Any, signer: Signer, base_body: dict[str, Any]) -> None:
    """The base body is itself valid: otherwise every mutation test would only test the 400 path."""
    response = client.post(f"/cds-services/{SERVICE_ID}", json=base_body, headers=signer.header())
    assert response.status_code == 200, response.data[:500]
    assert "cards" in response.get_json()
    json.dumps(response.get_json())


# -- photographs ------------------------------------------------------------------------------------

PHOTO_FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _photo_request(base_body: dict[str, Any], data: bytes, content_type: str) -> dict[str, Any]:
    body = copy.deepcopy(base_body)
    patient_ref = f"Patient/{body['prefetch']['patient']['id']}"
    media = {
        "resourceType": "Media",
        "id": "fuzz-photo",
        "status": "completed",
        "subject": {"reference": patient_ref},
        "createdDateTime": "2026-11-01T10:00:00Z",
        "content": {"contentType": content_type, "data": base64.b64encode(data).decode()},
    }
    body["prefetch"]["media"] = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": media}]}
    return body


def _encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


@PHOTO_FUZZ
@given(
    width=st.integers(1, 96),
    height=st.integers(1, 96),
    mode=st.sampled_from(["RGB", "L", "RGBA", "P", "CMYK", "1", "I;16"]),
    fmt=st.sampled_from(["JPEG", "PNG", "WEBP"]),
    seed=st.integers(0, 2**16),
)
def test_arbitrary_small_images(client: Any, signer: Signer, base_body: dict[str, Any], width: int, height: int, mode: str, fmt: str, seed: int) -> None:
    import numpy as np

    rng = np.random.default_rng(seed)
    image = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB")
    try:
        data = _encode(image.convert(mode), fmt)
    except (OSError, ValueError):
        return  # this format cannot store this mode: not a file anyone can send
    response = client.post(f"/cds-services/{SERVICE_ID}", json=_photo_request(base_body, data, f"image/{fmt.lower()}"), headers=signer.header())
    _check(response)


@PHOTO_FUZZ
@given(data=st.data())
def test_corrupted_photographs(client: Any, signer: Signer, base_body: dict[str, Any], data: st.DataObject) -> None:
    """A valid photo with random bytes overwritten, inserted or cut: the decoder must fail safe."""
    original = bytearray(_encode(Image.new("RGB", (160, 120), (190, 80, 80)), data.draw(st.sampled_from(["JPEG", "PNG", "WEBP"]), label="fmt")))
    for _ in range(data.draw(st.integers(1, 8), label="edits")):
        position = data.draw(st.integers(0, len(original) - 1), label="position")
        action = data.draw(st.sampled_from(["flip", "insert", "truncate"]), label="action")
        if action == "flip":
            original[position] = data.draw(st.integers(0, 255), label="byte")
        elif action == "insert":
            original[position:position] = data.draw(st.binary(min_size=1, max_size=64), label="bytes")
        else:
            del original[max(position, 8):]
    response = client.post(f"/cds-services/{SERVICE_ID}", json=_photo_request(base_body, bytes(original), "image/jpeg"), headers=signer.header())
    _check(response)


def test_prefetch_bundle_entry_not_an_array(client: Any, signer: Signer, base_body: dict[str, Any]) -> None:
    """Found by test_mutated_valid_requests (was a 500 in prefetch flattening; now a 400)."""
    for value in (True, 0, 1.5):
        body = copy.deepcopy(base_body)
        body["prefetch"]["medicationStatements"]["entry"] = value
        _check(client.post(f"/cds-services/{SERVICE_ID}", json=body, headers=signer.header()))
