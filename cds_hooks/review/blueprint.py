"""Flask blueprint for the SMART review app: the static app under /app/ and its API under /app/api/.

Routes
  GET  /app/  /app/launch.html  /app/<asset>          built app (cds_hooks/static/app)
  GET  /app/config.json                                 SMART client id and scopes for the app
  GET  /app/messages.json                               the app's own labels in the negotiated language
  GET  /app/api/assessments/<id>                        the review record (JSON)
  GET  /app/api/assessments/<id>/photos/<n>             one photograph
  GET  /app/api/assessments/<id>/photos/<n>/overlays    overlay kinds available for it
  GET  /app/api/assessments/<id>/photos/<n>/overlays/<kind>
  POST /app/api/assessments/<id>/feedback               clinician agreement / disagreement

Every API call needs the SMART access token (Authorization: Bearer); the app also sends the SMART
`iss` (X-FHIR-Server). See `access.py` for how they are checked. Images are fetched by the app with the
token and shown through blob: URLs, so no credential or patient id ever sits in a URL.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from flask import Blueprint, Response, jsonify, request, send_from_directory

from cds_hooks.errors import CdsError, NotFound
from cds_hooks.http_errors import cds_error_response
from cds_hooks.review.access import FHIR_SERVER_HEADER, TokenVerifier
from cds_hooks.review.feedback import OVERRIDE_REASONS, feedback_item, parse_review_feedback
from cds_hooks.jsonbody import read_json
from cds_hooks.review.store import ReviewStore, StoredImage, served_image_type
from cds_hooks.language import negotiate
from cds_hooks.settings import Settings
from cds_hooks.review.messages import web_messages
from inference.i18n import DEFAULT_LANGUAGE, normalize_language

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent.parent / "static" / "app"
DEFAULT_CLIENT_ID = "derm3r-review"
REVIEW_REALM = "derm3r-review"  # WWW-Authenticate realm of the review API (SMART tokens)
# SMART v2 scopes: read the patient (launch context + the API's token check), create the draft
# CarePlan with its preliminary Observations, the software Device (PUT to its fixed id: update-as-create,
# hence c and u) and the
# Provenance in one transaction. openid + fhirUser name the accepting clinician in the Provenance.
SCOPES = (
    "launch openid fhirUser patient/Patient.r patient/CarePlan.c patient/Observation.c "
    "patient/Device.cu patient/Provenance.c"
)
MAX_FEEDBACK_BYTES = 16 * 1024
# The labels change only with a new release; browsers and proxies may keep them for a while (the
# answer varies by Accept-Language, which the response says).
MESSAGES_MAX_AGE = 3600

FeedbackSink = Callable[[str, dict], bool]


def review_blueprint(
    settings: Settings,
    store: ReviewStore,
    *,
    verifier: TokenVerifier | None = None,
    feedback_sink: FeedbackSink | None = None,
) -> Blueprint:
    """Build the blueprint. `feedback_sink(service_id, item)` defaults to the service's storage
    (`cds_hooks.storage.open_store(settings.data_dir).add_feedback`), opened on first use."""
    bp = Blueprint("review", __name__, url_prefix="/app")
    verifier = verifier or TokenVerifier(settings)
    sink_holder: list[FeedbackSink] = [feedback_sink] if feedback_sink else []
    client_id = settings.extra.get("review_client_id", DEFAULT_CLIENT_ID)
    # Clickjacking (issue 12): SMART apps are often embedded in the EHR, so the EHR origins the
    # operator lists (DERM3R_FRAME_ANCESTORS, validated as plain origins) may frame it; nobody else.
    frame_ancestors = " ".join(settings.frame_ancestors) or "'none'"

    def sink() -> FeedbackSink:
        if not sink_holder:
            from cds_hooks.storage import open_store

            sink_holder.append(open_store(settings.data_dir, settings.database_url).add_feedback)
        return sink_holder[0]

    def authorised_record(context_id: str) -> dict:
        record = store.get(context_id)
        if record is None:
            # Same answer for unknown and expired ids: nothing to learn by probing.
            raise NotFound("review record not found or expired")
        verifier.verify(record, request.headers.get("Authorization"), request.headers.get(FHIR_SERVER_HEADER))
        return record

    def image_response(image: StoredImage) -> Response:
        # The type comes from an allow-list, judged on the bytes, never echoed from the record
        # (issue 12: `image/svg+xml` or `image/x;text/html` from an EHR's Media was served as given,
        # and a CR/LF in it was a 500). Anything else is an opaque download.
        content_type = served_image_type(image.data)
        response = Response(image.data, mimetype=content_type)
        if content_type == "application/octet-stream":
            response.headers["Content-Disposition"] = "attachment"
        response.headers["Cache-Control"] = "no-store"
        return response

    # ------------------------------------------------------------------ static app

    @bp.get("/")
    def index() -> Response:
        return send_from_directory(STATIC_DIR, "index.html")

    @bp.get("/config.json")
    def config() -> Response:
        return jsonify(clientId=client_id, scope=SCOPES, overrideReasons=OVERRIDE_REASONS)

    @bp.get("/messages.json")
    def messages() -> Response:
        # No token: the labels are the same for everyone and carry nothing about a patient. The app
        # sends `?language=` only to follow an assessment stored in another language than its labels.
        language = normalize_language(request.args.get("language")) or negotiate(request.accept_languages, settings.language)
        answer = jsonify(language=language, messages=web_messages(language))
        answer.headers["Content-Language"] = language
        answer.headers["Cache-Control"] = f"public, max-age={MESSAGES_MAX_AGE}"
        answer.vary.add("Accept-Language")
        return answer

    @bp.get("/<path:filename>")
    def asset(filename: str) -> Response:
        return send_from_directory(STATIC_DIR, filename)

    # ------------------------------------------------------------------ API

    @bp.get("/api/assessments/<context_id>")
    def assessment(context_id: str) -> Response:
        record = authorised_record(context_id)
        # The assessment's clinician text in the app's language (Accept-Language, else DERM3R_LANGUAGE);
        # the record keeps one rendering per language, made when the hook stored it.
        language = negotiate(request.accept_languages, settings.language)
        translations = record.pop("translations", None) or {}
        record.update(translations.get(language, {}))
        record["language"] = language if language in translations or language == DEFAULT_LANGUAGE else DEFAULT_LANGUAGE
        answer = jsonify(record)
        answer.headers["Content-Language"] = record["language"]
        answer.vary.add("Accept-Language")
        return answer

    @bp.get("/api/assessments/<context_id>/photos/<int:index>")
    def photo(context_id: str, index: int) -> Response:
        authorised_record(context_id)
        image = store.photo(context_id, index)
        if image is None:
            raise NotFound("no such photograph")
        return image_response(image)

    @bp.get("/api/assessments/<context_id>/photos/<int:index>/overlays")
    def overlay_kinds(context_id: str, index: int) -> Response:
        authorised_record(context_id)
        overlays = store.overlays(context_id, index)
        if overlays is None:
            raise NotFound("no such photograph")
        return jsonify(kinds=sorted(overlays))

    @bp.get("/api/assessments/<context_id>/photos/<int:index>/overlays/<kind>")
    def overlay(context_id: str, index: int, kind: str) -> Response:
        authorised_record(context_id)
        image = (store.overlays(context_id, index) or {}).get(kind)
        if image is None:
            raise NotFound("no such overlay")
        return image_response(image)

    @bp.post("/api/assessments/<context_id>/feedback")
    def feedback(context_id: str) -> tuple[Response, int]:
        record = authorised_record(context_id)
        # The service's strict reader (issue 12): application/json only, the 16 KiB cap counted
        # while streaming (chunked bodies too), no NaN, no duplicate keys, bounded depth and values.
        body = read_json(request, max_bytes=MAX_FEEDBACK_BYTES)
        service_id, item = feedback_item(record, parse_review_feedback(body))
        stored = sink()(service_id, item)
        log.info("review feedback recorded: outcome=%s new=%s", item["outcome"], stored)
        return jsonify(status="recorded", outcome=item["outcome"]), 201

    # ------------------------------------------------------------------ headers and errors

    @bp.after_request
    def security_headers(response: Response) -> Response:
        # connect-src must reach the EHR's authorization and FHIR servers, which are only known at
        # launch; everything the app itself loads (scripts, styles, images) is same-origin.
        connect = "'self' https:" + (" http:" if settings.allow_private_fhir else "")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
            f"connect-src {connect}; object-src 'none'; base-uri 'none'; form-action 'self'; "
            f"frame-ancestors {frame_ancestors}",
        )
        if not settings.frame_ancestors:
            # Older browsers without CSP level 2; X-Frame-Options cannot name several origins, so
            # it is only sent when nobody may frame the app.
            response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        # The launch and redirect URLs carry `launch`, `code` and `state`: never leak them.
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if request.path.endswith((".html", "/")) or "/api/" in request.path:
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @bp.errorhandler(CdsError)
    def cds_error(exc: CdsError) -> Response:
        # The service's one error mapping; only the 401 challenge names the review app's realm.
        return cds_error_response(exc, realm=REVIEW_REALM)

    return bp
