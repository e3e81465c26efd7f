"""Safe decoding of untrusted photo bytes: formats by magic bytes, limits, corrupt input, EXIF, draft."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from inference import imaging
from inference.imaging import ImageError, decode_image, sniff_format


def _encode(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def _photo(width: int = 640, height: int = 480, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    small = (rng.random((12, 16, 3)) * 200 + 30).astype(np.uint8)
    return Image.fromarray(small, "RGB").resize((width, height), Image.Resampling.BICUBIC)


def _jpeg_with_size(width: int, height: int) -> bytes:
    """A tiny valid JPEG whose SOF0 header claims another size (a cheap forged 'huge' image)."""
    data = bytearray(_encode(_photo(16, 16), "JPEG", quality=80))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 7] = height.to_bytes(2, "big")
    data[sof + 7 : sof + 9] = width.to_bytes(2, "big")
    return bytes(data)


JPEG = _encode(_photo(), "JPEG", quality=90)
PNG = _encode(_photo(), "PNG")
WEBP = _encode(_photo(), "WEBP", quality=80)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (JPEG, "JPEG"),
        (PNG, "PNG"),
        (WEBP, "WEBP"),
        (b"GIF89a" + b"\x00" * 20, None),
        (b"%PDF-1.7\n", None),
        (b"<html><body>not an image</body></html>", None),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", None),
        (b"", None),
    ],
)
def test_sniff_format_uses_magic_bytes(data: bytes, expected: str | None) -> None:
    assert sniff_format(data) == expected


@pytest.mark.parametrize("data", [JPEG, PNG, WEBP])
def test_decodes_supported_formats_to_small_rgb(data: bytes) -> None:
    decoded = decode_image(data)
    assert decoded.image.mode == "RGB"
    assert max(decoded.image.size) <= imaging.DEFAULT_MAX_SIDE
    assert (decoded.original_width, decoded.original_height) == (640, 480)


def test_declared_content_type_is_not_trusted_but_mismatch_is_reported() -> None:
    decoded = decode_image(JPEG, content_type="image/png")
    assert decoded.format == "JPEG"
    assert decoded.content_type_mismatch
    assert not decode_image(JPEG, content_type="image/jpeg; charset=binary").content_type_mismatch


def _corrupt_middle(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes(range(256)) * 8 + data[middle + 2048 :]


NEGATIVE_CASES = [
    ("empty", b"", "image/jpeg", "empty"),
    ("gif", _encode(_photo(64, 64), "GIF"), "image/gif", "unsupported_format"),
    ("html declared as jpeg", b"<html><script>alert(1)</script></html>", "image/jpeg", "unsupported_format"),
    ("pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\n", "application/pdf", "unsupported_format"),
    ("bmp", _encode(_photo(64, 64), "BMP"), "image/bmp", "unsupported_format"),
    ("truncated jpeg", JPEG[: len(JPEG) // 2], "image/jpeg", "truncated"),
    ("jpeg header only", JPEG[:120], "image/jpeg", "truncated"),
    ("truncated png", PNG[: len(PNG) // 2], "image/png", None),
    ("png magic then garbage", PNG[:8] + b"\x00" * 64, "image/png", "corrupt"),
    ("webp magic then garbage", b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x00" * 40, "image/webp", "corrupt"),
    ("jpeg claiming 30000 px", _jpeg_with_size(30000, 30000), "image/jpeg", {"too_large", "decompression_bomb"}),
    ("jpeg claiming 81 MP", _jpeg_with_size(9000, 9000), "image/jpeg", "too_large"),
    ("png decompression bomb", _encode(Image.new("1", (12000, 12000)), "PNG"), "image/png", "decompression_bomb"),
    ("png above full-decode limit", _encode(Image.new("1", (6000, 5000)), "PNG"), "image/png", "too_large"),
    ("html behind a jpeg magic", b"\xff\xd8\xff\xe0<html><script>alert(1)</script></html>", "image/jpeg", None),
    ("png magic then a jpeg", PNG[:8] + JPEG, "image/png", "corrupt"),
    ("over the byte limit", b"\xff\xd8\xff" + b"\x00" * (imaging.MAX_BYTES + 1), "image/jpeg", "too_large"),
]


@pytest.mark.parametrize(("name", "data", "content_type", "code"), NEGATIVE_CASES, ids=[c[0] for c in NEGATIVE_CASES])
def test_bad_input_becomes_typed_image_error(name: str, data: bytes, content_type: str, code: str | set[str] | None) -> None:
    with pytest.raises(ImageError) as info:
        decode_image(data, content_type)
    expected = {"truncated", "corrupt"} if code is None else {code} if isinstance(code, str) else code
    assert info.value.code in expected
    assert info.value.message  # plain-English, actionable


def test_polyglot_with_trailing_payload_decodes_only_as_the_sniffed_format() -> None:
    """A JPEG followed by a ZIP/HTML payload (a classic polyglot) is read as the JPEG it starts
    with; the trailing bytes are never interpreted."""
    decoded = decode_image(JPEG + b"PK\x03\x04" + b"\x00" * 64 + b"<html></html>", "application/zip")
    assert decoded.format == "JPEG" and decoded.content_type_mismatch
    assert np.array_equal(np.asarray(decoded.image), np.asarray(decode_image(JPEG).image))


def test_corrupt_jpeg_body_never_raises_anything_else() -> None:
    try:
        decoded = decode_image(_corrupt_middle(JPEG))
    except ImageError as exc:
        assert exc.code in {"corrupt", "truncated"}
    else:  # libjpeg may recover from damaged entropy data; then the result must still be sane
        assert decoded.image.mode == "RGB"


def test_exif_orientation_is_applied() -> None:
    image = _photo(300, 200)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise for display
    decoded = decode_image(_encode(image, "JPEG", exif=exif.tobytes()))
    assert decoded.exif_transposed
    width, height = decoded.image.size
    assert height > width
    assert (decoded.original_width, decoded.original_height) == (200, 300)


def test_large_jpeg_is_downscaled_by_draft() -> None:
    data = _encode(_photo(4000, 3000), "JPEG", quality=85)
    decoded = decode_image(data)
    long_side = max(decoded.image.size)
    assert imaging.DRAFT_FRACTION * imaging.DEFAULT_MAX_SIDE <= long_side <= imaging.DEFAULT_MAX_SIDE
    assert decoded.original_width == 4000
    assert decoded.scale == pytest.approx(long_side / 4000)


@pytest.mark.parametrize(
    "image",
    [
        Image.new("RGBA", (300, 240), (200, 150, 120, 128)),
        Image.new("L", (300, 240), 128),
        Image.new("P", (300, 240)),
        Image.fromarray(np.arange(300 * 240, dtype=np.uint16).reshape(240, 300) * 9),
    ],
    ids=["rgba", "grey", "palette", "grey16"],
)
def test_pixel_formats_become_rgb(image: Image.Image) -> None:
    decoded = decode_image(_encode(image, "PNG"))
    assert decoded.image.mode == "RGB"
    assert decoded.image.size == (300, 240)


def test_cmyk_jpeg_becomes_rgb() -> None:
    decoded = decode_image(_encode(_photo(200, 160).convert("CMYK"), "JPEG"))
    assert decoded.image.mode == "RGB"


def test_decoding_is_deterministic() -> None:
    data = _encode(_photo(2000, 1500, seed=3), "JPEG", quality=88)
    first = np.asarray(decode_image(data).image)
    second = np.asarray(decode_image(data).image)
    assert np.array_equal(first, second)
