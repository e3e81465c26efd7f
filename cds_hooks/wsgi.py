"""WSGI entry point for gunicorn: `gunicorn 'cds_hooks.wsgi:app'`.

The app is built on first attribute access (module `__getattr__`), not at import: each gunicorn
worker builds its own (one ONNX session per process), configured from `DERM3R_*` variables."""

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

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        _app = create_app()
    return _app
