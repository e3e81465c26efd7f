"""Severity class and systemic-therapy candidacy from the recorded measures and the image estimate.

Rules (severity.json): each measure (BSA, PASI, PGA, DLQI) has bands mapping a value to a level. The
worst level among the primary measures wins, because the "rule of tens" is an OR of its criteria; a
modifier (DLQI) may only raise that level, and decides alone only when no skin measure exists.
Systemic candidacy follows IPC 2020 (BSA > 10%, special areas, topical failure).

Photographs support, never decide: the image PASI estimate is shown (and compared with the
clinician's PASI), but only clinician-recorded measures grade severity. Measures that cannot all be
true (PASI 28 with BSA 1%, PGA 1 with PASI 20) are flagged, confidence is lowered and the LOWEST of
the conflicting levels is used, so a conflicting record never yields a confident escalation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from inference.case import Case, DataIssue, Finding, FindingKey
from inference.reason.evidence import describe_finding, format_number, rule_evidence
from inference.knowledge_base import KnowledgeError
from inference.results import Evidence, PatientRepresentation, Severity, SeverityLevel
from inference.i18n import t, tjoin

# The graded levels, mildest first (severity.json's `levels` must list the same).
LEVELS: tuple[SeverityLevel, ...] = (SeverityLevel.CLEAR, SeverityLevel.MILD, SeverityLevel.MODERATE, SeverityLevel.SEVERE)
UNKNOWN = SeverityLevel.UNKNOWN


def level_rank(level: str) -> int:
    """clear 0 .. severe 3; unknown -1 (below everything)."""
    return LEVELS.index(level) if level in LEVELS else -1  # type: ignore[arg-type]


def check_severity_knowledge(doc: Mapping[str, Any]) -> None:
    """Every level severity.json names is a graded `SeverityLevel` (checked once, at start-up)."""
    if tuple(doc["levels"]) != LEVELS:
        raise KnowledgeError(f"severity.json: levels {list(doc['levels'])} differ from {[str(level) for level in LEVELS]}")
    for measure in doc["measures"]:
        for band in measure["bands"]:
            if band["level"] not in LEVELS:
                raise KnowledgeError(f"severity.json: {band.get('id', measure['measure'])!r}: unknown level {band['level']!r}")


@dataclass(frozen=True)
class MeasureReading:
    """One severity measure's value and where it came from."""

    measure: str
    label: str
    value: float
    statement: str
    source_ref: str | None
    finding: Finding | None = None  # None when the value is the image estimate
    estimate_range: tuple[float, float] | None = None  # image estimate only


@dataclass(frozen=True)
class SeverityOutcome:
    severity: Severity
    readings: Mapping[str, MeasureReading]
    headline: str | None  # the decisive measure, for the summary line ("PASI 14.2")
    differential_open: bool
    differential: Evidence | None
    issues: tuple[DataIssue, ...]
    conflict: bool = False  # recorded measures contradict each other
    stale: bool = False  # every measure that graded severity is older than the staleness limit
    image_pasi: MeasureReading | None = None  # the photo estimate, context only

    @property
    def bsa(self) -> float | None:
        reading = self.readings.get("bsa_percent")
        return reading.value if reading else None


def assess_severity(case: Case, representation: PatientRepresentation | None, doc: Mapping[str, Any]) -> SeverityOutcome:
    issues: list[DataIssue] = []
    basis: list[Evidence] = []

    all_readings = _read_measures(case, representation, doc, basis, issues)
    image_pasi = all_readings.get("pasi") if all_readings.get("pasi") and all_readings["pasi"].estimate_range else None
    # Photographs never grade severity: only clinician-recorded measures are classified.
    readings = {k: v for k, v in all_readings.items() if v.estimate_range is None}
    conflicts = consistency_issues(readings, doc)
    issues.extend(conflicts)
    level, headline = _classify(readings, doc, basis, conservative=bool(conflicts))
    confidence = 1.0
    if conflicts:
        confidence = min(confidence, float(doc["consistency"]["conflict_confidence"]))
        basis.append(rule_evidence(
            t("recorded measures conflict: the lowest level ({level}) is used until they are re-measured", level=level),
            doc["consistency"], doc["sources"],
        ))
    stale = _all_stale(case, readings, doc)
    if stale:
        confidence = min(confidence, float(doc["consistency"]["stale_confidence"]))
    if level == UNKNOWN:
        if image_pasi is not None:
            issues.append(DataIssue(
                "no_clinician_measure",
                t("Photographs suggest {statement}: photographs alone do not grade severity; assess and record BSA, PASI or PGA", statement=image_pasi.statement),
                image_pasi.source_ref,
            ))
        else:
            issues.append(DataIssue(
                "no_severity_measure",
                t("No BSA, PASI, PGA or DLQI recorded: severity cannot be classified; assess and record BSA or PASI"),
            ))
    if "bsa_percent" not in readings:
        issues.append(DataIssue("missing_bsa", t("BSA (% body surface involved) not recorded: record it at this visit")))
    pasi = readings.get("pasi")
    if pasi is None and image_pasi is None:
        issues.append(DataIssue("missing_pasi", t("No PASI recorded and no image estimate available")))
    elif pasi is None and image_pasi is not None:
        issues.append(DataIssue("pasi_image_only", t("PASI is an image estimate only: score PASI clinically to confirm")))
        basis.append(Evidence(
            statement=t("{statement}: context only, photographs do not grade severity - consider assessing", statement=image_pasi.statement),
            source_ref=image_pasi.source_ref,
        ))
        basis.extend(_range_warning(image_pasi, next(m for m in doc["measures"] if m["measure"] == "pasi")))

    if pasi is not None and _is_child(case):
        issues.append(DataIssue(
            "pasi_not_validated_in_children",
            t("PASI is not validated in children: interpret the PASI band with care"),
            pasi.source_ref,
        ))
    itch = case.latest(FindingKey.ITCH_NRS)
    if itch is not None:
        # Shown because it matters to the patient, but no cited rule grades severity by itch.
        basis.append(Evidence(
            statement=t("{value}: context only, not a severity criterion", value=describe_finding('itch NRS', itch, '/10')),
            source_ref=itch.source_ref,
        ))

    candidate_basis = _systemic_candidacy(case, representation, readings, doc)
    basis.extend(candidate_basis)
    basis.extend(image_suggestions(representation, doc))

    differential_open, differential = _differential(representation, doc)
    if differential is not None:
        basis.append(differential)
    if differential_open and differential is not None:
        issues.append(DataIssue("differential_open", differential.statement))

    if differential_open:
        confidence = min(confidence, 0.5)
    if any(i.code == "pasi_discrepancy" for i in issues):
        # Photographs and the clinician disagree: the clinician's value stands, but less confidently.
        confidence = min(confidence, float(doc["consistency"]["conflict_confidence"]) * 2)
    candidate = bool(candidate_basis) and level != UNKNOWN
    severity = Severity(level=level, basis=tuple(basis), systemic_candidate=candidate, confidence=round(confidence, 2))
    return SeverityOutcome(
        severity=severity,
        readings=readings,
        headline=headline,
        differential_open=differential_open,
        differential=differential,
        issues=tuple(issues),
        conflict=bool(conflicts),
        stale=stale,
        image_pasi=image_pasi,
    )


# ---------------------------------------------------------------- consistency


_AREA_LOWER = (0.0, 0.0, 0.10, 0.30, 0.50, 0.70, 0.90)  # smallest involved fraction for PASI area score 0..6


def max_pasi_for_bsa(bsa_percent: float) -> float:
    """The largest PASI that a given BSA allows (all severity scores 4): the regions' area scores are
    bounded by the share of each region that BSA can cover (PASI definition, clinical.md)."""
    budget = bsa_percent / 100.0
    weights = (0.1, 0.2, 0.3, 0.4)  # region weights = their share of body surface
    best = 0.0

    def search(index: int, used: float, total: float) -> None:
        nonlocal best
        if index == len(weights):
            best = max(best, total)
            return
        for score in range(7):
            need = 0.0 if score == 0 else max(weights[index] * _AREA_LOWER[score], 1e-9)
            if used + need <= budget + 1e-9:
                search(index + 1, used + need, total + weights[index] * 12 * score)

    search(0, 0.0, 0.0)
    return best


def consistency_issues(readings: Mapping[str, MeasureReading], doc: Mapping[str, Any]) -> list[DataIssue]:
    """Recorded measures that cannot all be true (severity.json "consistency")."""
    rules = doc["consistency"]
    found: list[DataIssue] = []
    pasi, bsa, pga = readings.get("pasi"), readings.get("bsa_percent"), readings.get("pga")
    if pasi is not None and bsa is not None:
        ceiling = max_pasi_for_bsa(bsa.value)
        if pasi.value > ceiling + float(rules["pasi_bsa_tolerance"]):
            found.append(DataIssue(
                "pasi_bsa_conflict",
                t("PASI {value} does not fit BSA {value2}% (at most PASI {ceiling} at that extent): the measures conflict, check both", value=format_number(pasi.value), value2=format_number(bsa.value), ceiling=format_number(ceiling)),
                pasi.source_ref,
            ))
        elif bsa.value >= float(rules["bsa_high"]) and pasi.value < float(rules["pasi_low_for_high_bsa"]):
            found.append(DataIssue(
                "pasi_bsa_conflict",
                t("BSA {value}% with PASI {value2} is implausible: the measures conflict, check both", value=format_number(bsa.value), value2=format_number(pasi.value)),
                bsa.source_ref,
            ))
    if pasi is not None and pga is not None:
        if pga.value <= float(rules["pga_low"]) and pasi.value > float(rules["pasi_high_for_low_pga"]):
            found.append(DataIssue(
                "pga_pasi_conflict",
                t("PGA {value} (clear or almost clear) conflicts with PASI {value2}: check both", value=format_number(pga.value), value2=format_number(pasi.value)),
                pga.source_ref,
            ))
        elif pga.value >= float(rules["pga_high"]) and pasi.value < float(rules["pasi_low_for_high_pga"]):
            found.append(DataIssue(
                "pga_pasi_conflict",
                t("PGA {value} (severe) conflicts with PASI {value2}: check both", value=format_number(pga.value), value2=format_number(pasi.value)),
                pga.source_ref,
            ))
    return found


def _all_stale(case: Case, readings: Mapping[str, MeasureReading], doc: Mapping[str, Any]) -> bool:
    limit = timedelta(days=int(doc["max_age_days"]["days"]))
    dated = [r.finding for r in readings.values() if r.finding is not None]
    if not dated:
        return False
    return all(f.effective is None or case.as_of - f.effective > limit for f in dated)


def _is_child(case: Case) -> bool:
    born = case.patient.birth_date
    if born is None:
        return False
    today = case.as_of.date()
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    return age < 18


# ---------------------------------------------------------------- measures


def _read_measures(
    case: Case,
    representation: PatientRepresentation | None,
    doc: Mapping[str, Any],
    basis: list[Evidence],
    issues: list[DataIssue],
) -> dict[str, MeasureReading]:
    readings: dict[str, MeasureReading] = {}
    stale = doc["max_age_days"]
    for measure in doc["measures"]:
        name = str(measure["measure"])
        label, unit = str(measure["display"]), str(measure["unit"])
        reading: MeasureReading | None = None
        finding = case.latest(FindingKey(name))
        if finding is not None:
            if isinstance(finding.value, bool) or not isinstance(finding.value, (int, float)):
                issues.append(DataIssue("non_numeric_value", t("{label} value is not a number: ignored", label=label), finding.source_ref))
            else:
                reading = MeasureReading(
                    name, label, float(finding.value), describe_finding(label, finding, unit), finding.source_ref, finding
                )
                issues.extend(_staleness(case, finding, label, stale))
        if name == "pasi":
            reading = _pasi_reading(reading, representation, doc, basis, issues)
        if reading is not None:
            readings[name] = reading
    return readings


def _pasi_reading(
    clinician: MeasureReading | None,
    representation: PatientRepresentation | None,
    doc: Mapping[str, Any],
    basis: list[Evidence],
    issues: list[DataIssue],
) -> MeasureReading | None:
    """Clinician PASI wins; the image estimate is used only when no clinician value exists."""
    estimate = representation.pasi if representation is not None else None
    if clinician is None and estimate is not None and estimate.clinician_value is not None:
        clinician = MeasureReading(
            "pasi", "PASI", float(estimate.clinician_value),
            t("PASI {clinician_value} ({value})", clinician_value=format_number(estimate.clinician_value), value=estimate.clinician_ref or 'clinician-entered'),
            estimate.clinician_ref,
        )
    if estimate is None:
        return clinician
    photo_ref = _estimate_ref(representation)
    estimate_text = (
        t("image-estimated PASI {value} (range {low}-{high}, regions seen: {value2})", value=format_number(estimate.value), low=format_number(estimate.low), high=format_number(estimate.high), value2=tjoin(", ", (r.value for r in estimate.regions_seen)) or 'none')
    )
    if clinician is None:
        return MeasureReading("pasi", "PASI", float(estimate.value), estimate_text, photo_ref,
                              estimate_range=(float(estimate.low), float(estimate.high)))
    rule = doc["image"]["pasi_discrepancy"]
    difference = float(estimate.value) - clinician.value
    basis.append(
        rule_evidence(
            t("clinician PASI {value} used; {estimate_text} differs by {value2}{difference}", value=format_number(clinician.value), estimate_text=estimate_text, value2='+' if difference >= 0 else '-', difference=format_number(abs(difference))),
            rule, doc["sources"], source_ref=clinician.source_ref,
        )
    )
    if abs(difference) >= float(rule["threshold"]):
        issues.append(
            DataIssue(
                "pasi_discrepancy",
                t("Photo-based PASI estimate {value} differs from the clinician's PASI {value2} by {difference}: check both", value=format_number(estimate.value), value2=format_number(clinician.value), difference=format_number(abs(difference))),
                clinician.source_ref,
            )
        )
    return clinician


def _estimate_ref(representation: PatientRepresentation | None) -> str | None:
    if representation is None:
        return None
    for region in representation.regions:
        if region.photo_refs:
            return region.photo_refs[0]
    return representation.photos[0].photo_ref if representation.photos else None


def _staleness(case: Case, finding: Finding, label: str, stale: Mapping[str, Any]) -> list[DataIssue]:
    if finding.effective is None:
        return [DataIssue("undated_observation", t("{label} has no date: its currency cannot be judged", label=label), finding.source_ref)]
    if case.as_of - finding.effective > timedelta(days=int(stale["days"])):
        return [
            DataIssue(
                "stale_observation",
                t("{label} from {date} is older than {days} days: re-measure", label=label, date=finding.effective.date().isoformat(), days=stale['days']),
                finding.source_ref,
            )
        ]
    return []


# ---------------------------------------------------------------- classification


def band_for(bands: tuple[Mapping[str, Any], ...], value: float) -> Mapping[str, Any] | None:
    """The first band whose bounds contain `value` (bounds: gt / gte / lt / lte)."""
    for band in bands:
        if "gt" in band and not value > band["gt"]:
            continue
        if "gte" in band and not value >= band["gte"]:
            continue
        if "lt" in band and not value < band["lt"]:
            continue
        if "lte" in band and not value <= band["lte"]:
            continue
        return band
    return None


def describe_band(band: Mapping[str, Any]) -> str:
    symbols = (("gt", ">"), ("gte", ">="), ("lt", "<"), ("lte", "<="))
    return tjoin(" and ", (t("{sym} {band}", sym=sym, band=format_number(float(band[key]))) for key, sym in symbols if key in band))


def _classify(readings: Mapping[str, MeasureReading], doc: Mapping[str, Any], basis: list[Evidence],
              conservative: bool = False) -> tuple[SeverityLevel, str | None]:
    """Worst primary level (rule of tens); with `conservative` (conflicting measures) the lowest one,
    and no modifier may raise it."""
    sources = doc["sources"]
    primary: list[tuple[SeverityLevel, str]] = []  # (level, headline)
    modifiers: list[tuple[SeverityLevel, str, Evidence, bool]] = []
    for measure in doc["measures"]:
        reading = readings.get(str(measure["measure"]))
        if reading is None:
            continue
        band = band_for(measure["bands"], reading.value)
        if band is None:
            continue
        headline = t("{label} {value}{unit}", label=reading.label, value=format_number(reading.value), unit=measure['unit'])
        evidence = rule_evidence(
            t("{statement}: {level} ({label} {describe_band})", statement=reading.statement, level=band['level'], label=reading.label, describe_band=describe_band(band)),
            band, sources, source_ref=reading.source_ref,
        )
        if reading.estimate_range is not None:
            basis.extend(_range_warning(reading, measure))
            headline = t("image PASI ~{value}", value=format_number(reading.value))
        if measure["role"] == "primary":
            basis.append(evidence)
            primary.append((SeverityLevel(band["level"]), headline))
        else:
            modifiers.append((SeverityLevel(band["level"]), headline, evidence, bool(band.get("may_raise", True))))

    if primary:
        pick = min if conservative else max
        level, headline = pick(primary, key=lambda item: level_rank(item[0]))
        for mod_level, mod_headline, evidence, may_raise in modifiers:
            if may_raise and not conservative and level_rank(mod_level) > level_rank(level):
                basis.append(Evidence(
                    statement=t("{statement}; raises severity from {level} to {mod_level}", statement=evidence.statement, level=level, mod_level=mod_level),
                    source_ref=evidence.source_ref, rule=evidence.rule, citation=evidence.citation,
                ))
                level, headline = mod_level, mod_headline
            else:
                basis.append(evidence)  # shown for transparency; it does not change the level
        return level, headline
    if modifiers:
        level, headline, _, _ = max(modifiers, key=lambda item: level_rank(item[0]))
        basis.extend(evidence for _, _, evidence, _ in modifiers)
        basis.append(Evidence(statement=t("no skin-extent measure (BSA, PASI, PGA): severity from {headline} only", headline=headline)))
        return level, headline
    return UNKNOWN, None


def _range_warning(reading: MeasureReading, measure: Mapping[str, Any]) -> list[Evidence]:
    if reading.estimate_range is None:
        return []
    low, high = reading.estimate_range
    low_band, high_band = band_for(measure["bands"], low), band_for(measure["bands"], high)
    if low_band is None or high_band is None or low_band["level"] == high_band["level"]:
        return []
    return [Evidence(
        statement=(
            t("image PASI range {low}-{high} spans {level} to {level2}: confirm with a clinician-scored PASI", low=format_number(low), high=format_number(high), level=low_band['level'], level2=high_band['level'])
        ),
        source_ref=reading.source_ref,
    )]


# ---------------------------------------------------------------- systemic candidacy (IPC 2020)


def _systemic_candidacy(
    case: Case,
    representation: PatientRepresentation | None,
    readings: Mapping[str, MeasureReading],
    doc: Mapping[str, Any],
) -> list[Evidence]:
    sources = doc["sources"]
    found: list[Evidence] = []
    for rule in doc["systemic_candidate"]:
        kind = rule["kind"]
        if kind == "measure_above":
            reading = readings.get(str(rule["measure"]))
            if reading is not None and reading.value > float(rule["gt"]):
                found.append(rule_evidence(
                    t("systemic candidate: {statement} ({statement2})", statement=rule['statement'], statement2=reading.statement), rule, sources, reading.source_ref,
                ))
        elif kind == "special_area":
            areas = set(rule["areas"])
            for finding in case.findings:
                if finding.key is FindingKey.SPECIAL_AREA and finding.value in areas:
                    found.append(rule_evidence(
                        t("systemic candidate: {statement} ({value})", statement=rule['statement'], value=describe_finding('special area', finding)),
                        rule, sources, finding.source_ref,
                    ))
        elif kind == "topical_failure":
            failure = case.latest(FindingKey.TOPICAL_FAILURE)
            if failure is not None and failure.value is True:
                found.append(rule_evidence(
                    t("systemic candidate: {statement} ({source_ref})", statement=rule['statement'], source_ref=failure.source_ref), rule, sources, failure.source_ref,
                ))
    return found


def image_suggestions(representation: PatientRepresentation | None, doc: Mapping[str, Any]) -> list[Evidence]:
    """What the photographs suggest assessing (e.g. scalp/face involvement): never a candidacy on their own."""
    if representation is None:
        return []
    found: list[Evidence] = []
    for rule in doc["systemic_candidate"]:
        if rule["kind"] != "image_region":
            continue
        for region in representation.regions:
            if (
                region.region.value == rule["region"]
                and region.area_score >= int(rule["min_area_score"])
                and region.confidence >= float(rule["min_confidence"])
            ):
                found.append(rule_evidence(
                    t("consider assessing: {statement} (area score {area_score}, confidence {confidence:.2f}, {count} photo(s)); photographs do not set candidacy", statement=rule['statement'], area_score=region.area_score, confidence=region.confidence, count=len(region.photo_refs)),
                    rule, doc["sources"], region.photo_refs[0] if region.photo_refs else None,
                ))
    return found


# ---------------------------------------------------------------- differential from the image model


def _differential(representation: PatientRepresentation | None, doc: Mapping[str, Any]) -> tuple[bool, Evidence | None]:
    """Open when the photographs' most probable class is not psoriasis (ties broken by name, for determinism)."""
    if representation is None or not representation.probabilities:
        return False, None
    rule = doc["image"]["differential"]
    psoriasis = set(rule["psoriasis_classes"])
    top, p_top = max(sorted(representation.probabilities.items()), key=lambda item: item[1])
    p_psoriasis = max((p for name, p in representation.probabilities.items() if name in psoriasis), default=0.0)
    ref = _estimate_ref(representation)
    if top in psoriasis:
        return False, rule_evidence(
            t("photographs favour psoriasis ({p_top:.0%})", p_top=p_top), rule, doc["sources"], source_ref=ref,
        )
    return True, rule_evidence(
        t("photographs favour {top} ({p_top:.0%}) over psoriasis ({p_psoriasis:.0%}): differential open, confidence lowered", top=top.replace('_', ' '), p_top=p_top, p_psoriasis=p_psoriasis),
        rule, doc["sources"], source_ref=ref,
    )
