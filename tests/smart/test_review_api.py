"""Review store and API without a browser: records, expiry, the SMART token check, feedback."""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask import Flask

from cds_hooks.review import ReviewStore, review_blueprint
from cds_hooks.review.access import TokenVerifier
from cds_hooks.errors import ServiceUnavailable
from cds_hooks.http_errors import operation_outcome
from cds_hooks.settings import Settings
from .case_data import build_case, draft_resources, hand_built_assessment

FHIR = "https://ehr.example.org/fhir"
GOOD = "good-token"


@dataclass
class _Resp:
    status_code: int
    body: dict

    def json(self) -> dict:
        return self.body


@dataclass
class FakeFhir:
    """Stands in for the FHIR server's Patient read used as the token check."""

    calls: list[str] = field(default_factory=list)

    def get(self, url: str, headers: dict, timeout: float, allow_redirects: bool) -> _Resp:
        self.calls.append(url)
        if headers.get("Authorization") != f"Bearer {GOOD}":
            return _Resp(401, {})
        pid = url.rsplit("/", 1)[-1]
        if pid != "pso-moderate-1":
            return _Resp(403, {})
        return _Resp(200, {"resourceType": "Patient", "id": pid})


@pytest.fixture()
def setup(tmp_path: Path):
    # The record's server must stay on the allow-list for its records to open (issue 12).
    settings = Settings(data_dir=tmp_path, fhir_allowlist=(FHIR,))
    store = ReviewStore(tmp_path, ttl_seconds=60)
    case = build_case()
    assessment = hand_built_assessment(case)
    context_id = store.put(assessment, case, draft_resources(assessment), fhir_server=FHIR, service_id="derm3r-psoriasis", card_uuid="card-1")
    fake = FakeFhir()
    received: list[tuple[str, dict]] = []
    app = Flask(__name__)
    app.register_blueprint(review_blueprint(settings, store, verifier=TokenVerifier(settings, session=fake),  # type: ignore[arg-type]
                                            feedback_sink=lambda s, i: received.append((s, i)) or True))
    return app.test_client(), store, context_id, fake, received


def auth(token: str = GOOD, server: str = FHIR) -> dict:
    return {"Authorization": f"Bearer {token}", "X-FHIR-Server": server}


def test_record_id_is_opaque_and_record_round_trips(setup) -> None:
    client, store, context_id, _, _ = setup
    assert len(context_id) >= 43 and "pso" not in context_id
    record = store.get(context_id)
    assert record is not None and record["patient"] == "Patient/pso-moderate-1"
    assert [p["ref"] for p in record["photos"]] == ["Media/photo-trunk", "Media/photo-arm", "Media/photo-leg"]
    assert [p["value"] for p in record["history"]["pasi"]] == [16.8, 12.1, 7.4, 8.6]
    assert store.photo(context_id, 0).data.startswith(b"\xff\xd8")


def test_api_returns_record_and_photos_with_valid_token(setup) -> None:
    client, _, context_id, fake, _ = setup
    r = client.get(f"/app/api/assessments/{context_id}", headers=auth())
    assert r.status_code == 200, r.json
    assert r.json["assessment"]["severity"]["level"] == "moderate"
    assert r.headers["Cache-Control"] == "no-store"
    img = client.get(f"/app/api/assessments/{context_id}/photos/2", headers=auth())
    assert img.status_code == 200 and img.mimetype == "image/jpeg"
    assert len(fake.calls) == 1  # the token check is cached for the second call
    kinds = client.get(f"/app/api/assessments/{context_id}/photos/0/overlays", headers=auth())
    assert kinds.status_code == 200 and isinstance(kinds.json["kinds"], list)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Basic abc", "X-FHIR-Server": FHIR}, 401),
        (auth(token="stolen"), 401),
        (auth(server="https://evil.example.org/fhir"), 403),
    ],
)
def test_api_rejects_bad_credentials(setup, headers: dict, status: int) -> None:
    client, _, context_id, _, _ = setup
    r = client.get(f"/app/api/assessments/{context_id}", headers=headers)
    assert r.status_code == status
    assert r.json["resourceType"] == "OperationOutcome"


def test_bound_record_needs_no_server_header_and_unbound_opens_for_nobody(tmp_path: Path, setup) -> None:
    client, _, context_id, _, _ = setup
    assert client.get(f"/app/api/assessments/{context_id}", headers={"Authorization": f"Bearer {GOOD}"}).status_code == 200
    store = ReviewStore(tmp_path / "unbound")
    case = build_case()
    cid = store.put(hand_built_assessment(case), case, [])  # no fhir_server
    # Issue 12: an unbound record used to open for any allow-listed server accepting the token for
    # the same patient id (cross-tenant read); it now opens for nobody.
    for allow, headers, status in [((), auth(), 403), ((FHIR,), auth(), 403), ((FHIR,), {"Authorization": f"Bearer {GOOD}"}, 403)]:
        settings = Settings(data_dir=tmp_path, fhir_allowlist=allow)
        app = Flask(__name__)
        app.register_blueprint(review_blueprint(settings, store, verifier=TokenVerifier(settings, session=FakeFhir()),  # type: ignore[arg-type]
                                                feedback_sink=lambda s, i: True))
        assert app.test_client().get(f"/app/api/assessments/{cid}", headers=headers).status_code == status


def test_unknown_and_expired_ids_are_404(tmp_path: Path, setup) -> None:
    client, _, _, _, _ = setup
    assert client.get("/app/api/assessments/nope", headers=auth()).status_code == 404
    store = ReviewStore(tmp_path / "short", ttl_seconds=1)
    case = build_case()
    a = hand_built_assessment(case)
    cid = store.put(a, case, [])
    assert store.get(cid) is not None
    time.sleep(1.1)
    assert store.get(cid) is None and store.photo(cid, 0) is None


def test_records_are_shared_across_store_instances(tmp_path: Path) -> None:
    case = build_case()
    cid = ReviewStore(tmp_path).put(hand_built_assessment(case), case, [])
    assert ReviewStore(tmp_path).get(cid) is not None  # as another gunicorn worker would see it


def test_feedback_is_filed_as_cds_hooks_feedback(setup) -> None:
    client, _, context_id, _, received = setup
    r = client.post(f"/app/api/assessments/{context_id}/feedback", headers=auth(),
                    json={"outcome": "overridden", "section": "tcm", "reason": "tcm-disagree", "comment": "tongue pale"})
    assert r.status_code == 201
    service_id, item = received[0]
    assert service_id == "derm3r-psoriasis" and item["card"] == "card-1"
    assert item["overrideReason"]["reason"]["code"] == "tcm-disagree"
    assert item["overrideReason"]["userComment"] == "tongue pale"


@pytest.mark.parametrize(
    "body",
    [
        {"outcome": "maybe"},
        {"outcome": "overridden", "reason": "because"},
        {"outcome": "accepted", "section": "nowhere"},
        {"outcome": "accepted", "comment": "x" * 3000},
        {"outcome": "accepted", "written": "CarePlan/1"},
        ["accepted"],
        {"outcome": "accepted", "section": ["tcm"]},  # unhashable: was a 500
        {"outcome": "overridden", "reason": {"code": "other"}},
    ],
)
def test_feedback_rejects_malformed_bodies(setup, body) -> None:
    client, _, context_id, _, received = setup
    r = client.post(f"/app/api/assessments/{context_id}/feedback", headers=auth(), json=body)
    assert r.status_code == 400 and not received


def test_static_app_is_served_with_security_headers(setup) -> None:
    client, *_ = setup
    r = client.get("/app/config.json")
    assert r.json["clientId"] == "derm3r-review" and "patient/CarePlan.c" in r.json["scope"]
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    assert r.headers["Referrer-Policy"] == "no-referrer"


def _put_in_child(data_dir: str, queue: "multiprocessing.Queue[str]") -> None:
    case = build_case()
    queue.put(ReviewStore(Path(data_dir)).put(hand_built_assessment(case), case, []))


def test_record_written_by_another_process_is_readable(tmp_path: Path) -> None:
    """As with gunicorn workers: one process answers the hook, another serves the app."""
    ctx = multiprocessing.get_context("fork")  # as gunicorn makes its workers
    queue = ctx.Queue()
    child = ctx.Process(target=_put_in_child, args=(str(tmp_path), queue))
    child.start()
    context_id = queue.get(timeout=120)
    child.join(timeout=60)
    store = ReviewStore(tmp_path)
    assert store.get(context_id)["patient"] == "Patient/pso-moderate-1"
    assert store.photo(context_id, 2) is not None


def test_overlays_are_rendered_once_and_cached(setup) -> None:
    _, store, context_id, _, _ = setup
    first = store.overlays(context_id, 0)
    assert first is not None
    again = store.overlays(context_id, 0)
    assert {k: v.data for k, v in again.items()} == {k: v.data for k, v in first.items()}
    assert store.overlays(context_id, 99) is None


def test_unreadable_database_is_a_503_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "derm3r.sqlite3").write_bytes(b"this is not a database" * 100)
    with pytest.raises(ServiceUnavailable):
        ReviewStore(tmp_path)


def test_non_finite_measurements_are_stored_as_null(tmp_path: Path) -> None:
    """A photo too small to measure gives NaN metrics: the record must still be stored."""
    import dataclasses

    case = build_case()
    assessment = hand_built_assessment(case)
    rep = assessment.representation
    odd = dataclasses.replace(rep.photos[0], quality=dataclasses.replace(rep.photos[0].quality, metrics={"sharpness": float("nan")}))
    assessment = dataclasses.replace(assessment, representation=dataclasses.replace(rep, photos=(odd, *rep.photos[1:])))
    store = ReviewStore(tmp_path)
    record = store.get(store.put(assessment, case, [{"resourceType": "Observation", "valueQuantity": {"value": float("inf")}}]))
    assert record["assessment"]["representation"]["photos"][0]["quality"]["metrics"]["sharpness"] is None
    assert record["resources"][0]["valueQuantity"]["value"] is None


def test_photos_are_stored_once_per_content_and_purged_with_the_last_record(tmp_path: Path) -> None:
    import sqlite3

    case = build_case()
    store = ReviewStore(tmp_path, ttl_seconds=1)
    first = store.put(hand_built_assessment(case), case, [])
    second = store.put(hand_built_assessment(case), case, [])  # a repeat view: same photo bytes
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("SELECT count(*) FROM review_image").fetchone()[0] == len({p.data for p in case.photos})
    assert store.photo(first, 0).data == store.photo(second, 0).data == case.photos[0].data
    time.sleep(1.1)
    assert store.purge_expired() == 2
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("SELECT count(*) FROM review_image").fetchone()[0] == 0


def test_review_errors_use_the_service_mapping_with_their_own_realm(setup) -> None:
    """One error tree -> HTTP mapping (cds_hooks.http_errors) for the service and the review app;
    only the 401 challenge differs: the review API takes SMART tokens, not CDS Client JWTs."""
    client, _, context_id, _, _ = setup
    r = client.get(f"/app/api/assessments/{context_id}")
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Bearer realm="derm3r-review"'
    assert r.json == operation_outcome("login", "SMART access token required (Authorization: Bearer ...)")
    bad = client.post(f"/app/api/assessments/{context_id}/feedback", headers=auth(), json={"outcome": "maybe"})
    assert bad.json == operation_outcome("invalid", "outcome must be 'accepted' or 'overridden'", expression="outcome")
    assert "WWW-Authenticate" not in bad.headers
    # No second OperationOutcome builder may grow back in the review package.
    review = Path(review_blueprint.__code__.co_filename).parent
    assert not [p.name for p in review.glob("*.py") if '"OperationOutcome"' in p.read_text(encoding="utf-8")]
