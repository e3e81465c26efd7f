"""Service settings: one typed, frozen object read from `DERM3R_*` environment variables here and
nowhere else; everything else takes it (or parts of it) as an explicit argument."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from inference.i18n import validate_language
from cds_hooks.outbound import CA_BUNDLE_VARIABLES, Outbound, ca_bundle_from_env  # noqa: F401 - re-exported (the one CA bundle reader)

log = logging.getLogger(__name__)


def _number(env: Mapping[str, str], name: str, default: str, kind: type[int] | type[float]) -> Any:
    """A positive-or-zero number from the environment; a clear start-up error naming the variable."""
    raw = env.get(name, default)
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"{name} must be {'an integer' if kind is int else 'a number'}, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {raw!r}")
    return value


def _log_format(raw: str) -> str:
    value = raw.strip().lower()
    if value not in {"json", "text"}:
        raise ValueError(f"DERM3R_LOG_FORMAT must be json or text, got {raw!r}")
    return value


def _origins(raw: str) -> tuple[str, ...]:
    """EHR origins for CSP frame-ancestors: scheme://host[:port] only. Anything else (a path, a
    wildcard, a quote or semicolon that would inject CSP syntax) is a start-up error naming it."""
    origins = []
    for item in (part.strip().rstrip("/") for part in raw.split(",")):
        if not item:
            continue
        if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?", item):
            raise ValueError(f"DERM3R_FRAME_ANCESTORS entries must be origins like https://ehr.example.org, got {item!r}")
        origins.append(item.lower())
    return tuple(origins)


@dataclass(frozen=True)
class Settings:
    auth_enabled: bool = True  # DERM3R_AUTH=off disables JWT checks (local development only)
    trusted_issuers_file: Path | None = None  # DERM3R_TRUSTED_ISSUERS
    public_base_url: str = "http://localhost:8080"  # DERM3R_PUBLIC_BASE_URL (JWT aud = base + path)
    fhir_allowlist: tuple[str, ...] = ()  # DERM3R_FHIR_ALLOWLIST (comma-separated base URLs)
    data_dir: Path = Path("var")  # DERM3R_DATA_DIR (the embedded SQLite store when no database URL is set)
    # DERM3R_DATABASE_URL: postgresql://user@host/db for replicas sharing state (None: SQLite in data_dir).
    # Kept out of repr: the URL may hold a password.
    database_url: str | None = field(default=None, repr=False)
    db_pool_size: int = 5  # DERM3R_DB_POOL_SIZE: connections per process (and as many overflow)
    db_timeout_seconds: float = 5.0  # DERM3R_DB_TIMEOUT: connect, pool wait, lock and statement bound
    jwt_leeway_seconds: int = 30  # DERM3R_JWT_LEEWAY
    fhir_timeout_seconds: float = 2.0  # DERM3R_FHIR_TIMEOUT (per FHIR call)
    request_deadline_seconds: float = 4.0  # DERM3R_DEADLINE (whole request incl. FHIR time)
    max_body_bytes: int = 32 * 1024 * 1024  # DERM3R_MAX_BODY_BYTES
    allow_private_fhir: bool = False  # DERM3R_ALLOW_PRIVATE_FHIR: permit loopback/private FHIR hosts
    model_dir: Path | None = None  # DERM3R_MODEL_DIR (None: the model shipped in the package)
    knowledge_dir: Path | None = None  # DERM3R_KNOWLEDGE_DIR (None: the shipped knowledge base)
    onnx_threads: int = 1  # DERM3R_ONNX_THREADS
    review_ttl_seconds: int = 900  # DERM3R_REVIEW_TTL: how long a review-app link (appContext) stays valid
    max_photos: int = 16  # DERM3R_MAX_PHOTOS: newest photos read per request (bounds CPU time)
    fhir_max_pages: int = 5  # DERM3R_FHIR_MAX_PAGES: next-links followed per FHIR search
    # DERM3R_METRICS_TOKEN: bearer token that GET /metrics requires (None: /metrics not served on
    # the service port unless DERM3R_METRICS_PORT is set). Kept out of repr.
    metrics_token: str | None = field(default=None, repr=False)
    metrics_port: int | None = None  # DERM3R_METRICS_PORT: serve /metrics on its own port instead
    log_format: str = "json"  # DERM3R_LOG_FORMAT: json (one JSON object per line) or text
    # Outbound HTTP (FHIR, review token check, JWK Sets; see cds_hooks/outbound.py): CA bundle from
    # DERM3R_CA_BUNDLE / REQUESTS_CA_BUNDLE / SSL_CERT_FILE, proxies from HTTPS_PROXY / HTTP_PROXY /
    # ALL_PROXY minus NO_PROXY, read here once; never .netrc or other environment settings.
    outbound: Outbound = field(default_factory=Outbound)
    # DERM3R_GUIDELINE_PROFILE: treatment profile of the knowledge base ("aad_npf" | "euroguiderm" | "nice" | "china");
    # None = the knowledge file's default (aad_npf). Every assessment names the profile it used.
    guideline_profile: str | None = None
    # DERM3R_REQUEST_BUDGET: total seconds one hook may spend, FHIR time, photo decoding and agents
    # together; photos not yet read when it runs out are reported as not read (never a timeout).
    request_budget_seconds: float = 10.0
    # DERM3R_FRAME_ANCESTORS: origins (comma-separated, e.g. https://ehr.example.org) allowed to embed
    # the review app in a frame; none: it cannot be framed at all.
    frame_ancestors: tuple[str, ...] = ()
    # DERM3R_LANGUAGE: the language of clinician text (cards, CarePlan, Observation text) when the
    # client's Accept-Language names none of the supported ones: "en" (default) or "zh-CN".
    language: str = "en"
    # Options owned by one component, read by it alone (e.g. "review_client_id" from
    # DERM3R_REVIEW_CLIENT_ID for the review app's SMART client id).
    extra: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        auth = env.get("DERM3R_AUTH", "on").strip().lower() not in {"off", "0", "false", "no"}
        if not auth:
            log.warning("DERM3R_AUTH=off: JWT verification is DISABLED. Never run like this with real patient data.")
        issuers = env.get("DERM3R_TRUSTED_ISSUERS")
        extra = {"review_client_id": env["DERM3R_REVIEW_CLIENT_ID"]} if env.get("DERM3R_REVIEW_CLIENT_ID") else {}
        allow = tuple(u.strip().rstrip("/") for u in env.get("DERM3R_FHIR_ALLOWLIST", "").split(",") if u.strip())
        return cls(
            auth_enabled=auth,
            trusted_issuers_file=Path(issuers) if issuers else None,
            public_base_url=env.get("DERM3R_PUBLIC_BASE_URL", cls.public_base_url).rstrip("/"),
            fhir_allowlist=allow,
            data_dir=Path(env.get("DERM3R_DATA_DIR", "var")),
            database_url=env.get("DERM3R_DATABASE_URL") or None,
            db_pool_size=_number(env, "DERM3R_DB_POOL_SIZE", "5", int),
            db_timeout_seconds=_number(env, "DERM3R_DB_TIMEOUT", "5.0", float),
            metrics_token=env.get("DERM3R_METRICS_TOKEN") or None,
            metrics_port=_number(env, "DERM3R_METRICS_PORT", "0", int) or None,
            log_format=_log_format(env.get("DERM3R_LOG_FORMAT", "json")),
            jwt_leeway_seconds=_number(env, "DERM3R_JWT_LEEWAY", "30", int),
            fhir_timeout_seconds=_number(env, "DERM3R_FHIR_TIMEOUT", "2.0", float),
            request_deadline_seconds=_number(env, "DERM3R_DEADLINE", "4.0", float),
            max_body_bytes=_number(env, "DERM3R_MAX_BODY_BYTES", str(32 * 1024 * 1024), int),
            allow_private_fhir=env.get("DERM3R_ALLOW_PRIVATE_FHIR", "").lower() in {"1", "true", "yes", "on"},
            model_dir=Path(env["DERM3R_MODEL_DIR"]) if env.get("DERM3R_MODEL_DIR") else None,
            knowledge_dir=Path(env["DERM3R_KNOWLEDGE_DIR"]) if env.get("DERM3R_KNOWLEDGE_DIR") else None,
            onnx_threads=_number(env, "DERM3R_ONNX_THREADS", "1", int),
            review_ttl_seconds=_number(env, "DERM3R_REVIEW_TTL", "900", int),
            max_photos=_number(env, "DERM3R_MAX_PHOTOS", "16", int),
            fhir_max_pages=_number(env, "DERM3R_FHIR_MAX_PAGES", "5", int),
            outbound=Outbound.from_env(env),
            guideline_profile=env.get("DERM3R_GUIDELINE_PROFILE", "").strip().lower() or None,
            request_budget_seconds=_number(env, "DERM3R_REQUEST_BUDGET", "10.0", float),
            frame_ancestors=_origins(env.get("DERM3R_FRAME_ANCESTORS", "")),
            language=validate_language(env.get("DERM3R_LANGUAGE", "en")),
            extra=extra,
        )
