"""TCM reasoning through the real service path: a FHIR Bundle with coded records (no hand-fed internal
values) -> CDS Hooks request -> the app (real agents) -> the assessment stored for the review app.

Every pattern must be reachable from real inputs, and each herb-safety rule must act on the formula it
concerns: a caution is listed next to its formula, a contraindicated formula is not proposed.
"""

from __future__ import annotations

import base64
import io
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from cds_hooks.app import create_app
from cds_hooks.demo.ehr_request import hook_request, prefetch_from_bundle
from cds_hooks.services import default_registry
from cds_hooks.routes import RUNTIME_KEY
from cds_hooks.settings import Settings
from fhir_mapping import codes

SNOMED, LOINC, ICD10 = codes.SNOMED, codes.LOINC, codes.ICD10
WHEN = "2026-11-20T10:00:00Z"


class Chart:
    """A small readable FHIR chart: each call adds one resource coded as an EHR would write it."""

    def __init__(self, birth_date: str = "1980-05-01", gender: str = "female") -> None:
        self.entries: list[dict[str, Any]] = [
            {"resourceType": "Patient", "id": "p1", "birthDate": birth_date, "gender": gender},
        ]
        self.condition("9014002", "Psoriasis")

    def _add(self, resource: dict[str, Any]) -> Chart:
        resource.setdefault("id", f"{resource['resourceType'].lower()}-{len(self.entries)}")
        resource.setdefault("subject", {"reference": "Patient/p1"})
        self.entries.append(resource)
        return self

    def condition(self, code: str, text: str, system: str = SNOMED) -> Chart:
        return self._add({
            "resourceType": "Condition",
            "clinicalStatus": {"coding": [codes.condition_clinical_status("active")]},
            "code": {"coding": [{"system": system, "code": code, "display": text}], "text": text},
        })

    def observation(self, code: dict[str, str], **value: Any) -> Chart:
        return self._add({"resourceType": "Observation", "status": "final", "code": {"coding": [code]},
                          "effectiveDateTime": WHEN, **value})

    def coded(self, kind: str, value: str) -> Chart:
        """A TCM-relevant coded finding (tongue, pulse, onset, morphology) in derm3r's own CodeSystem."""
        key = {"tongue": "tongue", "pulse": "pulse", "onset": "lesion_onset", "morphology": "lesion_morphology"}[kind]
        return self.observation(codes.observation_coding(key),
                                valueCodeableConcept={"coding": [codes.tcm_finding_coding(key, value)]})

    def tongue(self, *aspects: str) -> Chart:
        """One tongue Observation with a component per aspect (body colour, coat colour, coat, shape)."""
        components = [{"code": {"coding": [codes.tongue_aspect_coding(a)]},
                       "valueCodeableConcept": {"coding": [codes.tcm_finding_coding("tongue", a)]}} for a in aspects]
        return self.observation(codes.observation_coding("tongue"), component=components)

    def number(self, key: str, value: float, unit: str) -> Chart:
        return self.observation(codes.observation_coding(key), valueQuantity={"value": value, "unit": unit, "code": unit})

    def flag(self, key: str) -> Chart:
        return self.observation(codes.observation_coding(key), valueBoolean=True)

    def medication(self, name: str) -> Chart:
        return self._add({"resourceType": "MedicationStatement", "status": "active",
                          "medicationCodeableConcept": {"text": name}})

    def bundle(self) -> dict[str, Any]:
        return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in self.entries]}


FHIR_SERVER = "https://ehr.example.org/fhir"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    data_dir = tmp_path_factory.mktemp("tcm-service")
    # Review records (read back below) are kept only for an allow-listed fhirServer (issue 12).
    return create_app(Settings(auth_enabled=False, data_dir=data_dir, fhir_allowlist=(FHIR_SERVER,))).test_client(), data_dir


def assess(service: tuple[Any, Path], chart: Chart, *, response_out: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """POST the chart as a patient-view hook with full prefetch; return the stored assessment JSON
    (and append the CDS Hooks response to `response_out`)."""
    client, data_dir = service
    definition = default_registry().get("derm3r-patient-view")
    bundle = chart.bundle()
    body = {**hook_request(definition, "p1", prefetch=prefetch_from_bundle(bundle, definition)), "fhirServer": FHIR_SERVER}
    response = client.post(f"/cds-services/{definition.id}", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    if response_out is not None:
        response_out.append(response.get_json())
    store = client.application.extensions[RUNTIME_KEY].review_store  # the app's own (SQLAlchemy) store
    with sqlite3.connect(store.path) as conn:
        (record_id,) = conn.execute("SELECT id FROM review_record ORDER BY created_at DESC LIMIT 1").fetchone()
    record = store.get(record_id)
    assert record is not None
    return record["assessment"]


def tcm_of(assessment: dict[str, Any]) -> dict[str, Any]:
    tcm = assessment["tcm"]
    assert tcm is not None and tcm["primary"] is not None, "no TCM pattern named"
    return tcm


def option(pattern: dict[str, Any], formula: str) -> dict[str, Any]:
    return next(f for f in pattern["formula_options"] if f["formula"] == formula)


# ---------------------------------------------------------------- every pattern is reachable

CHARTS = {
    "blood_heat": lambda: Chart().tongue("body_red", "coat_yellow").coded("pulse", "slippery_rapid").coded("onset", "new_spreading"),
    "blood_dryness": lambda: Chart().tongue("body_pale_red", "coat_little").coded("pulse", "deep_thin")
    .coded("onset", "long_standing").coded("morphology", "fissures"),
    "blood_stasis": lambda: Chart().tongue("body_purple", "spots_stasis").coded("pulse", "choppy").coded("onset", "long_standing"),
    # Damp-heat: inverse psoriasis coded by ICD-10 text + exudation recorded, greasy yellow coat, soggy pulse.
    "damp_heat": lambda: Chart().condition("L40.8", "Inverse psoriasis", ICD10).coded("morphology", "exudation")
    .tongue("body_red", "coat_yellow", "coat_greasy").coded("pulse", "soggy"),
    # Heat-toxin: generalised pustular psoriasis as a coded Condition, crimson tongue, surging rapid pulse.
    "heat_toxin": lambda: Chart().condition("200973000", "Generalized pustular psoriasis")
    .tongue("body_crimson", "coat_yellow").coded("pulse", "surging_rapid").coded("onset", "new_spreading"),
    "wind_damp": lambda: Chart().condition("156370009", "Psoriatic arthritis").flag("joint_pain")
    .tongue("body_pale", "coat_white", "coat_greasy").coded("pulse", "wiry"),
}


@pytest.mark.parametrize("pattern", list(CHARTS))
def test_each_pattern_is_reached_from_coded_records(service: tuple[Any, Path], pattern: str) -> None:
    tcm = tcm_of(assess(service, CHARTS[pattern]()))
    primary = tcm["primary"]
    assert primary["pattern"] == pattern
    # the full reasoning travels with it, in Chinese and pinyin too
    assert primary["hanzi"] and primary["pinyin"] and primary["pathogenesis"] and primary["principle_hanzi"]
    assert primary["formula_options"] and all(h["hanzi"] and h["latin"] and h["dose_g"] for h in primary["formula_options"][0]["composition"])
    assert all(c["system"].startswith(("http", "urn")) for c in primary["codes"])
    assert tcm["card_line"].startswith(primary["display"]) and primary["hanzi"] in tcm["card_line"]
    assert 0 < tcm["confidence"] <= 0.8
    # evidence points back at the coded records it rests on
    assert all(e["source_ref"] for e in primary["evidence_for"])


def test_erythroderma_by_bsa_reaches_heat_toxin_with_the_emergency_note(service: tuple[Any, Path]) -> None:
    chart = Chart().number("bsa_percent", 92, "%").tongue("body_crimson").coded("pulse", "rapid")
    tcm = tcm_of(assess(service, chart))
    assert tcm["primary"]["pattern"] == "heat_toxin"
    assert "emergency" in tcm["card_caution"] and "guideline care" in tcm["card_caution"]


def test_photographed_flexures_count_as_flexural_sites(service: tuple[Any, Path]) -> None:
    chart = Chart().coded("morphology", "exudation").tongue("coat_greasy", "coat_yellow")
    image = io.BytesIO()
    Image.new("RGB", (96, 96), (200, 120, 110)).save(image, format="JPEG")
    chart._add({"resourceType": "Media", "status": "completed", "bodySite": {"text": "Left axilla"},
                "content": {"contentType": "image/jpeg", "data": base64.b64encode(image.getvalue()).decode()}})
    tcm = tcm_of(assess(service, chart))
    damp = next(p for p in tcm["ranked"] if p["pattern"] == "damp_heat")
    assert any(e["rule"] == "tcm.damp_heat.flexural" and "axilla" in e["statement"] for e in damp["evidence_for"])


# ---------------------------------------------------------------- safety rules act on their formulas


def test_pregnancy_withholds_blood_breaking_formula_and_flags_cautions(service: tuple[Any, Path]) -> None:
    chart = CHARTS["blood_stasis"]().observation(codes.observation_coding("pregnant"),
                                                 valueCodeableConcept={"coding": [codes.PREGNANT_VALUE]})
    tcm = tcm_of(assess(service, chart))
    stasis = tcm["primary"]
    withheld = option(stasis, "huoxue_sanyu_tang")  # sparganium and zedoary: contraindicated in pregnancy
    assert withheld["proposed"] is False
    assert any(c["level"] == "contraindicated" and c["kind"] == "pregnancy" and "San Leng" in c["statement"]
               for c in withheld["cautions"])
    assert not any("Huoxue Sanyu" in f for f in stasis["formulas"])
    # Peach kernel and safflower are only "caution" herb by herb, but no formula at all is proposed in
    # pregnancy; the herb cautions stay listed with it.
    cautioned = option(stasis, "taohong_siwu_tang")
    assert cautioned["proposed"] is False and stasis["formulas"] == []
    assert {"tao_ren", "hong_hua"} <= {h for c in cautioned["cautions"] if c["kind"] == "pregnancy" for h in c["herbs"]}
    assert "not proposed (pregnancy)" in tcm["card_caution"]
    # the patent medicine labelled "contraindicated in pregnancy" is withheld too
    assert all(not p["proposed"] for p in stasis["patent_medicines"] if p["formula"] == "xuefu_zhuyu")


def test_breastfeeding_flags_rhubarb_added_for_constipation(service: tuple[Any, Path]) -> None:
    chart = CHARTS["blood_heat"]().condition("169750002", "Mother currently breast-feeding").condition("14760008", "Constipation")
    tcm = tcm_of(assess(service, chart))
    mod = next(m for m in tcm["primary"]["formula_options"][0]["modifications"] if "constipation" in m["statement"])
    assert [h["herb"] for h in mod["add"]] == ["da_huang"]
    assert any(c["kind"] == "breastfeeding" and c["level"] == "caution" for c in mod["cautions"])


def test_child_gets_a_dose_caution_and_no_tripterygium(service: tuple[Any, Path]) -> None:
    chart = CHARTS["wind_damp"]()
    chart.entries[0]["birthDate"] = "2016-03-01"
    tcm = tcm_of(assess(service, chart))
    wind = tcm["primary"]
    duhuo = option(wind, "duhuo_jisheng_tang")
    assert any(c["kind"] == "child" and "adult daily doses" in c["statement"] for c in duhuo["cautions"])
    assert any(c["kind"] == "child" and "Xi Xin" in c["statement"] for c in duhuo["cautions"])
    tripterygium = next(p for p in wind["patent_medicines"] if p["formula"] == "tripterygium_glycosides")
    assert tripterygium["proposed"] is False
    assert any(c["kind"] == "child" and c["level"] == "contraindicated" for c in tripterygium["cautions"])


@pytest.mark.parametrize(("liver", "expect_level"), [
    ({"alt": 65}, "caution"),  # above the upper limit: herbs with reported liver injury need monitoring
    ({"alt": 150}, "contraindicated"),  # above 3x: those herbs are withheld
    ({"condition": "19943007"}, "caution"),  # cirrhosis coded
])
def test_liver_rules_act_on_hepatotoxic_herbs(service: tuple[Any, Path], liver: dict[str, Any], expect_level: str) -> None:
    chart = CHARTS["blood_dryness"]().number("itch_nrs", 7, "{score}")  # itch adds Bai Xian Pi (dictamnus)
    if "alt" in liver:
        chart.number("alt", liver["alt"], "U/L")
    else:
        chart.condition(liver["condition"], "Cirrhosis of liver")
    tcm = tcm_of(assess(service, chart))
    dryness = tcm["primary"]
    danggui = option(dryness, "danggui_yinzi")  # prepared He Shou Wu: known hepatotoxic
    assert danggui["proposed"] is False
    assert any(c["kind"] == "liver" and "He Shou Wu" in c["statement"] for c in danggui["cautions"])
    itch = next(m for m in option(dryness, "yangxue_jiedu_tang")["modifications"] if "itch" in m["statement"])
    dictamnus = [c for c in itch["cautions"] if "bai_xian_pi" in c["herbs"] and c["kind"] == "liver"]
    assert dictamnus and dictamnus[0]["level"] == expect_level
    assert itch["proposed"] is (expect_level != "contraindicated")
    assert any("liver" in e["statement"] or "ALT" in e["statement"] for e in tcm["safety_basis"])


def test_kidney_impairment_withholds_asarum_formula(service: tuple[Any, Path]) -> None:
    chart = CHARTS["wind_damp"]().number("egfr", 42, "mL/min/{1.73_m2}")
    wind = tcm_of(assess(service, chart))["primary"]
    duhuo = option(wind, "duhuo_jisheng_tang")
    assert duhuo["proposed"] is False
    assert any(c["kind"] == "kidney" and "Xi Xin" in c["statement"] for c in duhuo["cautions"])
    assert wind["formulas"] == []


INTERACTIONS = [
    # (chart, medication, formula, rule, level)
    ("blood_heat", "Warfarin 5 mg tablet", "liangxue_huoxue_tang", "tcm_safety.ddi.warfarin_danshen", "caution"),
    ("blood_stasis", "Warfarin sodium 3 mg", "taohong_siwu_tang", "tcm_safety.ddi.warfarin_danggui", "caution"),
    ("wind_damp", "Coumadin 2 mg", "duhuo_jisheng_tang", "tcm_safety.ddi.warfarin_ginseng", "caution"),
    ("blood_stasis", "Apixaban 5 mg", "taohong_siwu_tang", "tcm_safety.ddi.anticoagulant_blood_activating", "caution"),
    ("blood_dryness", "Methotrexate 15 mg weekly", "danggui_yinzi", "tcm_safety.ddi.mtx_hepatotoxic", "contraindicated"),
    ("blood_dryness", "Acitretin 25 mg", "danggui_yinzi", "tcm_safety.ddi.mtx_hepatotoxic", "contraindicated"),
    ("heat_toxin", "Methotrexate 15 mg weekly", "qingwen_baidu_yin", "tcm_safety.ddi.mtx_liver_reported", "caution"),
    ("heat_toxin", "Methotrexate 15 mg weekly", "qingwen_baidu_yin", "tcm_safety.ddi.mtx_glycyrrhiza", "caution"),
    ("heat_toxin", "Ciclosporin 100 mg", "huanglian_jiedu_tang", "tcm_safety.ddi.csa_berberine", "caution"),
    ("wind_damp", "Neoral 100 mg", "duhuo_jisheng_tang", "tcm_safety.ddi.csa_nephrotoxic", "contraindicated"),
    ("wind_damp", "Cyclosporine 100 mg", "duhuo_jisheng_tang", "tcm_safety.ddi.csa_glycyrrhiza", "caution"),
    ("heat_toxin", "Prednisolone 20 mg tablet", "qingwen_baidu_yin", "tcm_safety.ddi.steroid_glycyrrhiza", "caution"),
    ("wind_damp", "Adalimumab 40 mg injection", "tripterygium_glycosides", "tcm_safety.ddi.immunosuppressant_tripterygium", "contraindicated"),
]


@pytest.mark.parametrize(("pattern", "medication", "formula", "rule", "level"), INTERACTIONS,
                         ids=[f"{r[3].rsplit('.', 1)[1]}-{r[1].split()[0].lower()}" for r in INTERACTIONS])
def test_each_herb_drug_interaction_is_shown_next_to_its_formula(
    service: tuple[Any, Path], pattern: str, medication: str, formula: str, rule: str, level: str,
) -> None:
    tcm = tcm_of(assess(service, CHARTS[pattern]().medication(medication)))
    primary = tcm["primary"]
    assert primary["pattern"] == pattern
    item = next(f for f in [*primary["formula_options"], *primary["patent_medicines"]] if f["formula"] == formula)
    hits = [c for c in item["cautions"] if c["kind"] == "interaction" and any(e["rule"] == rule for e in c["evidence"])]
    assert hits, [c["statement"] for c in item["cautions"]]
    assert hits[0]["level"] == level and medication.split()[0] in hits[0]["statement"]
    assert medication in tcm["card_caution"] and "_" not in tcm["card_caution"]  # no internal ids on the card
    assert item["proposed"] is (level != "contraindicated" and not any(c["level"] == "contraindicated" for c in item["cautions"]))
    # every other formula of the pattern stays free of this rule: the caution is next to its own formula
    for other in primary["formula_options"]:
        herbs = {h["herb"] for h in other["composition"]}
        if other["formula"] != formula and not herbs & {h for c in hits for h in c["herbs"]}:
            assert not any(e["rule"] == rule for c in other["cautions"] for e in c["evidence"])


def test_no_safety_facts_no_cautions(service: tuple[Any, Path]) -> None:
    tcm = tcm_of(assess(service, CHARTS["blood_stasis"]()))
    assert all(not f["cautions"] and f["proposed"] for f in tcm["primary"]["formula_options"])
    assert tcm["card_caution"] == ""


def _care_plans(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        found = [value] if value.get("resourceType") == "CarePlan" else []
        return found + [c for v in value.values() for c in _care_plans(v)]
    if isinstance(value, list):
        return [c for v in value for c in _care_plans(v)]
    return []


def test_care_plan_activity_carries_composition_cautions_and_withheld_formulas(service: tuple[Any, Path]) -> None:
    responses: list[dict[str, Any]] = []
    chart = CHARTS["blood_stasis"]().observation(codes.observation_coding("pregnant"),
                                                 valueCodeableConcept={"coding": [codes.PREGNANT_VALUE]})
    tcm = tcm_of(assess(service, chart, response_out=responses))
    plans = _care_plans(responses[0])
    assert plans, "the card offers no CarePlan"
    activity = next(a["detail"] for a in plans[0]["activity"]
                    if a["detail"].get("code", {}).get("coding", [{}])[0].get("code") == codes.D_TCM_INTEGRATIVE)
    text = activity["description"]
    # Pregnancy: no formula proposed; each is listed as not proposed, with its reason.
    assert "血瘀证" in text and "pregnancy" in text
    assert "Not proposed: Huóxuè Sànyū Tāng" in text and "三棱" in text and "Not proposed: Táohóng Sìwù Tāng" in text
    assert activity["reasonCode"][0]["coding"] == [
        {"system": "http://id.who.int/icd/release/11/mms", "code": "SF01", "display": "Blood stasis pattern (TM1)"}]
    # the card itself gets only the short lines
    assert len(tcm["card_line"]) < 140


# ---------------------------------------------------------------- the assessment card's TCM section (merge of 11 and 15)


def _card_details(response: dict[str, Any]) -> str:
    return "\n".join(c.get("detail", "") for c in response["cards"])


def test_card_shows_the_tcm_line_and_its_caution(service: tuple[Any, Path]) -> None:
    responses: list[dict[str, Any]] = []
    chart = CHARTS["blood_stasis"]().medication("Warfarin sodium 3 mg")
    tcm = tcm_of(assess(service, chart, response_out=responses))
    plan = next(a["detail"]["description"] for a in _care_plans(responses[0])[0]["activity"]
                if a["detail"].get("code", {}).get("coding", [{}])[0].get("code") == codes.D_TCM_INTEGRATIVE)
    assert "桃红四物汤" in plan and "Persicae Semen" in plan and "5-10 g" in plan and "[caution]" in plan
    detail = _card_details(responses[0])
    assert tcm["card_line"] and tcm["card_caution"]
    assert "血瘀证" in detail and "Taohong" in detail and "Warfarin" in detail and "interaction" in detail
    assert "_" not in detail.split("血瘀证", 1)[1].split("\n\n", 1)[0]  # no internal ids in the TCM section


def test_card_names_no_formula_where_herbal_safety_is_not_established(service: tuple[Any, Path]) -> None:
    responses: list[dict[str, Any]] = []
    chart = CHARTS["blood_stasis"]().observation(codes.observation_coding("pregnant"),
                                                 valueCodeableConcept={"coding": [codes.PREGNANT_VALUE]})
    tcm = tcm_of(assess(service, chart, response_out=responses))
    assert tcm["formula_caution_populations"] == ["pregnancy"]
    assert tcm["primary"]["formulas"] == []  # listed only as withheld, with reasons, for the review app
    assert tcm["primary"]["formula_options"]
    detail = _card_details(responses[0])
    assert "血瘀证" in detail and "safety not established in pregnancy" in detail
    assert not any(name in detail for name in ("Taohong", "Huoxue", "Xuefu"))
