"""`derm3r rec IMAGE...`: DERM-Rec readings of image files as JSON-ready dicts, one per image.

Images are read and scored in batches of BATCH_SIZE (one model call per batch) so that a long list
of files neither holds every image in memory nor costs one model call per file. A file that cannot
be read is reported like an undecodable photo (quality.usable False with a reason), never raised.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from inference.case import Photo
from inference.rec_cache import PhotoReader
from inference.results import QualityReport, RecResult
from inference.serialize import to_jsonable

BATCH_SIZE = 8


def _line(path: str, result: RecResult) -> dict[str, Any]:
    return {
        "image": path,
        "quality": to_jsonable(result.quality),
        "probabilities": {c: round(p, 6) for c, p in result.probabilities.items()},
        "attributes": to_jsonable(result.attributes) if result.attributes is not None else None,
    }


def _unreadable(path: str, exc: OSError) -> dict[str, Any]:
    reason = f"file cannot be read ({exc.strerror or type(exc).__name__})"
    return {
        "image": path,
        "quality": to_jsonable(QualityReport(usable=False, reasons=(reason,))),
        "probabilities": {},
        "attributes": None,
    }


def rec_lines(paths: Sequence[str | os.PathLike[str]], rec: PhotoReader) -> Iterator[dict[str, Any]]:
    """Yield `{"image", "quality", "probabilities", "attributes"}` per path, in the given order;
    "image" is the path as given (as a string, so the line is JSON-ready)."""
    for start in range(0, len(paths), BATCH_SIZE):
        chunk = [os.fspath(p) for p in paths[start : start + BATCH_SIZE]]
        lines: dict[int, dict[str, Any]] = {}
        photos: list[tuple[int, Photo]] = []
        for offset, path in enumerate(chunk):
            try:
                data = Path(path).read_bytes()
            except OSError as exc:
                lines[offset] = _unreadable(path, exc)
                continue
            photos.append((offset, Photo(ref=path, data=data)))
        if photos:
            results = rec.read([photo for _, photo in photos])
            for (offset, _), result in zip(photos, results, strict=True):
                lines[offset] = _line(chunk[offset], result)
        for offset in range(len(chunk)):
            yield lines[offset]
