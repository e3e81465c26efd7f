"""Helpers for the security tests (imported by conftest.py and the test modules): the trusted test
issuer's JWT signer, synthetic patients as CDS Hooks prefetch, hostile-request builders and the
loopback canary server's state."""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

ISSUER = "https://ehr.security-tests.example"
BASE_URL = "https://derm3r.security-tests.example"
SERVICE_ID = "derm3r-patient-view"
SERVICE_URL = f"{BASE_URL}/cds-services/{SERVICE_ID}"
FHIR_TOKEN = "fhir-access-token-SECRET-7f3a9c"  # must never appear in logs

PREFETCH_TYPES = {
    "observations": "Observation",
    "media": "Media",
    "conditions": "Condition",
    "medicationStatements": "MedicationStatement",
    "medicationRequests": "MedicationRequest",
    "documents": "DocumentReference",
}


class Signer:
    """Mints CDS Hooks client JWTs for the trusted test issuer."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP384R1())
        public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.key.public_key()))
        public.update({"kid": "sec-1", "use": "sig", "alg": "ES384"})
        self.jwks = {"keys": [public]}

    def token(self, audience: str = SERVICE_URL, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": audience, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())}
        body.update(claims)
        return jwt.encode(body, self.key, algorithm="ES384", headers={"kid": "sec-1", "typ": "JWT"})

    def header(self, audience: str = SERVICE_URL, **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(audience, **claims)}"}


def build_app(data_dir: Path, trust_file: Path, pipeline: Any, *, client_factory: Any = None, **overrides: Any) -> Any:
    """The real app (create_app) with JWT verification on, for BASE_URL."""
    from cds_hooks import create_app
    from cds_hooks.settings import Settings

    settings = Settings(trusted_issuers_file=trust_file, public_base_url=BASE_URL, data_dir=data_dir, **overrides)
    kwargs: dict[str, Any] = {"pipeline": pipeline}
    if client_factory is not None:
        kwargs["client_factory"] = client_factory
    app = create_app(settings, **kwargs)
    app.testing = False  # exercise the real error handlers, not test-mode exception propagation
    return app


class FixedClassifier:
    """The lesion model's interface with fixed probabilities, using the runtime's own `prepare`
    (so photos still go through the real resize path). Used only while the shipped ONNX model is
    absent: everything a hostile photo can reach (decoding, quality gate, attributes, masks,
    representation, reasoning) is the real code; only the forward pass is fixed."""

    classes = ("psoriasis", "eczema", "other")
    display_names = {"psoriasis": "Psoriasis", "eczema": "Eczema", "other": "Other"}
    version = "security-tests-fixed-classifier"
    input_size = 64

    def prepare(self, image: Any) -> Any:
        from inference.lesion_model import prepare_image

        return prepare_image(image, self.input_size)

    def predict(self, batch: Any) -> Any:
        import numpy as np

        return np.tile(np.array([0.7, 0.2, 0.1], dtype=np.float32), (batch.shape[0], 1))


def security_pipeline() -> tuple[Any, str]:
    """(pipeline, description): the shipped pipeline, or the real agents around FixedClassifier
    while the model file is not in the tree. Raises ImportError if the agents themselves are missing."""
    from inference.pipeline import Pipeline, build_pipeline

    try:
        return build_pipeline(), "shipped pipeline"
    except FileNotFoundError:
        from inference.reason import DermReason
        from inference.rec import DermRec
        from inference.rep import DermRep

        pipeline = Pipeline(rec=DermRec(FixedClassifier()), rep=DermRep(), reason=DermReason.load())
        return pipeline, "real agents, fixed classifier (lesion model not shipped yet)"


class EdgeOnlyPipeline:
    """Stands in for the pipeline where a test's requests must be refused before any inference."""

    def assess(self, case: Any) -> Any:
        from cds_hooks.errors import ServiceUnavailable

        raise ServiceUnavailable("edge-only test app: the request reached the pipeline")


# -- request bodies -------------------------------------------------------------------------------


def searchset(resources: list[dict]) -> dict:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": r, "search": {"mode": "match"}} for r in resources],
    }


def synthetic_patient(profile: str = "psoriasis_moderate", *, seed: int = 7, visits: int = 2) -> dict:
    from cds_hooks.demo.synthetic import patient_bundle

    return patient_bundle(profile, photos="inline", seed=seed, visits=visits)


def prefetch_for(bundle: dict) -> dict[str, Any]:
    from cds_hooks.demo.synthetic import resources

    prefetch: dict[str, Any] = {"patient": next(resources(bundle, "Patient"))}
    for key, resource_type in PREFETCH_TYPES.items():
        prefetch[key] = searchset(list(resources(bundle, resource_type)))
    return prefetch


def hook_body(
    bundle: dict | None = None,
    *,
    prefetch: dict | None = None,
    fhir_server: str | None = None,
    with_token: bool = False,
) -> dict[str, Any]:
    from cds_hooks.demo.synthetic import patient_id

    bundle = bundle or synthetic_patient()
    body: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/example", "patientId": patient_id(bundle)},
        "prefetch": prefetch_for(bundle) if prefetch is None else prefetch,
    }
    if fhir_server is not None:
        body["fhirServer"] = fhir_server
        if with_token:
            body["fhirAuthorization"] = {
                "access_token": FHIR_TOKEN,
                "token_type": "Bearer",
                "expires_in": 300,
                "scope": "patient/*.read",
                "subject": "derm3r",
            }
    return body


def media_with_photo(patient_ref: str, data: bytes, content_type: str = "image/jpeg", n: int = 0) -> dict:
    return {
        "resourceType": "Media",
        "id": f"hostile-{n}",
        "status": "completed",
        "subject": {"reference": patient_ref},
        "createdDateTime": "2026-11-01T10:00:00Z",
        "content": {"contentType": content_type, "data": base64.b64encode(data).decode()},
    }


def strict_json(response: Any) -> Any:
    """The response body parsed as strict JSON: NaN/Infinity (which Python's json would emit and
    accept) make it invalid for every other client, so they fail the test."""

    def refuse(name: str) -> Any:
        raise AssertionError(f"response body contains the non-JSON constant {name}")

    return json.loads(response.get_data(as_text=True), parse_constant=refuse)


def assert_operation_outcome(response: Any) -> None:
    body = response.get_json(silent=True)
    assert isinstance(body, dict), f"error body is not JSON: {response.data[:200]!r}"
    assert body.get("resourceType") == "OperationOutcome"
    assert body["issue"] and all("severity" in i and "code" in i for i in body["issue"])


# -- canary HTTP server ----------------------------------------------------------------------------


@dataclass
class Canary:
    """A loopback HTTP server; `hits` lists every path requested. Optional routes answer with a
    status, headers and body (e.g. a redirect)."""

    url: str = ""
    hits: list[str] = field(default_factory=list)
    routes: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)

    def answer(self, path: str) -> tuple[int, dict[str, str], bytes]:
        """The exact route, else the longest route that is a path prefix, else an empty searchset."""
        if path in self.routes:
            return self.routes[path]
        prefixes = [p for p in self.routes if path.startswith(p.rstrip("/") + "/")]
        if prefixes:
            return self.routes[max(prefixes, key=len)]
        return 200, {"Content-Type": "application/fhir+json"}, b'{"resourceType":"Bundle","type":"searchset","entry":[]}'



# -- hostile inputs shared by the issue-12 tests ------------------------------------------------------


def media_resource(patient_ref: str, data: bytes | str, content_type: str, n: int) -> dict:
    payload = data if isinstance(data, str) else base64.b64encode(data).decode()
    return {
        "resourceType": "Media",
        "id": f"hostile-{n}",
        "status": "completed",
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/media-type", "code": "image"}]},
        "subject": {"reference": patient_ref},
        "createdDateTime": "2026-11-01T10:00:00Z",
        "content": {"contentType": content_type, "data": payload},
    }


def request_with_photos(photos: list[tuple[bytes | str, str]], **hook: Any) -> dict[str, Any]:
    """A full-prefetch hook whose Media are exactly `photos` ((bytes, content type) pairs)."""
    bundle = synthetic_patient(visits=1)
    prefetch = prefetch_for(bundle)
    ref = f"Patient/{prefetch['patient']['id']}"
    prefetch["media"] = searchset([media_resource(ref, data, ctype, i) for i, (data, ctype) in enumerate(photos)])
    prefetch["documents"] = searchset([])
    return hook_body(bundle, prefetch=prefetch, **hook)


def progressive_jpeg(width: int, height: int, *, mode: str = "RGB", progressive: bool = True) -> bytes:
    """A smooth-gradient JPEG (small AC scans, like the red team's blank 8000x8000 photo)."""
    import io

    import numpy as np
    from PIL import Image

    ramp = np.linspace(40, 220, width, dtype=np.float32)[None, :].repeat(height, axis=0).astype(np.uint8)
    image = Image.fromarray(ramp, "L")
    if mode == "RGB":
        image = Image.merge("RGB", (image, image.transpose(Image.Transpose.FLIP_LEFT_RIGHT), image))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, progressive=progressive)
    return out.getvalue()


def jpeg_scans(data: bytes) -> list[tuple[int, int]]:
    """(start, end) byte ranges of each scan (SOS header + entropy-coded data)."""
    i, scans = 2, []
    while i < len(data) - 1:
        marker = data[i + 1]
        if marker == 0xD9:
            break
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        end = i + 2 + length
        if marker == 0xDA:
            j = end
            while True:
                j = data.index(b"\xff", j)
                if data[j + 1] == 0 or 0xD0 <= data[j + 1] <= 0xD7:
                    j += 2
                    continue
                break
            scans.append((i, j))
            end = j
        i = end
    return scans


def repeat_scan(data: bytes, which: int, times: int) -> bytes:
    """`data` with scan number `which` repeated `times` extra times right after itself (the red
    team's CPU bomb: libjpeg decodes every scan, whatever the requested output size)."""
    start, end = jpeg_scans(data)[which]
    return data[:end] + data[start:end] * times + data[end:]


class AcceptingFhir:
    """A FHIR server session for the review app's token check that grants every token access to the
    patient asked for: the tests using it are about what happens after authorisation."""

    def get(self, url: str, headers: dict, timeout: float, allow_redirects: bool) -> Any:
        pid = url.rsplit("/", 1)[-1]

        class R:
            status_code = 200

            @staticmethod
            def json() -> dict:
                return {"resourceType": "Patient", "id": pid}

        return R()
