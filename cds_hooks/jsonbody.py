"""Reading a JSON request body: content type (415), size (413), strict syntax and shape (400),
using the input guards in `cds_hooks.limits`."""

from __future__ import annotations

from typing import Any

from flask import Request

from cds_hooks.errors import UnsupportedMediaType
from cds_hooks.limits import check_prefetch, parse_json_body, read_body


def read_json(request: Request, *, max_bytes: int) -> Any:
    """The decoded body, checked before any handler sees it."""
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("request body must be application/json")
    # Passed straight through, not bound to a name here: parse_json_body can then free the raw
    # bytes once decoded (an 8-photo body is ~14 MB; see parse_json_body).
    value = parse_json_body(read_body(request.stream, request.content_length, max_bytes), max_bytes=max_bytes)
    if isinstance(value, dict):
        check_prefetch(value.get("prefetch"))
    return value
