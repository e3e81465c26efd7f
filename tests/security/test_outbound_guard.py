"""Issue 12, problems 2 and 4, and their family: every outbound call goes through one guarded path
(`cds_hooks.outbound`), review records are bound to the allow-listed FHIR server they came from,
and a record without one opens for nobody.

A loopback canary stands in for the server a token must not reach (and, below, for an HTTP proxy
that must not be used): any hit on it is a leak."""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from cds_hooks.auth import JwksFetchError, fetch_jwks
from cds_hooks.outbound import Outbound, guarded_session, jwks_session, outbound_session
from cds_hooks.review.access import TokenVerifier
from cds_hooks.review.store import ReviewStore
from cds_hooks.runtime import fhir_client_factory
from cds_hooks.settings import Settings, ca_bundle_from_env
from cds_hooks.demo.synthetic import patient_id
from loopback import json_server
from security_support import SERVICE_ID, Canary, Signer, hook_body, strict_json, synthetic_patient

URL = f"/cds-services/{SERVICE_ID}"
SMART_TOKEN = "smart-access-token-CANARY-5d1e"


@contextmanager
def recording_server() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A loopback HTTP server recording each request's path and headers; answers 200 JSON."""
    with json_server(default={"keys": [], "resourceType": "Patient", "id": "x"}) as server:
        yield server.base, server.requests


def _review_rows(data_dir: Path) -> int:
    path = data_dir / "derm3r.sqlite3"  # the review store shares the service database (issue 16)
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM review_record").fetchone()[0])


def _hook(client: Any, signer: Signer, fhir_server: str) -> tuple[dict, str]:
    bundle = synthetic_patient(visits=1)
    body = hook_body(bundle, fhir_server=fhir_server, with_token=True)  # full prefetch: no FHIR call needed
    response = client.post(URL, json=body, headers=signer.header())
    assert response.status_code == 200, response.data[:300]
    return strict_json(response)["cards"][0], patient_id(bundle)


# -- problem 2: the review API sent the SMART token to a server nobody checked --------------------------


def test_complete_prefetch_with_an_unlisted_fhir_server_stores_no_review_record(make_app: Any, canary: Canary, signer: Signer, tmp_path: Path) -> None:
    app = make_app()  # empty allow-list
    card, _ = _hook(app.test_client(), signer, canary.url)
    assert "links" not in card  # no review link: nobody to check a token with
    assert _review_rows(tmp_path / "data") == 0
    assert canary.hits == []


@contextmanager
def tcp_listener() -> Iterator[tuple[int, list[int]]]:
    """A bare loopback TCP listener counting accepted connections (a TLS or HTTP client alike)."""
    accepted: list[int] = []
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.settimeout(0.2)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            accepted.append(1)
            conn.close()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1], accepted
    finally:
        stop.set()
        thread.join(2)
        sock.close()


def test_review_token_check_refuses_a_private_address_at_connect_time(make_app: Any, signer: Signer) -> None:
    """The red team's case: `https://127.0.0.1:PORT` allow-listed by mistake, DERM3R_ALLOW_PRIVATE_FHIR
    off. The record is bound to it, but the token check never opens a connection."""
    with tcp_listener() as (port, accepted):
        server = f"https://127.0.0.1:{port}"
        app = make_app(fhir_allowlist=(server,))
        client = app.test_client()
        card, _ = _hook(client, signer, server)
        (link,) = card["links"]
        response = client.get(f"/app/api/assessments/{link['appContext']}",
                              headers={"Authorization": f"Bearer {SMART_TOKEN}", "X-FHIR-Server": server})
        assert response.status_code == 503 and response.get_json()["resourceType"] == "OperationOutcome"
        assert accepted == []


def test_review_token_check_refuses_plain_http_without_private_fhir(make_app: Any, canary: Canary, signer: Signer) -> None:
    app = make_app(fhir_allowlist=(canary.url,))
    client = app.test_client()
    card, _ = _hook(client, signer, canary.url)
    response = client.get(f"/app/api/assessments/{card['links'][0]['appContext']}", headers={"Authorization": f"Bearer {SMART_TOKEN}"})
    assert response.status_code == 403 and canary.hits == []


def test_review_token_check_reaches_an_allowed_private_server_when_permitted(make_app: Any, canary: Canary, signer: Signer) -> None:
    """Control: with private FHIR allowed (on-premises), the same path works end to end."""
    app = make_app(fhir_allowlist=(canary.url,), allow_private_fhir=True)
    client = app.test_client()
    card, pid = _hook(client, signer, canary.url)
    canary.routes[f"/Patient/{pid}"] = (200, {"Content-Type": "application/fhir+json"},
                                        json.dumps({"resourceType": "Patient", "id": pid}).encode())
    response = client.get(f"/app/api/assessments/{card['links'][0]['appContext']}", headers={"Authorization": f"Bearer {SMART_TOKEN}"})
    assert response.status_code == 200
    assert canary.hits == [f"/Patient/{pid}"]


def test_removing_a_server_from_the_allow_list_revokes_its_records(make_app: Any, canary: Canary, signer: Signer, tmp_path: Path) -> None:
    app = make_app(fhir_allowlist=(canary.url,), allow_private_fhir=True)
    card, _ = _hook(app.test_client(), signer, canary.url)
    later = make_app(allow_private_fhir=True)  # same data dir, server no longer listed
    response = later.test_client().get(f"/app/api/assessments/{card['links'][0]['appContext']}",
                                       headers={"Authorization": f"Bearer {SMART_TOKEN}"})
    assert response.status_code == 403 and canary.hits == []


# -- problem 4: records without fhirServer opened across tenants -----------------------------------------


@pytest.mark.parametrize("claimed", ["", "CANARY", "https://other-tenant.example.org/fhir"])
def test_unbound_record_opens_for_nobody(tmp_path: Path, canary: Canary, claimed: str) -> None:
    from flask import Flask

    from cds_hooks.review import review_blueprint
    from tests.smart.case_data import build_case, hand_built_assessment  # noqa: PLC0415 - shared fixture data

    server = canary.url if claimed == "CANARY" else claimed
    settings = Settings(data_dir=tmp_path, fhir_allowlist=tuple(s for s in (canary.url, "https://other-tenant.example.org/fhir")),
                        allow_private_fhir=True)
    store = ReviewStore(tmp_path)
    case = build_case()
    record_id = store.put(hand_built_assessment(case), case, [])  # no fhir_server
    app = Flask(__name__)
    app.register_blueprint(review_blueprint(settings, store, feedback_sink=lambda s, i: True))
    headers = {"Authorization": f"Bearer {SMART_TOKEN}", **({"X-FHIR-Server": server} if server else {})}
    for path in ("", "/photos/0", "/photos/0/overlays"):
        response = app.test_client().get(f"/app/api/assessments/{record_id}{path}", headers=headers)
        assert response.status_code == 403, path
    assert canary.hits == []


def test_bound_record_refuses_a_token_from_another_server(make_app: Any, canary: Canary, signer: Signer) -> None:
    app = make_app(fhir_allowlist=(canary.url, "https://other-tenant.example.org/fhir"), allow_private_fhir=True)
    client = app.test_client()
    card, _ = _hook(client, signer, canary.url)
    response = client.get(f"/app/api/assessments/{card['links'][0]['appContext']}",
                          headers={"Authorization": f"Bearer {SMART_TOKEN}", "X-FHIR-Server": "https://other-tenant.example.org/fhir"})
    assert response.status_code == 403 and canary.hits == []


# -- the family: one guarded path for every outbound caller --------------------------------------------


def _callers(settings: Settings) -> dict[str, Any]:
    """Each outbound caller, as a function of a URL that performs its real request."""

    def fhir(url: str) -> Any:
        client = fhir_client_factory(settings)(url, "fhir-token", 2.0)
        try:
            return client.read("Patient/x")
        finally:
            client.close()

    def review(url: str) -> Any:
        verifier = TokenVerifier(settings)
        return verifier._probe(url, "Patient/x", SMART_TOKEN)

    def jwks(url: str) -> Any:
        return fetch_jwks(url + "/jwks")

    return {"fhir": fhir, "review-token-check": review, "jwks": jwks}


@pytest.mark.parametrize("caller", ["fhir", "review-token-check", "jwks"])
def test_environment_proxies_and_netrc_are_ignored(caller: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP(S)_PROXY pointing at a recording 'proxy' and a .netrc with credentials for the target:
    neither is used by any outbound caller (requests honours both by default)."""
    with recording_server() as (target, target_seen), recording_server() as (proxy, proxy_seen):
        host = target.split("//", 1)[1].split(":")[0]
        netrc = tmp_path / "netrc"
        netrc.write_text(f"machine {host} login netrc-user password netrc-SECRET\n")
        netrc.chmod(0o600)
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
            monkeypatch.setenv(name, proxy)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.setenv("NETRC", str(netrc))
        settings = Settings(data_dir=tmp_path, fhir_allowlist=(target,), allow_private_fhir=True)
        try:
            _callers(settings)[caller](target)
        except Exception:  # noqa: BLE001 - the answer's content does not matter here, only who was contacted
            pass
        assert proxy_seen == []
        assert target_seen and all("netrc" not in str(h.get("authorization", "")) and "Basic" not in str(h.get("authorization", "")) for h in target_seen)


@pytest.mark.parametrize("caller", ["fhir", "review-token-check"])
def test_private_addresses_are_refused_at_connect_time(caller: str, tmp_path: Path) -> None:
    with recording_server() as (target, seen):
        settings = Settings(data_dir=tmp_path, fhir_allowlist=(target,), allow_private_fhir=False)
        with pytest.raises(Exception):  # noqa: B017 - each caller's own error type (FhirUnavailable, ServiceUnavailable)
            _callers(settings)[caller](target)
        assert seen == []


def test_jwks_never_reaches_link_local_metadata() -> None:
    """JWKS URLs come from the operator's trust file, so private addresses are allowed; link-local
    (cloud metadata) never, refused before any packet is sent."""
    with pytest.raises(JwksFetchError):
        fetch_jwks("http://169.254.169.254/latest/meta-data/jwks")


def test_ca_bundle_is_configured_in_one_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not read until a TLS handshake\n")
    assert ca_bundle_from_env({"DERM3R_CA_BUNDLE": str(bundle), "REQUESTS_CA_BUNDLE": "/other"}) == str(bundle)
    assert ca_bundle_from_env({"SSL_CERT_FILE": "/x"}) == "/x" and ca_bundle_from_env({}) is None
    settings = Settings.from_env({"DERM3R_CA_BUNDLE": str(bundle)})
    assert outbound_session(settings).verify == str(bundle)
    assert TokenVerifier(settings)._session.verify == str(bundle)
    client = fhir_client_factory(Settings.from_env({"DERM3R_CA_BUNDLE": str(bundle), "DERM3R_FHIR_ALLOWLIST": "https://ehr.example.org/fhir"}))(
        "https://ehr.example.org/fhir", None, 1.0)
    assert client._session.verify == str(bundle)
    monkeypatch.setenv("DERM3R_CA_BUNDLE", str(bundle))
    assert jwks_session().verify == str(bundle)


def test_trust_env_is_never_on(tmp_path: Path) -> None:
    """One rule (issues 12 + 13): proxies only from the standard variables, read into
    Settings.outbound at start-up and applied explicitly; requests' trust_env (which would add
    .netrc) is never turned on, even with proxies configured."""
    assert outbound_session(Settings(data_dir=tmp_path)).trust_env is False
    proxied = Settings.from_env({"HTTPS_PROXY": "http://proxy.hospital.test:3128"})
    assert proxied.outbound.proxies == {"https": "http://proxy.hospital.test:3128"}
    assert outbound_session(proxied).trust_env is False


def test_configured_proxy_still_vets_the_target(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a proxy configured, the target name is vetted before the proxy is asked to connect."""
    with recording_server() as (proxy, proxy_seen):
        session = guarded_session(False, outbound=Outbound.from_env({"HTTP_PROXY": proxy}))
        with pytest.raises(requests.ConnectionError):
            session.get("http://169.254.169.254/latest/meta-data", timeout=2)
        with pytest.raises(requests.ConnectionError):
            session.get("http://127.0.0.1:9/fhir", timeout=2)
        assert proxy_seen == []


def _plain_sessions(path: Path) -> list[int]:
    """Lines of `path` that build a requests Session (or call requests.get/post/...) directly."""
    import ast

    direct = {"Session", "session", "get", "post", "put", "delete", "head", "patch", "request"}
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        func = node.func if isinstance(node, ast.Call) else None
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "requests" and func.attr in direct:
            lines.append(node.lineno)
    return lines


def test_no_plain_requests_session_anywhere_in_cds_hooks() -> None:
    """Every HTTP client in cds_hooks (service, review app, demo) is built by cds_hooks.outbound,
    the one place that subclasses requests.Session with the connect-time address check."""
    package = Path(__file__).resolve().parents[2] / "cds_hooks"
    found = {
        str(p.relative_to(package)): lines
        for p in package.rglob("*.py")
        if "node_modules" not in p.parts and p.name != "outbound.py" and (lines := _plain_sessions(p))
    }
    assert not found, f"plain requests sessions/calls (use cds_hooks.outbound): {found}"
