"""The per-process objects a request needs, built once by the app factory and passed explicitly."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable

from cds_hooks.metrics import Metrics, instrument_session
from cds_hooks.outbound import outbound_session
from cds_hooks.prefetch import ClientFactory, FhirReader
from cds_hooks.registry import Registry
from cds_hooks.settings import Settings
from cds_hooks.storage import Store
from fhir_mapping.client import FhirClient

if TYPE_CHECKING:
    from cds_hooks.auth import JwtVerifier
    from cds_hooks.order_checks import DrugChecker
    from cds_hooks.review.store import ReviewStore
    from inference.pipeline import Pipeline


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    registry: Registry
    pipeline: "Pipeline"
    store: Store
    client_factory: ClientFactory
    verifier: "JwtVerifier | None" = None  # None only when DERM3R_AUTH=off
    review_store: "ReviewStore | None" = None
    drug_checker: "DrugChecker | None" = None  # the ordering hooks' drug knowledge (loaded once)
    clock: Callable[[], datetime] = field(default=utc_now)
    metrics: Metrics | None = None


def fhir_client_factory(settings: Settings, metrics: Metrics | None = None) -> ClientFactory:
    """The production FhirClient, bounded by the settings (allow-list, paging); every request it
    sends is counted and timed when `metrics` is given."""

    def make(base_url: str, access_token: str | None, timeout: float) -> FhirReader:
        # Guarded connections; CA bundle and proxy for this server from Settings.outbound.
        session = outbound_session(settings, url=base_url)
        if metrics is not None:
            instrument_session(session, metrics)
        return FhirClient(
            base_url,
            access_token=access_token,
            timeout=timeout,
            allowlist=settings.fhir_allowlist,
            max_pages=settings.fhir_max_pages,
            # The one guarded outbound path: every connection re-vetted at connect time (DNS
            # rebinding between check and use), no ambient proxies/.netrc, the configured CA bundle.
            session=session,
        )

    return make
