"""Fixtures for the review-app tests: the derm3r review blueprint and the test EHR on loopback
ports, a moderate psoriasis case with three photographs stored as a review record, and Chromium."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlencode

import pytest
from flask import Flask

from cds_hooks.review import ReviewStore, review_blueprint
from cds_hooks.settings import Settings
from cds_hooks.storage import SqliteStore, open_store
from inference.case import Case
from inference.results import Assessment
from .browser import start_chromium, stop_chromium
from .case_data import PATIENT_ID, build_assessment, build_case, draft_resources
from .ehr import TestEhr, load_case
from .servers import ServerThread

SERVICE_ID = "derm3r-psoriasis"


@dataclass
class Stack:
    service: ServerThread
    ehr_server: ServerThread
    ehr: TestEhr
    store: ReviewStore
    feedback: SqliteStore
    case: Case
    assessment: Assessment
    context_id: str

    def launch_url(self, context_id: str | None = None, patient_id: str = PATIENT_ID) -> str:
        """What the EHR opens when the clinician follows the card's SMART link."""
        launch = self.ehr.new_launch(patient_id, context_id or self.context_id)
        return f"{self.service.url}/app/launch.html?{urlencode({'iss': self.ehr.fhir_base, 'launch': launch})}"


def _service_app(settings: Settings, store: ReviewStore) -> Flask:
    app = Flask("derm3r_review_test")
    app.register_blueprint(review_blueprint(settings, store))
    return app


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir: Path = tmp_path_factory.mktemp("derm3r-data")
    service = ServerThread()
    ehr_server = ServerThread()
    ehr = TestEhr(ehr_server.url, redirect_uris=(f"{service.url}/app/index.html",))
    # The record's FHIR server must be on the allow-list for the review API to open it (issue 12).
    settings = Settings(data_dir=data_dir, allow_private_fhir=True, public_base_url=service.url, fhir_allowlist=(ehr.fhir_base,))
    store = ReviewStore(data_dir, ttl_seconds=3600)
    service.mount(_service_app(settings, store))
    ehr_server.mount(ehr.app)
    service.start()
    ehr_server.start()

    case = build_case()
    load_case(ehr, case)
    assessment = build_assessment(case)
    context_id = store.put(assessment, case, draft_resources(assessment), fhir_server=ehr.fhir_base,
                           service_id=SERVICE_ID, card_uuid="card-assessment-1")
    try:
        yield Stack(service, ehr_server, ehr, store, open_store(data_dir), case, assessment, context_id)
    finally:
        service.stop()
        ehr_server.stop()


@pytest.fixture()
def browser() -> Iterator[Any]:
    driver = start_chromium()
    try:
        yield driver
    finally:
        stop_chromium(driver)
