"""gunicorn entry point used by the benchmark only: the production app (`cds_hooks.wsgi`) with
`inference.rec_cache.CachingRec` in front of DERM-Rec, to measure over HTTP what wiring the cache
into `inference.pipeline.build_pipeline` would give. Built lazily per worker, like `cds_hooks.wsgi`."""

from __future__ import annotations

import dataclasses
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
        from cds_hooks.settings import Settings
        from inference.pipeline import build_pipeline
        from inference.rec_cache import CachingRec, RecCache

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        settings = Settings.from_env()
        pipeline = build_pipeline(settings.model_dir, settings.knowledge_dir, settings.onnx_threads)
        if not isinstance(pipeline.rec, CachingRec):  # build_pipeline now wires the cache itself
            pipeline = dataclasses.replace(pipeline, rec=CachingRec(pipeline.rec, RecCache()))
        _app = create_app(settings, pipeline=pipeline)
    return _app
