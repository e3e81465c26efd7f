"""derm3r CDS Hooks 2.0 service: `create_app(settings)` builds the Flask app (nothing is built at
import time). See README.md for endpoints, configuration and the card catalogue."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

    from cds_hooks.settings import Settings


def create_app(settings: "Settings | None" = None, *, pipeline: Any = None, **overrides: Any) -> "Flask":
    """Build the service app; see `cds_hooks.app.create_app` for the injectable parts."""
    # Imported here so `import cds_hooks.errors` (used by light modules) does not pull in Flask.
    from cds_hooks.app import create_app as _create_app

    return _create_app(settings, pipeline=pipeline, **overrides)


__all__ = ["create_app"]
