"""HTTP routes: discovery, service calls and feedback (all behind JWT), plus health and about.

Every route is derived from the registry; the raw JSON body is parsed into wire models here and
never reaches a handler."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, g, jsonify, request

from cds_hooks.audit import feedback_record
from cds_hooks.errors import InvalidRequest, Unauthorized
from cds_hooks.jsonbody import read_json
from cds_hooks.language import negotiate
from cds_hooks.registry import ServiceCall
from cds_hooks.runtime import Runtime
from cds_hooks.telemetry import note
from cds_hooks.wire.feedback import parse_feedback
from cds_hooks.wire.request import parse_request
from inference.i18n import use_language

log = logging.getLogger(__name__)

RUNTIME_KEY = "derm3r.runtime"

ABOUT_TEXT = """derm3r - CDS Hooks 2.0 dermatology decision support (DERM-3R agents: recognise, represent, reason)

Intended use: research demonstration only. NOT FOR CLINICAL USE.
All AI output (photo readings, PASI estimates, severity, treatment steps) is PRELIMINARY and must be
reviewed by the treating clinician. The Traditional Chinese Medicine section is an integrative
perspective only and never replaces guideline-based care.
"""


def runtime() -> Runtime:
    return current_app.extensions[RUNTIME_KEY]


def _authenticate() -> None:
    """JWT on every CDS endpoint; audience is the full URL of the endpoint being called."""
    rt = runtime()
    if request.method == "OPTIONS":
        return
    if rt.verifier is None:
        g.client_issuer = None
        return
    audience = rt.settings.public_base_url + request.path
    try:
        claims = rt.verifier.verify(request.headers.get("Authorization"), audience)
    except Unauthorized as exc:
        if rt.metrics is not None:
            rt.metrics.jwt_rejected(str(exc))
        raise
    g.client_issuer = claims.issuer


def cds_blueprint() -> Blueprint:
    bp = Blueprint("cds", __name__)
    bp.before_request(_authenticate)

    @bp.get("/cds-services")
    def discovery() -> Response:
        return jsonify(runtime().registry.discovery())

    @bp.post("/cds-services/<service_id>")
    def call_service(service_id: str) -> Response:
        rt = runtime()
        service = rt.registry.get(service_id)
        hook_request = parse_request(read_json(request, max_bytes=rt.settings.max_body_bytes), expected_hook=service.hook)
        note(service=service.id, hook_instance=hook_request.hook_instance)
        call = ServiceCall(request=hook_request, service=service, client_issuer=g.get("client_issuer"))
        # Cards, CarePlan and Observation text in the client's language (Accept-Language), else the
        # configured one; the agents' results are language-free, only the rendering changes.
        language = negotiate(request.accept_languages, rt.settings.language)
        with use_language(language):
            response = service.handler(call, rt)
            body = response.to_json()
        if rt.metrics is not None:
            for card in response.cards:
                topic = card.source.topic.code if card.source.topic and card.source.topic.code else "none"
                rt.metrics.cards.labels(topic=topic, indicator=card.indicator).inc()
        log.info("service %s answered hookInstance %s with %d card(s)", service.id, hook_request.hook_instance, len(response.cards))
        answer = jsonify(body)
        answer.headers["Content-Language"] = language
        answer.vary.add("Accept-Language")
        return answer

    @bp.post("/cds-services/<service_id>/feedback")
    def feedback(service_id: str) -> Response:
        rt = runtime()
        service = rt.registry.get(service_id)
        note(service=service.id)
        items = parse_feedback(read_json(request, max_bytes=rt.settings.max_body_bytes))
        # Only feedback on cards this service issued to this client (issue 12): anything else is
        # forged or misrouted, and would pollute the outcome statistics. All items or none.
        for index, item in enumerate(items):
            if not rt.store.card_issued_to(item.card, service.id, g.get("client_issuer")):
                raise InvalidRequest(
                    f"feedback[{index}].card is not a card this service issued to this client",
                    expression=f"feedback[{index}].card",
                )
        stored = sum(1 for item in items if rt.store.add_feedback(service.id, item.to_json()))
        if rt.metrics is not None:
            for item in items:
                reason = item.override_reason.reason if item.override_reason else None
                rt.metrics.feedback_item(item.outcome, reason.code if reason else None)
        rt.store.append_audit(
            feedback_record(
                at=rt.clock(),
                service_id=service.id,
                client_issuer=g.get("client_issuer"),
                cards=(i.card for i in items),
                stored=stored,
                duplicates=len(items) - stored,
            )
        )
        return jsonify({"stored": stored, "duplicates": len(items) - stored})

    return bp


def _versions(pipeline: object) -> dict[str, str]:
    """Model and knowledge versions of the shipped pipeline (absent for injected stand-ins)."""
    from inference.pipeline import Pipeline

    if not isinstance(pipeline, Pipeline):
        return {}
    return {"modelVersion": pipeline.rec.model_version, "knowledgeVersion": pipeline.reason.knowledge_version}


def ops_blueprint() -> Blueprint:
    """Unauthenticated operational endpoints: no patient data, safe for load balancers."""
    bp = Blueprint("ops", __name__)

    @bp.get("/healthz")
    def healthz() -> Response:
        rt = runtime()
        body: dict[str, object] = {
            "status": "ok",
            "pipeline": "loaded",  # built by the factory before the app could serve this
            "services": len(rt.registry),
            "auth": "on" if rt.verifier is not None else "OFF",
        }
        body.update(_versions(rt.pipeline))
        return jsonify(body)

    @bp.get("/about")
    def about() -> Response:
        return Response(ABOUT_TEXT, mimetype="text/plain")

    return bp


__all__ = ["RUNTIME_KEY", "cds_blueprint", "ops_blueprint", "runtime"]
