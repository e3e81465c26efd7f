"""Hostile photographs through the full hook (prefetch -> case builder -> image decoding -> agents ->
cards): decompression bombs, lying headers, truncation, polyglots, unsupported formats. Each must
end in a normal answer (a card explaining the photo could not be used, or a 4xx), within a decode-work
bound (each photo decoded at most once, never above the pixel limit) and a memory bound, never a 5xx."""

from __future__ import annotations

import base64
import io
import resource
import struct
import zlib
from typing import Any, Callable

import pytest
from PIL import Image, ImageFile

from cds_hooks.limits import MAX_IMAGES
from inference.imaging import MAX_PIXELS_FULL_DECODE

from security_support import (
    SERVICE_ID,
    Signer,
    assert_operation_outcome,
    hook_body,
    media_resource,
    prefetch_for,
    searchset,
    strict_json,
    synthetic_patient,
)

URL = f"/cds-services/{SERVICE_ID}"
SCRIPT_MARKER = "<script>alert('polyglot-marker')</script>"


# -- generators -----------------------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png(width: int, height: int, idat: bytes, *, bit_depth: int = 8, colour: int = 2, extra: bytes = b"") -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + extra + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def png_bomb() -> bytes:
    """16000 x 16000 1-bit greyscale (256 MP) from ~30 KB: inflates to 32 MB of filter bytes and
    would be a 768 MB RGB raster if fully decoded."""
    width = height = 16000
    row = b"\x00" + b"\x00" * (width // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return _png(width, height, idat, bit_depth=1, colour=0)


def png_huge_header_truncated() -> bytes:
    return _png(100_000, 100_000, zlib.compress(b"\x00" * 100))


def png_at_pixel_limit() -> bytes:
    """5000 x 5000 RGB (25 MP): exactly the full-decode limit, a legitimate but heavy photo."""
    width = height = 5000
    row = b"\x00" + b"\x80\x40\x40" * width
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return _png(width, height, idat)


def _jpeg(width: int = 640, height: int = 480, colour: tuple[int, int, int] = (200, 80, 80), **save: Any) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "JPEG", quality=85, **save)
    return out.getvalue()


def jpeg_huge_sof() -> bytes:
    """A valid small JPEG whose SOF0 frame header is patched to claim 65500 x 65500 pixels."""
    data = bytearray(_jpeg(64, 64))
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, 65500, 65500)
    return bytes(data)


def jpeg_truncated() -> bytes:
    data = _jpeg(1024, 768, (180, 60, 60))
    return data[: len(data) // 2]


def random_bytes() -> bytes:
    import random

    return random.Random(1).randbytes(50_000)


def gif_as_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("P", (100, 100)).save(out, "GIF")
    return out.getvalue()


def svg_xxe() -> bytes:
    return (
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b'<svg xmlns="http://www.w3.org/2000/svg"><text>&xxe;</text><script>alert(1)</script></svg>'
    )


def tiff_bomb() -> bytes:
    out = io.BytesIO()
    Image.new("1", (8000, 8000)).save(out, "TIFF", compression="group4")
    return out.getvalue()


def jpeg_zip_html_polyglot() -> bytes:
    """A real JPEG with a ZIP archive and an HTML script appended (GIFAR-style polyglot)."""
    archive = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("index.html", SCRIPT_MARKER)
    return _jpeg(800, 600) + archive.getvalue() + SCRIPT_MARKER.encode()


def png_with_script_text_chunk() -> bytes:
    out = io.BytesIO()
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", SCRIPT_MARKER)
    Image.new("RGB", (400, 300), (190, 90, 90)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def webp_huge_canvas() -> bytes:
    """RIFF/WEBP with a VP8X header declaring a 16384 x 16384 canvas and no image data."""
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00" + (16383).to_bytes(3, "little") + (16383).to_bytes(3, "little")
    return b"RIFF" + struct.pack("<I", 4 + len(vp8x)) + b"WEBP" + vp8x


def png_labelled_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (500, 400), (200, 90, 90)).save(out, "PNG")
    return out.getvalue()


def jpeg_huge_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010E] = "A" * 60_000  # ImageDescription
    exif[0x0112] = 9  # orientation out of range
    return _jpeg(640, 480, exif=exif.tobytes())


def one_pixel() -> bytes:
    return _jpeg(1, 1)


def cmyk_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("CMYK", (300, 200), (0, 120, 120, 30)).save(out, "JPEG")
    return out.getvalue()


def png_16bit() -> bytes:
    out = io.BytesIO()
    Image.new("I;16", (300, 200), 40000).save(out, "PNG")
    return out.getvalue()


def jpeg_progressive_large() -> bytes:
    return _jpeg(6000, 4000, (170, 70, 70), progressive=True)


# (case, generator, declared content type)
HOSTILE: list[tuple[str, Callable[[], bytes], str]] = [
    ("png decompression bomb 256 MP", png_bomb, "image/png"),
    ("png header 100000^2, truncated", png_huge_header_truncated, "image/png"),
    ("png at the 25 MP limit", png_at_pixel_limit, "image/png"),
    ("jpeg SOF claims 65500^2", jpeg_huge_sof, "image/jpeg"),
    ("jpeg truncated", jpeg_truncated, "image/jpeg"),
    ("random bytes", random_bytes, "image/jpeg"),
    ("empty", lambda: b"", "image/jpeg"),
    ("gif labelled jpeg", gif_as_jpeg, "image/jpeg"),
    ("svg with XXE and script", svg_xxe, "image/svg+xml"),
    ("tiff 64 MP group4", tiff_bomb, "image/tiff"),
    ("jpeg+zip+html polyglot", jpeg_zip_html_polyglot, "image/jpeg"),
    ("png with script in tEXt", png_with_script_text_chunk, "image/png"),
    ("webp 16383^2 canvas, no data", webp_huge_canvas, "image/webp"),
    ("png labelled jpeg", png_labelled_jpeg, "image/jpeg"),
    ("jpeg with 60 KB EXIF, bad orientation", jpeg_huge_exif, "image/jpeg"),
    ("1x1 jpeg", one_pixel, "image/jpeg"),
    ("1x50 jpeg strip", lambda: _jpeg(1, 50), "image/jpeg"),
    ("cmyk jpeg", cmyk_jpeg, "image/jpeg"),
    ("16-bit png", png_16bit, "image/png"),
    ("24 MP progressive jpeg", jpeg_progressive_large, "image/jpeg"),
]

RSS_GROWTH_LIMIT_MB = 700


def _request_with_photos(photos: list[tuple[bytes | str, str]]) -> dict[str, Any]:
    bundle = synthetic_patient(visits=1)
    prefetch = prefetch_for(bundle)
    ref = f"Patient/{prefetch['patient']['id']}"
    prefetch["media"] = searchset([media_resource(ref, data, ctype, i) for i, (data, ctype) in enumerate(photos)])
    prefetch["documents"] = searchset([])
    return hook_body(bundle, prefetch=prefetch)


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.fixture(scope="module")
def client(module_app: Any) -> Any:
    return module_app.test_client()


@pytest.fixture()
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every raster Pillow decodes during the test, as (format, pixels) at the size actually decoded
    (after JPEG draft scaling). Decode work, not seconds, is what a bomb would blow up."""
    rasters: list[tuple[str, int]] = []
    load = ImageFile.ImageFile.load

    def counting_load(image: ImageFile.ImageFile) -> Any:
        if getattr(image, "tile", None):  # not yet decoded: this call decodes it
            rasters.append((str(image.format), image.size[0] * image.size[1]))
        return load(image)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counting_load)
    return rasters


def _assert_decode_bounded(decoded: list[tuple[str, int]], photos: int) -> None:
    """Each photo decoded at most once, none above the full-decode pixel limit, at most MAX_IMAGES."""
    assert len(decoded) <= min(photos, MAX_IMAGES), decoded
    assert all(pixels <= MAX_PIXELS_FULL_DECODE for _, pixels in decoded), decoded


@pytest.mark.parametrize(("case", "generate", "content_type"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_image_through_full_hook(
    client: Any, signer: Signer, decoded: list[tuple[str, int]], case: str, generate: Callable[[], bytes], content_type: str
) -> None:
    body = _request_with_photos([(generate(), content_type)])
    rss_before = _max_rss_mb()
    response = client.post(URL, json=body, headers=signer.header())
    assert response.status_code < 500, f"{case}: {response.status_code} {response.data[:300]!r}"
    if response.status_code >= 400:
        assert_operation_outcome(response)
    else:
        assert isinstance(strict_json(response)["cards"], list)
    text = response.get_data(as_text=True)
    assert "polyglot-marker" not in text and "/etc/passwd" not in text
    _assert_decode_bounded(decoded, photos=1)
    assert _max_rss_mb() - rss_before < RSS_GROWTH_LIMIT_MB, f"{case} grew peak RSS by {_max_rss_mb() - rss_before:.0f} MB"


def test_hostile_table_size() -> None:
    assert len(HOSTILE) >= 10


def test_invalid_base64_photo(client: Any, signer: Signer) -> None:
    body = _request_with_photos([("!!!! not base64 ####", "image/jpeg")])
    response = client.post(URL, json=body, headers=signer.header())
    assert response.status_code < 500, response.data[:300]


def test_too_many_photos(client: Any, signer: Signer, decoded: list[tuple[str, int]]) -> None:
    """More photos than one request may decode: refused or capped, never all decoded."""
    photo = _jpeg(320, 240)
    body = _request_with_photos([(photo, "image/jpeg")] * 40)
    response = client.post(URL, json=body, headers=signer.header())
    assert response.status_code in {200, 413}, response.data[:300]
    _assert_decode_bounded(decoded, photos=40)


def test_many_bombs_in_one_request(client: Any, signer: Signer, decoded: list[tuple[str, int]]) -> None:
    bomb = png_bomb()
    body = _request_with_photos([(bomb, "image/png")] * 10)
    response = client.post(URL, json=body, headers=signer.header())
    assert response.status_code < 500, response.data[:300]
    assert decoded == []  # every bomb refused from its header, none decoded
