"""Issue 12, problem 1 (CPU denial of service from one small JPEG) and its family: decode *work*
is bounded per photo (progressive scans counted on the bytes before decoding, multi-frame formats
read one frame), and the request as a whole has a time budget that covers photo decoding and the
agents (DERM3R_REQUEST_BUDGET): photos not read in time are reported, never a timeout or 5xx.

Wall-clock numbers are measured in bench/soak.py, not asserted here."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from inference.imaging import ImageError, MAX_JPEG_SCANS, _check_jpeg_work, decode_image, jpeg_scan_count
from inference.time_budget import TIME_BUDGET_REASON, photo_time_budget, photo_time_exhausted
from security_support import (
    SERVICE_ID,
    Signer,
    jpeg_scans,
    progressive_jpeg,
    repeat_scan,
    request_with_photos,
    strict_json,
)

URL = f"/cds-services/{SERVICE_ID}"


@pytest.fixture(scope="module")
def base_progressive() -> bytes:
    return progressive_jpeg(1024, 1024)


def _with_app_segment(data: bytes, payload: bytes) -> bytes:
    """An APP15 segment right after SOI (decoders skip unknown APPn)."""
    return data[:2] + b"\xff\xef" + (len(payload) + 2).to_bytes(2, "big") + payload + data[2:]


# -- the count itself --------------------------------------------------------------------------------


def test_scan_count_matches_the_encoder(base_progressive: bytes) -> None:
    assert jpeg_scan_count(base_progressive) == len(jpeg_scans(base_progressive)) == 10  # libjpeg's progression
    assert jpeg_scan_count(progressive_jpeg(64, 64, progressive=False)) == 1
    assert jpeg_scan_count(progressive_jpeg(64, 64, mode="L")) == len(jpeg_scans(progressive_jpeg(64, 64, mode="L")))


def test_scan_markers_hidden_in_app_segments_do_not_count(base_progressive: bytes) -> None:
    # An EXIF thumbnail or ICC profile may contain FF DA bytes; they are not scans of this image.
    decoy = _with_app_segment(base_progressive, b"\xff\xda" * 500)
    assert jpeg_scan_count(decoy) == 10
    assert decode_image(decoy, "image/jpeg").format == "JPEG"


@pytest.mark.parametrize("data", [b"\xff\xd8", b"\xff\xd8\xff", b"\xff\xd8\x00\x00\x00\x00", b"\xff\xd8\xff\xe0\xff\xff"], ids=repr)
def test_scan_count_never_raises_on_garbage(data: bytes) -> None:
    assert jpeg_scan_count(data) >= 0


# -- the family: every way to multiply scans is refused before decoding -------------------------------


def _bomb_cases() -> list[tuple[str, Any]]:
    return [
        ("red team: first AC scan repeated 1500x (colour, progressive)", lambda b: repeat_scan(b, 1, 1500)),
        ("DC scan repeated 300x", lambda b: repeat_scan(b, 0, 300)),
        ("last refinement scan repeated 300x", lambda b: repeat_scan(b, -1, 300)),
        ("greyscale progressive, AC scan repeated 300x", lambda b: repeat_scan(progressive_jpeg(1024, 1024, mode="L"), 1, 300)),
        ("baseline (sequential) scan repeated 300x", lambda b: repeat_scan(progressive_jpeg(512, 512, progressive=False), 0, 300)),
        ("just over the cap", lambda b: repeat_scan(b, 1, MAX_JPEG_SCANS - 9)),
    ]


@pytest.mark.parametrize(("case", "make"), _bomb_cases(), ids=[c[0] for c in _bomb_cases()])
def test_scan_bombs_are_refused_with_an_actionable_reason(base_progressive: bytes, case: str, make: Any) -> None:
    bomb = make(base_progressive)
    assert jpeg_scan_count(bomb) > MAX_JPEG_SCANS
    with pytest.raises(ImageError) as caught:
        decode_image(bomb, "image/jpeg")
    assert caught.value.code == "too_complex"
    assert "baseline" in caught.value.message and "re-export" in caught.value.message


def test_at_the_cap_is_still_decoded(base_progressive: bytes) -> None:
    at_cap = repeat_scan(base_progressive, 1, MAX_JPEG_SCANS - 10)
    assert jpeg_scan_count(at_cap) == MAX_JPEG_SCANS
    assert decode_image(at_cap, "image/jpeg").original_width == 1024


def test_large_photos_get_fewer_scans(base_progressive: bytes) -> None:
    """Work is scans x pixels: 20 scans are fine at 4 MP, too much at the 64 MP limit."""
    twenty = repeat_scan(base_progressive, 1, 10)
    _check_jpeg_work(twenty, 2000, 2000)
    with pytest.raises(ImageError, match="too_complex"):
        _check_jpeg_work(twenty, 8000, 8000)
    _check_jpeg_work(base_progressive, 8000, 8000)  # an ordinary 10-scan photo at 64 MP passes


def _animated(fmt: str, frames: int) -> bytes:
    images = [Image.new("RGB", (64, 64), (10 + i % 200, 80, 80)) for i in range(frames)]
    out = io.BytesIO()
    images[0].save(out, fmt, save_all=True, append_images=images[1:], duration=10, **({"lossless": False} if fmt == "WEBP" else {}))
    return out.getvalue()


@pytest.mark.parametrize(("fmt", "content_type"), [("WEBP", "image/webp"), ("PNG", "image/png")], ids=["animated-webp", "apng"])
def test_multi_frame_formats_decode_one_frame(fmt: str, content_type: str) -> None:
    """The other decoders' way to multiply work: 300 frames. Only the first frame is read."""
    data = _animated(fmt, 300)
    decoded = decode_image(data, content_type)
    assert decoded.original_width == 64
    assert getattr(decoded.image, "tell", lambda: 0)() == 0  # still on the first frame: the others were never decoded


# -- through the full hook ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(module_app: Any) -> Any:
    return module_app.test_client()


def test_twelve_scan_bombs_in_one_hook_are_refused_per_photo(client: Any, signer: Signer, base_progressive: bytes) -> None:
    """The red team's attack (12 photos would hold both workers for minutes): each photo refused
    before decoding, the answer a normal 200 with the reason on the data-quality card."""
    bomb = repeat_scan(base_progressive, 1, 1500)
    photos = [(bomb[:-2] + bytes([i]) + bomb[-2:], "image/jpeg") for i in range(12)]  # distinct bytes: no cache hits
    response = client.post(URL, json=request_with_photos(photos), headers=signer.header())
    assert response.status_code == 200, response.data[:300]
    text = str(strict_json(response))
    assert text.count("progressive passes") >= 1 and "baseline" in text


def test_request_budget_covers_photo_decoding(make_app: Any, signer: Signer) -> None:
    """A request whose budget is used up before its photos are read answers 200 and says which
    photos were not read and what to do; the refusal is not cached, so the next view reads them."""
    photos = [(progressive_jpeg(600, 400 + i), "image/jpeg") for i in range(3)]
    body = request_with_photos(photos)
    starved = make_app(request_budget_seconds=0.0, request_deadline_seconds=0.0)
    response = starved.test_client().post(URL, json=body, headers=signer.header())
    assert response.status_code == 200, response.data[:300]
    assert "time allowed for reading" in str(strict_json(response))
    normal = make_app()
    again = normal.test_client().post(URL, json={**body, "hookInstance": "0c2b6c1e-5f9a-4b7e-9f1d-2a3b4c5d6e7f"}, headers=signer.header())
    assert again.status_code == 200 and "time allowed for reading" not in str(strict_json(again))


def test_time_budget_is_per_context() -> None:
    assert not photo_time_exhausted()  # no budget outside a request
    with photo_time_budget(0.0):
        assert photo_time_exhausted()
        with photo_time_budget(60.0):
            assert not photo_time_exhausted()
        assert photo_time_exhausted()
    assert not photo_time_exhausted()
    assert "send fewer or smaller photos" in TIME_BUDGET_REASON
