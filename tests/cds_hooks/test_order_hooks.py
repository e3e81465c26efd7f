"""order-select and order-sign over HTTP: every drug class recognised (RxNorm code or the name in the
order's text), every contraindication flagged (critical at order-sign, advisory at order-select),
missing pre-treatment checks, interactions, duplicates, the empty answer for a safe order, and the
suggestions checked against the CDS Hooks action rules."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any, Callable

import jsonschema
import pytest

from cds_hooks.registry import ServiceDefinition
from fhir_mapping.queries import ORDER_PREFETCH_TEMPLATES
from cds_hooks.wire.context import ORDER_SELECT, ORDER_SIGN
from order_support import LOINC, RXCUI, Chart, medication_order, order_request, phototherapy_order
from service_support import REPO, make_app

SELECT, SIGN = "derm3r-order-select", "derm3r-order-sign"
RESPONSE_SCHEMA = json.loads((REPO / "cds_hooks" / "schemas" / "cds-hooks-response.schema.json").read_text())
INTERNAL = re.compile(r"\b(drugs\.[a-z]|check\.[a-z]|contra\.[a-z]|(Condition|Observation|MedicationStatement|MedicationRequest|Patient)/)|derm3r_default|_")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return make_app(tmp_path_factory.mktemp("orders")).test_client()


def call(client: Any, service: str, body: dict) -> list[dict]:
    response = client.post(f"/cds-services/{service}", json=body)
    assert response.status_code == 200, response.get_json()
    payload = response.get_json()
    check_spec_rules(payload, body)
    return payload["cards"]


def check_spec_rules(payload: dict, body: dict) -> None:
    """The response schema plus the CDS Hooks rules a schema cannot express, and derm3r's own card
    rules (short summary and detail, a real source, no record ids or rule ids in clinician text)."""
    jsonschema.validate(payload, RESPONSE_SCHEMA)
    drafts = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in body["context"]["draftOrders"]["entry"]}
    for card in payload["cards"]:
        assert 0 < len(card["summary"]) < 140
        assert len(card["detail"].split()) <= 80, card["detail"]
        assert "Source:" in card["detail"]
        for text in (card["summary"], card["detail"], *(s["label"] for s in card.get("suggestions", []))):
            assert not INTERNAL.search(text.replace("\\_", "").replace("*", "")), text
        assert card["indicator"] in ("info", "warning", "critical")
        assert card["overrideReasons"] and all(r["display"] and r["code"] and r["system"] for r in card["overrideReasons"])  # cds-resp-4
        if card.get("suggestions"):
            assert card["selectionBehavior"] in ("at-most-one", "any")  # cds-resp-6
            if card["selectionBehavior"] == "at-most-one":
                assert sum(1 for s in card["suggestions"] if s.get("isRecommended")) <= 1  # cds-resp-1
        for suggestion in card.get("suggestions", []):
            uuid.UUID(suggestion["uuid"])
            assert suggestion["actions"]
            types = [a["type"] for a in suggestion["actions"]]
            assert types == sorted(types, key=["delete", "create", "update"].index)  # deletes first, as applied
            for action in suggestion["actions"]:
                assert action["description"]  # cds-resp-5
                if action["type"] == "delete":  # cds-resp-2: a resourceId, no resource
                    assert "resource" not in action and action["resourceId"] in drafts
                else:
                    resource = action["resource"]
                    assert resource["resourceType"] in ("ServiceRequest", "MedicationRequest") and "resourceId" not in action
                    assert resource["status"] == "draft" and resource["intent"] == "order"
                    assert resource["subject"] == {"reference": f"Patient/{body['context']['patientId']}"}


def deletes(card: dict) -> list[str]:
    return [a["resourceId"] for s in card.get("suggestions", []) for a in s["actions"] if a["type"] == "delete"]


def creates(card: dict) -> list[dict]:
    return [a["resource"] for s in card.get("suggestions", []) for a in s["actions"] if a["type"] == "create"]


def only(cards: list[dict], pattern: str) -> dict:
    found = [c for c in cards if re.search(pattern, c["summary"], flags=re.I)]
    assert len(found) == 1, [c["summary"] for c in cards]
    return found[0]


def adult(**kw: Any) -> Chart:
    return Chart(birth="1985-03-01", **kw).condition("psoriasis")


# -- each contraindication ------------------------------------------------------------------------

# (id, chart builder, order, summary pattern)
CONTRAINDICATIONS: list[tuple[str, Callable[[], Chart], dict, str]] = [
    ("pregnancy", lambda: adult().condition("pregnancy", onset_days=60).all_checks_done(), medication_order("methotrexate"), r"methotrexate contraindicated: pregnancy"),
    ("pregnancy test", lambda: adult().all_checks_done().test_result("hcg", True, days=3), medication_order("acitretin"), r"acitretin contraindicated: pregnancy"),
    ("active TB", lambda: adult().condition("tuberculosis").all_checks_done(), medication_order("adalimumab"), r"adalimumab contraindicated: tuberculosis"),
    ("heart failure", lambda: adult().condition("heart_failure").all_checks_done(), medication_order("infliximab"), r"infliximab contraindicated: heart failure"),
    ("IBD", lambda: adult().condition("crohns").all_checks_done(), medication_order("secukinumab"), r"secukinumab contraindicated: crohn"),
    ("liver disease", lambda: adult().condition("liver").all_checks_done(), medication_order("methotrexate"), r"methotrexate contraindicated: .*(liver|hepatic)"),
    ("renal impairment", lambda: adult(sex="male").lab("egfr", 24, days=5).all_checks_done(), medication_order("cyclosporine"), r"cyclosporine.* contraindicated: renal impairment .*eGFR 24"),
    ("infection", lambda: adult().condition("infection", onset_days=4).all_checks_done(), medication_order("ustekinumab"), r"ustekinumab contraindicated: pneumonia"),
    ("age", lambda: Chart(birth="2018-01-01", sex="male").condition("psoriasis").all_checks_done(), medication_order("infliximab"), r"infliximab contraindicated: child"),
    ("demyelinating disease", lambda: adult().condition("multiple_sclerosis").all_checks_done(), medication_order("etanercept"), r"etanercept contraindicated: multiple sclerosis"),
]


@pytest.mark.parametrize(("case", "chart", "order", "pattern"), CONTRAINDICATIONS, ids=[c[0] for c in CONTRAINDICATIONS])
def test_contraindication_is_critical_at_sign_and_a_warning_at_select(client: Any, case: str, chart: Callable[[], Chart], order: dict, pattern: str) -> None:
    record = chart()
    signed = only(call(client, SIGN, order_request(ORDER_SIGN, record, order)), pattern)
    assert signed["indicator"] == "critical"
    assert set(deletes(signed)) == {f"MedicationRequest/{order['id']}"}
    assert signed["selectionBehavior"] == "at-most-one"
    assert re.search(r"\d{4}-\d{2}-\d{2}", signed["summary"] + signed["detail"]) or case == "age"  # the date that triggered it

    selected = only(call(client, SELECT, order_request(ORDER_SELECT, record, order)), pattern)
    assert selected["indicator"] == "warning"  # advisory while the clinician is still choosing
    assert selected["summary"] == signed["summary"]


def test_replacement_order_where_the_guideline_names_one(client: Any) -> None:
    record = adult().condition("pregnancy", onset_days=60).all_checks_done()
    card = only(call(client, SIGN, order_request(ORDER_SIGN, record, medication_order("methotrexate"))), "contraindicated")
    replace = [s for s in card["suggestions"] if s["label"].startswith("Replace with")]
    assert len(replace) == 1
    actions = replace[0]["actions"]
    assert [a["type"] for a in actions] == ["delete", "create"]
    new = actions[1]["resource"]
    coding = (new.get("medicationCodeableConcept") or new.get("code"))["coding"][0]
    assert coding["code"] and coding["system"] in ("http://snomed.info/sct", "http://www.nlm.nih.gov/research/umls/rxnorm")
    assert "Preferred instead:" in card["detail"]
    recommended = [s for s in card["suggestions"] if s.get("isRecommended")]
    assert [s["label"] for s in recommended] == ["Remove the methotrexate order"]


# -- each drug class, by code and by name -----------------------------------------------------------

# (id, order as the EHR sends it, chart where that class has a problem, summary pattern)
CLASSES: list[tuple[str, dict, Callable[[], Chart], str]] = [
    ("topical retinoid by name", medication_order("acitretin", oid="taz", coded=False, text="Tazarotene 0.1% cream"), lambda: adult().condition("pregnancy").all_checks_done(), r"tazarotene contraindicated: pregnancy"),
    ("phototherapy PUVA (ServiceRequest)", phototherapy_order(oid="puva", text="PUVA photochemotherapy"), lambda: adult().condition("pregnancy").all_checks_done(), r"puva.* contraindicated: pregnancy"),
    ("antimetabolite by RxNorm", medication_order("methotrexate"), lambda: adult().condition("tuberculosis").all_checks_done(), r"methotrexate contraindicated: tuberculosis"),
    ("calcineurin inhibitor by brand", medication_order("cyclosporine", coded=False, text="Neoral 100 mg capsule"), lambda: adult().condition("ckd4").all_checks_done(), r"cyclosporine.* contraindicated"),
    ("retinoid by RxNorm", medication_order("acitretin"), lambda: adult().condition("liver").all_checks_done(), r"acitretin contraindicated"),
    ("PDE4 by brand", medication_order("apremilast", coded=False, text="Otezla 30 mg tablet"), lambda: adult().condition("pregnancy").all_checks_done(), r"apremilast contraindicated: pregnancy"),
    ("TYK2 by brand", medication_order("apremilast", oid="deucra", coded=False, text="Sotyktu 6 mg tablet"), lambda: adult().condition("tuberculosis").all_checks_done(), r"deucravacitinib contraindicated"),
    ("TNF by brand", medication_order("adalimumab", coded=False, text="Humira 40 mg/0.4 mL pen"), lambda: adult().condition("heart_failure").all_checks_done(), r"adalimumab contraindicated: heart failure"),
    ("TNF etanercept by RxNorm", medication_order("etanercept"), lambda: adult().condition("heart_failure").all_checks_done(), r"etanercept contraindicated"),
    ("TNF certolizumab by RxNorm", medication_order("certolizumab"), lambda: adult().condition("tuberculosis").all_checks_done(), r"certolizumab.* contraindicated"),
    ("IL-17 by brand", medication_order("secukinumab", coded=False, text="Cosentyx 150 mg/mL pen"), lambda: adult().condition("crohns").all_checks_done(), r"secukinumab contraindicated"),
    ("IL-17 ixekizumab by name", medication_order("ixekizumab", coded=False, text="ixekizumab 80 mg injection"), lambda: adult().condition("crohns").all_checks_done(), r"ixekizumab contraindicated"),
    ("IL-17 brodalumab by RxNorm", medication_order("brodalumab"), lambda: adult().condition("crohns").all_checks_done(), r"brodalumab contraindicated"),
    ("IL-17A/F bimekizumab by brand", medication_order("secukinumab", oid="bime", coded=False, text="Bimzelx 160 mg pen"), lambda: adult().condition("crohns").all_checks_done(), r"bimekizumab contraindicated"),
    ("IL-23 guselkumab by RxNorm", medication_order("guselkumab"), lambda: adult().condition("infection").all_checks_done(), r"guselkumab contraindicated"),
    ("IL-23 risankizumab by brand", medication_order("guselkumab", oid="risa", coded=False, text="Skyrizi 150 mg pen"), lambda: adult().condition("tuberculosis").all_checks_done(), r"risankizumab contraindicated"),
    ("IL-23 tildrakizumab by name", medication_order("guselkumab", oid="tildra", coded=False, text="tildrakizumab 100 mg syringe"), lambda: adult().condition("tuberculosis").all_checks_done(), r"tildrakizumab contraindicated"),
    ("IL-12/23 by RxNorm", medication_order("ustekinumab"), lambda: adult().condition("tuberculosis").all_checks_done(), r"ustekinumab contraindicated"),
]

# Classes whose problems are cautions (advice, no suggestion to cancel): (id, order, chart, pattern)
CAUTION_CLASSES: list[tuple[str, dict, Callable[[], Chart], str]] = [
    ("vitamin D analogue by name", medication_order("acitretin", oid="calci", coded=False, text="Calcipotriene 0.005% ointment"), lambda: adult().condition("ckd4").all_checks_done(), r"vitamin d|calcipot"),
    ("phototherapy NB-UVB by name", phototherapy_order(), lambda: adult().condition("malignancy").all_checks_done(), r"uvb"),
]


@pytest.mark.parametrize(("case", "order", "chart", "pattern"), CLASSES, ids=[c[0] for c in CLASSES])
def test_every_drug_class_is_recognised(client: Any, case: str, order: dict, chart: Callable[[], Chart], pattern: str) -> None:
    card = only(call(client, SIGN, order_request(ORDER_SIGN, chart(), order)), pattern)
    assert card["indicator"] == "critical"
    assert set(deletes(card)) == {f"{order['resourceType']}/{order['id']}"}


@pytest.mark.parametrize(("case", "order", "chart", "pattern"), CAUTION_CLASSES, ids=[c[0] for c in CAUTION_CLASSES])
def test_cautions_advise_without_cancelling(client: Any, case: str, order: dict, chart: Callable[[], Chart], pattern: str) -> None:
    card = only(call(client, SIGN, order_request(ORDER_SIGN, chart(), order)), pattern)
    assert "caution" in card["summary"].lower() and card["indicator"] in ("info", "warning")
    assert not card.get("suggestions") and card["overrideReasons"]


# -- checks before starting, interactions, duplicates --------------------------------------------------


def test_missing_checks_become_create_servicerequest_suggestions(client: Any) -> None:
    record = adult(sex="female")  # no laboratory results at all
    order = medication_order("methotrexate")
    cards = call(client, SIGN, order_request(ORDER_SIGN, record, order))
    card = only(cards, r"before starting methotrexate")
    assert card["indicator"] == "warning" and card["selectionBehavior"] == "any"
    requests = creates(card)
    assert len(requests) == len(card["suggestions"]) >= 5
    assert all(s.get("isRecommended") for s in card["suggestions"])
    coded = {(c["system"], c["code"]) for r in requests for c in r["code"]["coding"]}
    assert (LOINC, "2106-3") in coded or any("pregnan" in r["code"]["text"].lower() for r in requests)  # pregnancy test
    for r in requests:
        assert r["resourceType"] == "ServiceRequest" and r["code"]["coding"][0]["code"]
        assert r["encounter"] == {"reference": "Encounter/e1"} and r["requester"] == {"reference": "Practitioner/u1"}
    texts = " ".join(r["code"]["text"].lower() for r in requests)
    for word in ("tuberculosis|tb|igra", "hepatitis", "liver|alt|hepatic", "blood count|cbc"):
        assert re.search(word, texts), (word, texts)
    # At order-select the same card is informative only.
    selected = only(call(client, SELECT, order_request(ORDER_SELECT, record, order)), r"before starting methotrexate")
    assert selected["indicator"] == "info"


def test_checks_on_record_are_not_asked_for_again(client: Any) -> None:
    record = adult(sex="female").all_checks_done()
    cards = call(client, SIGN, order_request(ORDER_SIGN, record, medication_order("methotrexate")))
    assert not [c for c in cards if "before starting" in c["summary"].lower()], [c["summary"] for c in cards]


def test_old_checks_do_not_count(client: Any) -> None:
    record = adult(sex="male").all_checks_done(days=400)
    card = only(call(client, SIGN, order_request(ORDER_SIGN, record, medication_order("methotrexate"))), r"before starting")
    assert re.search(r"blood count", card["detail"], flags=re.I) and re.search(r"liver", card["detail"], flags=re.I)
    assert not re.search(r"hepatitis", card["detail"], flags=re.I)  # serology counts whenever it was done


def test_interaction_with_a_current_medicine(client: Any) -> None:
    record = adult(sex="male").all_checks_done().taking("trimethoprim")
    card = only(call(client, SIGN, order_request(ORDER_SIGN, record, medication_order("methotrexate"))), r"interacts with")
    assert "trimethoprim" in card["summary"].lower()
    assert card["indicator"] == "critical"  # a contraindicated combination, at the last chance
    selected = only(call(client, SELECT, order_request(ORDER_SELECT, record, medication_order("methotrexate"))), r"interacts with")
    assert selected["indicator"] == "warning"
    assert deletes(card) == ["MedicationRequest/draft-methotrexate"]


def test_interaction_with_another_order_of_the_same_session(client: Any) -> None:
    record = adult(sex="male").all_checks_done()
    body = order_request(ORDER_SIGN, record, medication_order("trimethoprim"), medication_order("methotrexate"))
    card = only(call(client, SIGN, body), r"interacts with")
    assert "trimethoprim" in card["summary"].lower()


def test_duplicate_of_current_therapy(client: Any) -> None:
    record = adult(sex="male").all_checks_done().taking("secukinumab", kind="MedicationRequest")
    card = only(call(client, SIGN, order_request(ORDER_SIGN, record, medication_order("adalimumab"))), r"duplicates current therapy")
    assert "secukinumab" in card["summary"].lower()
    assert deletes(card) == ["MedicationRequest/draft-adalimumab"]
    assert {r["code"] for r in card["overrideReasons"]} >= {"intentional-switch"}


# -- nothing to say ------------------------------------------------------------------------------------


def test_safe_order_gets_the_empty_answer(client: Any) -> None:
    record = adult(sex="male").all_checks_done()
    for service, hook in ((SIGN, ORDER_SIGN), (SELECT, ORDER_SELECT)):
        response = client.post(f"/cds-services/{service}", json=order_request(hook, record, medication_order("adalimumab")))
        assert response.status_code == 200 and response.get_json() == {"cards": []}


def test_orders_outside_psoriasis_need_no_record(client: Any) -> None:
    """A paracetamol order: no card, and no prefetch or FHIR server needed (nothing is fetched)."""
    body = order_request(ORDER_SIGN, adult(), medication_order("acetaminophen", text="Acetaminophen 325 MG Oral Tablet"), prefetch=False)
    response = client.post(f"/cds-services/{SIGN}", json=body)
    assert response.status_code == 200 and response.get_json() == {"cards": []}


def test_order_select_looks_at_the_selection_only(client: Any) -> None:
    record = adult().condition("pregnancy").all_checks_done()
    body = order_request(ORDER_SELECT, record, medication_order("methotrexate"), medication_order("adalimumab"), selections=["MedicationRequest/draft-adalimumab"])
    cards = call(client, SELECT, body)
    assert not [c for c in cards if "methotrexate" in c["summary"].lower()]


def test_an_order_for_a_drug_needs_the_patient(client: Any) -> None:
    body = order_request(ORDER_SIGN, adult(), medication_order("methotrexate"), prefetch=False)
    response = client.post(f"/cds-services/{SIGN}", json=body)
    assert response.status_code == 412  # spec: required prefetch unobtainable
    assert response.get_json()["issue"][0]["expression"] == ["prefetch.patient"]


# -- the wire --------------------------------------------------------------------------------------


def test_discovery_lists_the_order_services_with_their_prefetch(client: Any) -> None:
    services = {s["id"]: s for s in client.get("/cds-services").get_json()["services"]}
    for service, hook in ((SELECT, ORDER_SELECT), (SIGN, ORDER_SIGN)):
        entry = services[service]
        assert entry["hook"] == hook
        assert set(entry["prefetch"]) == {"patient", "conditions", "observations", "medicationStatements", "medicationRequests"}
        assert not any("draftOrders" in t or "selections" in t for t in entry["prefetch"].values())
        assert "media" not in entry["prefetch"]  # no image work while ordering


@pytest.mark.parametrize("token", ["context.draftOrders", "context.selections"])
def test_registry_refuses_draft_orders_as_a_prefetch_token(token: str) -> None:
    """Hook library: services SHALL NOT use draftOrders or selections in prefetch tokens."""
    with pytest.raises(ValueError, match="not a root-level"):
        ServiceDefinition(id="x", hook=ORDER_SIGN, title="x", description="x", handler=lambda c, r: None,  # type: ignore[arg-type,return-value]
                          prefetch={**ORDER_PREFETCH_TEMPLATES, "bad": f"MedicationRequest?id={{{{{token}}}}}"})


def _body_with(context_change: Callable[[dict], None], hook: str = ORDER_SIGN) -> dict:
    body = order_request(hook, adult(), medication_order("methotrexate"))
    context_change(body["context"])
    return body


BAD_CONTEXTS: list[tuple[str, str, Callable[[dict], None], str]] = [
    ("no draftOrders", ORDER_SIGN, lambda c: c.pop("draftOrders"), "context.draftOrders"),
    ("draftOrders not a Bundle", ORDER_SIGN, lambda c: c.update(draftOrders={"resourceType": "MedicationRequest"}), "context.draftOrders.resourceType"),
    ("entry not a resource", ORDER_SIGN, lambda c: c["draftOrders"].update(entry=[{"fullUrl": "x"}]), "context.draftOrders.entry[0].resource"),
    ("not a request resource", ORDER_SIGN, lambda c: c["draftOrders"].update(entry=[{"resource": {"resourceType": "Patient", "id": "p1"}}]), "context.draftOrders.entry[0].resource.resourceType"),
    ("bad id", ORDER_SIGN, lambda c: c["draftOrders"]["entry"][0]["resource"].update(id="a b"), "context.draftOrders.entry[0].resource.id"),
    ("selection not among drafts", ORDER_SELECT, lambda c: c.update(selections=["MedicationRequest/other"]), "context.selections"),
    ("selections not strings", ORDER_SELECT, lambda c: c.update(selections=[1]), "context.selections"),
    ("patient as user", ORDER_SIGN, lambda c: c.update(userId="Patient/p1"), "context.userId"),
    ("no userId", ORDER_SELECT, lambda c: c.pop("userId"), "context.userId"),
    ("userId not a string", ORDER_SIGN, lambda c: c.update(userId=7), "context.userId"),
    ("no patientId", ORDER_SIGN, lambda c: c.pop("patientId"), "context.patientId"),
    ("patientId not a FHIR id", ORDER_SELECT, lambda c: c.update(patientId="Patient/p1"), "context.patientId"),
    ("encounterId not a FHIR id", ORDER_SIGN, lambda c: c.update(encounterId="e 1"), "context.encounterId"),
    ("draftOrders not an object", ORDER_SELECT, lambda c: c.update(draftOrders="MedicationRequest/x"), "context.draftOrders"),
    ("order for another patient", ORDER_SIGN, lambda c: c["draftOrders"]["entry"][0]["resource"].update(subject={"reference": "Patient/p2"}), "context.draftOrders.entry[0].resource.subject"),
    ("selections not an array", ORDER_SELECT, lambda c: c.update(selections="MedicationRequest/draft-methotrexate"), "context.selections"),
]


@pytest.mark.parametrize(("case", "hook", "change", "expression"), BAD_CONTEXTS, ids=[b[0] for b in BAD_CONTEXTS])
def test_invalid_order_context_is_400(client: Any, case: str, hook: str, change: Callable[[dict], None], expression: str) -> None:
    service = SELECT if hook == ORDER_SELECT else SIGN
    response = client.post(f"/cds-services/{service}", json=_body_with(change, hook))
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["issue"][0]["expression"] == [expression]


def test_tnf_inhibitor_in_heart_failure_offers_another_class(client: Any) -> None:
    # IL-23, IL-12/23 and IL-17 inhibitors carry no heart-failure restriction (AAD-NPF biologics 2019).
    record = adult().condition("heart_failure").all_checks_done()
    card = only(call(client, SIGN, order_request(ORDER_SIGN, record, medication_order("adalimumab"))), "contraindicated")
    replace = [s["label"] for s in card["suggestions"] if s["label"].startswith("Replace with")]
    assert replace and not any(re.search(r"adalimumab|etanercept|infliximab|certolizumab", label, re.I) for label in replace)


def test_feedback_on_an_order_card_is_stored(client: Any) -> None:
    record = adult().condition("heart_failure").all_checks_done()
    card = only(call(client, SELECT, order_request(ORDER_SELECT, record, medication_order("adalimumab"))), "contraindicated")
    reason = card["overrideReasons"][0]
    feedback = {"feedback": [{"card": card["uuid"], "outcome": "overridden", "overrideReason": {"reason": reason, "userComment": "discussed"}, "outcomeTimestamp": "2026-01-01T10:00:00Z"}]}
    response = client.post(f"/cds-services/{SELECT}/feedback", json=feedback)
    assert response.status_code == 200 and response.get_json()["stored"] == 1


def test_rxnorm_table_matches_the_knowledge() -> None:
    """The codes these tests send are the ones the drug knowledge lists (so a test by code really
    exercises the code path, not the text fallback)."""
    from cds_hooks.order_checks import DrugChecker
    from cds_hooks.settings import Settings

    checker = DrugChecker.from_settings(Settings())
    for name in ("methotrexate", "cyclosporine", "acitretin", "adalimumab", "etanercept", "infliximab", "certolizumab",
                 "ustekinumab", "secukinumab", "brodalumab", "guselkumab"):
        drug = checker.catalogue.lookup_code("http://www.nlm.nih.gov/research/umls/rxnorm", RXCUI[name])
        assert drug is not None and name in drug.id, name


def test_renewal_of_current_therapy_checks_monitoring_not_starting(client: Any) -> None:
    """Re-ordering methotrexate for a patient on it: the checks before starting are not asked for
    again, but a monitored value over its threshold is flagged (with its value and date)."""
    record = adult(sex="male").all_checks_done().taking("methotrexate")
    record.lab("alt", 150, days=2)
    cards = call(client, SIGN, order_request(ORDER_SIGN, record, medication_order("methotrexate", oid="renewal")))
    assert not [c for c in cards if "before starting" in c["summary"].lower()]
    card = only(cards, r"methotrexate")
    assert "150" in card["summary"] + card["detail"]
    assert card["indicator"] in ("warning", "critical")


def test_openapi_documents_the_order_request() -> None:
    from jsonschema import Draft202012Validator

    from cds_hooks.openapi import openapi_document
    from cds_hooks.settings import Settings

    document = openapi_document(Settings())
    validator = Draft202012Validator({"$ref": "#/components/schemas/HookRequest", "components": document["components"]})
    for hook in (ORDER_SELECT, ORDER_SIGN):
        validator.validate(order_request(hook, adult(), medication_order("methotrexate")))


def test_medication_by_reference_to_a_medication_in_the_bundle(client: Any) -> None:
    """draftOrders may carry the Medication a MedicationRequest references (EHRs that code drugs on
    Medication resources); the order is recognised through it."""
    record = adult().condition("pregnancy").all_checks_done()
    order = {"resourceType": "MedicationRequest", "id": "by-ref", "status": "draft", "intent": "order",
             "subject": {"reference": "Patient/p1"}, "medicationReference": {"reference": "Medication/mtx"}}
    medication = {"resourceType": "Medication", "id": "mtx", "code": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": RXCUI["methotrexate"]}]}}
    body = order_request(ORDER_SIGN, record, order, medication)
    response = client.post(f"/cds-services/{SIGN}", json=body)
    assert response.status_code == 200, response.get_json()
    card = only(response.get_json()["cards"], "methotrexate contraindicated")
    assert set(deletes(card)) == {"MedicationRequest/by-ref"}


def test_a_cautionary_interaction_is_not_critical(client: Any) -> None:
    record = adult(sex="male").all_checks_done().taking("ibuprofen")
    card = only(call(client, SIGN, order_request(ORDER_SIGN, record, medication_order("methotrexate"))), r"interacts with")
    assert "ibuprofen" in card["summary"].lower() and card["indicator"] in ("info", "warning")
    if card["indicator"] == "info":
        assert not card.get("suggestions")  # advice to monitor, not to cancel
