"""The app factory: builds settings, the pipeline (once per process), the store, the JWT verifier,
the review store and the service registry, then wires routes, CORS and error handling. Nothing is
built at import time."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from cds_hooks.cors import register_cors
from cds_hooks.http_errors import register_error_handlers
from cds_hooks.prefetch import ClientFactory
from cds_hooks.registry import Registry, default_registry
from cds_hooks.routes import RUNTIME_KEY, cds_blueprint, ops_blueprint
from cds_hooks.runtime import Runtime, fhir_client_factory
from cds_hooks.settings import Settings
from cds_hooks.storage import Store, open_store

if TYPE_CHECKING:
    from inference.pipeline import Pipeline

log = logging.getLogger(__name__)


class _OrderedJson(DefaultJSONProvider):
    """Spec field order kept (easier to read); NaN/Infinity refused, because they are not JSON and
    a client would fail on the whole response - a 500 is the honest answer."""

    sort_keys = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("allow_nan", False)
        return super().dumps(obj, **kwargs)


def create_app(
    settings: Settings | None = None,
    *,
    pipeline: "Pipeline | None" = None,
    store: Store | None = None,
    registry: Registry | None = None,
    client_factory: ClientFactory | None = None,
) -> Flask:
    """Build the service. `pipeline`, `store`, `registry` and `client_factory` may be injected
    (tests, the demo); by default they are built from `settings` (or `Settings.from_env()`)."""
    settings = settings or Settings.from_env()
    if pipeline is None:
        from inference.pipeline import build_pipeline

        pipeline = build_pipeline(settings.model_dir, settings.knowledge_dir, settings.onnx_threads)
    if store is None:
        store = open_store(settings.data_dir)

    verifier = None
    if settings.auth_enabled:
        from cds_hooks.auth import JwtVerifier

        verifier = JwtVerifier.from_settings(settings, store)
    else:
        log.warning(
            "DERM3R_AUTH=off: CDS Hooks JWTs are NOT verified; any caller can use this service. "
            "Local development only - never with real patient data."
        )

    from cds_hooks.review import ReviewStore, review_blueprint

    review_store = ReviewStore(settings.data_dir, ttl_seconds=settings.review_ttl_seconds)

    runtime = Runtime(
        settings=settings,
        registry=default_registry() if registry is None else registry,
        pipeline=pipeline,
        store=store,
        client_factory=fhir_client_factory(settings) if client_factory is None else client_factory,
        verifier=verifier,
        review_store=review_store,
    )

    # Query-string credentials never reach the development server's access log (issue 12).
    from cds_hooks.access_log import install_scrubbing

    install_scrubbing()
    app = Flask("cds_hooks")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    # Keep the spec's field order in responses (easier to read); DefaultJSONProvider has the knob.
    app.json = _OrderedJson(app)
    app.extensions[RUNTIME_KEY] = runtime
    register_cors(app)
    register_error_handlers(app)
    app.register_blueprint(cds_blueprint())
    app.register_blueprint(ops_blueprint())
    app.register_blueprint(review_blueprint(settings, review_store, feedback_sink=store.add_feedback))
    from cds_hooks.openapi import openapi_blueprint

    app.register_blueprint(openapi_blueprint(settings, runtime.registry))
    return app
