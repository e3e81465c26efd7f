"""DERM-Reason end to end: the Assessment for whole cases (empty, image-only, full), follow-up,
summary, issue merging, evidence provenance and determinism."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from inference.case import (
    BodyRegion,
    Case,
    ConditionEntry,
    ConditionKey,
    DataIssue,
    Finding,
    FindingKey,
    MedicationEntry,
    PatientInfo,
    Photo,
)
from inference.knowledge_base import load_knowledge
from inference.reason import DermReason, merge_issues
from inference.results import (
    Assessment,
    Evidence,
    PasiEstimate,
    PatientRepresentation,
    QualityReport,
    RecResult,
    RegionFinding,
    Trend,
)
from inference.serialize import to_jsonable

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
REASON = DermReason.load()


def obs(key: FindingKey, value: float | str | bool, days_ago: int = 3) -> Finding:
    return Finding(key, value, f"Observation/{key.value}", effective=NOW - timedelta(days=days_ago))


def make_case(
    *findings: Finding,
    conditions: tuple[ConditionKey, ...] = (),
    medications: tuple[str, ...] = (),
    photos: int = 0,
    issues: tuple[DataIssue, ...] = (),
    psoriasis: bool = True,
) -> Case:
    # The psoriasis pathway runs only with psoriasis on the problem list (scope gate), so cases have it
    # unless a test is about the gate itself.
    keys = ((ConditionKey.PSORIASIS,) if psoriasis else ()) + conditions
    return Case(
        patient=PatientInfo("Patient/p1", sex="female"),
        as_of=NOW,
        findings=findings,
        conditions=tuple(ConditionEntry(k, k.value.replace("_", " "), f"Condition/{k.value}") for k in keys),
        medications=tuple(MedicationEntry(m, m.capitalize(), f"MedicationStatement/{m}") for m in medications),
        photos=tuple(Photo(f"Media/m{i}", b"\xff\xd8", "image/jpeg", BodyRegion.TRUNK) for i in range(photos)),
        issues=issues,
    )


def representation(
    pasi: float = 12.0,
    probabilities: dict[str, float] | None = None,
    descriptors: dict[str, float] | None = None,
    issues: tuple[DataIssue, ...] = (),
) -> PatientRepresentation:
    descriptors = descriptors if descriptors is not None else {"bright_red": 0.85, "thick_scale": 0.6}
    reading = RecResult(
        photo_ref="Media/m0", quality=QualityReport(usable=True), probabilities={"psoriasis": 0.8, "eczema": 0.2},
        attributes=None, model_version="lesion-test-1", region=BodyRegion.TRUNK,
    )
    return PatientRepresentation(
        probabilities=probabilities if probabilities is not None else {"psoriasis": 0.8, "eczema": 0.2},
        regions=(RegionFinding(BodyRegion.TRUNK, 3, 2, 2, 3, 0.35, ("Media/m0",), 0.7),),
        pasi=PasiEstimate(value=pasi, low=pasi - 2, high=pasi + 2, regions_seen=(BodyRegion.TRUNK,)),
        trend=Trend("unknown"),
        tcm_descriptors=descriptors,
        descriptor_evidence={k: (Evidence(f"{k} measured", source_ref="Media/m0"),) for k in descriptors},
        photos=(reading,),
        issues=issues,
        model_version="lesion-test-1",
    )


FULL_CASE = make_case(
    obs(FindingKey.BSA_PERCENT, 14.0), obs(FindingKey.PASI, 16.5), obs(FindingKey.DLQI, 13.0),
    obs(FindingKey.PEST_SCORE, 3.0), obs(FindingKey.PHQ2, 4.0), obs(FindingKey.SPECIAL_AREA, "scalp"),
    obs(FindingKey.TONGUE, "red_yellow_coat"), obs(FindingKey.PULSE, "slippery_rapid"),
    obs(FindingKey.LESION_ONSET, "new_spreading"), obs(FindingKey.SYSTOLIC_BP, 150.0), obs(FindingKey.BMI, 31.0),
    conditions=(ConditionKey.HEART_FAILURE, ConditionKey.LATENT_TUBERCULOSIS),
    medications=("methotrexate",),
    photos=1,
)


def test_load_exposes_the_knowledge_version() -> None:
    assert REASON.knowledge_version == load_knowledge().version


def test_empty_case_gives_unknown_severity_and_data_issues() -> None:
    assessment = REASON.assess(make_case(), None)
    assert assessment.severity.level == "unknown"
    assert assessment.treatment is None
    assert assessment.tcm is None
    assert assessment.follow_up is not None and assessment.follow_up.interval_weeks == 4
    assert {"no_severity_measure", "missing_bsa", "missing_pasi"} <= {i.code for i in assessment.issues}
    assert assessment.summary.startswith("Psoriasis severity unknown")
    assert assessment.model_version == ""
    assert all(s.due for s in assessment.screenings)


def test_full_case() -> None:
    assessment = REASON.assess(FULL_CASE, representation(pasi=9.0))
    assert assessment.severity.level == "severe"
    assert assessment.severity.systemic_candidate
    assert assessment.treatment is not None and assessment.treatment.step == "biologic"
    tnf = next(o for o in assessment.treatment.options if o.therapy == "tnf_inhibitor")
    assert not tnf.allowed
    assert assessment.tcm is not None and assessment.tcm.primary is not None
    assert assessment.tcm.primary.pattern == "blood_heat"
    due = {s.kind for s in assessment.screenings if s.due}
    assert due == {"psoriatic_arthritis", "depression", "cardiometabolic", "pre_systemic"}
    assert assessment.follow_up is not None and assessment.follow_up.interval_weeks == 12
    assert "PASI 90 at 3-4 months on a biologic" in assessment.follow_up.targets
    assert "pasi_discrepancy" in {i.code for i in assessment.issues}  # clinician 16.5 vs image 9
    assert assessment.model_version == "lesion-test-1"
    assert len(assessment.summary) < 140


def test_image_only_case_is_not_graded_by_photos() -> None:
    # Photos support, never decide (issue 11): an image PASI of 12 no longer makes the case "severe".
    assessment = REASON.assess(make_case(photos=2), representation(pasi=12.0))
    assert assessment.severity.level == "unknown"
    assert assessment.treatment is None
    assert assessment.representation is not None
    codes = {i.code for i in assessment.issues}
    assert {"pasi_image_only", "no_clinician_measure"} <= codes
    assert assessment.tcm is not None
    assert assessment.tcm.confidence <= load_knowledge().document("tcm")["confidence"]["image_only_cap"]
    assert "assess and record" in assessment.summary and "step:" not in assessment.summary


def test_clinician_pasi_wins_in_the_summary() -> None:
    assessment = REASON.assess(make_case(obs(FindingKey.PASI, 3.0), photos=1), representation(pasi=15.0))
    assert assessment.severity.level == "mild"
    assert "PASI 3" in assessment.summary


def test_open_differential_leads_the_summary() -> None:
    assessment = REASON.assess(
        make_case(obs(FindingKey.BSA_PERCENT, 5.0), photos=1),
        representation(probabilities={"eczema": 0.7, "psoriasis": 0.3}),
    )
    assert assessment.summary.startswith("Differential open")
    assert "differential_open" in {i.code for i in assessment.issues}


FOLLOW_UP = [
    ("clear", (obs(FindingKey.BSA_PERCENT, 0.0),), (), 26, "Maintenance: BSA <= 1% every 6 months"),
    ("mild topical", (obs(FindingKey.BSA_PERCENT, 2.0),), (), 12, "BSA <= 1% at 3 months"),
    ("moderate phototherapy", (obs(FindingKey.BSA_PERCENT, 5.0),), (), 12, "PASI 75 at 3 months"),
    ("severe systemic", (obs(FindingKey.BSA_PERCENT, 12.0),), (), 12, "Acceptable at 3 months: BSA <= 3% or >= 75% improvement"),
    ("biologic", (obs(FindingKey.BSA_PERCENT, 12.0),), ("methotrexate",), 12, "PASI 90 at 3-4 months on a biologic"),
    ("unknown", (), (), 4, None),
]


@pytest.mark.parametrize(("label", "findings", "medications", "weeks", "target"), FOLLOW_UP, ids=[f[0] for f in FOLLOW_UP])
def test_follow_up(label: str, findings: tuple[Finding, ...], medications: tuple[str, ...], weeks: int, target: str | None) -> None:
    follow_up = REASON.assess(make_case(*findings, medications=medications), None).follow_up
    assert follow_up is not None
    assert follow_up.interval_weeks == weeks
    if target:
        assert target in follow_up.targets
    else:
        assert follow_up.targets == ()
    assert follow_up.evidence[0].rule and follow_up.evidence[0].citation


def test_issues_are_merged_in_order_without_duplicates() -> None:
    case_issue = DataIssue("unmapped_code", "Observation code not recognised", "Observation/x")
    rep_issue = DataIssue("blurred_photo", "Media/m0 is blurred", "Media/m0")
    assessment = REASON.assess(
        make_case(photos=1, issues=(case_issue, case_issue)), representation(issues=(rep_issue,)),
    )
    assert assessment.issues[0] == case_issue
    assert assessment.issues[1] == rep_issue
    assert len({(i.code, i.source_ref) for i in assessment.issues}) == len(assessment.issues)


def test_merge_issues_keeps_first_occurrence() -> None:
    a = DataIssue("x", "first", "Observation/1")
    b = DataIssue("x", "second", "Observation/1")
    c = DataIssue("x", "other ref", "Observation/2")
    assert merge_issues((a,), (b, c)) == (a, c)


SUMMARY_CASES = [
    make_case(),
    FULL_CASE,
    make_case(obs(FindingKey.BSA_PERCENT, 2.0)),
    make_case(obs(FindingKey.DLQI, 25.0), photos=1, issues=tuple(DataIssue(f"c{i}", "m") for i in range(30))),
]


@pytest.mark.parametrize("case", SUMMARY_CASES)
@pytest.mark.parametrize("differential_open", [False, True])
def test_summary_is_one_short_line(case: Case, differential_open: bool) -> None:
    probabilities = {"seborrhoeic_dermatitis_and_friends": 0.9, "psoriasis": 0.1} if differential_open else None
    rep = representation(probabilities=probabilities) if case.photos else None
    summary = REASON.assess(case, rep).summary
    assert 0 < len(summary) < 140
    assert "\n" not in summary


def _evidence(value: Any) -> Iterator[Evidence]:
    if isinstance(value, Evidence):
        yield value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            if f.name != "representation":  # the image agents' own evidence is theirs to test
                yield from _evidence(getattr(value, f.name))
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _evidence(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _evidence(item)


@pytest.mark.parametrize("with_photos", [False, True])
def test_every_conclusion_names_its_source(with_photos: bool) -> None:
    assessment = REASON.assess(FULL_CASE, representation() if with_photos else None)
    evidence = list(_evidence(assessment))
    assert len(evidence) > 20
    for item in evidence:
        assert item.source_ref or (item.rule and item.citation), item


def test_same_case_same_assessment() -> None:
    rep = representation()
    first = REASON.assess(FULL_CASE, rep)
    again = DermReason.load().assess(FULL_CASE, rep)
    assert first == again
    assert to_jsonable(first) == to_jsonable(again)
    assert isinstance(first, Assessment)


def test_photos_without_representation_are_flagged_differently() -> None:
    codes = {i.code for i in REASON.assess(make_case(photos=1), None).issues}
    assert "photos_not_analysed" in codes and "no_photos" not in codes


def test_follow_up_reports_progress_against_baseline() -> None:
    case = make_case(
        obs(FindingKey.PASI, 16.0, days_ago=120), obs(FindingKey.PASI, 4.0, days_ago=3),
        obs(FindingKey.BSA_PERCENT, 10.0, days_ago=120), obs(FindingKey.BSA_PERCENT, 12.0, days_ago=3),
    )
    follow_up = REASON.assess(case, None).follow_up
    assert follow_up is not None
    statements = [e.statement for e in follow_up.evidence]
    assert any(s.startswith("PASI 16") and "75% improvement" in s for s in statements)
    assert any(s.startswith("BSA 10%") and "20% worsening" in s for s in statements)


def test_follow_up_reports_the_photo_trend() -> None:
    rep = dataclasses.replace(
        representation(),
        trend=Trend("worsening", percent_change=30.0, evidence=(Evidence("trend", source_ref="Media/m0"),)),
    )
    follow_up = REASON.assess(make_case(obs(FindingKey.BSA_PERCENT, 5.0), photos=1), rep).follow_up
    assert follow_up is not None
    trend = next(e for e in follow_up.evidence if e.statement.startswith("photographs:"))
    assert trend.statement == "photographs: worsening (+30%)" and trend.source_ref == "Media/m0"
