"""The clinical case: everything the agents may know about one patient, as frozen dataclasses.

This module is the contract between `fhir_mapping` (which builds a `Case` from FHIR R4 data) and the
agents in `inference` (which read it). It knows nothing of FHIR wire formats: codes are already
translated into the project's internal keys (see `FindingKey`, `ConditionKey`); `source_ref` keeps the
FHIR reference ("Observation/123") so that every conclusion can point back at its evidence.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from functools import cached_property

# Convention: every datetime in a Case is timezone-aware (UTC when the record gave no zone).
_OLDEST = datetime.min.replace(tzinfo=timezone.utc)


class BodyRegion(enum.StrEnum):
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


class FindingKey(enum.StrEnum):
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
    # Laboratory results (read for drug safety: checks before starting and monitoring on therapy).
    ALT = "alt"  # U/L
    AST = "ast"  # U/L
    CREATININE = "creatinine"  # mg/dL
    EGFR = "egfr"  # mL/min/1.73m2
    WBC = "wbc"  # 10*9/L
    NEUTROPHILS = "neutrophils"  # 10*9/L
    PLATELETS = "platelets"  # 10*9/L
    HAEMOGLOBIN = "haemoglobin"  # g/dL
    TRIGLYCERIDES = "triglycerides"  # mg/dL
    HDL = "hdl"  # mg/dL
    TB_IGRA = "tb_igra"  # bool: interferon-gamma release assay positive
    TB_SKIN_TEST = "tb_skin_test"  # bool: tuberculin skin test positive
    HBSAG = "hbsag"  # bool: hepatitis B surface antigen detected
    ANTI_HBC = "anti_hbc"  # bool: hepatitis B core antibody detected
    HCV_ANTIBODY = "hcv_antibody"  # bool: hepatitis C antibody detected
    PREGNANCY_TEST = "pregnancy_test"  # bool: hCG positive
    BREASTFEEDING = "breastfeeding"  # bool
    PLANNING_PREGNANCY = "planning_pregnancy"  # bool: the patient (of either sex) plans a pregnancy
    LESION_MORPHOLOGY = "lesion_morphology"  # str: clinician-recorded sign, e.g. "pustules", "exudation" (TCM signs)


@dataclass(frozen=True)
class Finding:
    """One observed value. `value` is a float, a str (coded finding key) or a bool."""

    key: FindingKey
    value: float | str | bool
    source_ref: str
    unit: str | None = None
    effective: datetime | None = None
    display: str | None = None
    # The record's own reference range (Observation.referenceRange), in the finding's unit, when given.
    reference_low: float | None = None
    reference_high: float | None = None


class PsoriasisSubtype(enum.StrEnum):
    """Clinical forms of psoriasis that change what is safe or urgent (from coded Conditions)."""

    PLAQUE = "plaque"
    GUTTATE = "guttate"
    ERYTHRODERMIC = "erythrodermic"
    GENERALISED_PUSTULAR = "generalised_pustular"
    PALMOPLANTAR_PUSTULAR = "palmoplantar_pustular"
    PALMOPLANTAR = "palmoplantar"
    INVERSE = "inverse"
    NAIL = "nail"
    SCALP = "scalp"


class ConditionKey(enum.StrEnum):
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
    BREASTFEEDING = "breastfeeding"
    # Skin diagnoses that are not psoriasis (psoriasis mimics and common alternatives).
    ECZEMA = "eczema"
    TINEA = "tinea"
    CUTANEOUS_LUPUS = "cutaneous_lupus"
    DRUG_ERUPTION = "drug_eruption"
    SEBORRHOEIC_DERMATITIS = "seborrhoeic_dermatitis"
    LICHEN_PLANUS = "lichen_planus"
    PITYRIASIS_ROSEA = "pityriasis_rosea"
    CUTANEOUS_LYMPHOMA = "cutaneous_lymphoma"
    OTHER_SKIN = "other_skin"  # another skin diagnosis (ICD-10 chapter L, B35-B36 ...)
    CONSTIPATION = "constipation"  # TCM formula modification
    OTHER = "other"


# Conditions that are a skin diagnosis other than psoriasis.
OTHER_SKIN_DIAGNOSES: frozenset[ConditionKey] = frozenset({
    ConditionKey.ECZEMA, ConditionKey.TINEA, ConditionKey.CUTANEOUS_LUPUS, ConditionKey.DRUG_ERUPTION,
    ConditionKey.SEBORRHOEIC_DERMATITIS, ConditionKey.LICHEN_PLANUS, ConditionKey.PITYRIASIS_ROSEA,
    ConditionKey.CUTANEOUS_LYMPHOMA, ConditionKey.OTHER_SKIN,
})


@dataclass(frozen=True)
class ConditionEntry:
    key: ConditionKey
    display: str
    source_ref: str
    code: str | None = None  # "system|code" as found in the record
    active: bool = True
    onset: date | None = None
    # Condition.verificationStatus code ("confirmed", "provisional", "differential", "unconfirmed"), None if absent.
    verification: str | None = None
    subtype: PsoriasisSubtype | None = None  # psoriasis / psoriatic conditions only

    @property
    def confirmed(self) -> bool:
        """Confirmed, or recorded without a verification status (problem lists often omit it)."""
        return self.verification in (None, "confirmed")


@dataclass(frozen=True)
class MedicationEntry:
    """A current or past medication. `key` is a lower-case generic or class name (e.g. "methotrexate",
    "topical_corticosteroid", "adalimumab"); the treatment ladder matches on it."""

    key: str
    display: str
    source_ref: str
    active: bool = True
    code: str | None = None
    # When the medication was started (MedicationStatement.effective[x] start / MedicationRequest.authoredOn).
    start: date | None = None


@dataclass(frozen=True)
class Photo:
    """One clinical photograph, with its bytes already fetched (never a URL at this layer)."""

    ref: str  # "Media/abc" or "DocumentReference/xyz"
    data: bytes
    content_type: str | None = None
    region: BodyRegion = BodyRegion.UNKNOWN
    body_site: str | None = None  # display text of the body site as recorded
    taken: datetime | None = None

    @cached_property
    def sha256(self) -> str:
        """Hex SHA-256 of `data`, computed once: de-duplication and the reading cache both key on it
        (hashing a 12 MP JPEG costs about 2 ms)."""
        return hashlib.sha256(self.data).hexdigest()


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

    @cached_property
    def _by_key(self) -> dict[FindingKey, list[Finding]]:
        """Findings grouped by key, built once: the drug rules ask for the newest value of a lab many
        times per assessment, and a long record holds thousands of findings."""
        grouped: dict[FindingKey, list[Finding]] = {}
        for finding in self.findings:
            grouped.setdefault(finding.key, []).append(finding)
        return grouped

    def latest(self, key: FindingKey) -> Finding | None:
        """The newest finding for `key` (undated findings count as oldest; ties: first in the record)."""
        candidates = self._by_key.get(key)
        if not candidates:
            return None
        return max(candidates, key=lambda f: (f.effective is not None, f.effective or _OLDEST))

    def history(self, key: FindingKey) -> tuple[Finding, ...]:
        """All dated findings for `key`, oldest first."""
        dated = [f for f in self._by_key.get(key, ()) if f.effective is not None]
        return tuple(sorted(dated, key=lambda f: f.effective))  # type: ignore[arg-type, return-value]

    def has_condition(self, key: ConditionKey) -> bool:
        return any(c.key is key and c.active for c in self.conditions)
