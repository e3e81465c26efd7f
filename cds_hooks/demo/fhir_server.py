"""The FHIR-server side of `derm3r demo --fhir URL`: check that the server is reachable and accepts
the token, seed the synthetic demo patients into it, confirm the patients to assess exist.

The demo plays the EHR here. It talks to the FHIR server itself only for these checks and the seed;
the clinical data the service assesses are fetched by the service (no prefetch is sent)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from cds_hooks.errors import Forbidden
from cds_hooks.limits import resolve_outbound
from inference.i18n import t, tjoin

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
PROBE_TIMEOUT = 10  # seconds for metadata and Patient reads
SEED_TIMEOUT = 120  # seconds per transaction: a patient's photographs are several MB of base64
TOKEN_LIFETIME_SECONDS = 300  # what the demo tells the service in fhirAuthorization.expires_in
TOKEN_SCOPE = "patient/*.read"

# Each built-in demo patient (the same profile, seed and visits as `synthetic.demo_patients()`, so
# the same ids and record) with the way its photographs are stored on the server. The embedded demo
# sends inline photos as prefetch; on a server the service should also meet the other two forms
# EHRs use: Media.content.url -> Binary, and R5-style DocumentReference attachments.
FHIR_DEMO_PATIENTS: tuple[tuple[str, int, int, str], ...] = (
    ("psoriasis_moderate", 1, 3, "inline"),
    ("psoriasis_severe", 2, 3, "binary"),
    ("pregnancy", 3, 2, "binary"),
    ("tcm_blood_stasis", 4, 2, "document_reference"),
)


class DemoError(Exception):
    """A problem with the demo's FHIR server or its input: reported in one line, exit status 2."""


@dataclass(frozen=True)
class FhirDemoOptions:
    """What `derm3r demo --fhir URL [--fhir-token T] [--seed] [--patient ID]...` asked for."""

    url: str
    token: str | None = None
    seed: bool = False
    patients: tuple[str, ...] = ()  # empty: the seeded ones


@dataclass(frozen=True)
class FhirTarget:
    """The FHIR server the demo points the service at."""

    base: str  # FHIR R4 base URL without a trailing slash
    token: str | None  # bearer token (never logged or printed)
    private: bool  # the host is loopback or private: the service must be allowed to reach it

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Accept": FHIR_JSON}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        headers.update(extra or {})
        return headers

    def fhir_authorization(self) -> dict[str, Any] | None:
        """The hook request's `fhirAuthorization` (CDS Hooks 2.0 requires all five fields)."""
        if not self.token:
            return None
        return {
            "access_token": self.token,
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME_SECONDS,
            "scope": TOKEN_SCOPE,
            "subject": "derm3r-demo",
        }


@dataclass(frozen=True)
class SeededPatient:
    patient_id: str  # as assigned (or kept) by the server
    label: str


def fhir_demo_bundles() -> list[dict[str, Any]]:
    """The demo patients as transaction Bundles for seeding (see FHIR_DEMO_PATIENTS)."""
    from cds_hooks.demo.synthetic import patient_bundle

    return [patient_bundle(profile, seed=seed, visits=visits, photos=photos) for profile, seed, visits, photos in FHIR_DEMO_PATIENTS]


def patient_label(patient: dict[str, Any]) -> str:
    """'Alex Synthetic, female, born 1984-03-02' for the printout (the demo data are synthetic)."""
    names = patient.get("name") or [{}]
    name = " ".join([*names[0].get("given", []), names[0].get("family", "")]).strip() or "(no name)"
    gender = patient.get("gender")
    details = [d for d in (_GENDERS.get(gender, gender) if gender else None,
                           t("born {date}", date=patient["birthDate"]) if patient.get("birthDate") else None) if d]
    # Lazy: rendered in the printout's language (`derm3r demo --language zh-CN`), English otherwise.
    return tjoin(", ", [name, *details])


_GENDERS = {"female": t("female"), "male": t("male"), "other": t("other"), "unknown": t("unknown")}


def _request_error(base: str, exc: requests.RequestException) -> DemoError:
    # One line naming the server; the exception's own text can hold the full URL with a query, which
    # is fine (no token is ever in a URL), but is long: keep the class name only.
    kind = "timed out" if isinstance(exc, requests.Timeout) else f"unreachable ({type(exc).__name__})"
    return DemoError(f"FHIR server {base} {kind}")


def _status_error(base: str, response: requests.Response, what: str, token: str | None) -> DemoError:
    if response.status_code in (401, 403):
        hint = "the token was refused" if token else "it needs a bearer token (--fhir-token or DERM3R_DEMO_FHIR_TOKEN)"
        return DemoError(f"FHIR server {base} answered HTTP {response.status_code} to {what}: {hint}")
    return DemoError(f"FHIR server {base} answered HTTP {response.status_code} to {what}")


def check_target(url: str, token: str | None, http: requests.Session) -> FhirTarget:
    """Validate the base URL, decide whether it is a private host, and read its CapabilityStatement
    (which proves it is reachable, speaks FHIR and accepts the token)."""
    base = url.strip().rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise DemoError(f"--fhir needs an http(s) FHIR base URL, got {url!r}")
    # The service refuses loopback/private FHIR hosts unless told otherwise (SSRF guard). The demo
    # relaxes that only when the URL the user typed is itself such a host.
    try:
        resolve_outbound(base, allow_private=False)
        private = False
    except Forbidden:
        try:
            resolve_outbound(base, allow_private=True)
        except Forbidden as exc:
            raise DemoError(f"FHIR server {base}: {exc}") from exc
        private = True
    target = FhirTarget(base=base, token=token or None, private=private)
    try:
        response = http.get(f"{base}/metadata", headers=target.headers(), timeout=PROBE_TIMEOUT)
    except requests.RequestException as exc:
        raise _request_error(base, exc) from exc
    if response.status_code != 200:
        raise _status_error(base, response, "GET metadata", target.token)
    try:
        capability = response.json()
    except ValueError as exc:
        raise DemoError(f"{base}/metadata is not JSON: is {base} a FHIR base URL?") from exc
    if not isinstance(capability, dict) or capability.get("resourceType") != "CapabilityStatement":
        raise DemoError(f"{base}/metadata is not a CapabilityStatement: is {base} a FHIR base URL?")
    version = str(capability.get("fhirVersion", ""))
    if version and not version.startswith("4.0"):
        raise DemoError(f"FHIR server {base} speaks FHIR {version}; derm3r needs R4 (4.0.x)")
    return target


def _patient_location(response_bundle: dict[str, Any], index: int) -> str | None:
    """The Patient id from a transaction-response entry's `response.location`
    ('Patient/<id>/_history/<v>', relative or absolute)."""
    entries = response_bundle.get("entry") or []
    if index >= len(entries):
        return None
    location = str((entries[index].get("response") or {}).get("location") or "")
    parts = location.split("/_history/")[0].rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] == "Patient" and parts[-1]:
        return parts[-1]
    return None


def seed(target: FhirTarget, bundles: list[dict[str, Any]], http: requests.Session) -> list[SeededPatient]:
    """POST each transaction Bundle; the Patient id is taken from the server's answer, since a server
    may assign its own ids. The Bundles `PUT` fixed ids, so seeding twice updates, not duplicates."""
    seeded: list[SeededPatient] = []
    for bundle in bundles:
        entries = bundle.get("entry") or []
        index, patient = next((i, e["resource"]) for i, e in enumerate(entries) if e["resource"]["resourceType"] == "Patient")
        try:
            response = http.post(target.base, json=bundle, headers=target.headers({"Content-Type": FHIR_JSON}), timeout=SEED_TIMEOUT)
        except requests.RequestException as exc:
            raise _request_error(target.base, exc) from exc
        if response.status_code != 200:
            raise _status_error(target.base, response, "the seed transaction", target.token)
        try:
            answer = response.json()
        except ValueError as exc:
            raise DemoError(f"FHIR server {target.base} answered the seed transaction with non-JSON") from exc
        patient_id = _patient_location(answer, index) if isinstance(answer, dict) else None
        seeded.append(SeededPatient(patient_id or str(patient["id"]), patient_label(patient)))
    return seeded


def read_patient(target: FhirTarget, patient_id: str, http: requests.Session) -> SeededPatient:
    """Confirm the patient exists before the service is asked about it (an EHR only opens charts
    it has); a clear error otherwise."""
    if not patient_id or "/" in patient_id or "?" in patient_id:
        raise DemoError(f"--patient needs a bare Patient id, got {patient_id!r}")
    try:
        response = http.get(f"{target.base}/Patient/{patient_id}", headers=target.headers(), timeout=PROBE_TIMEOUT)
    except requests.RequestException as exc:
        raise _request_error(target.base, exc) from exc
    if response.status_code in (404, 410):
        raise DemoError(f"unknown patient: FHIR server {target.base} has no Patient/{patient_id}")
    if response.status_code != 200:
        raise _status_error(target.base, response, f"GET Patient/{patient_id}", target.token)
    try:
        patient = response.json()
    except ValueError as exc:
        raise DemoError(f"FHIR server {target.base} answered GET Patient/{patient_id} with non-JSON") from exc
    return SeededPatient(patient_id, patient_label(patient if isinstance(patient, dict) else {}))
