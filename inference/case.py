"""The clinical case: everything the agents may know about one patient, as frozen dataclasses.

This module is the contract between `fhir_mapping` (which builds a `Case` from FHIR R4 data) and the
agents in `inference` (which read it). It knows nothing of FHIR wire formats: codes are already
translated into the project's internal keys (see `FindingKey`, `ConditionKey`); `source_ref` keeps the
FHIR reference ("Observation/123") so that every conclusion can point back at its evidence.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

# Convention: every datetime in a Case is timezone-aware (UTC when the record gave no zone).
_OLDEST = datetime.min.replace(tzinfo=timezone.utc)


class BodyRegion(str, enum.Enum):
    """The four PASI regions, plus `unknown` when a photo's body site is missing or unmapped."""

    HEAD = "head"
    UPPER_LIMBS = "upper_limbs"
    TRUNK = "trunk"
    LOWER_LIMBS = "lower_limbs"
    UNKNOWN = "unknown"


# PASI region weights (clinical.md, "PASI").
PASI_REGION_WEIGHTS: dict[BodyRegion, float] = {
    BodyRegion.HEAD: 0.1,
    BodyRegion.UPPER_LIMBS: 0.2,
    BodyRegion.TRUNK: 0.3,
    BodyRegion.LOWER_LIMBS: 0.4,
}


class FindingKey(str, enum.Enum):
    """Internal keys for the observations the agents use; `fhir_mapping.codes` maps codes to them."""

    PASI = "pasi"  # 0-72, clinician-entered
    BSA_PERCENT = "bsa_percent"  # % body surface involved
    PGA = "pga"  # 0-4 (or 0-5) global assessment
    DLQI = "dlqi"  # 0-30
    ITCH_NRS = "itch_nrs"  # 0-10
    PEST_SCORE = "pest_score"  # 0-5 count of "yes"
    PHQ2 = "phq2"  # 0-6
    BMI = "bmi"  # kg/m2
    SYSTOLIC_BP = "systolic_bp"  # mmHg
    DIASTOLIC_BP = "diastolic_bp"  # mmHg
    HBA1C = "hba1c"  # %
    LDL = "ldl"  # mg/dL
    TOTAL_CHOLESTEROL = "total_cholesterol"  # mg/dL
    TONGUE = "tongue"  # str: internal TCM tongue finding key, e.g. "red_yellow_coat"
    PULSE = "pulse"  # str: internal TCM pulse finding key, e.g. "rapid", "slippery"
    PREGNANT = "pregnant"  # bool
    SPECIAL_AREA = "special_area"  # str: scalp, face, palms_soles, nails, genitals
    TOPICAL_FAILURE = "topical_failure"  # bool: documented failure of topical therapy
    JOINT_PAIN = "joint_pain"  # bool
    LESION_ONSET = "lesion_onset"  # str: "new_spreading" | "stable" | "long_standing"
    # Added by helper 15 (TCM safety and signs); merge with 11a's lab keys if they name them too.
    ALT = "alt"  # U/L (issue 15: hepatotoxic herbs when liver tests are raised)
    AST = "ast"  # U/L (issue 15)
    EGFR = "egfr"  # mL/min/1.73 m2 (issue 15: nephrotoxic herbs)
    LESION_MORPHOLOGY = "lesion_morphology"  # str: clinician-recorded sign, e.g. "pustules", "exudation" (issue 15)


@dataclass(frozen=True)
class Finding:
    """One observed value. `value` is a float, a str (coded finding key) or a bool."""

    key: FindingKey
    value: float | str | bool
    source_ref: str
    unit: str | None = None
    effective: datetime | None = None
    display: str | None = None


class ConditionKey(str, enum.Enum):
    """Internal keys for the conditions that change what the agents conclude."""

    PSORIASIS = "psoriasis"
    PSORIATIC_ARTHRITIS = "psoriatic_arthritis"
    PREGNANCY = "pregnancy"
    LIVER_DISEASE = "liver_disease"
    TUBERCULOSIS = "tuberculosis"
    LATENT_TUBERCULOSIS = "latent_tuberculosis"
    HEART_FAILURE = "heart_failure"
    INFLAMMATORY_BOWEL_DISEASE = "inflammatory_bowel_disease"
    ACTIVE_INFECTION = "active_infection"
    HEPATITIS_B = "hepatitis_b"
    HEPATITIS_C = "hepatitis_c"
    KIDNEY_DISEASE = "kidney_disease"
    HYPERTENSION = "hypertension"
    DIABETES = "diabetes"
    HYPERLIPIDAEMIA = "hyperlipidaemia"
    OBESITY = "obesity"
    DEPRESSION = "depression"
    MALIGNANCY = "malignancy"
    DEMYELINATING_DISEASE = "demyelinating_disease"
    ALCOHOL_MISUSE = "alcohol_misuse"
    BREASTFEEDING = "breastfeeding"  # added by helper 15 (herb safety); 11a may add the same key
    CONSTIPATION = "constipation"  # added by helper 15 (TCM formula modification)
    OTHER = "other"


@dataclass(frozen=True)
class ConditionEntry:
    key: ConditionKey
    display: str
    source_ref: str
    code: str | None = None  # "system|code" as found in the record
    active: bool = True
    onset: date | None = None


@dataclass(frozen=True)
class MedicationEntry:
    """A current or past medication. `key` is a lower-case generic or class name (e.g. "methotrexate",
    "topical_corticosteroid", "adalimumab"); the treatment ladder matches on it."""

    key: str
    display: str
    source_ref: str
    active: bool = True
    code: str | None = None


@dataclass(frozen=True)
class Photo:
    """One clinical photograph, with its bytes already fetched (never a URL at this layer)."""

    ref: str  # "Media/abc" or "DocumentReference/xyz"
    data: bytes
    content_type: str | None = None
    region: BodyRegion = BodyRegion.UNKNOWN
    body_site: str | None = None  # display text of the body site as recorded
    taken: datetime | None = None


@dataclass(frozen=True)
class PatientInfo:
    ref: str  # "Patient/123"
    birth_date: date | None = None
    sex: str | None = None  # FHIR administrative gender: male | female | other | unknown


@dataclass(frozen=True)
class DataIssue:
    """A problem with the input data that the clinician should know about (shown on the
    data-quality card). `code` is a stable machine key, `message` is plain English."""

    code: str
    message: str
    source_ref: str | None = None


@dataclass(frozen=True)
class Case:
    patient: PatientInfo
    as_of: datetime  # the moment the assessment is made for (encounter / request time)
    findings: tuple[Finding, ...] = ()
    conditions: tuple[ConditionEntry, ...] = ()
    medications: tuple[MedicationEntry, ...] = ()
    photos: tuple[Photo, ...] = ()
    issues: tuple[DataIssue, ...] = field(default=())

    def latest(self, key: FindingKey) -> Finding | None:
        """The newest finding for `key` (undated findings count as oldest)."""
        candidates = [f for f in self.findings if f.key is key]
        if not candidates:
            return None
        return max(candidates, key=lambda f: (f.effective is not None, f.effective or _OLDEST))

    def history(self, key: FindingKey) -> tuple[Finding, ...]:
        """All dated findings for `key`, oldest first."""
        dated = [f for f in self.findings if f.key is key and f.effective is not None]
        return tuple(sorted(dated, key=lambda f: f.effective))  # type: ignore[arg-type, return-value]

    def has_condition(self, key: ConditionKey) -> bool:
        return any(c.key is key and c.active for c in self.conditions)
