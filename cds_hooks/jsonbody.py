"""Reading a JSON request body: content type (415), size (413), strict syntax and shape (400),
using the input guards in `cds_hooks.limits`."""

from __future__ import annotations

from typing import Any

from flask import Request

from cds_hooks.errors import UnsupportedMediaType
from cds_hooks.limits import check_content_length, check_prefetch, parse_json_body


def read_json(request: Request, *, max_bytes: int) -> Any:
    """The decoded body, checked before any handler sees it."""
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("request body must be application/json")
    check_content_length(request.content_length, max_bytes)
    value = parse_json_body(request.get_data(cache=False), max_bytes=max_bytes)
    if isinstance(value, dict):
        check_prefetch(value.get("prefetch"))
    return value
