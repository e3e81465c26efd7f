"""DERM-Rep: fuse one patient's photo readings into a patient-level lesion representation.

- Visits: photos within VISIT_WINDOW of the newest usable dated photo form the current visit
  (undated photos are assumed to belong to it, with a data issue); earlier photos feed the trend.
- Condition probabilities: geometric mean of the current visit's per-photo probabilities (mean of
  log-probabilities, renormalised), so that several views vote and one confident photo does not
  decide alone.
- Regions: per PASI body region, confidence-weighted means of the photos' E, I, D and lesion area;
  the PASI estimate sums weight x (E + I + D) x area score over photographed regions, with a range
  that widens with low attribute confidence and with regions that have no photo (and photos whose
  region is unknown). The clinician-entered PASI, when present, is kept and the discrepancy shown.
- TCM lesion descriptors (colour, scale, plaque thickness, course) with their evidence.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from inference.case import PASI_REGION_WEIGHTS, BodyRegion, Case, ConditionKey, DataIssue, Finding, FindingKey
from inference.morphology import fuse_morphology
from inference.results import (
    Evidence,
    Morphology,
    PasiEstimate,
    PatientRepresentation,
    RecResult,
    RegionFinding,
    Trend,
    TrendDirection,
)
from inference.i18n import t, tjoin

# Photos taken within this time of the newest photo belong to the same (current) visit.
VISIT_WINDOW = timedelta(hours=24)
# Probabilities are floored before taking logs so that one photo's hard zero cannot veto a class.
PROBABILITY_FLOOR = 1e-6
# PASI area score bins (clinical.md): 0 none, 1 <10 %, 2 10-<30 %, 3 30-<50 %, 4 50-<70 %,
# 5 70-<90 %, 6 90-100 %. A fraction below NO_LESION_FRACTION counts as none.
AREA_SCORE_LOWER_BOUNDS = (0.10, 0.30, 0.50, 0.70, 0.90)
NO_LESION_FRACTION = 0.005
# Uncertainty of one fused 0-4 component: +/- (MIN + SCALE x (1 - confidence)). A confident
# erythema (0.9) gets +/- 0.4, the weak thickness proxy (0.25) about +/- 1.4.
COMPONENT_SPREAD_MIN = 0.25
COMPONENT_SPREAD_SCALE = 1.5
# Uncertainty of a fused area fraction: +/- (MIN + SCALE x (1 - confidence)).
AREA_SPREAD_MIN = 0.05
AREA_SPREAD_SCALE = 0.25
# Each extra view of a region raises its confidence by this share, up to MAX_REGION_CONFIDENCE.
VIEW_CONFIDENCE_GAIN = 0.25
MAX_REGION_CONFIDENCE = 0.95
# Trend: relative change of the comparable photo score that counts as a change (PASI 50 is the
# smallest response commonly called clinically meaningful; 25 % flags a drift worth a look), and
# an absolute floor under which a change is noise.
TREND_RELATIVE_CHANGE = 0.25
TREND_MIN_ABSOLUTE_CHANGE = 0.5
# A course of a year or more reads as long-standing.
LONG_STANDING = timedelta(days=365)

_PASI_REGIONS = tuple(PASI_REGION_WEIGHTS)
_MEAN_REGION_WEIGHT = sum(PASI_REGION_WEIGHTS.values()) / len(PASI_REGION_WEIGHTS)
_COLOUR_DESCRIPTORS = ("bright_red", "pale_red", "dark_red_purple")
_COLOUR_WORDS = {"bright_red": t("bright red"), "pale_red": t("pale red"), "dark_red_purple": t("dark red to purple")}


def area_score(fraction: float) -> int:
    """PASI area score 0-6 for an involved fraction 0-1."""
    if fraction < NO_LESION_FRACTION:
        return 0
    return 1 + sum(fraction >= bound for bound in AREA_SCORE_LOWER_BOUNDS)


def pooled_probabilities(readings: Sequence[RecResult]) -> dict[str, float]:
    """Renormalised geometric mean of the readings' class probabilities (classes seen in all)."""
    rows = [r.probabilities for r in readings if r.probabilities]
    if not rows:
        return {}
    classes = sorted(set.intersection(*(set(row) for row in rows)))
    if not classes:
        return {}
    logs = {c: sum(math.log(max(row[c], PROBABILITY_FLOOR)) for row in rows) / len(rows) for c in classes}
    top = max(logs.values())
    unnormalised = {c: math.exp(v - top) for c, v in logs.items()}
    total = sum(unnormalised.values())
    return {c: unnormalised[c] / total for c in classes}


@dataclass(frozen=True)
class _Fused:
    """Confidence-weighted components of a set of readings, with their spreads."""

    region: BodyRegion
    erythema: float
    induration: float
    desquamation: float
    area_fraction: float
    confidences: tuple[float, float, float, float]  # E, I, D, area
    refs: tuple[str, ...]

    @property
    def severity(self) -> float:
        return self.erythema + self.induration + self.desquamation

    @property
    def confidence(self) -> float:
        return sum(self.confidences) / 4.0

    def severity_range(self) -> tuple[float, float]:
        low = high = 0.0
        for value, conf in zip((self.erythema, self.induration, self.desquamation), self.confidences[:3], strict=True):
            spread = COMPONENT_SPREAD_MIN + COMPONENT_SPREAD_SCALE * (1.0 - conf)
            low += min(4.0, max(0.0, value - spread))
            high += min(4.0, max(0.0, value + spread))
        return low, high

    def area_range(self) -> tuple[int, int]:
        spread = AREA_SPREAD_MIN + AREA_SPREAD_SCALE * (1.0 - self.confidences[3])
        return area_score(max(0.0, self.area_fraction - spread)), area_score(min(1.0, self.area_fraction + spread))

    def finding(self) -> RegionFinding:
        return RegionFinding(
            region=self.region,
            erythema=round(self.erythema, 2),
            induration=round(self.induration, 2),
            desquamation=round(self.desquamation, 2),
            area_score=area_score(self.area_fraction),
            area_fraction=round(self.area_fraction, 4),
            photo_refs=self.refs,
            confidence=round(self.confidence, 3),
        )


def _weighted(values: Iterable[tuple[float, float]]) -> tuple[float, float]:
    """Confidence-weighted mean and the fused confidence (mean, raised by extra views)."""
    pairs = list(values)
    total = sum(max(c, 1e-3) for _, c in pairs)
    mean = sum(v * max(c, 1e-3) for v, c in pairs) / total
    conf = sum(c for _, c in pairs) / len(pairs)
    conf = min(MAX_REGION_CONFIDENCE, conf * (1.0 + VIEW_CONFIDENCE_GAIN * (len(pairs) - 1)))
    return mean, conf


def _fuse(region: BodyRegion, readings: Sequence[RecResult]) -> _Fused:
    attrs = [r.attributes for r in readings if r.attributes is not None]
    e, ce = _weighted((a.erythema.value, a.erythema.confidence) for a in attrs)
    i, ci = _weighted((a.thickness.value, a.thickness.confidence) for a in attrs)
    d, cd = _weighted((a.scale.value, a.scale.confidence) for a in attrs)
    f, cf = _weighted((a.area_fraction.value, a.area_fraction.confidence) for a in attrs)
    return _Fused(region, e, i, d, f, (ce, ci, cd, cf), tuple(r.photo_ref for r in readings))


def _fmt_date(when: datetime | None) -> str:
    return when.date().isoformat() if when else "undated"


def _region_name(region: BodyRegion) -> str:
    return region.value.replace("_", " ")


@dataclass(frozen=True)
class _Visits:
    current: tuple[RecResult, ...]
    earlier: tuple[RecResult, ...]
    current_start: datetime | None


def _split_visits(usable: Sequence[RecResult]) -> _Visits:
    dated = [r for r in usable if r.taken is not None]
    if not dated:
        return _Visits(tuple(usable), (), None)
    newest = max(r.taken for r in dated)  # type: ignore[type-var]
    start = newest - VISIT_WINDOW
    current = tuple(r for r in usable if r.taken is None or r.taken >= start)
    earlier = tuple(r for r in dated if r.taken < start)  # type: ignore[operator]
    return _Visits(current, earlier, start)


def _by_region(readings: Sequence[RecResult]) -> dict[BodyRegion, _Fused]:
    groups: dict[BodyRegion, list[RecResult]] = {}
    for r in readings:
        groups.setdefault(r.region, []).append(r)
    order = {region: n for n, region in enumerate(BodyRegion)}
    return {region: _fuse(region, groups[region]) for region in sorted(groups, key=order.__getitem__)}


def _numeric(finding: Finding | None) -> float | None:
    if finding is None or isinstance(finding.value, bool) or not isinstance(finding.value, (int, float)):
        return None
    return float(finding.value)


def _pasi(fused: dict[BodyRegion, _Fused], clinician: Finding | None) -> PasiEstimate:
    evidence: list[Evidence] = []
    value = low = high = 0.0
    seen = tuple(r for r in _PASI_REGIONS if r in fused)
    unseen = [r for r in _PASI_REGIONS if r not in fused]
    for region in seen:
        f = fused[region]
        weight = PASI_REGION_WEIGHTS[region]
        s_low, s_high = f.severity_range()
        a_low, a_high = f.area_range()
        contribution = weight * f.severity * area_score(f.area_fraction)
        value += contribution
        low += weight * s_low * a_low
        high += weight * s_high * a_high
        evidence.append(
            Evidence(
                statement=(
                    t("{region_name}: E {erythema:.1f} + I {induration:.1f} + D {desquamation:.1f}, lesion {value:.0f}% of visible skin (area score {area_score}) -> {weight} x {severity:.1f} x {area_score} = {contribution:.1f} (from {count} photo{value2})", region_name=_region_name(region), erythema=f.erythema, induration=f.induration, desquamation=f.desquamation, value=100 * f.area_fraction, area_score=area_score(f.area_fraction), weight=weight, severity=f.severity, contribution=contribution, count=len(f.refs), value2='s' if len(f.refs) != 1 else '')
                ),
                source_ref=f.refs[0] if len(f.refs) == 1 else None,
            )
        )

    unknown = fused.get(BodyRegion.UNKNOWN)
    if unknown is not None:
        s_low, s_high = unknown.severity_range()
        a_low, a_high = unknown.area_range()
        if unseen:
            weights = [PASI_REGION_WEIGHTS[r] for r in unseen]
            # The photos show some region we do not know: the point estimate uses the mean weight
            # of the regions without photos, the range the lightest and the heaviest of them.
            heaviest = max(unseen, key=PASI_REGION_WEIGHTS.__getitem__)
            value += sum(weights) / len(weights) * unknown.severity * area_score(unknown.area_fraction)
            low += min(weights) * s_low * a_low
            high += PASI_REGION_WEIGHTS[heaviest] * s_high * a_high
            unseen.remove(heaviest)
            evidence.append(
                Evidence(
                    statement=(
                        t("{count} photo(s) without a mapped body site (E+I+D {severity:.1f}, area score {area_score}) counted as one region without photos, at the mean weight {value:.2f} of those regions", count=len(unknown.refs), severity=unknown.severity, area_score=area_score(unknown.area_fraction), value=sum(weights) / len(weights))
                    )
                )
            )
        else:
            evidence.append(
                Evidence(
                    statement=t("{count} photo(s) without a mapped body site not added: all four regions have photos", count=len(unknown.refs))
                )
            )
    if unseen:
        # Regions nobody photographed: not in the point estimate; the upper bound assumes they
        # could be as involved as the worst photographed region (the lower bound assumes clear).
        worst = max(fused.values(), key=lambda f: f.severity_range()[1] * f.area_range()[1])
        w_high = worst.severity_range()[1] * worst.area_range()[1]
        high += sum(PASI_REGION_WEIGHTS[r] for r in unseen) * w_high
        evidence.append(
            Evidence(
                statement=(
                    t("no photos of {items}: not in the estimate; the upper bound assumes they could be as involved as the worst photographed region", items=tjoin(", ", (_region_name(r) for r in unseen)))
                )
            )
        )
    evidence.append(
        Evidence(
            statement=(
                t("photo-based estimate: area is the share of the photographed skin, not of the whole region, and induration is a weak photographic proxy; a clinician's PASI takes precedence")
            )
        )
    )
    value = min(72.0, value)
    low = min(value, low)
    high = min(72.0, max(value, high))

    clinician_value = _numeric(clinician)
    discrepancy = None
    if clinician is not None and clinician_value is not None:
        discrepancy = round(value - clinician_value, 2)
        outside = not (low <= clinician_value <= high)
        evidence.append(
            Evidence(
                statement=(
                    t("clinician-entered PASI {clinician_value:g} ({source_ref}, {fmt_date}) is kept; the photo estimate {value:.1f} (range {low:.1f}-{high:.1f}) differs by {discrepancy:+.1f}", clinician_value=clinician_value, source_ref=clinician.source_ref, fmt_date=_fmt_date(clinician.effective), value=value, low=low, high=high, discrepancy=discrepancy)
                    + (t("; the clinician value lies outside the photo range") if outside else "")
                ),
                source_ref=clinician.source_ref,
            )
        )
    return PasiEstimate(
        value=round(value, 2),
        low=round(low, 2),
        high=round(high, 2),
        regions_seen=seen,
        clinician_value=clinician_value,
        clinician_ref=clinician.source_ref if clinician is not None and clinician_value is not None else None,
        discrepancy=discrepancy,
        evidence=tuple(evidence),
    )


def _photo_score(fused: dict[BodyRegion, _Fused], regions: Iterable[BodyRegion]) -> float:
    """PASI-like score over the given regions (unknown-site photos at the mean region weight)."""
    total = 0.0
    for region in regions:
        f = fused[region]
        weight = PASI_REGION_WEIGHTS.get(region, _MEAN_REGION_WEIGHT)
        total += weight * f.severity * area_score(f.area_fraction)
    return total


def _direction(baseline: float, current: float) -> tuple[TrendDirection, float | None]:
    change = current - baseline
    percent = 100.0 * change / baseline if baseline > 0 else None
    if abs(change) < TREND_MIN_ABSOLUTE_CHANGE:
        return TrendDirection.STABLE, percent
    if baseline <= 0:
        return TrendDirection.WORSENING, percent
    if change <= -TREND_RELATIVE_CHANGE * baseline:
        return TrendDirection.IMPROVING, percent
    if change >= TREND_RELATIVE_CHANGE * baseline:
        return TrendDirection.WORSENING, percent
    return TrendDirection.STABLE, percent


def _trend(case: Case, current: Sequence[RecResult], earlier: Sequence[RecResult]) -> Trend:
    if earlier and current:
        first = min(r.taken for r in earlier)  # type: ignore[type-var]
        baseline_readings = [r for r in earlier if r.taken <= first + VISIT_WINDOW]  # type: ignore[operator]
        base_fused = _by_region(baseline_readings)
        cur_fused = _by_region(current)
        common = [r for r in BodyRegion if r in base_fused and r in cur_fused]
        if common:
            base_value = _photo_score(base_fused, common)
            cur_value = _photo_score(cur_fused, common)
            basis = t("photo PASI over the regions photographed at both visits ({items})", items=tjoin(", ", (_region_name(r) for r in common)))
        else:
            # No region in common: compare the unweighted mean severity x area of all views.
            base_value = sum(f.severity * area_score(f.area_fraction) for f in base_fused.values()) / len(base_fused)
            cur_value = sum(f.severity * area_score(f.area_fraction) for f in cur_fused.values()) / len(cur_fused)
            basis = t("mean photo severity x area score (no body region photographed at both visits: low confidence)")
        direction, percent = _direction(base_value, cur_value)
        return Trend(
            direction=direction,
            baseline_value=round(base_value, 2),
            baseline_date=first,
            current_value=round(cur_value, 2),
            percent_change=None if percent is None else round(percent, 1),
            evidence=(
                Evidence(
                    statement=(
                        t("{basis}: {base_value:.1f} on {fmt_date} ({count} photos) -> {cur_value:.1f} now ({count2} photos)", basis=basis, base_value=base_value, fmt_date=_fmt_date(first), count=len(baseline_readings), cur_value=cur_value, count2=len(current))
                    )
                ),
            ),
        )
    history = case.history(FindingKey.PASI)
    numeric = [(f, _numeric(f)) for f in history if _numeric(f) is not None]
    if len(numeric) >= 2:
        (first_f, base_value), (last_f, cur_value) = numeric[0], numeric[-1]
        direction, percent = _direction(base_value, cur_value)  # type: ignore[arg-type]
        return Trend(
            direction=direction,
            baseline_value=base_value,
            baseline_date=first_f.effective,
            current_value=cur_value,
            percent_change=None if percent is None else round(percent, 1),
            evidence=(
                Evidence(
                    statement=(
                        t("clinician PASI {base_value:g} ({fmt_date}) -> {cur_value:g} ({fmt_date2}); no earlier photos to compare", base_value=base_value, fmt_date=_fmt_date(first_f.effective), cur_value=cur_value, fmt_date2=_fmt_date(last_f.effective))
                    ),
                    source_ref=last_f.source_ref,
                ),
            ),
        )
    return Trend(direction=TrendDirection.UNKNOWN, evidence=(Evidence(statement=t("no earlier photos or PASI values to compare with")),))


def _clip01(x: float) -> float:
    return max(0.0, min(1.0, x))


def _descriptors(
    case: Case,
    current: Sequence[RecResult],
    visits: _Visits,
    trend: Trend,
    probabilities: dict[str, float],
    morphology: Morphology | None = None,
) -> tuple[dict[str, float], dict[str, tuple[Evidence, ...]]]:
    scores: dict[str, float] = {}
    evidence: dict[str, list[Evidence]] = {}
    attrs = [(r, r.attributes) for r in current if r.attributes is not None]
    n = len(attrs)

    for key in _COLOUR_DESCRIPTORS:
        votes = [(r, a) for r, a in attrs if a.colour_class == key]
        scores[key] = round(sum(a.colour_confidence for _, a in votes) / n, 3) if n else 0.0
        evidence[key] = [
            Evidence(
                statement=(
                    t("{_COLOUR_WORDS} lesion (erythema {value:.1f}/4, colour confidence {colour_confidence:.2f})", _COLOUR_WORDS=_COLOUR_WORDS[key], value=a.erythema.value, colour_confidence=a.colour_confidence)
                ),
                source_ref=r.photo_ref,
            )
            for r, a in votes
        ]

    if n:
        d, cd = _weighted((a.scale.value, a.scale.confidence) for _, a in attrs)
        i, ci = _weighted((a.thickness.value, a.thickness.confidence) for _, a in attrs)
        scores["thick_scale"] = round(_clip01((d - 1.5) / 2.0) * cd, 3)
        scores["fine_dry_scale"] = round(_clip01(1.0 - abs(d - 1.25) / 1.0) * cd, 3)
        scores["thick_plaque"] = round(_clip01((i - 1.5) / 2.0) * ci, 3)
        scale_ev = Evidence(statement=t("desquamation {d:.1f}/4 over {n} photo(s), confidence {cd:.2f}", d=d, n=n, cd=cd))
        evidence["thick_scale"] = [scale_ev]
        evidence["fine_dry_scale"] = [
            scale_ev,
            Evidence(statement=t("dryness itself is not measurable from a photo; fine scale only")),
        ]
        evidence["thick_plaque"] = [
            Evidence(statement=t("induration {i:.1f}/4 (weak photographic proxy, confidence {ci:.2f}): confirm by palpation", i=i, ci=ci))
        ]
    else:
        for key in ("thick_scale", "fine_dry_scale", "thick_plaque"):
            scores[key] = 0.0
            evidence[key] = [Evidence(statement=t("no usable photo of the current visit"))]

    onset = case.latest(FindingKey.LESION_ONSET)
    onset_value = onset.value if onset is not None and isinstance(onset.value, str) else None
    new_score = 0.0
    new_ev: list[Evidence] = []
    if trend.direction == TrendDirection.WORSENING and trend.percent_change is not None:
        new_score = _clip01(trend.percent_change / 100.0)
        new_ev.extend(trend.evidence)
    elif trend.direction == TrendDirection.WORSENING:
        new_score = 0.5
        new_ev.extend(trend.evidence)
    if onset_value == "new_spreading":
        new_score = max(new_score, 0.8)
        new_ev.append(Evidence(statement=t("lesion onset recorded as new/spreading"), source_ref=onset.source_ref))  # type: ignore[union-attr]
    scores["new_spreading"] = round(new_score, 3)
    evidence["new_spreading"] = new_ev or [Evidence(statement=t("no sign of new or spreading lesions in the record or photos"))]

    long_score = 0.0
    long_ev: list[Evidence] = []
    if onset_value == "long_standing":
        long_score = 0.8
        long_ev.append(Evidence(statement=t("lesion course recorded as long-standing"), source_ref=onset.source_ref))  # type: ignore[union-attr]
    if visits.earlier and visits.current_start is not None:
        first = min(r.taken for r in visits.earlier)  # type: ignore[type-var]
        if visits.current_start + VISIT_WINDOW - first >= LONG_STANDING:
            long_score = max(long_score, 0.6)
            long_ev.append(Evidence(statement=t("lesions photographed since {fmt_date} (over a year)", fmt_date=_fmt_date(first))))
    for condition in case.conditions:
        onset_date = condition.onset
        if condition.key is ConditionKey.PSORIASIS and condition.active and onset_date is not None \
                and case.as_of.date() - onset_date >= LONG_STANDING:  # fmt: skip
            long_score = max(long_score, 0.6)
            long_ev.append(
                Evidence(statement=t("psoriasis recorded since {date}", date=onset_date.isoformat()), source_ref=condition.source_ref)
            )
    scores["long_standing"] = round(long_score, 3)
    evidence["long_standing"] = long_ev or [Evidence(statement=t("no record of a long course"))]

    # Exudation is not measured by the image attributes; a lesion-model class naming it is the only
    # image signal. Pustules and erythroderma-like involvement come from the photos' morphology.
    for key, stem in (("exudative", "exudat"), ("pustular", "pustul")):
        matching = {c: p for c, p in probabilities.items() if stem in c}
        if matching:
            scores[key] = round(_clip01(sum(matching.values())), 3)
            evidence[key] = [
                Evidence(statement=t("lesion model: {items}", items=tjoin(", ", (f'{c} p={p:.2f}' for c, p in sorted(matching.items())))))
            ]
        else:
            scores[key] = 0.0
            evidence[key] = [Evidence(statement=t("not assessed from photographs"))]
    if morphology is not None:
        for key, finding in (("pustular", morphology.pustules), ("erythrodermic", morphology.erythroderma)):
            if finding.status == "present":
                scores[key] = round(max(scores.get(key, 0.0), finding.confidence), 3)
                evidence[key] = list(finding.evidence)
            elif key not in scores or scores[key] == 0.0:
                scores[key] = 0.0
                evidence[key] = list(finding.evidence)
    return scores, {k: tuple(v) for k, v in evidence.items()}


def _issues(readings: Sequence[RecResult], visits: _Visits) -> list[DataIssue]:
    issues: list[DataIssue] = []
    for r in readings:
        if not r.quality.usable:
            blocking = [reason for reason in r.quality.reasons if not reason.startswith("note:")]
            issues.append(
                DataIssue(
                    code="photo_unusable",
                    message=t("Photo not used: ") + tjoin("; ", blocking or r.quality.reasons or ("unusable",)),
                    source_ref=r.photo_ref,
                )
            )
            continue
        if r.quality.metrics.get("uncertain", 0.0) >= 1.0:
            issues.append(
                DataIssue(
                    code="photo_classification_uncertain",
                    message=t("Lesion classification of this photo is uncertain; it is pooled with the other views"),
                    source_ref=r.photo_ref,
                )
            )
        if r.region is BodyRegion.UNKNOWN:
            issues.append(
                DataIssue(
                    code="photo_region_unknown",
                    message=t("Photo has no mapped body site: it cannot be assigned to a PASI region"),
                    source_ref=r.photo_ref,
                )
            )
        if r.taken is None and visits.current_start is not None:
            issues.append(
                DataIssue(
                    code="photo_undated",
                    message=t("Photo has no date: assumed to be from the current visit"),
                    source_ref=r.photo_ref,
                )
            )
    usable = [r for r in readings if r.quality.usable and r.attributes is not None]
    if readings and not usable:
        issues.append(DataIssue(code="no_usable_photos", message=t("None of the photos could be used for scoring")))
    unusable_dates = [r.taken for r in readings if not r.quality.usable and r.taken is not None]
    if usable and unusable_dates and visits.current_start is not None:
        newest_usable = visits.current_start + VISIT_WINDOW
        if max(unusable_dates) > newest_usable:
            issues.append(
                DataIssue(
                    code="latest_photos_unusable",
                    message=t("The newest photos are unusable; the representation uses photos from {fmt_date}", fmt_date=_fmt_date(newest_usable)),
                )
            )
    return issues


def _aware(reading: RecResult) -> RecResult:
    """Case convention: datetimes are timezone-aware; a naive one is read as UTC rather than
    letting one stray value make the date comparisons raise."""
    if reading.taken is not None and reading.taken.tzinfo is None:
        return replace(reading, taken=reading.taken.replace(tzinfo=timezone.utc))
    return reading


class DermRep:
    """Builds the patient-level representation; stateless and deterministic."""

    def represent(self, case: Case, readings: Sequence[RecResult]) -> PatientRepresentation:
        readings = [_aware(r) for r in readings]
        usable = [r for r in readings if r.quality.usable and r.attributes is not None]
        visits = _split_visits(usable)
        current = visits.current
        probabilities = pooled_probabilities(current)
        fused = _by_region(current)
        pasi = _pasi(fused, case.latest(FindingKey.PASI)) if fused else None
        trend = _trend(case, current, visits.earlier)
        morphology = fuse_morphology([r.morphology for r in current if r.morphology is not None])
        descriptors, descriptor_evidence = _descriptors(case, current, visits, trend, probabilities, morphology)
        # Newest first; undated photos are assumed current, so they lead. sorted() is stable.
        dated = sorted((r for r in readings if r.taken is not None), key=lambda r: r.taken, reverse=True)  # type: ignore[arg-type, return-value]
        newest_first = [r for r in readings if r.taken is None] + dated
        return PatientRepresentation(
            probabilities={c: round(p, 6) for c, p in probabilities.items()},
            regions=tuple(f.finding() for f in fused.values()),
            pasi=pasi,
            trend=trend,
            tcm_descriptors=descriptors,
            descriptor_evidence=descriptor_evidence,
            photos=tuple(newest_first),
            issues=tuple(_issues(readings, visits)),
            model_version=next((r.model_version for r in readings if r.model_version), ""),
            morphology=morphology,
        )
