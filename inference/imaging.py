"""Safe decoding of untrusted photo bytes into a small RGB image.

Photos arrive from the EHR as bytes we did not produce: the declared content type may lie, the file
may be truncated, corrupt, a polyglot, or a decompression bomb (a few KB of PNG that inflate to
gigapixels). Every failure becomes a typed `ImageError(code, message)` that DERM-Rec turns into an
actionable quality reason; nothing here raises anything else for bad input.

Decoding is done once per photo and early-downscaled: JPEG `draft()` asks libjpeg to decode at
1/2, 1/4 or 1/8 scale (the DCT does the reduction), so a 12 MP photo costs about as much as a
0.2 MP one. All later stages (quality gate, lesion attributes, model input) work on the small image.
"""

from __future__ import annotations

import io
import logging
import struct
import warnings
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps
from inference.i18n import t

log = logging.getLogger(__name__)

# Formats we accept, identified by magic bytes. GIF, TIFF, BMP, SVG, HEIC... are refused: clinical
# photos from EHRs are JPEG/PNG/WebP, and every extra decoder is extra attack surface.
FORMAT_JPEG = "JPEG"
FORMAT_PNG = "PNG"
FORMAT_WEBP = "WEBP"
SUPPORTED_FORMATS = (FORMAT_JPEG, FORMAT_PNG, FORMAT_WEBP)

_CONTENT_TYPES = {
    FORMAT_JPEG: {"image/jpeg", "image/jpg", "image/pjpeg"},
    FORMAT_PNG: {"image/png"},
    FORMAT_WEBP: {"image/webp"},
}

# Byte and pixel limits. JPEG can be larger because draft() never materialises the full-size
# raster; PNG and WebP are decoded at full size first, so their limit bounds peak memory
# (25 MP x 4 bytes ~ 100 MB).
MAX_BYTES = 40 * 1024 * 1024
MAX_DIMENSION = 16384  # px, either side (WebP's own maximum is 16383)
MAX_PIXELS_JPEG = 64_000_000
MAX_PIXELS_FULL_DECODE = 25_000_000

# Decode *work*, not only size: a progressive JPEG is decoded once per scan, whatever draft() asks
# for, so a small file that repeats one AC scan 1,500 times keeps a worker busy for many seconds
# (each scan costs a full pass over the pixels). Encoders write 6-10 scans (libjpeg's default
# progression), optimisers up to about 20; anything past MAX_JPEG_SCANS is refused before decoding,
# and large images get proportionally fewer (scans x pixels <= MAX_JPEG_SCAN_PIXELS, i.e. 16 scans
# at the 64 MP limit, 40 at 24 MP).
MAX_JPEG_SCANS = 40
MAX_JPEG_SCAN_PIXELS = 16 * MAX_PIXELS_JPEG

# Long side of the working image. Lesion attributes and the quality gate are computed at this
# size; it keeps per-photo work around a few ms and is above any model input size we ship.
DEFAULT_MAX_SIDE = 512
# JPEG draft may land anywhere in [DRAFT_FRACTION, 1] x max_side; downstream metrics are computed
# per unit of working-image size where they depend on scale.
DRAFT_FRACTION = 0.7

_EXIF_ORIENTATION = 0x0112

# Exceptions Pillow (and the codecs under it) raise on malformed input. Listed explicitly rather
# than `except Exception` so that programming errors still surface.
_DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ValueError,
    SyntaxError,
    TypeError,
    KeyError,
    IndexError,
    EOFError,
    struct.error,
    zlib.error,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
)


class ImageError(ValueError):
    """A photo that cannot be used. `code` is a stable machine key, `message` plain English and
    actionable for a clinician (never contains patient data). A ValueError, so callers that treat
    bad input generically (e.g. the review app's overlay fallback) catch it too."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(t("{code}: {message}", code=code, message=message))
        self.code = code
        self.message = message


@dataclass(frozen=True)
class DecodedImage:
    """A decoded, orientation-corrected RGB image downscaled to at most `max_side` on its long side.

    original_width/height: the stored photo's size (after EXIF rotation), what a "too small" check
    must look at. scale: working size / original size (<= 1).
    content_type_mismatch: the declared content type named a different format than the bytes.
    """

    image: Image.Image
    format: str
    original_width: int
    original_height: int
    scale: float
    content_type_mismatch: bool = False
    exif_transposed: bool = False


def sniff_format(data: bytes) -> str | None:
    """The image format named by the file's magic bytes, or None if not JPEG/PNG/WebP."""
    if data[:3] == b"\xff\xd8\xff":
        return FORMAT_JPEG
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return FORMAT_PNG
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return FORMAT_WEBP
    return None


def _declared_format(content_type: str | None) -> str | None:
    if not content_type:
        return None
    base = content_type.split(";", 1)[0].strip().lower()
    for fmt, names in _CONTENT_TYPES.items():
        if base in names:
            return fmt
    return "other"


def _check_dimensions(width: int, height: int, fmt: str) -> None:
    if width <= 0 or height <= 0:
        raise ImageError("corrupt", "image header declares an empty image: the file is damaged")
    if width > MAX_DIMENSION or height > MAX_DIMENSION:
        raise ImageError(
            "too_large",
            f"image is {width}x{height} px, above the {MAX_DIMENSION} px limit: export it at a smaller size",
        )
    limit = MAX_PIXELS_JPEG if fmt == FORMAT_JPEG else MAX_PIXELS_FULL_DECODE
    if width * height > limit:
        raise ImageError(
            "too_large",
            f"image has {width * height / 1e6:.0f} MP, above the {limit / 1e6:.0f} MP limit for {fmt}: "
            "export it at a smaller size",
        )


def jpeg_scan_count(data: bytes) -> int:
    """Number of scans (SOS markers) in a JPEG, counted without decoding: the segments before the
    first scan are walked by their lengths (so APP blocks such as EXIF thumbnails or ICC profiles
    cannot contribute), then SOS markers are counted in the rest. In entropy-coded data every 0xFF
    byte is followed by 0x00 or a restart marker, so an 0xFFDA there is always a real scan; the
    count is exact for well-formed files and an upper bound otherwise (never an under-count:
    libjpeg needs that marker to start a scan)."""
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return 0  # not a marker where one must be: the decoder will call it corrupt
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xDA:
            return 1 + data.count(b"\xff\xda", i + 2)
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        if marker == 0xD9:
            return 0
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    return 0


def _check_jpeg_work(data: bytes, width: int, height: int) -> None:
    scans = jpeg_scan_count(data)
    limit = max(1, min(MAX_JPEG_SCANS, MAX_JPEG_SCAN_PIXELS // max(1, width * height)))
    if scans > limit:
        raise ImageError(
            "too_complex",
            f"photo is encoded in {scans} progressive passes (at most {limit} accepted for its size): "
            "re-export it as a standard (baseline) JPEG",
        )


def _open(data: bytes, fmt: str) -> Image.Image:
    """Open (header only) with the sniffed decoder only, with Pillow's bomb warning made an error.

    catch_warnings() swaps the process-wide filter list; concurrent calls can at worst leave the
    "error" filter for DecompressionBombWarning installed, which is the behaviour we want anyway.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return Image.open(io.BytesIO(data), formats=[fmt])


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent pixels would otherwise turn black and read as "dark"; a photo with alpha is
        # rare (screenshots), so compositing on white is the least surprising choice.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode.startswith("I"):
        # 16-bit greyscale PNG: scale to 8 bits instead of letting convert() clip at 255.
        grey = np.asarray(image).astype(np.float64)
        peak = 65535.0 if grey.max(initial=0) > 255 else 255.0
        grey8 = np.clip(grey * (255.0 / peak) + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(np.repeat(grey8[..., None], 3, axis=2), "RGB")
    return image.convert("RGB")


def decode_image(data: bytes, content_type: str | None = None, max_side: int = DEFAULT_MAX_SIDE) -> DecodedImage:
    """Decode untrusted bytes into an RGB image whose long side is at most `max_side`.

    The format is taken from the magic bytes (never from `content_type` alone). Raises ImageError
    with one of the codes: empty, too_large, too_complex, unsupported_format, decompression_bomb,
    truncated, corrupt.
    """
    if not data:
        raise ImageError("empty", "photo has no data: re-upload it")
    if len(data) > MAX_BYTES:
        raise ImageError("too_large", f"photo is {len(data) / 1e6:.0f} MB, above the {MAX_BYTES / 1e6:.0f} MB limit")
    fmt = sniff_format(data)
    declared = _declared_format(content_type)
    if fmt is None:
        # The declared type is echoed (shortened: it is caller-controlled text) to help fix the export.
        hint = t(" (declared as {split})", split=content_type.split(';', 1)[0].strip()[:40]) if content_type else ""
        raise ImageError(
            "unsupported_format",
            f"file is not a JPEG, PNG or WebP image{hint}: export the photo as JPEG",
        )
    mismatch = declared is not None and declared != fmt

    try:
        image = _open(data, fmt)
        width, height = image.size
        _check_dimensions(width, height, fmt)
        if fmt == FORMAT_JPEG:
            _check_jpeg_work(data, width, height)
            # Ask libjpeg for the smallest 1/2^k scale that still covers DRAFT_FRACTION x max_side on
            # the long side: decoding at 1/8 instead of 1/4 is ~3x faster on a 12 MP photo.
            ratio = max_side * DRAFT_FRACTION / max(width, height)
            if ratio < 1.0:
                image.draft("RGB", (max(1, int(width * ratio + 0.5)), max(1, int(height * ratio + 0.5))))
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(
            "decompression_bomb", "image declares an implausibly large size (decompression bomb): refused"
        ) from exc
    except _DECODE_ERRORS as exc:
        text = str(exc).lower()
        if "truncat" in text or isinstance(exc, EOFError):
            raise ImageError("truncated", "image file is truncated (incomplete upload): re-upload the photo") from exc
        raise ImageError("corrupt", f"image data is corrupt and cannot be decoded as {fmt}: re-upload the photo") from exc

    transposed = False
    try:
        orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
        if orientation in range(2, 9):
            image = ImageOps.exif_transpose(image)
            transposed = True
    except _DECODE_ERRORS:
        # A malformed EXIF block must not cost us the photo; orientation stays as stored.
        log.info("EXIF orientation unreadable; using stored orientation")

    # Original size in the displayed orientation (swap if EXIF rotated by 90/270 degrees).
    if transposed and orientation in (5, 6, 7, 8):
        width, height = height, width

    try:
        image = _to_rgb(image)
    except _DECODE_ERRORS as exc:
        raise ImageError("corrupt", f"image pixel format cannot be converted to RGB: {image.mode}") from exc

    long_side = max(image.size)
    if long_side > max_side:
        factor = max_side / long_side
        size = (max(1, round(image.size[0] * factor)), max(1, round(image.size[1] * factor)))
        # reducing_gap: integer box-reduce first, then a bilinear pass; fast and alias-free.
        image = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    scale = max(image.size) / max(width, height)
    return DecodedImage(
        image=image,
        format=fmt,
        original_width=width,
        original_height=height,
        scale=scale,
        content_type_mismatch=mismatch,
        exif_transposed=transposed,
    )
