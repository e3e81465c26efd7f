"""The SMART on FHIR review app: short-lived review records and the blueprint that serves the app
and its API. The service stores a record per assessment card (`ReviewStore.put`) and links the
card to `{public_base_url}/app/launch.html` with `appContext` = the record id."""

from cds_hooks.review.blueprint import review_blueprint
from cds_hooks.review.store import ReviewStore

__all__ = ["ReviewStore", "review_blueprint"]
