"""A small test EHR: a FHIR R4 server for one patient and a SMART App Launch 2.0 authorization server.

The OAuth machinery is Authlib's (authorization code grant + RFC 7636 PKCE); this module adds what
SMART puts on top and what a careful EHR checks:
  - discovery at `{fhir}/.well-known/smart-configuration` (S256 only, public clients),
  - EHR launch: `launch` must be a launch id this EHR issued (single use) and `aud` must be the FHIR
    base; the token response carries the launch context (`patient`, `appContext`),
  - PKCE S256 is required (no plain, no missing challenge),
  - the FHIR API accepts only live bearer tokens, in the token's patient compartment, within its
    SMART v2 scopes (`patient/Type.r`, `patient/Type.c`; v1 `.read`/`.write` accepted too),
  - transactions (POST of a Bundle) create resources with server ids, fixing urn:uuid references;
    PUT entries (`Type/id`) update or create the resource with that id,
  - CORS for a browser app on another origin.
It keeps everything in memory and exposes what was written (`created`) for tests to inspect.
"""

from __future__ import annotations

import base64
import copy
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, ClientMixin
from authlib.oauth2.rfc6749.errors import InvalidRequestError, OAuth2Error
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, Response, jsonify, request

TOKEN_LIFETIME = 3600
LAUNCH_LIFETIME = 300
SUPPORTED_SCOPES = frozenset(
    {"launch", "openid", "fhirUser", "patient/Patient.r", "patient/Observation.r", "patient/Media.r",
     "patient/CarePlan.c", "patient/Observation.c", "patient/Provenance.c", "patient/CarePlan.r", "patient/Device.cu"}
)
PRACTITIONER_ID = "dr-test-1"


@dataclass
class LaunchContext:
    patient_id: str
    app_context: str | None
    issued_at: float = field(default_factory=time.time)


@dataclass
class Client(ClientMixin):
    client_id: str
    redirect_uris: tuple[str, ...]
    withheld_scopes: set[str] = field(default_factory=set)  # scopes this EHR's policy refuses to grant

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str | None) -> str:
        return " ".join(s for s in (scope or "").split() if s in SUPPORTED_SCOPES and s not in self.withheld_scopes)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return False  # public client: no secret exists

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "none"

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class AuthCode(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: LaunchContext
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


class RequireS256(CodeChallenge):
    """Authlib's PKCE extension, narrowed to what SMART 2.0 requires: a challenge on every request,
    method S256 only."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge") or data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE with code_challenge_method=S256 is required")
        super().validate_code_challenge(grant, redirect_uri)


@dataclass
class IssuedToken:
    scope: frozenset[str]
    patient_id: str
    expires_at: float


class TestEhr:
    """Build with the app's redirect URI, call `app` (a Flask app) from a server thread."""

    __test__ = False  # not a pytest test class

    def __init__(self, base_url: str, redirect_uris: tuple[str, ...], client_id: str = "derm3r-review") -> None:
        self.base_url = base_url.rstrip("/")
        self.fhir_base = f"{self.base_url}/fhir"
        self.client = Client(client_id, redirect_uris)
        self.resources: dict[str, dict[str, dict]] = {}
        self.created: list[dict] = []
        self.token_requests: list[dict] = []
        self._launches: dict[str, LaunchContext] = {}
        self._codes: dict[str, AuthCode] = {}
        self._tokens: dict[str, IssuedToken] = {}
        self._lock = threading.Lock()
        self._signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.app = self._build_app()

    # ------------------------------------------------------------------ data and launches

    def add(self, resource: dict) -> dict:
        self.resources.setdefault(resource["resourceType"], {})[resource["id"]] = resource
        return resource

    def new_launch(self, patient_id: str, app_context: str | None) -> str:
        """What the EHR does when the clinician opens the app from a card: a fresh launch id bound
        to the current patient and the card link's appContext."""
        launch = secrets.token_urlsafe(16)
        with self._lock:
            self._launches[launch] = LaunchContext(patient_id, app_context)
        return launch

    def bearer_for(self, patient_id: str, scope: str) -> str:
        """Issue a token directly (for protocol tests that bypass the browser)."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = IssuedToken(frozenset(scope.split()), patient_id, time.time() + TOKEN_LIFETIME)
        return token

    # ------------------------------------------------------------------ OAuth (Authlib)

    def _build_app(self) -> Flask:
        app = Flask("test_ehr")
        ehr = self

        class Grant(AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ["none"]

            def save_authorization_code(self, code: str, req: Any) -> None:
                data = req.payload.data
                with ehr._lock:
                    ehr._codes[code] = AuthCode(
                        code, req.client.get_client_id(), req.payload.redirect_uri, req.scope or "", req.user,
                        data.get("code_challenge"), data.get("code_challenge_method"), time.time() + 60,
                    )

            def query_authorization_code(self, code: str, client: Client) -> AuthCode | None:
                item = ehr._codes.get(code)
                if item and item.client_id == client.get_client_id() and item.expires_at > time.time():
                    return item
                return None

            def delete_authorization_code(self, authorization_code: AuthCode) -> None:
                with ehr._lock:
                    ehr._codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code: AuthCode) -> LaunchContext:
                return authorization_code.user

        def query_client(client_id: str) -> Client | None:
            return ehr.client if client_id == ehr.client.client_id else None

        def save_token(token: dict, req: Any) -> None:
            with ehr._lock:
                ehr._tokens[token["access_token"]] = IssuedToken(
                    frozenset(token.get("scope", "").split()), req.user.patient_id, time.time() + TOKEN_LIFETIME)

        server = AuthorizationServer(app, query_client=query_client, save_token=save_token)
        server.register_grant(Grant, [RequireS256(required=True)])
        bearer = BearerTokenGenerator(access_token_generator=lambda **_: secrets.token_urlsafe(32))

        def generate_token(grant_type: str, client: Client, user: LaunchContext | None = None, scope: str | None = None,
                           expires_in: int | None = None, include_refresh_token: bool = True) -> dict:
            token = bearer(grant_type, client, user, scope, expires_in or TOKEN_LIFETIME, False)
            # SMART launch context parameters (App Launch 2.0, "Launch context arrives with your access_token").
            token["patient"] = user.patient_id
            if user.app_context:
                token["appContext"] = user.app_context
            token["need_patient_banner"] = True
            if "openid" in token.get("scope", "").split():
                token["id_token"] = ehr._id_token(client.client_id)
            return token

        server.register_token_generator("default", generate_token)

        @app.get("/fhir/.well-known/smart-configuration")
        def smart_configuration() -> Response:
            return jsonify(
                issuer=ehr.base_url,
                authorization_endpoint=f"{ehr.base_url}/auth/authorize",
                token_endpoint=f"{ehr.base_url}/auth/token",
                token_endpoint_auth_methods_supported=["none"],
                grant_types_supported=["authorization_code"],
                response_types_supported=["code"],
                scopes_supported=sorted(SUPPORTED_SCOPES),
                code_challenge_methods_supported=["S256"],
                capabilities=["launch-ehr", "client-public", "context-ehr-patient", "permission-v2",
                              "permission-patient", "sso-openid-connect"],
            )

        @app.get("/auth/authorize")
        def authorize() -> Response | tuple[Response, int]:
            # SMART checks before the OAuth ones: an app must name this FHIR server as audience and
            # present a launch id this EHR issued (otherwise it is not an EHR launch).
            if request.args.get("aud", "").rstrip("/") != ehr.fhir_base:
                return jsonify(error="invalid_request", error_description="aud must be this EHR's FHIR base"), 400
            if "launch" not in request.args.get("scope", "").split():
                return jsonify(error="invalid_scope", error_description="EHR launch requires the launch scope"), 400
            with ehr._lock:
                context = ehr._launches.pop(request.args.get("launch", ""), None)
            if context is None or context.issued_at + LAUNCH_LIFETIME < time.time():
                return jsonify(error="invalid_request", error_description="unknown or used launch"), 400
            try:
                grant = server.get_consent_grant(end_user=context)
            except OAuth2Error as error:
                return jsonify(error=error.error, error_description=error.description), 400
            # The clinician is already signed in to the EHR: authorisation is granted without a prompt.
            return server.create_authorization_response(grant_user=context, grant=grant)

        @app.post("/auth/token")
        def token() -> Response:
            ehr.token_requests.append({k: v for k, v in request.form.items() if k != "code_verifier"}
                                      | {"has_code_verifier": bool(request.form.get("code_verifier"))})
            return server.create_token_response()

        self._fhir_routes(app)

        @app.after_request
        def cors(response: Response) -> Response:
            response.headers["Access-Control-Allow-Origin"] = "*"
            response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type, Accept"
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response.headers["Access-Control-Expose-Headers"] = "Location"
            return response

        @app.route("/<path:_any>", methods=["OPTIONS"])
        def preflight(_any: str) -> Response:
            return Response(status=204)

        return app

    def _id_token(self, client_id: str) -> str:
        now = int(time.time())
        claims = {"iss": self.base_url, "sub": PRACTITIONER_ID, "aud": client_id, "iat": now, "exp": now + 300,
                  "fhirUser": f"{self.fhir_base}/Practitioner/{PRACTITIONER_ID}"}
        return jwt.encode(claims, self._signing_key, algorithm="RS256", headers={"kid": "test-ehr-1"})

    # ------------------------------------------------------------------ FHIR

    def _find_by_identifier(self, resource_type: str, if_none_exist: str | None) -> dict | None:
        """Conditional create: `identifier=system|value` only (all this server supports)."""
        if not if_none_exist:
            return None
        from urllib.parse import parse_qs

        wanted = (parse_qs(if_none_exist).get("identifier") or [""])[0]
        for resource in self.resources.get(resource_type, {}).values():
            if any(f"{i.get('system')}|{i.get('value')}" == wanted for i in resource.get("identifier") or []):
                return resource
        return None

    def _authorise(self, resource_type: str, action: str) -> IssuedToken | Response:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        issued = self._tokens.get(value.strip()) if scheme.lower() == "bearer" else None
        if issued is None or issued.expires_at < time.time():
            return _outcome(401, "login", "invalid or expired access token")
        if not _scope_allows(issued.scope, resource_type, action):
            return _outcome(403, "forbidden", f"scope does not allow {action} on {resource_type}")
        return issued

    def _fhir_routes(self, app: Flask) -> None:
        ehr = self

        @app.get("/fhir/metadata")
        def metadata() -> Response:
            return _fhir({"resourceType": "CapabilityStatement", "status": "active", "kind": "instance", "fhirVersion": "4.0.1",
                          "format": ["json"], "date": "2026-11-27",
                          "rest": [{"mode": "server", "security": {"service": [{"coding": [
                              {"system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "SMART-on-FHIR"}]}]}}]})

        @app.get("/fhir/<resource_type>/<rid>")
        def read(resource_type: str, rid: str) -> Response:
            issued = ehr._authorise(resource_type, "r")
            if isinstance(issued, Response):
                return issued
            resource = ehr.resources.get(resource_type, {}).get(rid)
            if resource is None or not _in_compartment(resource, issued.patient_id):
                return _outcome(404, "not-found", f"{resource_type}/{rid} not found")
            return _fhir(resource)

        @app.get("/fhir/<resource_type>")
        def search(resource_type: str) -> Response:
            issued = ehr._authorise(resource_type, "s")
            if isinstance(issued, Response):
                return issued
            hits = [r for r in ehr.resources.get(resource_type, {}).values() if _in_compartment(r, issued.patient_id)]
            return _fhir({"resourceType": "Bundle", "type": "searchset", "total": len(hits),
                          "entry": [{"resource": r, "fullUrl": f"{ehr.fhir_base}/{resource_type}/{r['id']}"} for r in hits]})

        @app.post("/fhir")
        @app.post("/fhir/")
        def transaction() -> Response:
            bundle = request.get_json(silent=True, force=True)
            if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle" or bundle.get("type") != "transaction":
                return _outcome(400, "invalid", "expected a transaction Bundle")
            entries = bundle.get("entry") or []
            issued: IssuedToken | None = None
            for entry in entries:
                req, res = entry.get("request") or {}, entry.get("resource") or {}
                put = req.get("method") == "PUT" and req.get("url") == f"{res.get('resourceType')}/{res.get('id')}"
                if not put and (req.get("method") != "POST" or req.get("url") != res.get("resourceType")):
                    return _outcome(400, "not-supported", "this test server only accepts POST and PUT Type/id entries")
                # PUT may create (update-as-create), so it needs both scopes.
                for action in ("c", "u") if put else ("c",):
                    check = ehr._authorise(res["resourceType"], action)
                    if isinstance(check, Response):
                        return check
                    issued = check
            # All-or-nothing: ids first (conditional creates resolve to the existing resource), then
            # references, then store.
            ids: dict[str, str] = {}
            existing: set[str] = set()
            for entry in entries:
                rtype = entry["resource"]["resourceType"]
                req = entry.get("request") or {}
                if req.get("method") == "PUT":
                    if entry.get("fullUrl"):
                        ids[entry["fullUrl"]] = req["url"]
                    continue
                match = ehr._find_by_identifier(rtype, req.get("ifNoneExist"))
                ref = f"{rtype}/{match['id']}" if match else f"{rtype}/{uuid.uuid4().hex[:12]}"
                if match:
                    existing.add(ref)
                if entry.get("fullUrl"):
                    ids[entry["fullUrl"]] = ref
            stored, responses = [], []
            for entry in entries:
                res = _rewrite(copy.deepcopy(entry["resource"]), ids)
                req = entry.get("request") or {}
                put_url = req.get("url") if req.get("method") == "PUT" else None
                ref = put_url or ids.get(entry.get("fullUrl")) or f"{res['resourceType']}/{uuid.uuid4().hex[:12]}"
                if ref in existing:
                    responses.append({"status": "200 OK", "location": f"{ref}/_history/1"})
                    continue
                res["id"] = ref.split("/", 1)[1]
                res["meta"] = {**(res.get("meta") or {}), "versionId": "1",
                               "lastUpdated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
                if issued and not _in_compartment(res, issued.patient_id):
                    return _outcome(403, "forbidden", f"{res['resourceType']} is outside the token's patient")
                stored.append(res)
                rtype, _, rid = ref.partition("/")
                replaced = put_url is not None and rid in ehr.resources.get(rtype, {})
                responses.append({"status": "200 OK" if replaced else "201 Created", "location": f"{ref}/_history/1"})
            for res in stored:
                ehr.add(res)
                ehr.created.append(res)
            return _fhir({"resourceType": "Bundle", "type": "transaction-response",
                          "entry": [{"response": r} for r in responses]})


def _patient_links(resource: dict) -> list[str]:
    return [ref for k in ("subject", "patient") if isinstance(ref := (resource.get(k) or {}).get("reference"), str)]


def _scope_allows(scopes: frozenset[str], resource_type: str, action: str) -> bool:
    """SMART v2 `patient/Type.cruds` (and v1 `patient/Type.read|write`) for one action letter."""
    v1 = {"r": "read", "s": "read", "c": "write", "u": "write", "d": "write"}[action]
    for scope in scopes:
        context, _, rest = scope.partition("/")
        rtype, _, perms = rest.partition(".")
        if context != "patient" or rtype not in (resource_type, "*"):
            continue
        if perms == v1 or (perms not in ("read", "write", "*") and action in perms) or perms == "*":
            return True
    return False


def _in_compartment(resource: dict, patient_id: str) -> bool:
    if resource.get("resourceType") == "Patient":
        return resource.get("id") == patient_id
    links = _patient_links(resource)
    # Resources about no patient (the software Device, a Provenance) are outside every compartment:
    # allowed for writing by scope alone, but never readable through a patient-compartment search.
    return f"Patient/{patient_id}" in links if links else resource.get("resourceType") in ("Device", "Provenance")


def _rewrite(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, list):
        return [_rewrite(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: (ids.get(v, v) if k == "reference" and isinstance(v, str) else _rewrite(v, ids)) for k, v in value.items()}
    return value


def _fhir(body: dict, status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/fhir+json"
    return response


def _outcome(status: int, code: str, message: str) -> Response:
    return _fhir({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code, "diagnostics": message}]}, status)


def load_case(ehr: TestEhr, case: Any) -> None:
    """Put a `inference.case.Case`'s patient, photographs and findings into the EHR's FHIR data."""
    pid = case.patient.ref.split("/", 1)[1]
    ehr.add({"resourceType": "Patient", "id": pid, "name": [{"given": ["Alex"], "family": "Testpatient"}],
             "gender": case.patient.sex or "unknown", "birthDate": "1984-03-12"})
    ehr.add({"resourceType": "Practitioner", "id": PRACTITIONER_ID, "name": [{"text": "Dr Test"}]})
    subject = {"reference": case.patient.ref}
    for photo in case.photos:
        ehr.add({"resourceType": "Media", "id": photo.ref.split("/", 1)[1], "status": "completed", "subject": subject,
                 "bodySite": {"text": photo.body_site},
                 "content": {"contentType": photo.content_type, "data": base64.b64encode(photo.data).decode()}})
    for condition in case.conditions:
        ehr.add({"resourceType": "Condition", "id": condition.source_ref.split("/", 1)[1], "subject": subject,
                 "code": {"text": condition.display},
                 "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                                "code": "active" if condition.active else "inactive"}]}})
    for finding in case.findings:
        if finding.source_ref.startswith("Observation/"):
            obs: dict = {"resourceType": "Observation", "id": finding.source_ref.split("/", 1)[1], "status": "final",
                         "subject": subject, "code": {"text": finding.key.value}}
            if isinstance(finding.value, bool):
                obs["valueBoolean"] = finding.value
            elif isinstance(finding.value, (int, float)):
                obs["valueQuantity"] = {"value": finding.value}
            else:
                obs["valueString"] = finding.value
            if finding.effective:
                obs["effectiveDateTime"] = finding.effective.isoformat()
            ehr.add(obs)
