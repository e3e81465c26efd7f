"""Typed outputs of the three agents: DERM-Rec (per photo), DERM-Rep (per patient), DERM-Reason.

These are the contract between the agents, `fhir_mapping` (which writes Observations/CarePlan from
them) and `cds_hooks` (which renders cards). Every conclusion carries `Evidence` that names where it
came from: a FHIR reference of the input, a measured image quantity, or a knowledge-file rule with
its citation.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from inference.case import BodyRegion, DataIssue


@dataclass(frozen=True)
class Evidence:
    """One piece of support for (or against) a conclusion.

    statement: plain English, e.g. "PASI 14.2 (Observation/7, 2026-10-01)".
    source_ref: FHIR reference of the input it rests on ("Observation/7", "Media/3"), if any.
    rule: id of the knowledge rule applied ("severity.pasi.severe"), if any.
    citation: the published source the rule cites (from the knowledge file), if any.
    weight: signed contribution where conclusions are scored (TCM patterns); 0 otherwise.
    """

    statement: str
    source_ref: str | None = None
    rule: str | None = None
    citation: str | None = None
    weight: float = 0.0


# ---------------------------------------------------------------- DERM-Rec (one photo)


@dataclass(frozen=True)
class QualityReport:
    """The quality gate. `usable` False means the photo is not used for scoring; `reasons` are
    actionable for a clinician ("image is blurred: retake with the camera steady")."""

    usable: bool
    reasons: tuple[str, ...] = ()
    metrics: dict[str, float] = field(default_factory=dict)  # e.g. sharpness, mean_luma, skin_fraction, width, height


@dataclass(frozen=True)
class AttributeScore:
    """A lesion attribute on its natural scale (PASI 0-4 for erythema/scale/thickness, fraction 0-1
    for area), with a confidence 0-1 that is honestly low where the image proxy is weak."""

    value: float
    confidence: float
    evidence: tuple[Evidence, ...] = ()
    measured: dict[str, float] = field(default_factory=dict)  # raw measurements, e.g. {"delta_a_star": 18.3}


@dataclass(frozen=True)
class LesionAttributes:
    erythema: AttributeScore  # PASI E 0-4
    scale: AttributeScore  # PASI D 0-4
    thickness: AttributeScore  # PASI I 0-4 (weak proxy from a photo: low confidence)
    area_fraction: AttributeScore  # fraction (0-1) of the visible skin that is lesional
    colour_class: str  # "bright_red" | "pale_red" | "dark_red_purple" | "none"
    colour_confidence: float = 0.0


@dataclass(frozen=True)
class MorphologyFinding:
    """One morphological feature of one photo (or, in DERM-Rep, of the patient).

    status: "present" | "absent" | "not_assessable" (cannot be seen in this photo: say so rather than
    guess). value: a qualifier where the feature has kinds, e.g. "thick"/"thin" for scale thickness,
    "plaque"/"small_papules"/"mixed" for the lesion pattern; None otherwise. confidence: 0-1, honest.
    basis: "learned" (a head on the lesion model's embedding), "measured" (image measurement) or
    "learned+measured". measured: the raw numbers behind it.
    """

    status: str
    confidence: float
    evidence: tuple[Evidence, ...] = ()
    value: str | None = None
    basis: str = "measured"
    measured: dict[str, float] = field(default_factory=dict)


MORPHOLOGY_STATUSES = ("present", "absent", "not_assessable")


@dataclass(frozen=True)
class Morphology:
    """Morphology DERM-Reason needs to reach the pustular, erythrodermic and heat-toxin branches."""

    pustules: MorphologyFinding
    erythroderma: MorphologyFinding  # erythroderma-like confluent redness over (nearly) all skin in view
    scale_thickness: MorphologyFinding  # value "thick" | "thin" when present
    nail_changes: MorphologyFinding
    lesion_pattern: MorphologyFinding  # value "plaque" | "small_papules" (guttate-like) | "mixed"

    def as_dict(self) -> dict[str, MorphologyFinding]:
        return {
            "pustules": self.pustules,
            "erythroderma": self.erythroderma,
            "scale_thickness": self.scale_thickness,
            "nail_changes": self.nail_changes,
            "lesion_pattern": self.lesion_pattern,
        }


@dataclass(frozen=True)
class RecResult:
    """DERM-Rec's reading of one photo."""

    photo_ref: str
    quality: QualityReport
    probabilities: dict[str, float]  # calibrated class -> p, sums to 1; empty if the photo was unusable
    attributes: LesionAttributes | None  # None if the photo was unusable
    model_version: str
    region: BodyRegion = BodyRegion.UNKNOWN
    taken: datetime | None = None
    morphology: Morphology | None = None  # None if the photo was unusable


# ---------------------------------------------------------------- DERM-Rep (one patient)


@dataclass(frozen=True)
class RegionFinding:
    """Fused PASI components for one body region (from all usable photos of that region)."""

    region: BodyRegion
    erythema: float  # 0-4
    induration: float  # 0-4
    desquamation: float  # 0-4
    area_score: int  # 0-6
    area_fraction: float  # 0-1 estimated involvement of the region
    photo_refs: tuple[str, ...]
    confidence: float  # 0-1


@dataclass(frozen=True)
class PasiEstimate:
    value: float  # 0-72
    low: float
    high: float
    regions_seen: tuple[BodyRegion, ...]
    clinician_value: float | None = None  # clinician-entered PASI, when present (it wins)
    clinician_ref: str | None = None
    discrepancy: float | None = None  # estimate - clinician value
    evidence: tuple[Evidence, ...] = ()


class TrendDirection(enum.StrEnum):
    IMPROVING = "improving"
    STABLE = "stable"
    WORSENING = "worsening"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Trend:
    """Change against earlier photographs (or earlier PASI observations)."""

    direction: TrendDirection
    baseline_value: float | None = None
    baseline_date: datetime | None = None
    current_value: float | None = None
    percent_change: float | None = None  # negative = improvement
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True)
class PatientRepresentation:
    """DERM-Rep's patient-level lesion representation: what DERM-Reason consumes."""

    probabilities: dict[str, float]  # patient-level condition probabilities
    regions: tuple[RegionFinding, ...]
    pasi: PasiEstimate | None  # None if no usable photo
    trend: Trend
    # TCM lesion descriptors for DERM-Reason, each 0-1 with evidence, keys such as
    # "bright_red", "pale_red", "dark_red_purple", "thick_scale", "fine_dry_scale", "thick_plaque",
    # "new_spreading", "long_standing", "exudative", "pustular".
    tcm_descriptors: dict[str, float]
    descriptor_evidence: dict[str, tuple[Evidence, ...]]
    photos: tuple[RecResult, ...]  # per-photo readings, newest first
    issues: tuple[DataIssue, ...] = ()
    model_version: str = ""
    # Patient-level morphology fused over the current visit's usable photos (a finding is present
    # when any photo shows it; not assessable only when no photo could show it); None if no photo.
    morphology: Morphology | None = None


# ---------------------------------------------------------------- DERM-Reason


class SeverityLevel(enum.StrEnum):
    """`Severity.level`. A StrEnum: equal to, and serialised as, its plain string value."""

    CLEAR = "clear"
    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"
    UNKNOWN = "unknown"  # psoriasis on record, but no clinician measure to grade it
    NOT_ASSESSED = "not_assessed"  # out of the psoriasis pathway (see Assessment.scope)


class Scope(enum.StrEnum):
    """Whether the psoriasis pathway ran (`Assessment.scope`)."""

    PSORIASIS = "psoriasis"  # psoriasis (or psoriatic arthritis) active and confirmed on the problem list
    OTHER_DIAGNOSIS = "other_diagnosis"  # another skin diagnosis recorded, no psoriasis
    UNCONFIRMED = "unconfirmed"  # photos or scores, but no (confirmed) diagnosis


class Indicator(enum.StrEnum):
    """How urgent a conclusion is, in the CDS Hooks card indicator's terms (`Alert.severity`, drug
    concerns, cards)."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class TherapyClass(enum.StrEnum):
    """The rungs of the psoriasis treatment ladder, lowest first (also the ladder's step ids)."""

    TOPICAL = "topical"
    PHOTOTHERAPY = "phototherapy"
    ORAL_SYSTEMIC = "oral_systemic"
    BIOLOGIC = "biologic"


class PopulationStatus(enum.StrEnum):
    """A drug's standing in a population, most restrictive first (also a treatment option's standing for this patient)."""

    CONTRAINDICATED = "contraindicated"
    CAUTION = "caution"
    ACCEPTABLE = "acceptable"
    PREFERRED = "preferred"


class AlertKind(enum.StrEnum):
    URGENT_REFERRAL = "urgent_referral"  # erythroderma, generalised pustular psoriasis
    HOLD_THERAPY = "hold_therapy"  # active TB / serious infection on immunosuppression
    ABNORMAL_MONITORING = "abnormal_monitoring"  # lab or BP threshold crossed on current therapy
    MONITORING_DUE = "monitoring_due"
    CONTRAINDICATED_CURRENT = "contraindicated_current"  # a current drug is contraindicated (e.g. pregnancy)
    CAUTION_CURRENT = "caution_current"  # e.g. a man on methotrexate planning conception
    INTERACTION = "interaction"
    DUPLICATE_THERAPY = "duplicate_therapy"
    LATENT_TB = "latent_tb"  # preventive treatment before/alongside biologics
    REFERRAL = "referral"  # e.g. rheumatology for psoriatic arthritis


@dataclass(frozen=True)
class Alert:
    """A red flag the clinician should see first. `summary` is one line, action first (< 100 chars);
    `detail` one or two plain sentences; `citation` the published source (text)."""

    kind: AlertKind
    severity: Indicator
    summary: str
    detail: str
    evidence: tuple[Evidence, ...] = ()
    citation: str | None = None
    drug: str | None = None  # drug id from drugs.json, when the alert is about a drug


@dataclass(frozen=True)
class DrugCoding:
    """A code for a therapy (RxNorm ingredient, ATC, SNOMED procedure); `unverified` when the knowledge
    file marks it as not checked against a terminology server."""

    system: str
    code: str
    display: str
    unverified: bool = False


@dataclass(frozen=True)
class Severity:
    level: SeverityLevel
    basis: tuple[Evidence, ...]  # which measures and thresholds decided it
    systemic_candidate: bool = False
    # 1.0 when the measures agree and are current; lowered by conflicts, stale or image-only data.
    confidence: float = 1.0


@dataclass(frozen=True)
class Contraindication:
    therapy: str  # e.g. "methotrexate"
    reason: str  # plain English
    absolute: bool
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class TreatmentOption:
    therapy: str  # option id, e.g. "methotrexate", "tnf_inhibitor"
    display: str  # names only the member drugs this patient may have, e.g. "TNF inhibitor (certolizumab)"
    therapy_class: TherapyClass
    contraindications: tuple[Contraindication, ...] = ()
    pre_treatment_checks: tuple[str, ...] = ()  # e.g. "TB screening", "CBC and liver tests" (not yet on record)
    drugs: tuple[str, ...] = ()  # drugs.json ids of the allowed member drugs, preferred first
    codings: tuple[DrugCoding, ...] = ()  # RxNorm/ATC (drugs) or SNOMED (procedures) of the allowed members
    status: PopulationStatus = PopulationStatus.ACCEPTABLE  # for this patient
    note: str = ""  # one line, e.g. "preferred biologic in pregnancy"
    adjunct: bool = False  # a topical kept alongside a higher step
    current: bool = False  # the patient is already on it

    @property
    def allowed(self) -> bool:
        return not any(c.absolute for c in self.contraindications)


@dataclass(frozen=True)
class TreatmentPlan:
    step: TherapyClass  # the ladder step
    step_display: str
    options: tuple[TreatmentOption, ...]
    rationale: tuple[Evidence, ...]
    profile: str = ""  # guideline profile id, e.g. "aad_npf"
    profile_display: str = ""  # e.g. "AAD-NPF 2019-2021"
    on_hold: bool = False  # current immunosuppression must be held (no escalation)


@dataclass(frozen=True)
class TcmCode:
    """A standard code for a TCM pattern. `code` is None where the code could not be verified offline
    (the term is still given); `verified` says whether anyone checked it against the code system."""

    system: str  # code system URI
    code: str | None
    display: str
    verified: bool
    equivalence: str = "equivalent"  # "equivalent" | "broader" (no exact code exists; the nearest wider one)


@dataclass(frozen=True)
class TcmHerbDose:
    """One herb of a formula (or of a modification / patent medicine) with its usual adult daily dose."""

    herb: str  # knowledge id, e.g. "dan_shen"
    hanzi: str  # 丹参
    pinyin: str  # dān shēn
    latin: str  # pharmaceutical name, e.g. "Salviae Miltiorrhizae Radix et Rhizoma"
    english: str
    dose_g: tuple[float, float] | None  # usual adult daily dose range in grams; None for patent medicines
    role: str  # "sovereign" | "minister" | "assistant" | "envoy" | "added" | "ingredient"
    note: str = ""  # preparation or substitution note
    unverified: bool = False


@dataclass(frozen=True)
class TcmCaution:
    """A safety finding for a formula, modification or patent medicine, shown next to it."""

    level: str  # "caution" | "contraindicated"
    kind: str  # "pregnancy" | "breastfeeding" | "child" | "liver" | "kidney" | "interaction"
    statement: str  # plain English, names the herb(s) and why
    herbs: tuple[str, ...]  # herb ids involved (empty for general cautions)
    evidence: tuple[Evidence, ...]  # the patient data that triggered it and the rule with its citation
    drug: str | None = None  # the patient's medication (for interactions)


@dataclass(frozen=True)
class TcmModification:
    """A common addition to a formula keyed to a finding (itch, dryness, joint pain, pustules, ...)."""

    statement: str  # why: "marked itch"
    add: tuple[TcmHerbDose, ...]
    evidence: tuple[Evidence, ...]
    cautions: tuple[TcmCaution, ...] = ()
    proposed: bool = True  # False when an added herb is contraindicated for this patient


@dataclass(frozen=True)
class TcmFormula:
    """A formula option (decoction) or a Chinese patent medicine, with composition and safety."""

    formula: str  # knowledge id
    kind: str  # "decoction" | "patent_medicine"
    hanzi: str
    pinyin: str
    english: str
    composition: tuple[TcmHerbDose, ...]
    cautions: tuple[TcmCaution, ...]
    proposed: bool  # False: contraindicated for this patient, listed only to say why it is withheld
    citation: str
    origin: str = ""
    substitution: str = ""  # e.g. water buffalo horn for rhinoceros horn
    modifications: tuple[TcmModification, ...] = ()
    note: str = ""
    unverified: bool = False
    unverified_note: str = ""


@dataclass(frozen=True)
class TcmExternalTreatment:
    treatment: str  # knowledge id
    hanzi: str
    pinyin: str
    english: str
    use: str
    citation: str
    unverified: bool = False


@dataclass(frozen=True)
class TcmPattern:
    pattern: str  # "blood_heat" | "blood_dryness" | "blood_stasis" | "damp_heat" | "heat_toxin" | "wind_damp"
    display: str
    score: float  # 0-1 normalised support
    evidence_for: tuple[Evidence, ...]
    evidence_against: tuple[Evidence, ...]
    treatment_principle: str
    formulas: tuple[str, ...]  # display names of the formulas proposed (contraindicated ones left out)
    # Full reasoning (issue 15), filled by DERM-Reason when the formula/herb/safety knowledge is given.
    hanzi: str = ""  # 血热证
    pinyin: str = ""  # xuè rè zhèng
    codes: tuple[TcmCode, ...] = ()
    pathogenesis: str = ""
    pathogenesis_hanzi: str = ""
    principle_detail: str = ""  # the full treatment principle in English
    principle_hanzi: str = ""  # 清热凉血，解毒消斑
    principle_pinyin: str = ""
    formula_options: tuple[TcmFormula, ...] = ()  # proposed first, then withheld (with their reasons)
    patent_medicines: tuple[TcmFormula, ...] = ()
    external_treatments: tuple[TcmExternalTreatment, ...] = ()
    urgent_note: str = ""  # e.g. erythroderma / pustular psoriasis: guideline care first
    tier: str = ""  # "core" | "extra" (lower evidence)


@dataclass(frozen=True)
class TcmDifferentiation:
    """Integrative only: never replaces guideline care; `confidence` is honest (low with few findings)."""

    primary: TcmPattern | None
    ranked: tuple[TcmPattern, ...]
    confidence: float  # 0-1
    note: str  # the integrative disclaimer shown with it
    citation: str
    # Why the confidence is what it is (coverage of inputs, image-only cap, close runner-up, open
    # differential, lower-evidence pattern), so a card can say so. Added by DERM-Reason; default ().
    confidence_basis: tuple[Evidence, ...] = ()
    # Short lines for the card (issue 15: one or two lines; the rest is for the review app and CarePlan).
    card_line: str = ""  # pattern (hanzi, pinyin), principle, first proposed formula
    card_caution: str = ""  # safety summary for the card, "" when there is nothing to say
    safety_basis: tuple[Evidence, ...] = ()  # the patient facts safety was checked against
    # Special populations (e.g. "pregnancy") in which herbal safety is not established: the card then
    # names no formula (the herb-by-herb check stays in the review app and the CarePlan). Set by DERM-Reason.
    formula_caution_populations: tuple[str, ...] = ()


@dataclass(frozen=True)
class Screening:
    kind: str  # "psoriatic_arthritis" | "cardiometabolic" | "depression" | "pre_systemic"
    display: str
    due: bool
    action: str  # what to do, plain English
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class FollowUp:
    interval_weeks: int
    targets: tuple[str, ...]  # treat-to-target goals, e.g. "BSA <= 1% at 3 months"
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class Assessment:
    """DERM-Reason's holistic conclusion for one patient at one time."""

    patient_ref: str
    as_of: datetime
    severity: Severity
    treatment: TreatmentPlan | None
    tcm: TcmDifferentiation | None
    screenings: tuple[Screening, ...]
    follow_up: FollowUp | None
    representation: PatientRepresentation | None  # None when no photos
    issues: tuple[DataIssue, ...]
    knowledge_version: str
    model_version: str
    summary: str  # one plain-English line (< 140 chars) for the card
    # Scope gate: "psoriasis" when the pathway ran; otherwise severity is "not_assessed", no treatment.
    scope: Scope = Scope.PSORIASIS
    scope_note: str = ""  # what the record shows when out of scope (plain text)
    suggested_tests: tuple[str, ...] = ()  # tests that would settle the diagnosis (e.g. KOH microscopy)
    alerts: tuple[Alert, ...] = ()  # red flags, most severe first
    subtypes: tuple[str, ...] = ()  # displays, e.g. ("erythrodermic psoriasis", "nail psoriasis")
    guideline_profile: str = ""  # display of the profile used, e.g. "AAD-NPF 2019-2021"
    headline: str | None = None  # the decisive measure, e.g. "PASI 14.2"
    populations: tuple[str, ...] = ()  # special populations that changed the plan, e.g. ("pregnancy",)
    urgent: bool = False  # erythroderma / GPP: same-day review, no routine plan
