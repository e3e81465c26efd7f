"""DERM-Rep on hand-built readings: pooling, region fusion, PASI arithmetic and range, clinician
comparison, trend, TCM descriptors, data issues."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone

import pytest

from inference import rep
from inference.case import PASI_REGION_WEIGHTS, BodyRegion, Case, ConditionEntry, ConditionKey, Finding, FindingKey, PatientInfo
from inference.rep import DermRep, area_score, pooled_probabilities
from inference.results import AttributeScore, LesionAttributes, QualityReport, RecResult

NOW = datetime(2026, 11, 13, 10, 0, tzinfo=timezone.utc)
EARLIER = NOW - timedelta(days=91)
PSO = {"psoriasis": 0.8, "eczema": 0.15, "other": 0.05}


def _attrs(e: float, i: float, d: float, area: float, colour: str = "bright_red", conf: float = 0.9) -> LesionAttributes:
    return LesionAttributes(
        erythema=AttributeScore(e, conf),
        scale=AttributeScore(d, conf),
        thickness=AttributeScore(i, conf),
        area_fraction=AttributeScore(area, conf),
        colour_class=colour,
        colour_confidence=0.8,
    )


def _reading(
    ref: str,
    region: BodyRegion,
    attrs: LesionAttributes | None,
    taken: datetime | None = NOW,
    probabilities: dict[str, float] | None = None,
    quality: QualityReport | None = None,
) -> RecResult:
    return RecResult(
        photo_ref=ref,
        quality=quality or QualityReport(usable=attrs is not None, reasons=() if attrs else ("image is blurred: retake",)),
        probabilities=(probabilities or PSO) if attrs else {},
        attributes=attrs,
        model_version="m-1",
        region=region,
        taken=taken,
    )


def _case(*findings: Finding, conditions: tuple[ConditionEntry, ...] = ()) -> Case:
    return Case(patient=PatientInfo(ref="Patient/1"), as_of=NOW, findings=findings, conditions=conditions)


ALL_REGIONS = [
    _reading("Media/h", BodyRegion.HEAD, _attrs(2, 1, 2, 0.05)),  # area score 1
    _reading("Media/u", BodyRegion.UPPER_LIMBS, _attrs(2, 2, 2, 0.2)),  # 2
    _reading("Media/t", BodyRegion.TRUNK, _attrs(3, 2, 3, 0.4)),  # 3
    _reading("Media/l", BodyRegion.LOWER_LIMBS, _attrs(2, 2, 1, 0.6)),  # 4
]
# 0.1*5*1 + 0.2*6*2 + 0.3*8*3 + 0.4*5*4
ALL_REGIONS_PASI = 0.5 + 2.4 + 7.2 + 8.0


@pytest.mark.parametrize(
    ("fraction", "score"),
    [(0.0, 0), (0.004, 0), (0.05, 1), (0.0999, 1), (0.10, 2), (0.29, 2), (0.30, 3), (0.5, 4), (0.7, 5), (0.89, 5), (0.9, 6), (1.0, 6)],
)
def test_area_score_bins(fraction: float, score: int) -> None:
    assert area_score(fraction) == score


def test_pooled_probabilities_is_renormalised_geometric_mean() -> None:
    a = _reading("Media/1", BodyRegion.TRUNK, _attrs(1, 1, 1, 0.1), probabilities={"psoriasis": 0.9, "eczema": 0.1})
    b = _reading("Media/2", BodyRegion.TRUNK, _attrs(1, 1, 1, 0.1), probabilities={"psoriasis": 0.4, "eczema": 0.6})
    pooled = pooled_probabilities([a, b])
    gp, ge = math.sqrt(0.9 * 0.4), math.sqrt(0.1 * 0.6)
    assert pooled["psoriasis"] == pytest.approx(gp / (gp + ge))
    assert sum(pooled.values()) == pytest.approx(1.0)


def test_one_hard_zero_does_not_veto_a_class() -> None:
    a = _reading("Media/1", BodyRegion.TRUNK, _attrs(1, 1, 1, 0.1), probabilities={"psoriasis": 0.0, "eczema": 1.0})
    b = _reading("Media/2", BodyRegion.TRUNK, _attrs(1, 1, 1, 0.1), probabilities={"psoriasis": 0.99, "eczema": 0.01})
    assert pooled_probabilities([a, b])["psoriasis"] > 0.0


def test_pasi_arithmetic_with_all_regions() -> None:
    result = DermRep().represent(_case(), ALL_REGIONS)
    assert result.pasi is not None
    assert result.pasi.value == pytest.approx(ALL_REGIONS_PASI)
    assert result.pasi.low <= result.pasi.value <= result.pasi.high
    assert result.pasi.regions_seen == (BodyRegion.HEAD, BodyRegion.UPPER_LIMBS, BodyRegion.TRUNK, BodyRegion.LOWER_LIMBS)
    trunk = next(r for r in result.regions if r.region is BodyRegion.TRUNK)
    assert (trunk.erythema, trunk.induration, trunk.desquamation, trunk.area_score) == (3, 2, 3, 3)
    assert trunk.photo_refs == ("Media/t",)


def test_views_of_one_region_are_confidence_weighted() -> None:
    readings = [
        _reading("Media/1", BodyRegion.TRUNK, _attrs(4, 2, 2, 0.2, conf=0.9)),
        _reading("Media/2", BodyRegion.TRUNK, _attrs(1, 2, 2, 0.2, conf=0.3)),
    ]
    (trunk,) = DermRep().represent(_case(), readings).regions
    assert trunk.erythema == pytest.approx((4 * 0.9 + 1 * 0.3) / 1.2, abs=0.01)
    assert trunk.photo_refs == ("Media/1", "Media/2")


def test_low_confidence_widens_the_range() -> None:
    confident = DermRep().represent(_case(), [_reading("Media/1", BodyRegion.TRUNK, _attrs(2, 2, 2, 0.2, conf=0.9))])
    unsure = DermRep().represent(_case(), [_reading("Media/1", BodyRegion.TRUNK, _attrs(2, 2, 2, 0.2, conf=0.2))])
    assert confident.pasi and unsure.pasi
    assert confident.pasi.value == unsure.pasi.value
    assert unsure.pasi.high - unsure.pasi.low > confident.pasi.high - confident.pasi.low


def test_regions_without_photos_widen_only_the_upper_bound() -> None:
    trunk_only = DermRep().represent(_case(), [ALL_REGIONS[2]]).pasi
    everything = DermRep().represent(_case(), ALL_REGIONS).pasi
    assert trunk_only and everything
    assert trunk_only.value == pytest.approx(7.2)
    assert trunk_only.regions_seen == (BodyRegion.TRUNK,)
    # trunk alone: head/limbs may be as bad as the trunk -> upper bound well above the point value
    assert trunk_only.high > 3 * trunk_only.value
    assert any("no photos of head, upper limbs, lower limbs" in e.statement for e in trunk_only.evidence)


def test_unknown_region_is_counted_at_mean_weight_of_unphotographed_regions() -> None:
    readings = [ALL_REGIONS[2], _reading("Media/x", BodyRegion.UNKNOWN, _attrs(2, 2, 2, 0.2))]
    result = DermRep().represent(_case(), readings)
    assert result.pasi is not None
    # trunk 7.2 + mean(0.1, 0.2, 0.4) * 6 * 2
    assert result.pasi.value == pytest.approx(7.2 + (0.7 / 3) * 12)
    assert BodyRegion.UNKNOWN not in result.pasi.regions_seen
    assert any(r.region is BodyRegion.UNKNOWN for r in result.regions)
    assert any(i.code == "photo_region_unknown" and i.source_ref == "Media/x" for i in result.issues)


def test_unknown_region_not_added_when_all_regions_seen() -> None:
    readings = ALL_REGIONS + [_reading("Media/x", BodyRegion.UNKNOWN, _attrs(4, 4, 4, 0.9))]
    assert DermRep().represent(_case(), readings).pasi.value == pytest.approx(ALL_REGIONS_PASI)  # type: ignore[union-attr]


def test_clinician_pasi_is_kept_and_discrepancy_shown() -> None:
    clinician = Finding(FindingKey.PASI, 12.0, "Observation/7", effective=NOW - timedelta(days=1))
    pasi = DermRep().represent(_case(clinician), ALL_REGIONS).pasi
    assert pasi is not None
    assert pasi.clinician_value == 12.0
    assert pasi.clinician_ref == "Observation/7"
    assert pasi.discrepancy == pytest.approx(ALL_REGIONS_PASI - 12.0)
    assert any(e.source_ref == "Observation/7" and "is kept" in e.statement for e in pasi.evidence)


def test_trend_against_earlier_photos() -> None:
    earlier = [
        _reading("Media/t0", BodyRegion.TRUNK, _attrs(4, 3, 4, 0.6), taken=EARLIER),
        _reading("Media/l0", BodyRegion.LOWER_LIMBS, _attrs(3, 3, 3, 0.6), taken=EARLIER + timedelta(minutes=5)),
    ]
    result = DermRep().represent(_case(), ALL_REGIONS + earlier)
    trend = result.trend
    assert trend.direction == "improving"
    assert trend.baseline_date == EARLIER
    # comparable regions only (trunk, lower limbs): baseline 0.3*11*4 + 0.4*9*4, now 7.2 + 8.0
    assert trend.baseline_value == pytest.approx(13.2 + 14.4)
    assert trend.current_value == pytest.approx(15.2)
    assert trend.percent_change == pytest.approx(100 * (15.2 - 27.6) / 27.6, abs=0.1)
    # earlier photos feed the trend, not the current PASI
    assert result.pasi.value == pytest.approx(ALL_REGIONS_PASI)  # type: ignore[union-attr]
    assert [r.photo_ref for r in result.photos][:4] == ["Media/h", "Media/u", "Media/t", "Media/l"]
    assert result.photos[-1].photo_ref == "Media/t0"


@pytest.mark.parametrize(
    ("before", "after", "direction"),
    [((1, 1, 1, 0.2), (3, 3, 3, 0.6), "worsening"), ((2, 2, 2, 0.2), (2, 2, 2, 0.2), "stable"), ((3, 3, 3, 0.6), (1, 1, 1, 0.05), "improving")],
)
def test_trend_direction(before: tuple[float, ...], after: tuple[float, ...], direction: str) -> None:
    readings = [
        _reading("Media/0", BodyRegion.TRUNK, _attrs(*before), taken=EARLIER),
        _reading("Media/1", BodyRegion.TRUNK, _attrs(*after)),
    ]
    assert DermRep().represent(_case(), readings).trend.direction == direction


def test_trend_falls_back_to_clinician_pasi_history() -> None:
    history = (
        Finding(FindingKey.PASI, 20.0, "Observation/1", effective=EARLIER),
        Finding(FindingKey.PASI, 8.0, "Observation/2", effective=NOW),
    )
    trend = DermRep().represent(_case(*history), ALL_REGIONS).trend
    assert trend.direction == "improving"
    assert trend.percent_change == pytest.approx(-60.0)


def test_trend_unknown_without_history() -> None:
    assert DermRep().represent(_case(), ALL_REGIONS).trend.direction == "unknown"


def test_probabilities_come_from_the_current_visit_only() -> None:
    old = _reading("Media/0", BodyRegion.TRUNK, _attrs(2, 2, 2, 0.2), taken=EARLIER, probabilities={"psoriasis": 0.01, "eczema": 0.99})
    now = _reading("Media/1", BodyRegion.TRUNK, _attrs(2, 2, 2, 0.2), probabilities={"psoriasis": 0.9, "eczema": 0.1})
    assert DermRep().represent(_case(), [old, now]).probabilities["psoriasis"] == pytest.approx(0.9)


def test_tcm_descriptors_cover_all_keys_with_evidence() -> None:
    readings = [
        _reading("Media/1", BodyRegion.TRUNK, _attrs(3.5, 3.5, 3.5, 0.4, colour="dark_red_purple")),
        _reading("Media/2", BodyRegion.LOWER_LIMBS, _attrs(3.0, 3.5, 3.5, 0.4, colour="dark_red_purple")),
    ]
    onset = Finding(FindingKey.LESION_ONSET, "long_standing", "Observation/9")
    result = DermRep().represent(_case(onset), readings)
    expected = {"bright_red", "pale_red", "dark_red_purple", "thick_scale", "fine_dry_scale", "thick_plaque",
                "new_spreading", "long_standing", "exudative", "pustular"}  # fmt: skip
    assert set(result.tcm_descriptors) == expected
    assert all(0.0 <= v <= 1.0 for v in result.tcm_descriptors.values())
    assert set(result.descriptor_evidence) == expected
    d = result.tcm_descriptors
    assert d["dark_red_purple"] > 0.5 and d["bright_red"] == 0.0
    assert d["thick_scale"] > d["fine_dry_scale"]
    assert d["long_standing"] >= 0.8
    assert {e.source_ref for e in result.descriptor_evidence["dark_red_purple"]} == {"Media/1", "Media/2"}
    assert "not assessed" in result.descriptor_evidence["pustular"][0].statement


def test_long_standing_from_condition_onset_and_new_spreading_from_trend() -> None:
    condition = ConditionEntry(ConditionKey.PSORIASIS, "Psoriasis", "Condition/1", onset=date(2020, 1, 1))
    readings = [
        _reading("Media/0", BodyRegion.TRUNK, _attrs(1, 1, 1, 0.05), taken=EARLIER),
        _reading("Media/1", BodyRegion.TRUNK, _attrs(3, 3, 3, 0.5)),
    ]
    d = DermRep().represent(_case(conditions=(condition,)), readings).tcm_descriptors
    assert d["long_standing"] > 0.5
    assert d["new_spreading"] > 0.5


def test_issues_for_unusable_undated_and_nothing_usable() -> None:
    readings = [
        _reading("Media/1", BodyRegion.TRUNK, _attrs(2, 2, 2, 0.2)),
        _reading("Media/2", BodyRegion.TRUNK, None),
        _reading("Media/3", BodyRegion.TRUNK, _attrs(2, 2, 2, 0.2), taken=None),
    ]
    result = DermRep().represent(_case(), readings)
    codes = {(i.code, i.source_ref) for i in result.issues}
    assert ("photo_unusable", "Media/2") in codes
    assert ("photo_undated", "Media/3") in codes
    unusable = next(i for i in result.issues if i.code == "photo_unusable")
    assert "blurred" in unusable.message

    nothing = DermRep().represent(_case(), [_reading("Media/2", BodyRegion.TRUNK, None)])
    assert nothing.pasi is None and nothing.probabilities == {} and nothing.regions == ()
    assert any(i.code == "no_usable_photos" for i in nothing.issues)


def test_uncertain_photo_is_flagged() -> None:
    quality = QualityReport(usable=True, reasons=("note: classification uncertain",), metrics={"uncertain": 1.0})
    result = DermRep().represent(_case(), [_reading("Media/1", BodyRegion.TRUNK, _attrs(2, 2, 2, 0.2), quality=quality)])
    assert any(i.code == "photo_classification_uncertain" for i in result.issues)


def test_visit_window() -> None:
    readings = [
        _reading("Media/1", BodyRegion.TRUNK, _attrs(2, 2, 2, 0.2)),
        _reading("Media/2", BodyRegion.HEAD, _attrs(2, 2, 2, 0.2), taken=NOW - rep.VISIT_WINDOW + timedelta(minutes=1)),
        _reading("Media/3", BodyRegion.LOWER_LIMBS, _attrs(2, 2, 2, 0.2), taken=NOW - rep.VISIT_WINDOW - timedelta(minutes=1)),
    ]
    assert DermRep().represent(_case(), readings).pasi.regions_seen == (BodyRegion.HEAD, BodyRegion.TRUNK)  # type: ignore[union-attr]


def test_deterministic() -> None:
    readings = ALL_REGIONS + [_reading("Media/0", BodyRegion.TRUNK, _attrs(3, 3, 3, 0.5), taken=EARLIER)]
    assert DermRep().represent(_case(), readings) == DermRep().represent(_case(), readings)


def test_golden_demo_patient_end_to_end() -> None:
    """DERM-Rec + DERM-Rep on the committed synthetic demo patient (two visits, four regions)."""
    import json
    from pathlib import Path

    from rec_support import StubClassifier

    from inference.case import Photo
    from inference.rec import DermRec

    demo = Path(__file__).resolve().parents[2] / "inference" / "demo_images"
    truth = json.loads((demo / "ground_truth.json").read_text(encoding="utf-8"))
    photos = [
        Photo(ref=f"Media/{name}", data=(demo / name).read_bytes(), region=BodyRegion(t["region"]),
              taken=datetime.fromisoformat(t["taken"]))
        for name, t in truth.items()
    ]  # fmt: skip

    def true_pasi(day: str) -> float:
        return sum(
            PASI_REGION_WEIGHTS[BodyRegion(t["region"])] * (t["erythema"] + t["thickness"] + t["scale"]) * area_score(t["area_fraction"])
            for t in truth.values()
            if t["taken"].startswith(day)
        )

    result = DermRep().represent(_case(), DermRec(StubClassifier()).read(photos))
    assert result.pasi is not None
    assert len(result.pasi.regions_seen) == 4
    assert result.pasi.value == pytest.approx(true_pasi("2026-11-13"), abs=2.0)
    assert result.pasi.low <= true_pasi("2026-11-13") <= result.pasi.high
    assert result.trend.direction == "improving"
    assert result.trend.baseline_value == pytest.approx(true_pasi("2026-08-14"), rel=0.2)
    assert result.tcm_descriptors["bright_red"] > result.tcm_descriptors["dark_red_purple"]
    assert result.issues == ()


def test_naive_photo_dates_are_read_as_utc() -> None:
    readings = [
        _reading("Media/1", BodyRegion.TRUNK, _attrs(2, 2, 2, 0.2)),
        _reading("Media/0", BodyRegion.TRUNK, _attrs(3, 3, 3, 0.5), taken=EARLIER.replace(tzinfo=None)),
    ]
    assert DermRep().represent(_case(), readings).trend.direction == "improving"
