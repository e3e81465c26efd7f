"""The app factory: builds settings, the pipeline (once per process), the store, the JWT verifier,
the review store and the service registry, then wires routes, CORS and error handling. Nothing is
built at import time."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from cds_hooks.cors import register_cors
from cds_hooks.http_errors import register_error_handlers
from cds_hooks.prefetch import ClientFactory
from cds_hooks.registry import Registry
from cds_hooks.routes import RUNTIME_KEY, cds_blueprint, ops_blueprint
from cds_hooks.runtime import Runtime, fhir_client_factory
from cds_hooks.settings import Settings
from cds_hooks.database import Database, DatabaseOptions, open_database
from cds_hooks.storage import SqlStore, Store

if TYPE_CHECKING:
    from cds_hooks.metrics import Metrics
    from inference.pipeline import Pipeline

log = logging.getLogger(__name__)


class _OrderedJson(DefaultJSONProvider):
    """Spec field order kept (easier to read); NaN/Infinity refused, because they are not JSON and
    a client would fail on the whole response - a 500 is the honest answer."""

    sort_keys = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("allow_nan", False)
        return super().dumps(obj, **kwargs)


def _counted_feedback(store: Store, metrics: "Metrics") -> Callable[[str, dict], bool]:
    """The review app's feedback goes to the same store and the same feedback metric as the CDS
    Hooks feedback endpoint."""

    def sink(service_id: str, item: dict) -> bool:
        stored = store.add_feedback(service_id, item)
        reason = ((item.get("overrideReason") or {}).get("reason") or {}).get("code")
        metrics.feedback_item(str(item.get("outcome")), reason if isinstance(reason, str) else None)
        return stored

    return sink


def open_database_for(settings: Settings, *, check_schema: bool = True) -> Database:
    """The database the settings name (DERM3R_DATABASE_URL, or SQLite in DERM3R_DATA_DIR)."""
    return open_database(
        settings.database_url,
        settings.data_dir,
        DatabaseOptions(pool_size=max(1, settings.db_pool_size), timeout_seconds=settings.db_timeout_seconds or 5.0),
        check_schema=check_schema,
    )


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
    from cds_hooks.metrics import Metrics, metrics_blueprint
    from cds_hooks.review.feedback import OVERRIDE_REASONS

    metrics = Metrics(override_reason_codes=OVERRIDE_REASONS)
    # One database (engine and pool) per process, shared by the service's store and the review store.
    # Opened first: a schema that is behind (SchemaBehind) stops the start before models load.
    database = open_database_for(settings)
    database.set_error_hook(metrics.db_error)
    if pipeline is None:
        from inference.pipeline import build_pipeline

        pipeline = build_pipeline(settings.model_dir, settings.knowledge_dir, settings.onnx_threads, settings.guideline_profile)
    if store is None:
        store = SqlStore(database)

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

    review_store = ReviewStore(database, ttl_seconds=settings.review_ttl_seconds)

    from cds_hooks.order_checks import DrugChecker

    if registry is None:
        # Imported here for start-up cost, not to break a cycle: the handlers pull in fhir_mapping
        # and fhir.resources, which `derm3r db ...` (it imports this module for open_database_for)
        # never needs.
        from cds_hooks.services import default_registry

        registry = default_registry()
    runtime = Runtime(
        settings=settings,
        registry=registry,
        pipeline=pipeline,
        store=store,
        client_factory=fhir_client_factory(settings, metrics) if client_factory is None else client_factory,
        verifier=verifier,
        review_store=review_store,
        metrics=metrics,
        # Loaded and validated at start-up (a broken knowledge file stops the service, not a request).
        drug_checker=DrugChecker.from_settings(settings),
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
    from cds_hooks.telemetry import register_telemetry

    register_telemetry(app, metrics, runtime.registry)
    app.register_blueprint(metrics_blueprint(metrics, settings.metrics_token, settings.metrics_port))
    app.register_blueprint(cds_blueprint())
    app.register_blueprint(ops_blueprint())
    app.register_blueprint(review_blueprint(settings, review_store, feedback_sink=_counted_feedback(store, metrics)))
    from cds_hooks.openapi import openapi_blueprint

    app.register_blueprint(openapi_blueprint(settings, runtime.registry))
    return app
