"""Test data for the review app: a moderate plaque psoriasis case with three photographs.

Built from the real pipeline when it is installed (`inference.pipeline.build_pipeline`); until the
agents land, a hand-built `Assessment` with the same shape stands in. Photographs are synthesised
(skin-toned background with red, scaly plaques) so no real patient image is involved.
"""

from __future__ import annotations

import functools
import io
import uuid
from datetime import datetime, timedelta, timezone

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from inference.case import BodyRegion, Case, ConditionEntry, ConditionKey, Finding, FindingKey, MedicationEntry, PatientInfo, Photo
from inference.results import (
    Assessment, AttributeScore, Contraindication, Evidence, FollowUp, LesionAttributes, PasiEstimate,
    PatientRepresentation, QualityReport, RecResult, RegionFinding, Screening, Severity, TcmDifferentiation,
    TcmPattern, TreatmentOption, TreatmentPlan, Trend,
)

PATIENT_ID = "pso-moderate-1"
AS_OF = datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)
PHOTO_SITES = (("Media/photo-trunk", BodyRegion.TRUNK, "Back"),
               ("Media/photo-arm", BodyRegion.UPPER_LIMBS, "Left elbow"),
               ("Media/photo-leg", BodyRegion.LOWER_LIMBS, "Right knee"))


def synth_photo(seed: int, plaques: int = 4, size: tuple[int, int] = (640, 480)) -> bytes:
    """A JPEG of skin with `plaques` red, silvery-scaled patches (deterministic per seed)."""
    rng = np.random.default_rng(seed)
    w, h = size
    base = np.array([224, 180, 150], dtype=np.float32) + rng.normal(0, 4, (h, w, 3))
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(plaques):
        cx, cy = rng.integers(80, w - 80), rng.integers(80, h - 80)
        rx, ry = rng.integers(35, 90), rng.integers(30, 70)
        draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=(196, 72, 70))
        for _ in range(25):  # silvery scale flecks
            sx, sy = cx + rng.integers(-rx // 2, rx // 2), cy + rng.integers(-ry // 2, ry // 2)
            draw.ellipse([sx - 3, sy - 2, sx + 3, sy + 2], fill=(228, 222, 214))
    img = img.filter(ImageFilter.GaussianBlur(1.2))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=88)
    return out.getvalue()


# (erythema, scale, thickness, area fraction, colour class) per photo: moderate plaque psoriasis.
PHOTO_LEVELS = ((2.8, 2.4, 2.0, 0.22, "bright_red"), (2.5, 2.6, 1.8, 0.15, "bright_red"),
                (3.0, 2.2, 2.1, 0.18, "dark_red_purple"))


@functools.cache  # deterministic and immutable: render each photo once per test session
def lesion_photo(index: int) -> bytes:
    """The team's procedural plaque renderer (`inference.synth`, known ground truth) when present,
    else the simple drawing above."""
    try:
        from inference import synth
    except ImportError:
        return synth_photo(index + 1)
    e, d, t, area, colour = PHOTO_LEVELS[index]
    spec = synth.PlaqueSpec(skin_tone=3, erythema=e, scale=d, thickness=t, area_fraction=area, colour_class=colour,
                            seed=100 + index)
    return synth.render_jpeg(spec, quality=88)[0]


def build_case() -> Case:
    photos = tuple(
        Photo(ref=ref, data=lesion_photo(i), content_type="image/jpeg", region=region, body_site=site,
              taken=AS_OF - timedelta(minutes=10 - i))
        for i, (ref, region, site) in enumerate(PHOTO_SITES)
    )
    visits = [AS_OF - timedelta(days=d) for d in (180, 120, 60, 0)]
    findings: list[Finding] = []
    for i, (when, pasi, bsa, dlqi) in enumerate(zip(visits, (16.8, 12.1, 7.4, 8.6), (14, 10, 6, 7), (13, 10, 7, 8))):
        findings += [
            Finding(FindingKey.PASI, pasi, f"Observation/pasi-{i}", effective=when),
            Finding(FindingKey.BSA_PERCENT, float(bsa), f"Observation/bsa-{i}", unit="%", effective=when),
            Finding(FindingKey.DLQI, float(dlqi), f"Observation/dlqi-{i}", effective=when),
        ]
    findings += [
        Finding(FindingKey.TONGUE, "red_yellow_coat", "Observation/tongue-1", effective=AS_OF),
        Finding(FindingKey.PULSE, "rapid", "Observation/pulse-1", effective=AS_OF),
        Finding(FindingKey.TOPICAL_FAILURE, True, "Observation/topical-failure", effective=AS_OF),
        Finding(FindingKey.PEST_SCORE, 1.0, "Observation/pest-1", effective=AS_OF),
    ]
    return Case(
        patient=PatientInfo(ref=f"Patient/{PATIENT_ID}", sex="female"),
        as_of=AS_OF,
        findings=tuple(findings),
        conditions=(
            ConditionEntry(ConditionKey.PSORIASIS, "Plaque psoriasis", "Condition/pso", code="http://snomed.info/sct|200965009"),
            ConditionEntry(ConditionKey.LIVER_DISEASE, "Non-alcoholic fatty liver disease", "Condition/nafld"),
        ),
        medications=(MedicationEntry("topical_corticosteroid", "Clobetasol 0.05% ointment", "MedicationStatement/clob"),),
        photos=photos,
    )


def _attr(value: float, conf: float, statement: str, ref: str, **measured: float) -> AttributeScore:
    return AttributeScore(value, conf, (Evidence(statement, source_ref=ref),), dict(measured))


def hand_built_assessment(case: Case) -> Assessment:
    """An Assessment shaped like DERM-Reason's for `case` (stand-in until the agents land)."""
    readings = []
    specs = [(2.8, 2.4, 2.0, 0.22, "bright_red"), (2.5, 2.6, 1.8, 0.15, "bright_red"), (3.0, 2.2, 2.1, 0.18, "dark_red_purple")]
    for photo, (e, d, t, a, colour) in zip(case.photos, specs):
        readings.append(RecResult(
            photo_ref=photo.ref,
            quality=QualityReport(True, (), {"sharpness": 0.71, "mean_luma": 0.58, "skin_fraction": 0.83, "width": 640, "height": 480}),
            probabilities={"psoriasis": 0.78, "eczema": 0.12, "tinea": 0.06, "other": 0.04},
            attributes=LesionAttributes(
                erythema=_attr(e, 0.7, f"Mean lesion redness delta a* {e * 6:.1f}", photo.ref, delta_a_star=e * 6),
                scale=_attr(d, 0.6, f"Scale texture fraction {d / 8:.2f}", photo.ref, scale_fraction=d / 8),
                thickness=_attr(t, 0.3, "Thickness from a photo is a weak proxy", photo.ref),
                area_fraction=_attr(a, 0.65, f"Lesional fraction of visible skin {a:.0%}", photo.ref),
                colour_class=colour, colour_confidence=0.7,
            ),
            model_version="lesion-model 0.1.0", region=photo.region, taken=photo.taken,
        ))
    regions = (
        RegionFinding(BodyRegion.TRUNK, 2.8, 2.0, 2.4, 2, 0.22, ("Media/photo-trunk",), 0.7),
        RegionFinding(BodyRegion.UPPER_LIMBS, 2.5, 1.8, 2.6, 2, 0.15, ("Media/photo-arm",), 0.65),
        RegionFinding(BodyRegion.LOWER_LIMBS, 3.0, 2.1, 2.2, 2, 0.18, ("Media/photo-leg",), 0.66),
    )
    rep = PatientRepresentation(
        probabilities={"psoriasis": 0.81, "eczema": 0.10, "tinea": 0.05, "other": 0.04},
        regions=regions,
        pasi=PasiEstimate(10.5, 8.1, 13.2, (BodyRegion.TRUNK, BodyRegion.UPPER_LIMBS, BodyRegion.LOWER_LIMBS),
                          clinician_value=8.6, clinician_ref="Observation/pasi-3", discrepancy=1.9,
                          evidence=(Evidence("Head not photographed: head contribution assumed 0", rule="pasi.missing_region"),)),
        trend=Trend("worsening", 7.4, AS_OF - timedelta(days=60), 8.6, 16.2,
                    (Evidence("PASI 7.4 -> 8.6 since last visit", source_ref="Observation/pasi-3"),)),
        tcm_descriptors={"bright_red": 0.7, "thick_scale": 0.6, "new_spreading": 0.5, "dark_red_purple": 0.3},
        descriptor_evidence={"bright_red": (Evidence("Two of three photos bright red", source_ref="Media/photo-trunk"),)},
        photos=tuple(readings),
        model_version="lesion-model 0.1.0",
    )
    mtx_ci = Contraindication("methotrexate", "Liver disease (NAFLD) on record", True,
                              (Evidence("Condition: NAFLD", source_ref="Condition/nafld", rule="contra.mtx.liver",
                                        citation="AAD-NPF 2020 systemic non-biologic guideline"),))
    treatment = TreatmentPlan(
        step="phototherapy", step_display="Phototherapy (narrowband UVB)",
        options=(
            TreatmentOption("nb_uvb", "Narrowband UVB 3x weekly", "phototherapy", (), ("Check photosensitising drugs",)),
            TreatmentOption("apremilast", "Apremilast", "oral_systemic", (), ("Ask about depression history",)),
            TreatmentOption("methotrexate", "Methotrexate", "oral_systemic", (mtx_ci,), ("CBC and liver tests", "Pregnancy status")),
        ),
        rationale=(Evidence("Moderate disease with documented topical failure", source_ref="Observation/topical-failure",
                            rule="ladder.moderate.topical_failure", citation="AAD-NPF 2019 phototherapy guideline"),),
    )
    heat = TcmPattern("blood_heat", "Blood-heat", 0.68,
                      (Evidence("Bright red plaques", source_ref="Media/photo-trunk", weight=0.3),
                       Evidence("Red tongue, yellow coat", source_ref="Observation/tongue-1", weight=0.25),
                       Evidence("Rapid pulse", source_ref="Observation/pulse-1", weight=0.15)),
                      (Evidence("Plaques not newly spreading on all sites", weight=-0.1),),
                      "Clear heat, cool blood", ("Xijiao Dihuang Tang (buffalo horn substituted)", "Liangxue Huoxue Tang"))
    stasis = TcmPattern("blood_stasis", "Blood-stasis", 0.22,
                        (Evidence("Dark red plaque on the knee", source_ref="Media/photo-leg", weight=0.15),),
                        (Evidence("Tongue not purple or dusky", source_ref="Observation/tongue-1", weight=-0.2),),
                        "Activate blood, resolve stasis", ("Taohong Siwu Tang",))
    dryness = TcmPattern("blood_dryness", "Blood-dryness", 0.10, (),
                         (Evidence("Scale is thick, not fine and dry", weight=-0.2),),
                         "Nourish blood, moisten dryness", ("Danggui Yinzi",))
    tcm = TcmDifferentiation(heat, (heat, stasis, dryness), 0.55,
                             "Integrative: TCM differentiation supplements, never replaces, guideline-based care.",
                             "China Academy of Chinese Medical Sciences psoriasis guideline, 2011")
    return Assessment(
        patient_ref=case.patient.ref, as_of=case.as_of,
        severity=Severity("moderate", (Evidence("PASI 8.6 (clinician) in 5-10", source_ref="Observation/pasi-3", rule="severity.pasi"),
                                       Evidence("BSA 7% in 3-10%", source_ref="Observation/bsa-3", rule="severity.bsa")), True),
        treatment=treatment, tcm=tcm,
        screenings=(
            Screening("psoriatic_arthritis", "Psoriatic arthritis (PEST)", False, "PEST 1/5: repeat yearly",
                      (Evidence("PEST score 1", source_ref="Observation/pest-1"),)),
            Screening("pre_systemic", "Before systemic therapy", True, "TB screening, hepatitis B/C, CBC and liver tests",
                      (Evidence("Systemic candidate", rule="screen.pre_systemic"),)),
        ),
        follow_up=FollowUp(12, ("PASI 75 at 16 weeks", "BSA <= 3% at 3 months"), ()),
        representation=rep, issues=(), knowledge_version="kb-test", model_version="lesion-model 0.1.0",
        summary="Moderate plaque psoriasis (PASI 8.6, worsening): consider phototherapy",
    )


def draft_resources(assessment: Assessment) -> list[dict]:
    """The service's own write-back resources (fhir_mapping.writeback) when installed, else a
    hand-built CarePlan + Observation + Provenance of the same shape."""
    try:
        from fhir_mapping.writeback import assessment_resources
    except ImportError:
        return hand_built_resources(assessment)
    return assessment_resources(assessment, condition_refs=("Condition/pso",))


def hand_built_resources(assessment: Assessment) -> list[dict]:
    """Draft CarePlan + preliminary PASI Observation + Provenance, cross-referenced by ids."""
    patient = {"reference": assessment.patient_ref}
    plan_id, obs_id, prov_id = (str(uuid.uuid5(uuid.NAMESPACE_URL, f"derm3r-test/{k}")) for k in ("plan", "obs", "prov"))
    careplan = {
        "resourceType": "CarePlan", "id": plan_id, "status": "draft", "intent": "proposal",
        "title": "Psoriasis plan: phototherapy step", "description": assessment.summary,
        "subject": patient,
        "activity": [
            {"detail": {"status": "not-started", "description": "Narrowband UVB 3x weekly for 12 weeks", "kind": "ServiceRequest"}},
            {"detail": {"status": "not-started", "description": "TB screening, hepatitis B/C, CBC and liver tests before systemic therapy", "kind": "ServiceRequest"}},
            {"detail": {"status": "not-started", "description": "Follow-up visit in 12 weeks (targets: PASI 75 at 16 weeks)", "kind": "Appointment"}},
        ],
        "supportingInfo": [{"reference": f"Observation/{obs_id}"}],
    }
    obs = {"resourceType": "Observation", "id": obs_id, "status": "preliminary", "subject": patient,
           "code": {"text": "PASI (AI estimate from photographs)"}, "valueQuantity": {"value": 10.5},
           "derivedFrom": [{"reference": ref} for ref, _, _ in PHOTO_SITES]}
    prov = {"resourceType": "Provenance", "id": prov_id, "recorded": assessment.as_of.isoformat(),
            "target": [{"reference": f"CarePlan/{plan_id}"}, {"reference": f"Observation/{obs_id}"}],
            "agent": [{"who": {"display": "derm3r lesion-model 0.1.0"}}]}
    return [careplan, obs, prov]


def build_assessment(case: Case) -> Assessment:
    """The real pipeline's assessment when the agents are installed, else the hand-built one."""
    try:
        from inference.pipeline import build_pipeline

        return build_pipeline().assess(case)
    except (ImportError, FileNotFoundError):  # agents or shipped model not landed yet
        return hand_built_assessment(case)
