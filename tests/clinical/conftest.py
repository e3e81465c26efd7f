"""The service the vignettes run through: `create_app` with JWT authentication on (an ES384 key in a
trust file, every call signed the way an EHR signs it), the shipped pipeline (real model and
knowledge base), and the Flask test client carrying full prefetch. Each vignette is called once per
session; its outcome is shared by every test that inspects it."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from cds_hooks.app import create_app
from cds_hooks.settings import Settings

from .expect import Outcome
from .vignettes import VIGNETTES, Vignette

BASE_URL = "https://derm3r.clinical.test"
ISSUER = "https://ehr.clinical.test"
SERVICE = "derm3r-patient-view"


class SignedClient:
    def __init__(self, client: Any, key: ec.EllipticCurvePrivateKey) -> None:
        self.client = client
        self.key = key

    def token(self, path: str) -> str:
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": "clinical-vignettes", "aud": f"{BASE_URL}{path}", "iat": now, "exp": now + 300,
                  "jti": str(uuid.uuid4())}
        return jwt.encode(claims, self.key, algorithm="ES384", headers={"kid": "vignette-key", "typ": "JWT"})

    def call(self, vignette: Vignette) -> Outcome:
        chart = vignette.chart()
        path = f"/cds-services/{SERVICE}"
        body = {"hook": "patient-view", "hookInstance": str(uuid.uuid4()),
                "context": {"userId": "Practitioner/clinical-reviewer", "patientId": chart.pid},
                "prefetch": chart.prefetch()}
        response = self.client.post(path, data=json.dumps(body), content_type="application/json",
                                    headers={"Authorization": f"Bearer {self.token(path)}"})
        return Outcome(status=response.status_code, body=response.get_json() or {})


def _service(tmp_path_factory: pytest.TempPathFactory, pipeline: object, profile: str | None) -> SignedClient:
    key = ec.generate_private_key(ec.SECP384R1())
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    public.update({"kid": "vignette-key", "alg": "ES384", "use": "sig"})
    workdir = tmp_path_factory.mktemp("clinical")
    trust = workdir / "trusted-issuers.json"
    trust.write_text(json.dumps({ISSUER: {"jwks": {"keys": [public]}, "algorithms": ["ES384"]}}))
    settings = Settings(auth_enabled=True, trusted_issuers_file=trust, public_base_url=BASE_URL, data_dir=workdir / "var",
                        fhir_timeout_seconds=5.0, request_deadline_seconds=30.0, guideline_profile=profile)
    # The default profile shares the session's pipeline; another profile gets its own (built by the app).
    app = create_app(settings, pipeline=pipeline) if profile is None else create_app(settings)
    return SignedClient(app.test_client(), key)


@pytest.fixture(scope="session")
def signed_client(tmp_path_factory: pytest.TempPathFactory) -> SignedClient:
    from inference.pipeline import build_pipeline

    return _service(tmp_path_factory, build_pipeline(), None)


@pytest.fixture(scope="session")
def outcomes(signed_client: SignedClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Outcome]]:
    """Vignette id -> the service's answer, computed on first use (with the vignette's guideline
    profile: one service per profile)."""
    clients: dict[str | None, SignedClient] = {None: signed_client}

    class Lazy(dict):
        def __missing__(self, key: str) -> Outcome:
            vignette = next(v for v in VIGNETTES if v.id == key)
            if vignette.profile not in clients:
                clients[vignette.profile] = _service(tmp_path_factory, None, vignette.profile)
            self[key] = clients[vignette.profile].call(vignette)
            return self[key]

    yield Lazy()
