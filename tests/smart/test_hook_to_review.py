"""End to end through the real service: a patient-view hook -> the assessment card's SMART link ->
EHR launch of the review app -> the clinician accepts the plan -> the CarePlan is in the EHR and
the acceptance is filed as feedback on that card. Uses the service's own app factory, registry,
card builder and write-back, the team's synthetic moderate-psoriasis patient, the test EHR and
headless Chromium."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlencode

import pytest

from cds_hooks.demo import synthetic
from cds_hooks.app import create_app
from cds_hooks.settings import Settings
from cds_hooks.storage import open_store
from inference.case import Case
from inference.results import Assessment
from .case_data import build_assessment
from .ehr import TestEhr
from .servers import ServerThread
from .browser import screenshot
from .pages import WAIT, By, WebDriverWait, app_state, ec, wait_photos_loaded

SERVICE = "derm3r-patient-view"


class CasePipeline:
    """The shipped pipeline when its model is installed, else the hand-built assessment of the case
    the service mapped from FHIR (the review app shows whatever the pipeline concluded)."""

    def assess(self, case: Case) -> Assessment:
        return build_assessment(case)


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    data_dir: Path = tmp_path_factory.mktemp("derm3r-e2e")
    service, ehr_server = ServerThread(), ServerThread()
    ehr = TestEhr(ehr_server.url, redirect_uris=(f"{service.url}/app/index.html",))
    settings = Settings(auth_enabled=False, data_dir=data_dir, public_base_url=service.url,
                        allow_private_fhir=True, fhir_allowlist=(ehr.fhir_base,))
    service.mount(create_app(settings, pipeline=CasePipeline()))  # type: ignore[arg-type]
    ehr_server.mount(ehr.app)
    service.start()
    ehr_server.start()
    bundle = synthetic.patient_bundle("psoriasis_moderate", seed=1, visits=3)
    for resource in synthetic.resources(bundle):
        ehr.add(resource)
    try:
        yield {"service": service, "ehr": ehr, "bundle": bundle, "data_dir": data_dir}
    finally:
        service.stop()
        ehr_server.stop()


def call_hook(loop: dict) -> dict:
    import requests

    bundle = loop["bundle"]
    pid = synthetic.patient_id(bundle)
    prefetch = {"patient": next(synthetic.resources(bundle, "Patient"))}
    for key, rtype in (("observations", "Observation"), ("media", "Media"), ("conditions", "Condition"),
                       ("medicationStatements", "MedicationStatement"), ("medicationRequests", "MedicationRequest"),
                       ("documents", "DocumentReference")):
        prefetch[key] = synthetic.searchset(bundle, rtype)
    body = {"hook": "patient-view", "hookInstance": str(uuid.uuid4()), "fhirServer": loop["ehr"].fhir_base,
            "context": {"userId": "Practitioner/dr-test-1", "patientId": pid}, "prefetch": prefetch}
    response = requests.post(f"{loop['service'].url}/cds-services/{SERVICE}", json=body, timeout=60)
    assert response.status_code == 200, response.text[:500]
    return response.json()


def test_card_link_launches_review_and_plan_is_written(loop: dict, browser: Any) -> None:
    cards = call_hook(loop)["cards"]
    smart = [(card, link) for card in cards for link in card.get("links", []) if link.get("type") == "smart"]
    assert smart, "the assessment card must carry a SMART link to the review app"
    card, link = smart[0]
    assert link["url"] == f"{loop['service'].url}/app/launch.html"
    app_context = link["appContext"]
    assert len(app_context) >= 40  # opaque, unguessable

    ehr: TestEhr = loop["ehr"]
    pid = synthetic.patient_id(loop["bundle"])
    # The EHR follows the link: SMART EHR launch with the card's appContext bound to the launch.
    launch = ehr.new_launch(pid, app_context)
    browser.get(f"{link['url']}?{urlencode({'iss': ehr.fhir_base, 'launch': launch})}")
    WebDriverWait(browser, WAIT).until(lambda d: app_state(d) in ("ready", "error"))
    assert app_state(browser) == "ready", browser.find_element(By.ID, "app-error").text
    photos = browser.find_elements(By.CSS_SELECTOR, "#photos .photo-card")
    assert photos
    wait_photos_loaded(browser, len(photos))
    screenshot(browser, "e2e-synthetic-moderate-1280x800-full", full_page=True)

    before = len(ehr.created)
    browser.find_element(By.ID, "cp-accept").click()
    WebDriverWait(browser, WAIT).until(ec.text_to_be_present_in_element((By.ID, "cp-result"), "Written to the EHR"))
    plans = [r for r in ehr.created[before:] if r["resourceType"] == "CarePlan"]
    assert len(plans) == 1 and plans[0]["subject"]["reference"] == f"Patient/{pid}"

    WebDriverWait(browser, WAIT).until(ec.text_to_be_present_in_element((By.ID, "cp-result"), "acceptance was recorded"))
    feedback = open_store(loop["data_dir"]).list_feedback(SERVICE)
    assert any(f["card"] == card["uuid"] and f["outcome"] == "accepted" for f in feedback), (card["uuid"], feedback)
