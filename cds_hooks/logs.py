"""Logging set-up: JSON lines (python-json-logger) or plain text, chosen by DERM3R_LOG_FORMAT.

Every record logged while a request is handled carries that request's id, and once known its
service and hook instance (`RequestContextFilter`), so one request's lines can be found across
workers and replicas. What may be logged is unchanged: ids, codes, counts and timings - never
patient data, prefetch content or tokens."""

from __future__ import annotations

import logging
import sys
from typing import IO

from pythonjsonlogger.json import JsonFormatter

# Attributes the request filter may add (see cds_hooks.telemetry).
CONTEXT_FIELDS = ("request_id", "service", "hook_instance")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RequestContextFilter(logging.Filter):
    """Adds the current request's id, service and hook instance to each record (outside a
    request: nothing)."""

    def filter(self, record: logging.LogRecord) -> bool:
        from flask import g, has_request_context

        if has_request_context():
            for name in CONTEXT_FIELDS:
                value = g.get(f"log_{name}")
                if value is not None and not hasattr(record, name):
                    setattr(record, name, value)
        return True


def configure_logging(fmt: str = "json", level: int = logging.INFO, stream: IO[str] | None = None) -> None:
    """Replace the root logger's handlers with one writing `fmt` ("json" or "text") to `stream`
    (stderr by default)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                datefmt="%Y-%m-%dT%H:%M:%S%z",
            )
        )
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    handler.addFilter(RequestContextFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
