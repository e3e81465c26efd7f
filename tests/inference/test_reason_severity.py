"""DERM-Reason severity: bands, rule of tens, IPC systemic candidacy, clinician PASI vs image estimate,
differential, data issues."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from inference.case import BodyRegion, Case, Finding, FindingKey, PatientInfo
from inference.knowledge_base import load_knowledge
from inference.reason.severity import SeverityOutcome, assess_severity
from inference.results import Evidence, PasiEstimate, PatientRepresentation, RegionFinding, Trend

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)


def obs(key: FindingKey, value: float | str | bool, days_ago: int | None = 1, ref: str | None = None) -> Finding:
    effective = NOW - timedelta(days=days_ago) if days_ago is not None else None
    return Finding(key, value, ref or f"Observation/{key.value}", effective=effective)


def make_case(*findings: Finding) -> Case:
    return Case(patient=PatientInfo("Patient/p1"), as_of=NOW, findings=findings)


def representation(
    pasi: float | None = None,
    low: float | None = None,
    high: float | None = None,
    clinician: float | None = None,
    probabilities: dict[str, float] | None = None,
    regions: tuple[RegionFinding, ...] = (),
) -> PatientRepresentation:
    estimate = None
    if pasi is not None:
        estimate = PasiEstimate(
            value=pasi, low=low if low is not None else pasi, high=high if high is not None else pasi,
            regions_seen=(BodyRegion.TRUNK,), clinician_value=clinician,
            clinician_ref="Observation/clin" if clinician is not None else None,
        )
    return PatientRepresentation(
        probabilities=probabilities if probabilities is not None else {"psoriasis": 0.8, "eczema": 0.2},
        regions=regions or (RegionFinding(BodyRegion.TRUNK, 2, 2, 2, 2, 0.2, ("Media/t1",), 0.8),),
        pasi=estimate,
        trend=Trend("unknown"),
        tcm_descriptors={},
        descriptor_evidence={},
        photos=(),
    )


def severity_of(case: Case, rep: PatientRepresentation | None = None) -> SeverityOutcome:
    return assess_severity(case, rep, load_knowledge().document("severity"))


def rules(outcome: SeverityOutcome) -> set[str]:
    return {e.rule for e in outcome.severity.basis if e.rule}


def issue_codes(outcome: SeverityOutcome) -> set[str]:
    return {i.code for i in outcome.issues}


BANDS = [
    (FindingKey.BSA_PERCENT, 0, "clear", "severity.bsa.clear"),
    (FindingKey.BSA_PERCENT, 1, "mild", "severity.bsa.mild"),
    (FindingKey.BSA_PERCENT, 2.9, "mild", "severity.bsa.mild"),
    (FindingKey.BSA_PERCENT, 3, "moderate", "severity.bsa.moderate"),
    (FindingKey.BSA_PERCENT, 10, "moderate", "severity.bsa.moderate"),
    (FindingKey.BSA_PERCENT, 10.5, "severe", "severity.bsa.severe"),
    (FindingKey.PASI, 0, "clear", "severity.pasi.clear"),
    (FindingKey.PASI, 4.9, "mild", "severity.pasi.mild"),
    (FindingKey.PASI, 5, "moderate", "severity.pasi.moderate"),
    (FindingKey.PASI, 10, "moderate", "severity.pasi.moderate"),
    (FindingKey.PASI, 10.1, "severe", "severity.pasi.severe"),
    (FindingKey.PGA, 0, "clear", "severity.pga.clear"),
    (FindingKey.PGA, 1, "mild", "severity.pga.mild"),
    (FindingKey.PGA, 2, "mild", "severity.pga.mild"),
    (FindingKey.PGA, 3, "moderate", "severity.pga.moderate"),
    (FindingKey.PGA, 4, "severe", "severity.pga.severe"),
    (FindingKey.DLQI, 3, "mild", "severity.dlqi.small"),
    (FindingKey.DLQI, 8, "moderate", "severity.dlqi.moderate"),
    (FindingKey.DLQI, 11, "severe", "severity.dlqi.severe"),
]


@pytest.mark.parametrize(("key", "value", "level", "rule"), BANDS)
def test_single_measure_bands(key: FindingKey, value: float, level: str, rule: str) -> None:
    outcome = severity_of(make_case(obs(key, float(value))))
    assert outcome.severity.level == level
    assert rule in rules(outcome)
    decisive = next(e for e in outcome.severity.basis if e.rule == rule)
    assert decisive.source_ref == f"Observation/{key.value}"
    assert decisive.citation


COMBINATIONS = [
    ("worst primary wins (rule of tens is an OR)", [(FindingKey.BSA_PERCENT, 2), (FindingKey.PASI, 12)], "severe"),
    ("DLQI > 10 raises mild to severe", [(FindingKey.BSA_PERCENT, 2), (FindingKey.DLQI, 12)], "severe"),
    ("DLQI 6-10 raises mild to moderate", [(FindingKey.BSA_PERCENT, 2), (FindingKey.DLQI, 7)], "moderate"),
    ("small DLQI never raises clear", [(FindingKey.BSA_PERCENT, 0), (FindingKey.DLQI, 4)], "clear"),
    ("DLQI never lowers", [(FindingKey.BSA_PERCENT, 15), (FindingKey.DLQI, 1)], "severe"),
    ("PGA and BSA agree", [(FindingKey.BSA_PERCENT, 5), (FindingKey.PGA, 3)], "moderate"),
]


@pytest.mark.parametrize(("label", "values", "level"), COMBINATIONS, ids=[c[0] for c in COMBINATIONS])
def test_measure_combinations(label: str, values: list[tuple[FindingKey, float]], level: str) -> None:
    outcome = severity_of(make_case(*(obs(k, float(v)) for k, v in values)))
    assert outcome.severity.level == level


CANDIDATES = [
    ("BSA > 10", [obs(FindingKey.BSA_PERCENT, 11.0)], True, "severity.systemic.bsa_over_10"),
    ("BSA 10 is not > 10", [obs(FindingKey.BSA_PERCENT, 10.0)], False, None),
    ("scalp", [obs(FindingKey.BSA_PERCENT, 1.0), obs(FindingKey.SPECIAL_AREA, "scalp")], True, "severity.systemic.special_area"),
    ("nails", [obs(FindingKey.BSA_PERCENT, 1.0), obs(FindingKey.SPECIAL_AREA, "nails")], True, "severity.systemic.special_area"),
    ("genitals", [obs(FindingKey.BSA_PERCENT, 1.0), obs(FindingKey.SPECIAL_AREA, "genitals")], True, "severity.systemic.special_area"),
    ("elbow is not special", [obs(FindingKey.BSA_PERCENT, 1.0), obs(FindingKey.SPECIAL_AREA, "elbow")], False, None),
    ("topical failure", [obs(FindingKey.BSA_PERCENT, 2.0), obs(FindingKey.TOPICAL_FAILURE, True)], True, "severity.systemic.topical_failure"),
    ("no topical failure", [obs(FindingKey.BSA_PERCENT, 2.0), obs(FindingKey.TOPICAL_FAILURE, False)], False, None),
]


@pytest.mark.parametrize(("label", "findings", "candidate", "rule"), CANDIDATES, ids=[c[0] for c in CANDIDATES])
def test_ipc_systemic_candidate(label: str, findings: list[Finding], candidate: bool, rule: str | None) -> None:
    outcome = severity_of(make_case(*findings))
    assert outcome.severity.systemic_candidate is candidate
    if rule:
        assert rule in rules(outcome)


@pytest.mark.parametrize(("confidence", "area_score", "suggested"), [(0.8, 2, True), (0.3, 2, False), (0.8, 0, False)])
def test_head_involvement_on_photos_suggests_assessing_but_never_sets_candidacy(confidence: float, area_score: int,
                                                                                suggested: bool) -> None:
    # Photos support, never decide (issue 11 item 8): they used to make the patient a systemic candidate.
    head = RegionFinding(BodyRegion.HEAD, 2, 2, 2, area_score, 0.15, ("Media/h1",), confidence)
    outcome = severity_of(make_case(obs(FindingKey.BSA_PERCENT, 1.0)), representation(pasi=1.0, regions=(head,)))
    assert outcome.severity.systemic_candidate is False
    hits = [e for e in outcome.severity.basis if e.rule == "severity.systemic.image_head"]
    assert bool(hits) is suggested
    if suggested:
        assert hits[0].source_ref == "Media/h1" and hits[0].statement.startswith("consider assessing")


def test_clinician_pasi_wins_over_image_and_discrepancy_is_shown() -> None:
    outcome = severity_of(make_case(obs(FindingKey.PASI, 4.0, ref="Observation/pasi-clin")), representation(pasi=14.0, low=11, high=17))
    assert outcome.severity.level == "mild"
    assert outcome.readings["pasi"].value == 4.0
    discrepancy = next(e for e in outcome.severity.basis if e.rule == "severity.image.pasi_discrepancy")
    assert discrepancy.source_ref == "Observation/pasi-clin"
    assert "14" in discrepancy.statement and "clinician PASI 4 used" in discrepancy.statement
    assert "pasi_discrepancy" in issue_codes(outcome)
    assert outcome.headline == "PASI 4"


def test_small_discrepancy_is_shown_but_not_an_issue() -> None:
    outcome = severity_of(make_case(obs(FindingKey.PASI, 8.0)), representation(pasi=9.0))
    assert "severity.image.pasi_discrepancy" in rules(outcome)
    assert "pasi_discrepancy" not in issue_codes(outcome)


def test_clinician_value_carried_by_the_representation_also_wins() -> None:
    outcome = severity_of(make_case(), representation(pasi=14.0, clinician=3.0))
    assert outcome.severity.level == "mild"
    assert outcome.readings["pasi"].source_ref == "Observation/clin"


def test_image_only_pasi_is_shown_but_never_grades_severity() -> None:
    # Photos support, never decide (issue 11 item 8): an image PASI of 12 used to grade "severe".
    outcome = severity_of(make_case(), representation(pasi=12.0, low=9.0, high=15.0))
    assert outcome.severity.level == "unknown"
    assert "pasi" not in outcome.readings
    assert outcome.image_pasi is not None and outcome.image_pasi.source_ref == "Media/t1"
    assert {"pasi_image_only", "missing_bsa", "no_clinician_measure"} <= issue_codes(outcome)
    assert "missing_pasi" not in issue_codes(outcome)
    assert any("spans moderate to severe" in e.statement for e in outcome.severity.basis)
    assert any("consider assessing" in e.statement for e in outcome.severity.basis)
    assert outcome.headline is None


CONFLICTS = [
    ("PASI 28 with BSA 1% (ceiling 12)", [(FindingKey.PASI, 28.0), (FindingKey.BSA_PERCENT, 1.0)], "pasi_bsa_conflict", "mild"),
    ("BSA 40% with PASI 1", [(FindingKey.PASI, 1.0), (FindingKey.BSA_PERCENT, 40.0)], "pasi_bsa_conflict", "mild"),
    ("PGA 1 with PASI 20", [(FindingKey.PASI, 20.0), (FindingKey.PGA, 1.0), (FindingKey.BSA_PERCENT, 20.0)], "pga_pasi_conflict", "mild"),
    ("PGA 4 with PASI 1", [(FindingKey.PASI, 1.0), (FindingKey.PGA, 4.0)], "pga_pasi_conflict", "mild"),
    ("consistent severe", [(FindingKey.PASI, 18.0), (FindingKey.BSA_PERCENT, 16.0), (FindingKey.PGA, 4.0)], None, "severe"),
    ("consistent mild skin, DLQI 15 raises", [(FindingKey.PASI, 3.0), (FindingKey.BSA_PERCENT, 2.0), (FindingKey.PGA, 2.0)], None, "severe"),
]


@pytest.mark.parametrize(("label", "values", "code", "level"), CONFLICTS, ids=[c[0] for c in CONFLICTS])
def test_conflicting_measures_are_flagged_and_never_escalate(label: str, values, code: str | None, level: str) -> None:
    outcome = severity_of(make_case(*(obs(k, v) for k, v in values), obs(FindingKey.DLQI, 15.0)))
    assert outcome.severity.level == level
    assert outcome.conflict is (code is not None)
    if code:
        assert code in issue_codes(outcome)
        assert outcome.severity.confidence < 0.5


@pytest.mark.parametrize(("bsa", "ceiling"), [(1.0, 12.0), (10.0, 24.0), (30.0, 36.0), (90.0, 72.0)])
def test_pasi_ceiling_for_a_bsa(bsa: float, ceiling: float) -> None:
    from inference.reason.severity import max_pasi_for_bsa

    assert max_pasi_for_bsa(bsa) == pytest.approx(ceiling)


def test_all_stale_measures_lower_confidence() -> None:
    outcome = severity_of(make_case(obs(FindingKey.PASI, 20.0, days_ago=500), obs(FindingKey.BSA_PERCENT, 18.0, days_ago=500)))
    assert outcome.severity.level == "severe" and outcome.stale
    assert outcome.severity.confidence < 1.0


def test_empty_case_is_unknown_with_data_issues() -> None:
    outcome = severity_of(make_case())
    assert outcome.severity.level == "unknown"
    assert outcome.severity.basis == ()
    assert not outcome.severity.systemic_candidate
    assert {"no_severity_measure", "missing_bsa", "missing_pasi"} <= issue_codes(outcome)


def test_dlqi_alone_decides_but_says_so() -> None:
    outcome = severity_of(make_case(obs(FindingKey.DLQI, 15.0)))
    assert outcome.severity.level == "severe"
    assert any("no skin-extent measure" in e.statement for e in outcome.severity.basis)


DATA_ISSUES = [
    ("stale", obs(FindingKey.BSA_PERCENT, 5.0, days_ago=400), "stale_observation"),
    ("undated", obs(FindingKey.BSA_PERCENT, 5.0, days_ago=None), "undated_observation"),
    ("not a number", obs(FindingKey.BSA_PERCENT, "lots"), "non_numeric_value"),
]


@pytest.mark.parametrize(("label", "finding", "code"), DATA_ISSUES, ids=[d[0] for d in DATA_ISSUES])
def test_data_quality_issues(label: str, finding: Finding, code: str) -> None:
    outcome = severity_of(make_case(finding))
    issue = next(i for i in outcome.issues if i.code == code)
    assert issue.source_ref == "Observation/bsa_percent"


def test_newest_measure_is_used() -> None:
    outcome = severity_of(make_case(obs(FindingKey.BSA_PERCENT, 20.0, days_ago=90), obs(FindingKey.BSA_PERCENT, 2.0, days_ago=1)))
    assert outcome.severity.level == "mild"


@pytest.mark.parametrize(
    ("probabilities", "open_"),
    [({"psoriasis": 0.7, "eczema": 0.3}, False), ({"eczema": 0.6, "psoriasis": 0.4}, True), ({"tinea": 0.5, "psoriasis": 0.5}, False)],
)
def test_differential_from_photo_probabilities(probabilities: dict[str, float], open_: bool) -> None:
    outcome = severity_of(make_case(obs(FindingKey.BSA_PERCENT, 5.0)), representation(pasi=5.0, probabilities=probabilities))
    assert outcome.differential_open is open_
    assert ("differential_open" in issue_codes(outcome)) is open_
    assert isinstance(outcome.differential, Evidence)
    assert outcome.differential.rule == "severity.image.differential_open"


@pytest.mark.parametrize(("born", "flagged"), [(date(2015, 1, 1), True), (date(2008, 11, 28), True), (date(2008, 11, 27), False), (None, False)])
def test_pasi_in_children_is_flagged(born: date | None, flagged: bool) -> None:
    case = Case(PatientInfo("Patient/p1", birth_date=born), NOW, findings=(obs(FindingKey.PASI, 6.0),))
    assert ("pasi_not_validated_in_children" in issue_codes(severity_of(case))) is flagged


def test_itch_is_context_not_a_criterion() -> None:
    outcome = severity_of(make_case(obs(FindingKey.BSA_PERCENT, 1.0), obs(FindingKey.ITCH_NRS, 9.0)))
    assert outcome.severity.level == "mild"
    itch = next(e for e in outcome.severity.basis if e.source_ref == "Observation/itch_nrs")
    assert "not a severity criterion" in itch.statement


def test_every_band_and_candidacy_rule_has_a_test_row() -> None:
    doc = load_knowledge().document("severity")
    bands = {b["id"] for m in doc["measures"] for b in m["bands"]}
    assert bands == {row[-1] for row in BANDS}
    candidacy = {r["id"] for r in doc["systemic_candidate"]} - {"severity.systemic.image_head"}  # tested separately
    assert candidacy == {row[-1] for row in CANDIDATES if row[-1]}
