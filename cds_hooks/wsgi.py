"""WSGI entry point for gunicorn: `gunicorn 'cds_hooks.wsgi:app'`.

The app is built on first attribute access (module `__getattr__`), not at import: each gunicorn
worker builds its own (one ONNX session per process), configured from `DERM3R_*` variables.
Run it with `-c python:cds_hooks.gunicorn_conf` for metrics aggregated across workers."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

_app: "Flask | None" = None


def __getattr__(name: str) -> Any:
    global _app
    if name != "app":
        raise AttributeError(name)
    if _app is None:
        from cds_hooks import create_app
        from cds_hooks.logs import configure_logging
        from cds_hooks.settings import Settings

        settings = Settings.from_env()
        configure_logging(settings.log_format, logging.INFO)
        _app = create_app(settings)
    return _app
