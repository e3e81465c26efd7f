"""Cards and wire models: the spec's response invariants (fsh cds-resp-1..7, logical model limits),
no null/empty values, labelling of AI and TCM content, escaping of record text."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cds_hooks.cards import TCM_LABEL, CardInputs, build_cards
from cds_hooks.wire.response import (
    Action,
    Card,
    CdsResponse,
    Coding,
    Link,
    Source,
    Suggestion,
    compact,
    truncate_summary,
)
from inference.case import Case, DataIssue, PatientInfo, Photo
from inference.results import Evidence
from inference.results import TreatmentOption as TreatmentOptionT
from service_support import REPO, StubPipeline

SCHEMA = json.loads((REPO / "cds_hooks" / "schemas" / "cds-hooks-response.schema.json").read_text())
U1, U2, U3 = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222", "33333333-3333-4333-8333-333333333333"
SOURCE = Source(label="derm3r")
CREATE = Action(type="create", description="Create it", resource={"resourceType": "CarePlan", "status": "draft"})


def case_with(photos: int = 2, issues: tuple[DataIssue, ...] = ()) -> Case:
    return Case(
        patient=PatientInfo(ref="Patient/p1"),
        as_of=datetime(2026, 11, 27, tzinfo=timezone.utc),
        photos=tuple(Photo(ref=f"Media/m{i}", data=b"x") for i in range(photos)),
        issues=issues,
    )


def inputs(assessment=None, case=None, review_id: str | None = "review-1", resources=None) -> CardInputs:
    case = case or case_with()
    counter = iter(range(10_000))
    return CardInputs(
        assessment=assessment or StubPipeline().assess(case),
        case=case,
        resources=tuple(resources if resources is not None else [{"resourceType": "CarePlan", "status": "draft", "title": "Psoriasis plan"}]),
        public_base_url="https://derm3r.example.org",
        assessment_uuid=U1,
        review_id=review_id,
        new_uuid=lambda: f"00000000-0000-4000-8000-{next(counter):012d}",
    )


def walk(value: Any, path: str = "$"):
    yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from walk(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from walk(v, f"{path}[{i}]")


def assert_no_null_or_empty(payload: dict) -> None:
    for path, value in walk(payload):
        if path == "$.cards":
            continue  # the one array the spec requires even when empty
        assert value is not None, path
        assert not (isinstance(value, (str, list, dict)) and len(value) == 0), path


# ---------------------------------------------------------------- wire model invariants

INVALID_MODELS = [
    ("summary of 140 characters", lambda: Card(uuid=U1, summary="x" * 140, indicator="info", source=SOURCE)),
    ("empty summary", lambda: Card(uuid=U1, summary="", indicator="info", source=SOURCE)),
    ("indicator not in the enum", lambda: Card(uuid=U1, summary="s", indicator="hard-stop", source=SOURCE)),
    ("card uuid not a uuid", lambda: Card(uuid="c1", summary="s", indicator="info", source=SOURCE)),
    (
        "cds-resp-6: suggestions without selectionBehavior",
        lambda: Card(uuid=U1, summary="s", indicator="info", source=SOURCE, suggestions=(Suggestion("l", U2, (CREATE,)),)),
    ),
    (
        "cds-resp-1: two recommended under at-most-one",
        lambda: Card(
            uuid=U1,
            summary="s",
            indicator="info",
            source=SOURCE,
            selection_behavior="at-most-one",
            suggestions=(Suggestion("a", U2, (CREATE,), True), Suggestion("b", U3, (CREATE,), True)),
        ),
    ),
    ("cds-resp-7 style: unknown selectionBehavior", lambda: Card(uuid=U1, summary="s", indicator="info", source=SOURCE, selection_behavior="all")),
    ("cds-resp-4: override reason without display", lambda: Card(uuid=U1, summary="s", indicator="info", source=SOURCE, override_reasons=(Coding("c", "s"),))),
    ("cds-resp-3: appContext on an absolute link", lambda: Link(label="l", url="https://x.org", type="absolute", app_context="ctx")),
    ("link without label", lambda: Link(label="", url="https://x.org", type="absolute")),
    ("link type not in the enum", lambda: Link(label="l", url="https://x.org", type="relative")),
    ("link url relative", lambda: Link(label="l", url="/app", type="absolute")),
    ("source url relative", lambda: Source(label="l", url="about")),
    ("source icon relative", lambda: Source(label="l", icon="icon.png")),
    ("source without label", lambda: Source(label="")),
    ("cds-resp-5: action without description", lambda: Action(type="create", description="", resource={"resourceType": "X"})),
    ("create without a resource", lambda: Action(type="create", description="d")),
    ("cds-resp-2: delete with a resource", lambda: Action(type="delete", description="d", resource={"resourceType": "X"}, resource_id="X/1")),
    ("action type not in the enum", lambda: Action(type="upsert", description="d", resource={"resourceType": "X"})),
    ("suggestion without label", lambda: Suggestion("", U2)),
    ("coding without system", lambda: Coding("c", "")),
    ("coding without code", lambda: Coding("", "https://x.org/cs")),
    ("duplicate card uuids", lambda: CdsResponse((Card(U1, "s", "info", SOURCE), Card(U1, "t", "info", SOURCE)))),
]


@pytest.mark.parametrize("name,build", INVALID_MODELS, ids=[n for n, _ in INVALID_MODELS])
def test_wire_models_refuse_spec_violations(name: str, build) -> None:
    with pytest.raises(ValueError):
        build()


def test_valid_models_serialise_with_spec_names_and_without_empties() -> None:
    card = Card(
        uuid=U1,
        summary="s",
        indicator="warning",
        source=Source(label="l", url="https://x.org", topic=Coding("t", "https://x.org/cs")),
        detail=None,
        suggestions=(Suggestion("a", U2, (CREATE, Action("delete", "remove", resource_id="ServiceRequest/1")), True),),
        selection_behavior="at-most-one",
        override_reasons=(Coding("c", "s", "Display"),),
        links=(Link("app", "https://x.org/launch", "smart", app_context="ctx"),),
    )
    body = CdsResponse((card,)).to_json()
    jsonschema.validate(body, SCHEMA)
    assert_no_null_or_empty(body)
    out = body["cards"][0]
    assert set(out) == {"uuid", "summary", "indicator", "source", "suggestions", "selectionBehavior", "overrideReasons", "links"}
    assert out["suggestions"][0]["isRecommended"] is True
    assert out["suggestions"][0]["actions"][1] == {"type": "delete", "description": "remove", "resourceId": "ServiceRequest/1"}
    assert out["links"][0]["appContext"] == "ctx"
    assert CdsResponse().to_json() == {"cards": []}


def test_compact_keeps_false_and_zero() -> None:
    assert compact({"a": None, "b": "", "c": [], "d": {}, "e": False, "f": 0, "g": [None, {"x": None}], "h": {"y": 1}}) == {"e": False, "f": 0, "h": {"y": 1}}


@given(st.text(max_size=400))
def test_truncate_summary_always_fits(text: str) -> None:
    out = truncate_summary(text or "x")
    assert len(out) <= 139


# ---------------------------------------------------------------- derm3r's cards


def test_card_set_is_valid_and_labelled() -> None:
    cards = build_cards(inputs())
    body = CdsResponse(cards).to_json()
    jsonschema.validate(body, SCHEMA)
    assert_no_null_or_empty(body)
    assessment, screening, quality = body["cards"]
    assert assessment["uuid"] == U1
    # Action first, whole phrases (issue 11 item 8); preliminary label in the source and the detail.
    assert assessment["summary"] == "Step: phototherapy (nb-uvb) for moderate psoriasis; 1 screening due"
    assert "Preliminary AI" in assessment["detail"] and "preliminary" in assessment["source"]["label"]
    assert TCM_LABEL in assessment["detail"]
    # Versions are in the source label (and the Provenance), never in the detail.
    assert "stub-1" in assessment["source"]["label"] and "stub-kb-1" not in assessment["detail"]
    # The citation text is resolved; unknown text is shown without internal fragments.
    assert "AAD-NPF 2019 phototherapy guideline" in assessment["detail"] or "AAD-NPF guideline: phototherapy" in assessment["detail"]
    assert assessment["source"]["url"] == "https://derm3r.example.org/about"
    assert {"label", "url", "topic"} <= set(assessment["source"])
    assert all(r["display"] and r["system"] and r["code"] for r in assessment["overrideReasons"])
    assert assessment["links"] == [
        {"label": assessment["links"][0]["label"], "url": "https://derm3r.example.org/app/launch.html", "type": "smart", "appContext": "review-1"}
    ]
    assert screening["summary"] == "Screen now: Psoriatic arthritis (PEST); 1 screenings due" or screening["summary"].startswith("Screen now: Psoriatic arthritis (PEST)")
    assert "Depression" not in screening["detail"]  # not due
    assert "Media/m1" not in quality["detail"] and "blurred" in quality["detail"]


def test_decision_comes_before_tcm_and_contraindications_are_named() -> None:
    detail = build_cards(inputs())[0].detail or ""
    assert detail.index("Step: Phototherapy") < detail.index("Avoid:") < detail.index("TCM")
    assert "Methotrexate (pregnancy" in detail


def test_record_text_is_escaped_in_markdown() -> None:
    detail = build_cards(inputs())[0].detail or ""
    assert "pregnancy <b>" not in detail and "pregnancy \\<b\\>" in detail


def test_no_review_link_without_a_review_record_and_no_suggestion_without_resources() -> None:
    card = build_cards(inputs(review_id=None, resources=[]))[0]
    assert card.links == () and card.suggestions == () and card.selection_behavior is None
    jsonschema.validate(CdsResponse((card,)).to_json(), SCHEMA)


def test_no_optional_cards_when_nothing_is_due_or_wrong() -> None:
    case = case_with(photos=0)
    assessment = StubPipeline().assess(case)
    assessment = dataclasses.replace(assessment, screenings=tuple(dataclasses.replace(s, due=False) for s in assessment.screenings))
    cards = build_cards(inputs(assessment=assessment, case=case))
    assert [c.source.topic.code for c in cards] == ["psoriasis-assessment"]


def test_repeated_issue_messages_are_grouped_and_records_named_by_what_they_are() -> None:
    issues = tuple(DataIssue("uncertain", "Classification uncertain", f"Media/m{i}") for i in range(3))
    case = case_with(photos=3, issues=issues)
    quality = build_cards(inputs(case=case))[-1]
    assert quality.detail is not None and quality.detail.count("Classification uncertain") == 1
    assert "Media/m" not in quality.detail and "unknown photo" in quality.detail
    assert quality.summary.startswith("Check input data: ") and "1 data issue" in quality.summary


def test_data_issues_are_deduplicated_across_layers() -> None:
    issue = DataIssue("no_pasi", "No PASI recorded", "Patient/p1")
    case = case_with(photos=0, issues=(issue,))
    assessment = dataclasses.replace(StubPipeline().assess(case), issues=(issue,))
    quality = build_cards(inputs(assessment=assessment, case=case))[-1]
    assert quality.detail is not None and quality.detail.count("No PASI recorded") == 1
    assert quality.summary == "Check input data: 1 data issue"


hostile = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=200)


@settings(max_examples=60, deadline=None)
@given(summary=hostile, statement=hostile, display=hostile, level=st.sampled_from(["clear", "mild", "moderate", "severe", "unknown", "other"]))
def test_any_agent_text_still_yields_valid_cards(summary: str, statement: str, display: str, level: str) -> None:
    base = StubPipeline().assess(case_with())
    assessment = dataclasses.replace(
        base,
        summary=summary,
        severity=dataclasses.replace(base.severity, level=level, basis=(Evidence(statement, source_ref=display, citation=display),)),
        screenings=tuple(dataclasses.replace(s, display=display, action=statement) for s in base.screenings),
    )
    body = CdsResponse(build_cards(inputs(assessment=assessment))).to_json()
    jsonschema.validate(body, SCHEMA)
    assert_no_null_or_empty(body)
    assert body["cards"][0]["indicator"] == "info"
    for card in body["cards"]:
        assert len(card["summary"]) < 140 and not card["summary"].endswith(("…", "..."))


# ---------------------------------------------------------------- issue-11 cards: alerts, scope, urgent, hold


def _alert(severity: str = "warning", summary: str = "Hold methotrexate: ALT 168 U/L (2026-11-28) above 100 U/L"):
    from inference.results import Alert

    return Alert(kind="abnormal_monitoring", severity=severity, summary=summary,
                 detail="Withhold methotrexate and repeat liver tests within 2 weeks.",
                 evidence=(Evidence("ALT 168 U/L (Observation/a1, 2026-11-28) > 100 U/L", rule="monitor.mtx.alt",
                                    citation="bad_methotrexate_2016"),),
                 citation="aad_npf_systemic_2020", drug="methotrexate")


def test_alerts_come_first_as_their_own_cards_with_their_indicator() -> None:
    base = StubPipeline().assess(case_with())
    assessment = dataclasses.replace(base, alerts=(_alert("warning"), _alert("critical", "Same-day dermatology review: erythroderma")))
    cards = build_cards(inputs(assessment=assessment))
    assert [c.indicator for c in cards[:2]] == ["critical", "warning"]
    assert [c.source.topic.code for c in cards[:3]] == ["safety-alert", "safety-alert", "psoriasis-assessment"]
    warning = cards[1]
    assert warning.summary.startswith("Hold methotrexate: ALT 168 U/L")
    assert "Withhold methotrexate" in (warning.detail or "") and "Observation/a1" not in (warning.detail or "")
    assert "monitor.mtx.alt" not in (warning.detail or "") and "Preliminary AI" in (warning.detail or "")
    assert "BAD guideline: methotrexate" in (warning.detail or "") or "AAD-NPF guideline" in (warning.detail or "")
    assert "Red flags:" in (cards[2].detail or "")  # the assessment repeats them in one line


def test_out_of_scope_chart_gets_a_scope_card_without_plan_or_severity() -> None:
    from inference.case import ConditionEntry, ConditionKey, Finding, FindingKey

    case = dataclasses.replace(
        case_with(photos=1),
        conditions=(ConditionEntry(ConditionKey.OTHER, "Tinea corporis", "Condition/c9"),),
        findings=(Finding(FindingKey.BSA_PERCENT, 2.0, "Observation/o1", unit="%", effective=datetime(2026, 11, 27, tzinfo=timezone.utc)),),
    )
    base = StubPipeline().assess(case)
    assessment = dataclasses.replace(base, scope="other_diagnosis", suggested_tests=("KOH microscopy of skin scrapings",),
                                     severity=dataclasses.replace(base.severity, level="not_assessed"), treatment=None)
    cards = build_cards(inputs(assessment=assessment, case=case))
    scope = cards[0]
    assert scope.source.topic.code == "diagnosis-not-psoriasis" and scope.indicator == "info"
    assert scope.summary == "Confirm the diagnosis before any psoriasis plan: Tinea corporis on record"
    assert scope.suggestions == () and "KOH microscopy" in (scope.detail or "") and "BSA 2% (2026-11-27)" in (scope.detail or "")
    assert all(c.source.topic.code != "psoriasis-assessment" for c in cards)
    assert all(c.source.topic.code != "comorbidity-screening" for c in cards)


def test_urgent_and_on_hold_summaries_lead_with_the_action() -> None:
    base = StubPipeline(severity="severe").assess(case_with())
    urgent = dataclasses.replace(base, urgent=True, subtypes=("erythrodermic psoriasis",), headline="BSA 92%")
    assert build_cards(inputs(assessment=urgent))[0].summary.startswith(
        "Same-day dermatology review or admission: erythrodermic psoriasis (BSA 92%)")
    held = dataclasses.replace(base, treatment=dataclasses.replace(base.treatment, on_hold=True))
    card = build_cards(inputs(assessment=held))[0]
    assert card.summary.startswith("Hold current immunosuppression, no step-up") and "**Hold**" in (card.detail or "")


def test_preferred_options_adjuncts_and_profile_are_shown() -> None:
    base = StubPipeline().assess(case_with())
    plan = dataclasses.replace(
        base.treatment, profile_display="AAD-NPF 2019-2021",
        options=(TreatmentOptionT("certolizumab", "Certolizumab", "biologic", status="preferred", note="preferred biologic in pregnancy"),
                 TreatmentOptionT("topical_corticosteroid", "Topical corticosteroid", "topical", adjunct=True)))
    detail = build_cards(inputs(assessment=dataclasses.replace(base, treatment=plan, populations=("pregnancy",))))[0].detail or ""
    assert "AAD-NPF 2019-2021 profile" in detail and "adjusted for pregnancy" in detail
    assert "Certolizumab (preferred in pregnancy)" in detail
    assert "With:** Topical corticosteroid (topical adjunct)" in detail
