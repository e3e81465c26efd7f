"""Issue 12, problems 9 and 13, and their family: what the review app serves cannot be turned into
script or a frame. Photo and overlay content types come from an allow-list judged on the bytes
(never echoed from the EHR's record, so no `image/svg+xml`, no header injection); every review-app
response forbids framing except by the EHR origins the operator lists (DERM3R_FRAME_ANCESTORS)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from security_support import AcceptingFhir

from cds_hooks.review import ReviewStore, review_blueprint
from cds_hooks.review.access import TokenVerifier
from cds_hooks.review.store import SERVED_IMAGE_TYPES
from cds_hooks.settings import Settings

FHIR = "https://ehr.header-tests.example/fhir"
AUTH = {"Authorization": "Bearer smart-token"}
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.domain)</script></svg>'
HTML = b"<!doctype html><script>alert(1)</script>"


def _review_app(tmp_path: Path, photos: list[tuple[bytes, str | None]], **settings: Any) -> tuple[Any, str]:
    from tests.smart.case_data import build_case, hand_built_assessment

    config = Settings(data_dir=tmp_path, fhir_allowlist=(FHIR,), **settings)
    store = ReviewStore(tmp_path)
    case = build_case()
    template = case.photos[0]
    case = dataclasses.replace(case, photos=tuple(
        dataclasses.replace(template, ref=f"Media/h{i}", data=data, content_type=ctype) for i, (data, ctype) in enumerate(photos)))
    record_id = store.put(hand_built_assessment(build_case()), case, [], fhir_server=FHIR)
    app = Flask(__name__)
    app.register_blueprint(review_blueprint(config, store, verifier=TokenVerifier(config, session=AcceptingFhir()),  # type: ignore[arg-type]
                                            feedback_sink=lambda s, i: True))
    return app.test_client(), record_id


DECLARED = [
    "image/svg+xml",  # red team
    "image/x;text/html",  # red team
    "image/jpeg\r\nSet-Cookie: x=1",  # red team: was a 500
    "image/jpeg\nX-Injected: 1",
    "text/html",
    "application/javascript",
    "IMAGE/PNG; charset=utf-8",
    "",
    None,
    "image/jpeg; " + "x" * 5000,
]


@pytest.mark.parametrize("declared", DECLARED, ids=repr)
def test_photo_type_is_never_echoed(tmp_path: Path, declared: str | None) -> None:
    from tests.smart.case_data import lesion_photo

    client, record_id = _review_app(tmp_path, [(lesion_photo(0), declared)])
    response = client.get(f"/app/api/assessments/{record_id}/photos/0", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/jpeg"  # judged on the bytes
    assert "Set-Cookie" not in response.headers and "X-Injected" not in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    record = client.get(f"/app/api/assessments/{record_id}", headers=AUTH).get_json()
    assert record["photos"][0]["contentType"] in (*SERVED_IMAGE_TYPES, None)


@pytest.mark.parametrize(("data", "declared"), [(SVG, "image/svg+xml"), (HTML, "image/jpeg"), (HTML, "text/html"), (b"GIF89a" + b"\x00" * 20, "image/gif")],
                         ids=["svg-as-svg", "html-as-jpeg", "html-as-html", "gif"])
def test_non_photo_bytes_are_served_as_an_opaque_download(tmp_path: Path, data: bytes, declared: str) -> None:
    client, record_id = _review_app(tmp_path, [(data, declared)])
    response = client.get(f"/app/api/assessments/{record_id}/photos/0", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"] == "attachment"


@pytest.mark.parametrize("magic,expected", [(b"\x89PNG\r\n\x1a\n", "image/png"), (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp")])
def test_other_allowed_formats_keep_their_own_type(tmp_path: Path, magic: bytes, expected: str) -> None:
    client, record_id = _review_app(tmp_path, [(magic + b"\x00" * 64, "image/svg+xml")])
    assert client.get(f"/app/api/assessments/{record_id}/photos/0", headers=AUTH).headers["Content-Type"] == expected


def test_overlay_types_come_from_the_allow_list(tmp_path: Path) -> None:
    from tests.smart.case_data import lesion_photo

    client, record_id = _review_app(tmp_path, [(lesion_photo(1), "image/svg+xml")])
    kinds = client.get(f"/app/api/assessments/{record_id}/photos/0/overlays", headers=AUTH).get_json()["kinds"]
    for kind in kinds:
        response = client.get(f"/app/api/assessments/{record_id}/photos/0/overlays/{kind}", headers=AUTH)
        assert response.headers["Content-Type"] in (*SERVED_IMAGE_TYPES, "application/octet-stream")


# -- problem 13: clickjacking ---------------------------------------------------------------------------

PATHS = ["/app/", "/app/launch.html", "/app/config.json", "/app/api/assessments/RECORD", "/app/api/assessments/RECORD/photos/0", "/app/api/assessments/unknown"]


@pytest.mark.parametrize("path", PATHS)
def test_review_app_cannot_be_framed_by_default(tmp_path: Path, path: str) -> None:
    client, record_id = _review_app(tmp_path, [(b"\xff\xd8\xff" + b"\x00" * 10, "image/jpeg")])
    response = client.get(path.replace("RECORD", record_id), headers=AUTH)
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("path", PATHS)
def test_only_the_configured_ehr_origins_may_frame_it(tmp_path: Path, path: str) -> None:
    origins = ("https://ehr.example.org", "https://portal.example.org:8443")
    client, record_id = _review_app(tmp_path, [(b"\xff\xd8\xff" + b"\x00" * 10, "image/jpeg")], frame_ancestors=origins)
    response = client.get(path.replace("RECORD", record_id), headers=AUTH)
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors https://ehr.example.org https://portal.example.org:8443" in csp
    assert "X-Frame-Options" not in response.headers  # it cannot name two origins; CSP decides


def test_frame_ancestors_setting_is_parsed_and_documented() -> None:
    settings = Settings.from_env({"DERM3R_FRAME_ANCESTORS": " https://EHR.example.org/ , http://localhost:9000"})
    assert settings.frame_ancestors == ("https://ehr.example.org", "http://localhost:9000")
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "`DERM3R_FRAME_ANCESTORS`" in readme


@pytest.mark.parametrize("value", [
    "*",
    "https://*.example.org",
    "https://ehr.example.org/path",
    "https://ehr.example.org; script-src *",
    "'self'",
    "javascript:alert(1)",
    "https://ehr.example.org https://evil.example",
    "https://ehr.example.org\r\nX-Injected: 1",
])
def test_frame_ancestors_refuses_anything_but_plain_origins(value: str) -> None:
    with pytest.raises(ValueError, match="DERM3R_FRAME_ANCESTORS"):
        Settings.from_env({"DERM3R_FRAME_ANCESTORS": value})
