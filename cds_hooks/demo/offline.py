"""`derm3r assess`: one hook request answered by the full request path (validation, prefetch,
agents, cards) in process, without a network listener."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any, Mapping

from cds_hooks.app import create_app
from cds_hooks.settings import Settings


def answer_offline(service_id: str, body: Mapping[str, Any], *, language: str = "en") -> tuple[int, Any]:
    """(HTTP status, JSON body) of the service's answer to `body`, from a throw-away app whose
    storage lives in a temporary directory; clinician text in `language` (DERM3R_LANGUAGE)."""
    with tempfile.TemporaryDirectory(prefix="derm3r-assess-") as tmp:
        settings = Settings(auth_enabled=False, data_dir=Path(tmp), language=language)
        # Auth is off because nothing listens on a network here; silence the factory's warning,
        # which is meant for `serve`.
        logging.getLogger("cds_hooks.app").setLevel(logging.ERROR)
        client = create_app(settings).test_client()
        response = client.post(f"/cds-services/{service_id}", json=dict(body))
        return response.status_code, response.get_json()
