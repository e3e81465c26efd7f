"""SSRF through the hook request: `fhirServer` values and photograph attachment URLs that point at
loopback, private, link-local or non-HTTP targets. A loopback canary HTTP server stands in for the
internal target: any request reaching it is a successful SSRF."""

from __future__ import annotations

import importlib.util
import json
from typing import Any

import pytest

from security_support import (
    Canary,
    Signer,
    SERVICE_ID,
    assert_operation_outcome,
    hook_body,
    prefetch_for,
    searchset,
    synthetic_patient,
)

URL = f"/cds-services/{SERVICE_ID}"


class RecordingFactory:
    """A FHIR client factory that records every base URL the service tries to talk to."""

    def __init__(self) -> None:
        self.bases: list[str] = []

    def __call__(self, base_url: str, access_token: str | None, timeout: float) -> Any:
        self.bases.append(base_url)
        raise AssertionError(f"service tried to contact {base_url}")


def _vectors(port: int) -> list[str]:
    return [
        f"http://127.0.0.1:{port}/fhir",
        f"http://localhost:{port}/fhir",
        f"http://127.1:{port}/fhir",
        f"http://2130706433:{port}/fhir",  # decimal
        f"http://0x7f.0.0.1:{port}/fhir",  # hex octet
        f"http://0177.0.0.1:{port}/fhir",  # octal octet
        f"http://[::ffff:127.0.0.1]:{port}/fhir",  # IPv4-mapped IPv6
        f"http://[::1]:{port}/fhir",
        f"http://user:pass@127.0.0.1:{port}/fhir",
        f"http://127.0.0.1:{port}#@ehr.example.org/fhir",  # parser confusion
        "http://169.254.169.254/latest/meta-data",  # cloud metadata
        "http://[fe80::1]/fhir",
        "http://10.0.0.1/fhir",
        "http://192.168.0.1/fhir",
        "http://0.0.0.0/fhir",
        "file:///etc/passwd",
        f"gopher://127.0.0.1:{port}/_GET",
        f"ftp://127.0.0.1:{port}/fhir",
    ]


def _no_prefetch_body(fhir_server: str) -> dict[str, Any]:
    return hook_body(synthetic_patient(visits=1), prefetch={}, fhir_server=fhir_server, with_token=True)


@pytest.mark.parametrize("index", range(18))
@pytest.mark.parametrize("allowlisted", [False, True], ids=["not-allowlisted", "allowlisted"])
def test_fhir_server_ssrf_vectors(edge_app: Any, canary: Canary, signer: Signer, index: int, allowlisted: bool) -> None:
    """Even an operator allow-listing an internal URL by mistake does not open it while
    DERM3R_ALLOW_PRIVATE_FHIR is off; and nothing at all is contacted outside the allow-list."""
    port = int(canary.url.rsplit(":", 1)[1])
    vector = _vectors(port)[index]
    factory = RecordingFactory()
    app = edge_app(client_factory=factory, fhir_allowlist=(vector.rstrip("/"),) if allowlisted else ())
    response = app.test_client().post(URL, json=_no_prefetch_body(vector), headers=signer.header())
    assert response.status_code in {400, 403, 412}, response.data[:300]
    assert_operation_outcome(response)
    assert factory.bases == []
    assert canary.hits == []


def test_vector_table_size() -> None:
    assert len(_vectors(1)) == 18


needs_client = pytest.mark.skipif(
    importlib.util.find_spec("fhir_mapping.client") is None, reason="fhir_mapping.client not available yet"
)


@needs_client
def test_fhir_redirect_to_internal_target_not_followed(edge_app: Any, canary: Canary, signer: Signer) -> None:
    """An allowed FHIR server answering with a redirect to an internal address must not lead the
    service there (redirects could bypass every host check)."""
    base = f"{canary.url}/fhir"
    for path in ("/fhir/Patient", "/fhir/Observation", "/fhir/Media", "/fhir/Condition", "/fhir/MedicationStatement", "/fhir/MedicationRequest", "/fhir/DocumentReference"):
        canary.routes[path] = (302, {"Location": f"{canary.url}/internal-secret"}, b"")
    bundle = synthetic_patient(visits=1)
    body = hook_body(bundle, prefetch={}, fhir_server=base, with_token=True)
    app = edge_app(fhir_allowlist=(base,), allow_private_fhir=True)
    response = app.test_client().post(URL, json=body, headers=signer.header())
    assert response.status_code < 500 or response.status_code == 503
    assert any(hit.startswith("/fhir/Patient") for hit in canary.hits), "the FHIR server was not asked at all"
    assert not any(hit.startswith("/internal-secret") for hit in canary.hits), canary.hits


@needs_client
@pytest.mark.parametrize(
    "attachment_url",
    [
        "{canary}/internal-secret",  # same host, outside the FHIR base
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "file:///etc/passwd",
        "{canary}/fhir/../internal-secret",  # dot-segment escape from the base
        "//127.0.0.1:{port}/internal-secret",  # scheme-relative
    ],
)
def test_attachment_url_ssrf(make_app: Any, canary: Canary, signer: Signer, attachment_url: str) -> None:
    port = canary.url.rsplit(":", 1)[1]
    target = attachment_url.format(canary=canary.url, port=port)
    base = f"{canary.url}/fhir"
    bundle = synthetic_patient(visits=1)
    prefetch = prefetch_for(bundle)
    patient_ref = f"Patient/{prefetch['patient']['id']}"
    media = {
        "resourceType": "Media",
        "id": "ssrf-photo",
        "status": "completed",
        "subject": {"reference": patient_ref},
        "createdDateTime": "2026-11-01T10:00:00Z",
        "content": {"contentType": "image/jpeg", "url": target},
    }
    prefetch["media"] = searchset([media])
    prefetch["documents"] = searchset([])
    body = hook_body(bundle, prefetch=prefetch, fhir_server=base, with_token=True)
    app = make_app(fhir_allowlist=(base,), allow_private_fhir=True)
    response = app.test_client().post(URL, json=body, headers=signer.header())
    assert response.status_code < 500, response.data[:300]
    assert not any("internal-secret" in hit for hit in canary.hits), canary.hits


def test_fhir_token_only_sent_to_allowlisted_server(edge_app: Any, canary: Canary, signer: Signer) -> None:
    """The fhirAuthorization token is a credential for the EHR's FHIR server: a request naming an
    attacker's fhirServer must not make us present it there."""
    factory = RecordingFactory()
    app = edge_app(client_factory=factory, fhir_allowlist=("https://ehr.example.org/fhir",), allow_private_fhir=True)
    response = app.test_client().post(URL, json=_no_prefetch_body(f"{canary.url}/fhir"), headers=signer.header())
    assert response.status_code == 412
    assert factory.bases == [] and canary.hits == []
    assert "fhir-access-token" not in json.dumps(response.get_json())


def test_dns_rebinding_through_the_full_request(edge_app: Any, canary: Canary, signer: Signer, monkeypatch: pytest.MonkeyPatch) -> None:
    """An allow-listed FHIR host name that resolves to a public address when the service checks it
    and to 127.0.0.1 when the FHIR client connects: the connect-time guard (outbound.guarded_session,
    used by the production client factory) refuses the second answer, so the internal server is
    never reached."""
    import socket

    port = int(canary.url.rsplit(":", 1)[1])
    real_getaddrinfo = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == "rebind.test":
            ip = "93.184.216.34" if not lookups else "127.0.0.1"
            lookups.append(ip)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))]
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    base = f"http://rebind.test:{port}/fhir"
    app = edge_app(fhir_allowlist=(base,))
    response = app.test_client().post(URL, json=_no_prefetch_body(base), headers=signer.header())
    assert response.status_code == 412, response.data[:300]
    assert_operation_outcome(response)
    assert len(lookups) >= 2, "the FHIR client never tried to connect: the test did not exercise the guard"
    assert canary.hits == []

    # Control: the same sequence with a FHIR client on a plain requests session reaches the
    # internal server, so it is the guard (not the test setup) that stopped it above.
    from fhir_mapping.client import FhirClient

    lookups.clear()
    plain = edge_app(
        fhir_allowlist=(base,),
        client_factory=lambda url, token, timeout: FhirClient(url, access_token=token, timeout=timeout, allowlist=(base,)),
    )
    plain.test_client().post(URL, json=_no_prefetch_body(base), headers=signer.header())
    assert canary.hits, "control failed: without the guard the rebinding should have reached the canary"
