"""A deterministic stand-in for `inference.pipeline.Pipeline`, used by the integration tests only
while the real agents cannot be built (a module not merged yet). It reads nothing from the pixels:
it turns the Case's own findings and photo references into a plain, fully referenced Assessment, so
that the HTTP, FHIR and write-back plumbing can be exercised end to end. The fixture prefers the
real pipeline whenever `build_pipeline()` succeeds."""

from __future__ import annotations

from inference.case import BodyRegion, Case, FindingKey
from inference.results import (
    Assessment,
    AttributeScore,
    Evidence,
    FollowUp,
    LesionAttributes,
    PasiEstimate,
    PatientRepresentation,
    QualityReport,
    RecResult,
    Severity,
    TreatmentOption,
    TreatmentPlan,
    Trend,
)

VERSION = "integration-standin-1"


def _score(value: float) -> AttributeScore:
    return AttributeScore(value=value, confidence=0.5)


class StandinPipeline:
    def assess(self, case: Case) -> Assessment:
        readings = tuple(
            RecResult(
                photo_ref=photo.ref,
                quality=QualityReport(usable=True),
                probabilities={"psoriasis": 0.7, "other": 0.3},
                attributes=LesionAttributes(
                    erythema=_score(2.0), scale=_score(2.0), thickness=_score(1.0), area_fraction=_score(0.2),
                    colour_class="bright_red", colour_confidence=0.5,
                ),
                model_version=VERSION,
                region=photo.region,
                taken=photo.taken,
            )
            for photo in case.photos
        )
        representation = None
        if readings:
            regions = tuple(sorted({r.region for r in readings if r.region is not BodyRegion.UNKNOWN}, key=lambda r: r.value))
            representation = PatientRepresentation(
                probabilities={"psoriasis": 0.7, "other": 0.3},
                regions=(),
                pasi=PasiEstimate(
                    value=8.0, low=5.0, high=11.0, regions_seen=regions,
                    evidence=tuple(Evidence("photo read", source_ref=r.photo_ref) for r in readings),
                ),
                trend=Trend(direction="unknown"),
                tcm_descriptors={},
                descriptor_evidence={},
                photos=readings,
                model_version=VERSION,
            )
        pasi = case.latest(FindingKey.PASI)
        value = float(pasi.value) if pasi is not None and isinstance(pasi.value, (int, float)) else None
        level = "unknown" if value is None else "mild" if value < 5 else "moderate" if value <= 10 else "severe"
        basis = () if pasi is None else (Evidence(f"PASI {value}", source_ref=pasi.source_ref),)
        return Assessment(
            patient_ref=case.patient.ref,
            as_of=case.as_of,
            severity=Severity(level=level, basis=basis, systemic_candidate=level == "severe"),
            treatment=TreatmentPlan(
                step="topical",
                step_display="Topical therapy",
                options=(TreatmentOption("topical_corticosteroid", "Topical corticosteroid", "topical"),),
                rationale=(Evidence("stand-in plan", rule="standin.topical"),),
            ),
            tcm=None,
            screenings=(),
            follow_up=FollowUp(12, ("PASI 75 at 12 weeks",), ()),
            representation=representation,
            issues=case.issues,
            knowledge_version=VERSION,
            model_version=VERSION,
            summary=f"Stand-in assessment: severity {level}",
        )
