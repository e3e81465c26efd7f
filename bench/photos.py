"""Realistic-size clinical photographs for the benchmark: 2-12 MP JPEGs with camera-like noise.

`inference.synth` renders a plaque with known ground truth, but rendering at 12 MP is far too slow for a benchmark set.
Decoding cost, which is what the benchmark is about, depends on pixel count and entropy (how much
detail the Huffman decoder has to chew through), not on where the detail came from. So a photo is
rendered at ~1 MP, upscaled to the camera resolution and given sensor noise, which brings the file
size into the range of a phone photo at the same JPEG quality. Files are cached on disk (keyed by
spec) because generation is slower than the measurements.
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

log = logging.getLogger(__name__)

# Camera resolutions (width, height) by megapixels: common 4:3 phone/compact sensor modes.
RESOLUTIONS: dict[int, tuple[int, int]] = {
    2: (1632, 1224),
    5: (2592, 1944),
    8: (3264, 2448),
    12: (4032, 3024),
}
# Megapixels of the photos in a request of N photographs. A single photo is the worst case (a
# 12 MP phone photo); larger sets mix sizes the way an EHR's media list does (phone, scanned,
# downsized by the EHR).
PHOTO_SETS: dict[int, tuple[int, ...]] = {
    1: (12,),
    3: (12, 5, 2),
    8: (12, 8, 5, 2, 12, 8, 5, 2),
}
QUICK_PHOTO_SETS: dict[int, tuple[int, ...]] = {1: (2,), 3: (2, 2, 2), 8: (2,) * 8}
JPEG_QUALITY = 90
# Sensor noise (8-bit sigma) of a phone photo in indoor clinic light; gives ~0.25 MB per MP at q90.
NOISE_SIGMA = 5.0
_RENDER_LONG_SIDE = 1024
_CACHE_FORMAT = 1  # bump when the generation recipe changes so stale cached files are not reused


@dataclass(frozen=True)
class PhotoSpec:
    megapixels: int
    seed: int
    quality: int = JPEG_QUALITY

    @property
    def size(self) -> tuple[int, int]:
        return RESOLUTIONS[self.megapixels]

    def cache_name(self) -> str:
        return f"photo-v{_CACHE_FORMAT}-{self.megapixels}mp-s{self.seed}-q{self.quality}.jpg"


def specs_for(count: int, *, quick: bool = False, seed: int = 0) -> list[PhotoSpec]:
    """The photos of a request with `count` photographs (see PHOTO_SETS); distinct seeds so every
    photo in a request is a different image."""
    sets = QUICK_PHOTO_SETS if quick else PHOTO_SETS
    if count not in sets:
        raise ValueError(f"no photo set for {count} photographs; choose one of {sorted(sets)}")
    return [PhotoSpec(mp, seed=seed + i) for i, mp in enumerate(sets[count])]


def render(spec: PhotoSpec) -> bytes:
    """JPEG bytes of one photo (deterministic for a spec)."""
    from inference import synth  # numpy-heavy; only needed when the cache is cold

    width, height = spec.size
    scale = _RENDER_LONG_SIDE / max(width, height)
    small = synth.render(
        synth.PlaqueSpec(
            width=max(64, round(width * scale)),
            height=max(64, round(height * scale)),
            skin_tone=1 + spec.seed % 6,
            erythema=1.5 + (spec.seed % 3) * 0.8,
            area_fraction=0.15 + (spec.seed % 4) * 0.05,
            seed=spec.seed,
        )
    ).image
    big = np.asarray(small.resize((width, height), Image.Resampling.BICUBIC), dtype=np.int16)
    noise = np.random.default_rng(spec.seed).normal(0.0, NOISE_SIGMA, big.shape)
    pixels = np.clip(big + np.rint(noise).astype(np.int16), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, "JPEG", quality=spec.quality)
    return buffer.getvalue()


def load(specs: list[PhotoSpec], cache_dir: Path) -> list[bytes]:
    """Photos for `specs`, rendered once and then read from `cache_dir`."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    photos = []
    for spec in specs:
        path = cache_dir / spec.cache_name()
        if path.is_file():
            photos.append(path.read_bytes())
            continue
        data = render(spec)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)  # atomic: a concurrent or interrupted run never sees half a file
        log.info("rendered %s (%.1f MB)", path.name, len(data) / 1e6)
        photos.append(data)
    return photos


# -- unique bytes per request -------------------------------------------------------------------------
#
# A per-image result cache keyed by content hash would turn a benchmark that re-sends the same bytes
# into a cache benchmark. A JPEG COM (comment) segment right after SOI changes the hash without
# changing decoding cost. The header (SOI + COM) is made a multiple of 3 bytes long so that
# base64(header + rest) == base64(header) + base64(rest): the big base64 of `rest` is computed once.

_SOI = b"\xff\xd8"
_COM = b"\xff\xfe"
TAG_BYTES = 16  # COM payload length: 2 + 2 + 2 + 16 = 22 bytes; padded below to 24


def _header(tag: bytes) -> bytes:
    payload = tag.ljust(TAG_BYTES, b" ")[:TAG_BYTES] + b"  "  # 18-byte payload -> header 24 bytes
    header = _SOI + _COM + (len(payload) + 2).to_bytes(2, "big") + payload
    assert len(header) % 3 == 0
    return header


def tagged(jpeg: bytes, tag: bytes) -> bytes:
    """The same JPEG with a COM segment holding `tag`: decodes identically, hashes differently."""
    if not jpeg.startswith(_SOI):
        raise ValueError("not a JPEG (no SOI marker)")
    return _header(tag) + jpeg[2:]


@dataclass(frozen=True)
class TaggablePhoto:
    """A photo whose base64 can be re-tagged per request for the cost of encoding 24 bytes."""

    jpeg: bytes
    rest_b64: bytes  # base64 of jpeg[2:]
    original_b64: bytes  # base64 of jpeg

    @classmethod
    def of(cls, jpeg: bytes) -> "TaggablePhoto":
        import base64

        if not jpeg.startswith(_SOI):
            raise ValueError("not a JPEG (no SOI marker)")
        return cls(jpeg=jpeg, rest_b64=base64.b64encode(jpeg[2:]), original_b64=base64.b64encode(jpeg))

    @property
    def tagged_size(self) -> int:
        return len(self.jpeg) - 2 + len(_header(b""))

    def b64(self, tag: bytes | None) -> bytes:
        """base64 of the photo tagged with `tag`, or of the original bytes when `tag` is None."""
        import base64

        if tag is None:
            return self.original_b64
        return base64.b64encode(_header(tag)) + self.rest_b64


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]
