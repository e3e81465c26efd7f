"""The review app in headless Chromium against the test EHR: SMART EHR launch with PKCE, every
panel rendered, edit-and-accept writes the CarePlan to the FHIR server, disagreement feedback,
a keyboard-only pass, no network beyond loopback. Screenshots go to tests/artifacts/."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from .browser import requested_urls, screenshot, set_viewport
from .conftest import SERVICE_ID, Stack
from .pages import WAIT, By, Keys, WebDriverWait, app_state, ec, open_app, text, wait_photos_loaded


def test_launch_renders_every_panel(browser: Any, stack: Stack) -> None:
    open_app(browser, stack)

    # SMART: the token exchange carried a PKCE verifier, and the patient banner came from FHIR.
    assert stack.ehr.token_requests and stack.ehr.token_requests[-1]["has_code_verifier"]
    assert "Alex Testpatient" in text(browser, "#patient-banner")

    wait_photos_loaded(browser, 3)
    cards = browser.find_elements(By.CSS_SELECTOR, "#photos .photo-card")
    assert len(cards) == 3
    assert "Back" in cards[0].text and "Erythema" in cards[0].text  # same visit: recorded order
    WebDriverWait(browser, WAIT).until(lambda d: "Loading overlays" not in text(d, "#photos"))

    summary = text(browser, "#summary")
    assert "Moderate" in summary or "moderate" in summary
    pasi = text(browser, "#pasi")
    assert "Trunk" in pasi and "Lower limbs" in pasi and "clinician-entered" in pasi
    assert "Not photographed" in pasi  # head: no photo
    probabilities = text(browser, "#probabilities")
    assert "Psoriasis" in probabilities and "not a diagnosis" in probabilities
    treatment = text(browser, "#treatment")
    if stack.assessment.treatment is not None:
        assert stack.assessment.treatment.step_display in treatment
    tcm = text(browser, "#tcm")
    assert "Integrative" in tcm
    # issue 15: the full reasoning with Chinese names, composition and the safety facts checked
    assert "Pathogenesis" in tcm and "Pharmaceutical name" in tcm and "Herb safety was checked against" in tcm
    assert stack.assessment.tcm is not None and stack.assessment.tcm.primary is not None
    assert stack.assessment.tcm.primary.hanzi in tcm
    assert len(browser.find_elements(By.CSS_SELECTOR, "#trend svg")) == 3
    assert browser.find_element(By.ID, "cp-accept").is_enabled()
    assert browser.find_elements(By.CSS_SELECTOR, "#feedback select#fb-reason option")

    screenshot(browser, "review-1280x800-top")
    screenshot(browser, "review-1280x800-full", full_page=True)
    for panel in ("photos", "pasi", "treatment", "tcm", "trend", "careplan"):
        browser.execute_script("document.getElementById(arguments[0]).scrollIntoView({block: 'start'})", panel)
        screenshot(browser, f"review-1280x800-{panel}")

    toggles = browser.find_elements(By.CSS_SELECTOR, "#photos button.toggle")
    if toggles:
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", toggles[0])
        toggles[0].click()
        WebDriverWait(browser, WAIT).until(lambda d: d.execute_script(
            "const o = document.querySelector('#photos img.overlay:not([hidden])'); return !!o && o.complete && o.naturalWidth > 0"))
        assert toggles[0].get_attribute("aria-pressed") == "true"
        screenshot(browser, "review-1280x800-overlay")

    set_viewport(browser, 820, 1180)
    browser.execute_script("window.scrollTo(0, 0)")
    screenshot(browser, "review-tablet-820x1180-top")
    for panel in ("pasi", "careplan"):
        browser.execute_script("document.getElementById(arguments[0]).scrollIntoView({block: 'start'})", panel)
        screenshot(browser, f"review-tablet-820x1180-{panel}")
    screenshot(browser, "review-tablet-820x1180-full", full_page=True)
    # Nothing wider than the tablet viewport (no horizontal scrolling of the page).
    overflowing = browser.execute_script(
        "return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 821"
        " && !e.closest('.table-scroll'))"
        ".map(e => `${e.tagName}#${e.id}.${e.className}`).slice(0, 5)")
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 820, overflowing

    hosts = {urlsplit(u).hostname for u in requested_urls(browser) if u.startswith("http")}
    assert hosts <= {"127.0.0.1"}, f"external requests: {hosts}"
    # No script errors and no Content-Security-Policy violations (the app runs under a strict CSP).
    severe = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe


def test_edit_and_accept_writes_careplan(browser: Any, stack: Stack) -> None:
    open_app(browser, stack)
    before = len(stack.ehr.created)
    title = browser.find_element(By.ID, "cp-title")
    title.clear()
    title.send_keys("Psoriasis plan: NB-UVB, reviewed")
    browser.find_element(By.ID, "cp-act-2-include").click()  # drop the second activity
    browser.find_element(By.ID, "cp-note").send_keys("Discussed with patient; starts next week.")
    browser.find_element(By.ID, "cp-accept").click()
    WebDriverWait(browser, WAIT).until(ec.text_to_be_present_in_element((By.ID, "cp-result"), "Written to the EHR"))
    screenshot(browser, "review-1280x800-careplan-written")

    written = stack.ehr.created[before:]
    plans = [r for r in written if r["resourceType"] == "CarePlan"]
    assert len(plans) == 1
    plan = plans[0]
    assert plan["title"] == "Psoriasis plan: NB-UVB, reviewed"
    assert (plan["status"], plan["intent"]) == ("active", "plan")
    assert len(plan["activity"]) == len(draft_activities(stack)) - 1
    assert plan["note"][-1]["text"].startswith("Discussed with patient")  # appended to the draft's notes
    assert plan["subject"]["reference"] == stack.case.patient.ref
    # References inside the transaction were resolved to the server's ids.
    for resource in written:
        for ref in _references(resource):
            assert not ref.startswith("urn:"), ref
            if "/" in ref and not ref.startswith(("http", "#")):
                rtype, rid = ref.split("/", 1)
                assert rid in stack.ehr.resources.get(rtype, {}), f"dangling reference {ref}"
    # The shared software Device is PUT to its fixed id (never a new one per accepted plan).
    draft_devices = [r["id"] for r in draft_resources_of(stack) if r["resourceType"] == "Device"]
    assert [r["id"] for r in written if r["resourceType"] == "Device"] == draft_devices
    ai_tagged = [r for r in written if any(t.get("code") == "AIAST" for t in (r.get("meta") or {}).get("tag", []))]
    if any((r.get("meta") or {}).get("tag") for r in draft_resources_of(stack)):
        assert ai_tagged, "AI-asserted tags must survive the write"
    provenance = [r for r in written if r["resourceType"] == "Provenance"]
    if provenance:
        assert any("Practitioner/" in (a.get("who") or {}).get("reference", "") for a in provenance[0]["agent"])

    WebDriverWait(browser, WAIT).until(ec.text_to_be_present_in_element((By.ID, "cp-result"), "acceptance was recorded"))
    feedback = stack.feedback.list_feedback(SERVICE_ID)
    accepted = [f for f in feedback if f["outcome"] == "accepted"]
    assert accepted and accepted[-1]["extension"]["derm3r-review"]["edited"] is True
    assert f"CarePlan/{plan['id']}" in accepted[-1]["extension"]["derm3r-review"]["written"]


def draft_resources_of(stack: Stack) -> list[dict]:
    return stack.store.get(stack.context_id)["resources"]


def draft_activities(stack: Stack) -> list:
    plan = next(r for r in stack.store.get(stack.context_id)["resources"] if r["resourceType"] == "CarePlan")
    return plan.get("activity", [])


def _references(value: Any) -> list[str]:
    if isinstance(value, dict):
        out = [value["reference"]] if isinstance(value.get("reference"), str) else []
        return out + [r for v in value.values() for r in _references(v)]
    if isinstance(value, list):
        return [r for v in value for r in _references(v)]
    return []


def test_keyboard_only_pass_and_disagreement(browser: Any, stack: Stack) -> None:
    open_app(browser, stack)
    wait_photos_loaded(browser, 3)
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    first = browser.switch_to.active_element
    assert first.get_attribute("class") == "skip-link"
    first.send_keys(Keys.ENTER)
    assert browser.switch_to.active_element.get_attribute("id") == "main"

    # Tab through the whole page: every control is reachable, and focus is always visible.
    focusable = set(browser.execute_script(
        "return [...document.querySelectorAll('#main a[href], #main button, #main input, #main select, #main textarea, #main summary, #main [tabindex=\"0\"]')]"
        ".filter(e => !e.disabled && e.offsetParent !== null && !(e.type === 'radio' && !e.checked)).map(e => e.outerHTML.slice(0, 120))"))
    seen: set[str] = set()
    target = None
    for _ in range(400):
        browser.switch_to.active_element.send_keys(Keys.TAB)
        el = browser.switch_to.active_element
        seen.add(browser.execute_script("return arguments[0].outerHTML.slice(0, 120)", el))
        outline = browser.execute_script(
            "const s = getComputedStyle(arguments[0]); return s.outlineStyle !== 'none' || s.boxShadow !== 'none'", el)
        assert outline, f"no visible focus on {el.tag_name}#{el.get_attribute('id')}"
        if target is None and el.get_attribute("aria-label") == "Disagree with TCM differentiation (integrative)":
            target = True
            screenshot(browser, "review-1280x800-keyboard-focus")
        if el.get_attribute("id") == "fb-submit":
            break
    missing = focusable - seen
    assert not missing, f"not reachable by keyboard: {sorted(missing)[:5]}"

    # Disagree with the TCM section using only the keyboard: shift-tab back to its button.
    for _ in range(400):
        el = browser.switch_to.active_element
        if el.get_attribute("aria-label") == "Disagree with TCM differentiation (integrative)":
            break
        el.send_keys(Keys.SHIFT, Keys.TAB)
    else:
        pytest.fail("TCM disagree button not reachable by keyboard")
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    reason = browser.switch_to.active_element
    assert reason.get_attribute("id") == "fb-reason"
    assert browser.find_element(By.ID, "fb-section").get_attribute("value") == "tcm"
    for _ in range(5):
        if reason.get_attribute("value") == "tcm-disagree":
            break
        reason.send_keys(Keys.ARROW_DOWN)
    assert reason.get_attribute("value") == "tcm-disagree"
    reason.send_keys(Keys.TAB)
    browser.switch_to.active_element.send_keys("Tongue is pale with a thin coat.")
    browser.switch_to.active_element.send_keys(Keys.TAB)
    assert browser.switch_to.active_element.get_attribute("id") == "fb-submit"
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    WebDriverWait(browser, WAIT).until(ec.text_to_be_present_in_element((By.ID, "fb-result"), "recorded"))
    screenshot(browser, "review-1280x800-feedback")

    overridden = [f for f in stack.feedback.list_feedback(SERVICE_ID) if f["outcome"] == "overridden"]
    assert overridden[-1]["overrideReason"]["reason"]["code"] == "tcm-disagree"
    assert overridden[-1]["overrideReason"]["userComment"] == "Tongue is pale with a thin coat."
    assert overridden[-1]["extension"]["derm3r-review"]["section"] == "tcm"


def test_landmarks_and_labels(browser: Any, stack: Stack) -> None:
    open_app(browser, stack)
    result = browser.execute_script("""
        const unlabeled = [...document.querySelectorAll('input, select, textarea')].filter(e =>
            !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.id || e.name);
        const imgs = [...document.querySelectorAll('img')].filter(i => !i.hasAttribute('alt')).length;
        const headings = [...document.querySelectorAll('h1, h2, h3, h4')].map(h => Number(h.tagName[1]));
        let skipped = false; for (let i = 1; i < headings.length; i++) if (headings[i] > headings[i - 1] + 1) skipped = true;
        return {unlabeled, imgs, skipped, h1: document.querySelectorAll('h1').length,
                banner: !!document.querySelector('header'), nav: !!document.querySelector('nav[aria-label]'),
                main: document.querySelectorAll('main').length, lang: document.documentElement.lang,
                sections: [...document.querySelectorAll('section[aria-labelledby]')].length};
    """)
    assert result["unlabeled"] == [] and result["imgs"] == 0
    assert not result["skipped"] and result["h1"] == 1
    assert result["banner"] and result["nav"] and result["main"] == 1 and result["lang"] == "en"
    assert result["sections"] >= 10


def test_plan_cannot_be_accepted_without_create_scopes(browser: Any, stack: Stack) -> None:
    """An EHR that withholds a create scope: the app says so up front instead of failing on write."""
    stack.ehr.client.withheld_scopes.add("patient/CarePlan.c")
    try:
        open_app(browser, stack)
    finally:
        stack.ehr.client.withheld_scopes.clear()
    assert not browser.find_element(By.ID, "cp-accept").is_enabled()
    assert "CarePlan" in text(browser, "#cp-result")


def test_wrong_patient_context_is_refused(browser: Any, stack: Stack) -> None:
    """A launch for another patient cannot open this patient's assessment: the token does not grant
    the record's Patient, so the review API refuses it."""
    stack.ehr.add({"resourceType": "Patient", "id": "other-patient"})
    browser.get(stack.launch_url(patient_id="other-patient"))
    WebDriverWait(browser, WAIT).until(lambda d: app_state(d) == "error")
    assert "could not be loaded" in text(browser, "#app-error")


AXE = Path(__file__).resolve().parents[2] / "cds_hooks" / "review" / "web" / "node_modules" / "axe-core" / "axe.min.js"


@pytest.mark.parametrize("viewport", [(1280, 800), (820, 1180)])
def test_axe_finds_no_wcag_violations(browser: Any, stack: Stack, viewport: tuple[int, int]) -> None:
    """axe-core (pinned in the web package's lockfile, run locally) over the fully rendered app."""
    if not AXE.exists():
        pytest.fail(f"axe-core missing: run `npm ci --prefix cds_hooks/review/web` ({AXE})", pytrace=False)
    set_viewport(browser, *viewport)
    open_app(browser, stack)
    wait_photos_loaded(browser, 3)
    WebDriverWait(browser, WAIT).until(lambda d: "Loading overlays" not in text(d, "#photos"))
    browser.execute_script(AXE.read_text(encoding="utf-8"))
    result = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}})
           .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))))
           .catch(e => done([{id: 'axe-error', impact: String(e), nodes: []}]));
    """)
    assert result == [], result
