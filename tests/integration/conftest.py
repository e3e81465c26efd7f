"""Fixtures for the integration tests: a real FHIR R4 server seeded with synthetic patients, and the
derm3r CDS service running as a real HTTP server, called with signed ES384 JWTs.

FHIR server: by default `tests/fhir_server/server.mjs` (Medplum's FHIR engine, in memory) is
started on a free loopback port for the session and stopped by PID at the end. Set
`DERM3R_TEST_FHIR_URL` (and optionally `DERM3R_TEST_FHIR_TOKEN`) to run the same tests against any
FHIR R4 server instead, e.g. HAPI FHIR (see tests/fhir_server/README.md); tests that need fault
injection or the request log are then skipped, since only the test server offers them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from werkzeug.serving import make_server

from cds_hooks.demo import synthetic
from cds_hooks.settings import Settings
from inference.case import Case
from tools import fhir_server as fhir_server_lib
from tools.fhir_server import FHIR_JSON, FHIR_SERVER_DIR, INSTALL_COMMAND, read_first_line, stop

REPO = Path(__file__).resolve().parents[2]
FHIR_URL_ENV = "DERM3R_TEST_FHIR_URL"
FHIR_TOKEN_ENV = "DERM3R_TEST_FHIR_TOKEN"
STARTUP_SECONDS = 30.0

PATIENT_VIEW = "derm3r-patient-view"
ENCOUNTER_START = "derm3r-encounter-start"
ISSUER = "https://ehr.integration.test"
DEFAULT_ACCESS_TOKEN = "ehr-access-token-for-derm3r"


# ---------------------------------------------------------------- the FHIR server


class FhirServer(fhir_server_lib.FhirServer):
    """`tools.fhir_server.FhirServer`; a test needing a control only the test server has is skipped."""

    def _admin(self) -> str:
        if self.admin is None:
            pytest.skip("needs the derm3r test FHIR server (fault injection / request log)")
        return self.admin


def _wait_ready(base: str, deadline: float) -> None:
    while True:
        try:
            if requests.get(f"{base}/metadata", timeout=2, headers={"Accept": FHIR_JSON}).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"FHIR test server at {base} did not become ready", pytrace=False)
        time.sleep(0.1)


@pytest.fixture(scope="session")
def fhir_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FhirServer]:
    external = os.environ.get(FHIR_URL_ENV, "").strip()
    if external:
        yield FhirServer(base=external.rstrip("/"), admin=None, token=os.environ.get(FHIR_TOKEN_ENV) or None)
        return
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"node is not installed: the integration tests need Node.js >= 20 (or set {FHIR_URL_ENV})", pytrace=False)
    if not (FHIR_SERVER_DIR / "node_modules" / "@medplum" / "fhir-router").is_dir():
        pytest.fail(f"the FHIR test server's packages are not installed: run `{INSTALL_COMMAND}` first", pytrace=False)
    log_path = tmp_path_factory.mktemp("fhir-server") / "stderr.log"
    with open(log_path, "w", encoding="utf-8") as stderr:
        process = subprocess.Popen(
            fhir_server_lib.server_command(node),
            cwd=FHIR_SERVER_DIR,
            stdin=subprocess.PIPE,  # closed when this process dies: the server then exits too
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env={**os.environ, "NODE_NO_WARNINGS": "1"},
        )
    try:
        first = read_first_line(process, STARTUP_SECONDS)
        if not first:
            stop(process)
            pytest.fail(f"FHIR test server did not start; its stderr:\n{log_path.read_text()[-3000:]}", pytrace=False)
        base = json.loads(first)["base"]
        _wait_ready(base, time.monotonic() + STARTUP_SECONDS)
        server = FhirServer(base=base, admin=base.rsplit("/", 1)[0] + "/admin")
        server.reset()
        yield server
    finally:
        stop(process)


@pytest.fixture
def fhir(fhir_server: FhirServer) -> Iterator[FhirServer]:
    """The session's FHIR server with faults, token requirement and request log reset around each test."""
    fhir_server.reset()
    yield fhir_server
    fhir_server.reset()


# ---------------------------------------------------------------- seeded synthetic patients


@dataclass(frozen=True)
class Seeded:
    """A synthetic patient loaded into the FHIR server: its bundle and (deterministic) ids."""

    name: str
    bundle: dict[str, Any]

    @property
    def patient_id(self) -> str:
        return synthetic.patient_id(self.bundle)

    def resources(self, resource_type: str) -> list[dict[str, Any]]:
        return list(synthetic.resources(self.bundle, resource_type))

    def searchset(self, resource_type: str) -> dict[str, Any]:
        return synthetic.searchset(self.bundle, resource_type)

    def newest_encounter_id(self) -> str:
        return max(self.resources("Encounter"), key=lambda e: e["period"]["start"])["id"]


# name -> (profile, photo mode, visits); a distinct seed per patient keeps ids apart.
SEED_PATIENTS: dict[str, tuple[str, str, int]] = {
    "moderate_inline": ("psoriasis_moderate", "inline", 3),
    "severe_binary": ("psoriasis_severe", "binary", 2),
    "stasis_documents": ("tcm_blood_stasis", "document_reference", 2),
    "pregnancy": ("pregnancy", "inline", 2),
    "psa": ("psoriatic_arthritis", "binary", 2),
}


@pytest.fixture(scope="session")
def seeded(fhir_server: FhirServer) -> dict[str, Seeded]:
    patients: dict[str, Seeded] = {}
    for n, (name, (profile, photos, visits)) in enumerate(SEED_PATIENTS.items()):
        bundle = synthetic.patient_bundle(profile, photos=photos, seed=1000 + n, visits=visits)
        fhir_server.transaction(bundle)
        patients[name] = Seeded(name, bundle)
    large = synthetic.large_patient_bundle(seed=2000)
    fhir_server.transaction(large)
    patients["large"] = Seeded("large", large)
    return patients


# ---------------------------------------------------------------- the pipeline


@dataclass
class RecordingPipeline:
    """Wraps the real pipeline and keeps every Case it was given, so tests can see exactly what the
    service fetched and built from the FHIR server."""

    inner: Any
    cases: list[Case] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def assess(self, case: Case) -> Any:
        with self.lock:
            self.cases.append(case)
        return self.inner.assess(case)

    def last_case(self, patient_id: str) -> Case:
        with self.lock:
            for case in reversed(self.cases):
                if case.patient.ref == f"Patient/{patient_id}":
                    return case
        raise AssertionError(f"the pipeline was never called for Patient/{patient_id}")


@pytest.fixture(scope="session")
def pipeline() -> RecordingPipeline:
    from inference.pipeline import build_pipeline

    # The real agents with the shipped model and knowledge base: end to end means end to end.
    return RecordingPipeline(build_pipeline())


# ---------------------------------------------------------------- JWT signing (the EHR's side)


@dataclass
class EhrSigner:
    """Signs CDS Hooks client JWTs (ES384) the way an EHR does; its public key is in the trust file."""

    key: ec.EllipticCurvePrivateKey
    kid: str
    issuer: str = ISSUER

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.key.public_key()))
        public.update({"kid": self.kid, "alg": "ES384", "use": "sig"})
        return {"keys": [public]}

    def token(self, audience: str, *, lifetime: int = 300) -> str:
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": "derm3r-integration", "aud": audience, "iat": now, "exp": now + lifetime,
                  "jti": str(uuid.uuid4())}
        return jwt.encode(claims, self.key, algorithm="ES384", headers={"kid": self.kid, "typ": "JWT"})


@pytest.fixture(scope="session")
def signer() -> EhrSigner:
    return EhrSigner(key=ec.generate_private_key(ec.SECP384R1()), kid="integration-key-1")


# ---------------------------------------------------------------- the CDS service over HTTP


class _LateApp:
    """WSGI app whose target is set after the socket is bound, so the JWT audience (which contains
    the port) is known before the Flask app is built."""

    def __init__(self) -> None:
        self.app: Callable[..., Any] | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        assert self.app is not None
        return self.app(environ, start_response)


@dataclass
class CdsService:
    base: str
    signer: EhrSigner
    fhir: FhirServer
    pipeline: RecordingPipeline
    settings: Settings
    session: requests.Session = field(default_factory=requests.Session, repr=False)

    def body(
        self,
        patient: Seeded,
        *,
        hook: str = "patient-view",
        prefetch: dict[str, Any] | None = None,
        fhir_token: str | None = DEFAULT_ACCESS_TOKEN,
        with_fhir_server: bool = True,
    ) -> dict[str, Any]:
        context: dict[str, Any] = {"userId": "Practitioner/integration-user", "patientId": patient.patient_id}
        if hook == "encounter-start":
            context["encounterId"] = patient.newest_encounter_id()
        body: dict[str, Any] = {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": context}
        if with_fhir_server:
            body["fhirServer"] = self.fhir.base
            if self.fhir.token is not None and fhir_token == DEFAULT_ACCESS_TOKEN:
                fhir_token = self.fhir.token  # an external server's real token
            if fhir_token is not None:
                body["fhirAuthorization"] = {
                    "access_token": fhir_token,
                    "token_type": "Bearer",
                    "expires_in": 300,
                    "scope": "patient/*.read",
                    "subject": "derm3r",
                }
        if prefetch is not None:
            body["prefetch"] = prefetch
        return body

    def get(self, path: str, *, timeout: float = 10.0) -> requests.Response:
        url = f"{self.base}{path}"
        return self.session.get(url, headers={"Authorization": f"Bearer {self.signer.token(url)}"}, timeout=timeout)

    def call(self, service_id: str, body: dict[str, Any], *, timeout: float = 30.0, signed: bool = True) -> requests.Response:
        url = f"{self.base}/cds-services/{service_id}"
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if signed:
            headers["Authorization"] = f"Bearer {self.signer.token(url)}"
        return self.session.post(url, data=json.dumps(body), headers=headers, timeout=timeout)


@contextmanager
def _running_service(
    fhir_server: FhirServer,
    pipeline: RecordingPipeline,
    signer: EhrSigner,
    workdir: Path,
    *,
    fhir_timeout: float,
    deadline: float,
) -> Iterator[CdsService]:
    from cds_hooks import create_app

    trust_file = workdir / "trusted-issuers.json"
    trust_file.write_text(json.dumps({signer.issuer: {"jwks": signer.jwks(), "algorithms": ["ES384"]}}))
    late = _LateApp()
    server = make_server("127.0.0.1", 0, late, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    settings = Settings(
        auth_enabled=True,
        trusted_issuers_file=trust_file,
        public_base_url=base,
        fhir_allowlist=(fhir_server.base,),
        allow_private_fhir=True,  # the FHIR server is on loopback
        data_dir=workdir / "var",
        fhir_timeout_seconds=fhir_timeout,
        request_deadline_seconds=deadline,
    )
    late.app = create_app(settings, pipeline=pipeline)
    thread = threading.Thread(target=server.serve_forever, name="cds-service", daemon=True)
    thread.start()
    try:
        yield CdsService(base=base, signer=signer, fhir=fhir_server, pipeline=pipeline, settings=settings)
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def cds(
    fhir_server: FhirServer, pipeline: RecordingPipeline, signer: EhrSigner, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CdsService]:
    """The service with generous time limits: tests of what it fetches and builds must not depend on
    how busy the (shared, 2-core) machine is."""
    with _running_service(fhir_server, pipeline, signer, tmp_path_factory.mktemp("cds"), fhir_timeout=8.0, deadline=20.0) as service:
        yield service


@pytest.fixture(scope="session")
def cds_strict(
    fhir_server: FhirServer, pipeline: RecordingPipeline, signer: EhrSigner, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CdsService]:
    """The service with production-like time limits, for the failure-mode tests (slow servers)."""
    with _running_service(
        fhir_server, pipeline, signer, tmp_path_factory.mktemp("cds-strict"), fhir_timeout=3.0, deadline=6.0
    ) as service:
        yield service
