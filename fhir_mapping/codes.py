"""Every code the service reads or writes, in one place.

Tables translate FHIR codings into the internal keys of `inference.case` (`FindingKey`,
`ConditionKey`, `BodyRegion`, medication keys) and name the codings the service writes back. The
README's data-contract table is rendered from `CONTRACT` (see `fhir_mapping.contract_table`), so a
code added here is documented by construction.

Codes marked "(unverified)" in a display came from clinical.md's unverified list or from memory
without a terminology server at hand: they are accepted on input (a wrong code simply never
matches) but should be checked before anyone relies on them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from functools import lru_cache

from inference.case import BodyRegion, ConditionKey, FindingKey, PsoriasisSubtype
from inference.knowledge_base import KnowledgeBase
from inference.reason.drugs import DrugCatalogue

# ------------------------------------------------------------------ code systems

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICD10_CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICD10_SYSTEMS = frozenset(
    {ICD10, ICD10_CM, "urn:oid:2.16.840.1.113883.6.3", "urn:oid:2.16.840.1.113883.6.90"}
)
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
# The project's own namespace. Every own CodeSystem, NamingSystem and StructureDefinition URI is
# built from this one root: stable canonical URLs (a resource need not be served there for the codes
# to be meaningful; the README's data-contract table defines them).
OWN_FHIR_ROOT = "https://derm3r.org/fhir"


def own_uri(kind: str, name: str) -> str:
    """`https://derm3r.org/fhir/<kind>/<name>`, e.g. own_uri("CodeSystem", "card-topic")."""
    return f"{OWN_FHIR_ROOT}/{kind}/{name}"


DERM3R = own_uri("CodeSystem", "derm3r")
DERM3R_IDENTIFIER = own_uri("NamingSystem", "resource-id")
DERM3R_DEVICE_IDENTIFIER = own_uri("NamingSystem", "device")
CARD_TOPIC = own_uri("CodeSystem", "card-topic")  # CDS card source.topic
ORDER_OVERRIDE_REASON = own_uri("CodeSystem", "order-override-reason")  # order cards' override reasons
REVIEW_OVERRIDE_REASON = own_uri("CodeSystem", "review-override-reason")  # assessment cards and the review app
CODE_UNVERIFIED_EXTENSION = own_uri("StructureDefinition", "code-unverified")
SYNTHETIC_MRN = own_uri("NamingSystem", "synthetic-mrn")  # demo patients' identifiers

OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VER_STATUS = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
V3_OBSERVATION_VALUE = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
V3_ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
V3_DATA_OPERATION = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
PROVENANCE_PARTICIPANT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
MEDIA_TYPE = "http://terminology.hl7.org/CodeSystem/media-type"
MEDIA_MODALITY = "http://terminology.hl7.org/CodeSystem/media-modality"
DICOM_DCM = "http://dicom.nema.org/resources/ontology/DCM"
V2_YES_NO = "http://terminology.hl7.org/CodeSystem/v2-0136"

Coding = tuple[str, str]  # (system, code)


@dataclass(frozen=True)
class CodeInfo:
    """One row of the data contract."""

    system: str
    code: str
    display: str
    direction: Literal["read", "write", "read/write"]
    maps_to: str = ""  # internal key, or what the service writes it for


# ------------------------------------------------------------------ the project's own codes

# Clinician- or patient-entered scores with no LOINC code (clinical.md "Other measures").
D_PASI = "pasi"
D_BSA = "bsa-percent"
D_PGA = "pga"
D_DLQI = "dlqi"
D_ITCH_NRS = "itch-nrs"
D_PEST = "pest-score"
D_PHQ2 = "phq2"
D_TONGUE = "tcm-tongue"
D_PULSE = "tcm-pulse"
D_SPECIAL_AREA = "special-area"
D_TOPICAL_FAILURE = "topical-failure"
D_JOINT_PAIN = "joint-pain"
D_LESION_ONSET = "lesion-onset"
D_BREASTFEEDING = "breastfeeding"
D_PLANNING_PREGNANCY = "planning-pregnancy"
# TCM tongue inspection recorded per aspect (helper 15): Observation tcm-tongue with these components
# (or separate Observations with these codes); every one maps to the `tongue` finding.
D_TONGUE_BODY = "tcm-tongue-body-colour"
D_TONGUE_COAT_COLOUR = "tcm-tongue-coat-colour"
D_TONGUE_COAT_TEXTURE = "tcm-tongue-coat-thickness"
D_TONGUE_SHAPE = "tcm-tongue-shape"
D_LESION_MORPHOLOGY = "lesion-morphology"  # clinician-recorded sign (pustules, exudation, ...) (helper 15)

# What the service writes back (AI output).
D_PASI_AI = "pasi-image-estimate"
D_PASI_AI_LOW = "pasi-image-estimate-low"
D_PASI_AI_HIGH = "pasi-image-estimate-high"
D_LESION_ATTRIBUTES = "lesion-attributes-image"
D_ERYTHEMA = "erythema-score"
D_SCALE = "desquamation-score"
D_THICKNESS = "induration-score"
D_AREA_FRACTION = "lesional-area-percent"
D_PSORIASIS_PROBABILITY = "psoriasis-probability"
D_CLASS_PROBABILITY = "class-probability"
D_IMAGE_ANALYSIS = "image-analysis"  # Observation.method
D_CARE_PLAN = "psoriasis-care-plan-draft"
D_TCM_INTEGRATIVE = "tcm-integrative"
D_SOFTWARE = "cds-software"

# Internal finding keys -> their own-CodeSystem code (input); FindingKey values are the vocabulary.
_DERM3R_FINDINGS: dict[str, tuple[FindingKey, str]] = {
    D_PASI: (FindingKey.PASI, "Psoriasis Area and Severity Index (0-72)"),
    D_BSA: (FindingKey.BSA_PERCENT, "Body surface area involved by psoriasis (%)"),
    D_PGA: (FindingKey.PGA, "Physician global assessment of psoriasis (0-4 or 0-5)"),
    D_DLQI: (FindingKey.DLQI, "Dermatology Life Quality Index (0-30)"),
    D_ITCH_NRS: (FindingKey.ITCH_NRS, "Itch numeric rating scale (0-10)"),
    D_PEST: (FindingKey.PEST_SCORE, "Psoriasis Epidemiology Screening Tool: number of yes answers (0-5)"),
    D_PHQ2: (FindingKey.PHQ2, "PHQ-2 total score (0-6)"),
    D_TONGUE: (FindingKey.TONGUE, "TCM tongue finding"),
    D_PULSE: (FindingKey.PULSE, "TCM pulse finding"),
    D_SPECIAL_AREA: (FindingKey.SPECIAL_AREA, "Psoriasis in a special area (scalp, face, palms/soles, nails, genitals)"),
    D_TOPICAL_FAILURE: (FindingKey.TOPICAL_FAILURE, "Documented failure of topical therapy"),
    D_JOINT_PAIN: (FindingKey.JOINT_PAIN, "Joint pain or swelling reported"),
    D_LESION_ONSET: (FindingKey.LESION_ONSET, "Lesion course: new/spreading, stable or long-standing"),
    D_BREASTFEEDING: (FindingKey.BREASTFEEDING, "Currently breastfeeding"),
    D_PLANNING_PREGNANCY: (FindingKey.PLANNING_PREGNANCY, "Planning a pregnancy (patient or partner)"),
    D_TONGUE_BODY: (FindingKey.TONGUE, "TCM tongue body colour"),
    D_TONGUE_COAT_COLOUR: (FindingKey.TONGUE, "TCM tongue coat colour"),
    D_TONGUE_COAT_TEXTURE: (FindingKey.TONGUE, "TCM tongue coat thickness and texture"),
    D_TONGUE_SHAPE: (FindingKey.TONGUE, "TCM tongue shape and features"),
    D_LESION_MORPHOLOGY: (FindingKey.LESION_MORPHOLOGY, "Psoriasis lesion morphology recorded by a clinician"),
}

# ------------------------------------------------------------------ LOINC findings (input)

LOINC_BMI = "39156-5"
LOINC_BP_PANEL = "85354-9"
LOINC_BP_PANEL_OLD = "55284-4"  # "Blood pressure systolic and diastolic", used by Synthea
LOINC_SYSTOLIC = "8480-6"
LOINC_DIASTOLIC = "8462-4"
LOINC_HBA1C = "4548-4"
LOINC_PREGNANCY_STATUS = "82810-3"
LOINC_PHQ2 = "55758-7"
# Codes written for ALT, AST and eGFR (every listed variant is read).
LOINC_ALT = "1742-6"
LOINC_AST = "1920-8"
LOINC_EGFR = "33914-3"

_LOINC_FINDINGS: dict[str, tuple[FindingKey, str]] = {
    LOINC_BMI: (FindingKey.BMI, "Body mass index (BMI) [Ratio]"),
    LOINC_SYSTOLIC: (FindingKey.SYSTOLIC_BP, "Systolic blood pressure"),
    LOINC_DIASTOLIC: (FindingKey.DIASTOLIC_BP, "Diastolic blood pressure"),
    LOINC_HBA1C: (FindingKey.HBA1C, "Hemoglobin A1c/Hemoglobin.total in Blood"),
    "17856-6": (FindingKey.HBA1C, "Hemoglobin A1c/Hemoglobin.total in Blood by HPLC"),
    "18262-6": (FindingKey.LDL, "Cholesterol in LDL [Mass/volume] in Serum or Plasma by Direct assay"),
    "13457-7": (FindingKey.LDL, "Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation"),
    "2089-1": (FindingKey.LDL, "Cholesterol in LDL [Mass/volume] in Serum or Plasma"),
    "2093-3": (FindingKey.TOTAL_CHOLESTEROL, "Cholesterol [Mass/volume] in Serum or Plasma"),
    LOINC_PREGNANCY_STATUS: (FindingKey.PREGNANT, "Pregnancy status"),
    LOINC_PHQ2: (FindingKey.PHQ2, "Patient Health Questionnaire 2 item (PHQ-2) total score [Reported]"),
    # Laboratory results read for drug safety (checks before starting, monitoring on therapy).
    "1742-6": (FindingKey.ALT, "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma"),
    "1743-4": (FindingKey.ALT, "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma by With P-5'-P"),
    "76625-3": (FindingKey.ALT, "Alanine aminotransferase [Enzymatic activity/volume] in Blood"),
    "1744-2": (FindingKey.ALT, "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma by No addition of P-5'-P"),
    "30239-8": (FindingKey.AST, "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma by With P-5'-P"),
    "48642-3": (FindingKey.EGFR, "Glomerular filtration rate/1.73 sq M.predicted among non-blacks (MDRD)"),
    "48643-1": (FindingKey.EGFR, "Glomerular filtration rate/1.73 sq M.predicted among blacks (MDRD)"),
    "88293-6": (FindingKey.EGFR, "Glomerular filtration rate/1.73 sq M.predicted among blacks (CKD-EPI) (unverified)"),
    "88294-4": (FindingKey.EGFR, "Glomerular filtration rate/1.73 sq M.predicted among non-blacks (CKD-EPI) (unverified)"),
    "1920-8": (FindingKey.AST, "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma"),
    "2160-0": (FindingKey.CREATININE, "Creatinine [Mass/volume] in Serum or Plasma"),
    "38483-4": (FindingKey.CREATININE, "Creatinine [Mass/volume] in Blood"),
    "14682-9": (FindingKey.CREATININE, "Creatinine [Moles/volume] in Serum or Plasma"),
    "33914-3": (FindingKey.EGFR, "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum or Plasma by Creatinine-based formula (MDRD)"),
    "62238-1": (FindingKey.EGFR, "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood by Creatinine-based formula (CKD-EPI)"),
    "98979-8": (FindingKey.EGFR, "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood by Creatinine-based formula (CKD-EPI 2021)"),
    "69405-9": (FindingKey.EGFR, "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood"),
    "6690-2": (FindingKey.WBC, "Leukocytes [#/volume] in Blood by Automated count"),
    "26464-8": (FindingKey.WBC, "Leukocytes [#/volume] in Blood"),
    "751-8": (FindingKey.NEUTROPHILS, "Neutrophils [#/volume] in Blood by Automated count"),
    "26499-4": (FindingKey.NEUTROPHILS, "Neutrophils [#/volume] in Blood"),
    "777-3": (FindingKey.PLATELETS, "Platelets [#/volume] in Blood by Automated count"),
    "26515-7": (FindingKey.PLATELETS, "Platelets [#/volume] in Blood"),
    "718-7": (FindingKey.HAEMOGLOBIN, "Hemoglobin [Mass/volume] in Blood"),
    "2571-8": (FindingKey.TRIGLYCERIDES, "Triglyceride [Mass/volume] in Serum or Plasma"),
    "2085-9": (FindingKey.HDL, "Cholesterol in HDL [Mass/volume] in Serum or Plasma"),
    "71773-6": (FindingKey.TB_IGRA, "M. tuberculosis stimulated gamma interferon [Presence] in Blood by Immunoassay"),
    "88517-8": (FindingKey.TB_IGRA, "M. tuberculosis stimulated gamma interferon panel (unverified)"),
    "64084-7": (FindingKey.TB_IGRA, "M. tuberculosis stimulated gamma interferon release by T-cells [Presence] (unverified)"),
    "1963-8": (FindingKey.TB_SKIN_TEST, "Tuberculin skin test result (unverified)"),
    "5196-1": (FindingKey.HBSAG, "Hepatitis B virus surface Ag [Presence] in Serum by Immunoassay"),
    "16933-4": (FindingKey.ANTI_HBC, "Hepatitis B virus core Ab [Presence] in Serum"),
    "16128-1": (FindingKey.HCV_ANTIBODY, "Hepatitis C virus Ab [Presence] in Serum"),
    "13955-0": (FindingKey.HCV_ANTIBODY, "Hepatitis C virus Ab [Presence] in Serum by Immunoassay"),
    "2106-3": (FindingKey.PREGNANCY_TEST, "Choriogonadotropin (pregnancy test) [Presence] in Urine"),
    "2118-8": (FindingKey.PREGNANCY_TEST, "Choriogonadotropin (pregnancy test) [Presence] in Serum or Plasma"),
    "86645-9": (FindingKey.PLANNING_PREGNANCY, "Pregnancy intention in the next year - Reported"),
}

# Short clinician-facing names of findings used in data-quality messages ("ALT: result recorded as text").
FINDING_LABELS: dict[FindingKey, str] = {
    FindingKey.ALT: "ALT", FindingKey.AST: "AST", FindingKey.CREATININE: "creatinine", FindingKey.EGFR: "eGFR",
    FindingKey.WBC: "white cell count", FindingKey.NEUTROPHILS: "neutrophil count", FindingKey.PLATELETS: "platelet count",
    FindingKey.HAEMOGLOBIN: "haemoglobin", FindingKey.TRIGLYCERIDES: "triglycerides", FindingKey.HDL: "HDL cholesterol",
    FindingKey.TB_IGRA: "TB IGRA", FindingKey.TB_SKIN_TEST: "tuberculin skin test", FindingKey.HBSAG: "HBsAg",
    FindingKey.ANTI_HBC: "anti-HBc", FindingKey.HCV_ANTIBODY: "hepatitis C antibody", FindingKey.PREGNANCY_TEST: "pregnancy test",
    FindingKey.BSA_PERCENT: "BSA", FindingKey.PASI: "PASI", FindingKey.PGA: "PGA", FindingKey.DLQI: "DLQI",
    FindingKey.HBA1C: "HbA1c", FindingKey.LDL: "LDL cholesterol", FindingKey.BMI: "BMI",
}

# LOINC lab codes by the finding they give (first = the code written for the finding).
LAB_FINDINGS: frozenset[FindingKey] = frozenset({
    FindingKey.ALT, FindingKey.AST, FindingKey.CREATININE, FindingKey.EGFR, FindingKey.WBC, FindingKey.NEUTROPHILS,
    FindingKey.PLATELETS, FindingKey.HAEMOGLOBIN, FindingKey.TRIGLYCERIDES, FindingKey.HDL, FindingKey.TB_IGRA,
    FindingKey.TB_SKIN_TEST, FindingKey.HBSAG, FindingKey.ANTI_HBC, FindingKey.HCV_ANTIBODY, FindingKey.PREGNANCY_TEST,
})

# Panels whose findings live in components (the panel code itself yields nothing).
BP_PANEL_CODES: frozenset[Coding] = frozenset({(LOINC, LOINC_BP_PANEL), (LOINC, LOINC_BP_PANEL_OLD)})

# SNOMED codes used as Observation.code (input).
SNOMED_JOINT_PAIN = "57676002"
_SNOMED_FINDINGS: dict[str, tuple[FindingKey, str]] = {
    SNOMED_JOINT_PAIN: (FindingKey.JOINT_PAIN, "Joint pain (finding)"),
}

FINDING_CODES: dict[Coding, FindingKey] = {
    **{(DERM3R, c): k for c, (k, _) in _DERM3R_FINDINGS.items()},
    **{(LOINC, c): k for c, (k, _) in _LOINC_FINDINGS.items()},
    **{(SNOMED, c): k for c, (k, _) in _SNOMED_FINDINGS.items()},
}


def finding_key(system: str | None, code: str | None) -> FindingKey | None:
    """The finding key for an Observation.code coding, or None if the service does not use it."""
    if not system or not code:
        return None
    return FINDING_CODES.get((system, code.strip()))


# ------------------------------------------------------------------ units (input normalisation)

@dataclass(frozen=True)
class UnitRule:
    """The canonical unit of a numeric finding and how to convert accepted alternatives."""

    canonical: str
    # accepted unit spelling (lower-cased UCUM code or unit text) -> (multiplier, offset) into canonical
    accepted: dict[str, tuple[float, float]]
    minimum: float
    maximum: float


_SCORE = {"": (1.0, 0.0), "{score}": (1.0, 0.0), "1": (1.0, 0.0), "{#}": (1.0, 0.0), "score": (1.0, 0.0)}
# LDL / cholesterol: 1 mmol/L = 38.67 mg/dL (molar mass of cholesterol 386.65 g/mol).
_CHOL = {"mg/dl": (1.0, 0.0), "mmol/l": (38.67, 0.0)}
# Triglycerides: 1 mmol/L = 88.57 mg/dL (molar mass of triolein 885.7 g/mol).
_TRIG = {"mg/dl": (1.0, 0.0), "mmol/l": (88.57, 0.0)}
# Enzyme activity: U/L = IU/L; ukat/L x 60 = U/L.
_ENZYME = {"u/l": (1.0, 0.0), "iu/l": (1.0, 0.0), "[iu]/l": (1.0, 0.0), "ukat/l": (60.0, 0.0), "µkat/l": (60.0, 0.0)}
# Creatinine: 1 mg/dL = 88.42 umol/L.
_CREAT = {"mg/dl": (1.0, 0.0), "umol/l": (1 / 88.42, 0.0), "µmol/l": (1 / 88.42, 0.0), "mmol/l": (1000 / 88.42, 0.0)}
_EGFR = {"ml/min/{1.73_m2}": (1.0, 0.0), "ml/min/1.73m2": (1.0, 0.0), "ml/min/1.73 m2": (1.0, 0.0), "ml/min": (1.0, 0.0),
         "ml/min/{1.73_m2}.": (1.0, 0.0), "ml/min/1.73m^2": (1.0, 0.0)}
# Cell counts: 10*9/L = 10*3/uL = 10^3/mm3 = /nL.
_COUNT = {"10*9/l": (1.0, 0.0), "10*3/ul": (1.0, 0.0), "10^9/l": (1.0, 0.0), "10^3/ul": (1.0, 0.0), "k/ul": (1.0, 0.0),
          "/nl": (1.0, 0.0), "10*3/mm3": (1.0, 0.0), "x10e3/ul": (1.0, 0.0), "giga/l": (1.0, 0.0)}
# Haemoglobin: g/dL; g/L / 10; mmol/L (monomer) x 1.611.
_HB = {"g/dl": (1.0, 0.0), "g/l": (0.1, 0.0), "mmol/l": (1.611, 0.0)}

UNIT_RULES: dict[FindingKey, UnitRule] = {
    FindingKey.PASI: UnitRule("{score}", _SCORE, 0.0, 72.0),
    FindingKey.BSA_PERCENT: UnitRule("%", {"%": (1.0, 0.0), "": (1.0, 0.0), "percent": (1.0, 0.0)}, 0.0, 100.0),
    FindingKey.PGA: UnitRule("{score}", _SCORE, 0.0, 5.0),
    FindingKey.DLQI: UnitRule("{score}", _SCORE, 0.0, 30.0),
    FindingKey.ITCH_NRS: UnitRule("{score}", _SCORE, 0.0, 10.0),
    FindingKey.PEST_SCORE: UnitRule("{score}", _SCORE, 0.0, 5.0),
    FindingKey.PHQ2: UnitRule("{score}", _SCORE, 0.0, 6.0),
    FindingKey.BMI: UnitRule("kg/m2", {"kg/m2": (1.0, 0.0), "kg/m^2": (1.0, 0.0), "": (1.0, 0.0)}, 5.0, 150.0),
    FindingKey.SYSTOLIC_BP: UnitRule("mm[Hg]", {"mm[hg]": (1.0, 0.0), "mmhg": (1.0, 0.0), "": (1.0, 0.0)}, 30.0, 300.0),
    FindingKey.DIASTOLIC_BP: UnitRule("mm[Hg]", {"mm[hg]": (1.0, 0.0), "mmhg": (1.0, 0.0), "": (1.0, 0.0)}, 10.0, 250.0),
    # IFCC mmol/mol -> NGSP %: % = 0.09148 * mmol/mol + 2.152 (NGSP/IFCC master equation).
    FindingKey.HBA1C: UnitRule("%", {"%": (1.0, 0.0), "": (1.0, 0.0), "mmol/mol": (0.09148, 2.152)}, 2.0, 25.0),
    FindingKey.LDL: UnitRule("mg/dL", _CHOL, 0.0, 1000.0),
    FindingKey.TOTAL_CHOLESTEROL: UnitRule("mg/dL", _CHOL, 0.0, 2000.0),
    FindingKey.HDL: UnitRule("mg/dL", _CHOL, 0.0, 500.0),
    FindingKey.TRIGLYCERIDES: UnitRule("mg/dL", _TRIG, 0.0, 20000.0),
    FindingKey.ALT: UnitRule("U/L", _ENZYME, 0.0, 20000.0),
    FindingKey.AST: UnitRule("U/L", _ENZYME, 0.0, 20000.0),
    FindingKey.CREATININE: UnitRule("mg/dL", _CREAT, 0.05, 40.0),
    FindingKey.EGFR: UnitRule("mL/min/{1.73_m2}", _EGFR, 0.0, 250.0),
    FindingKey.WBC: UnitRule("10*9/L", _COUNT, 0.0, 1000.0),
    FindingKey.NEUTROPHILS: UnitRule("10*9/L", _COUNT, 0.0, 1000.0),
    FindingKey.PLATELETS: UnitRule("10*9/L", _COUNT, 0.0, 5000.0),
    FindingKey.HAEMOGLOBIN: UnitRule("g/dL", _HB, 1.0, 30.0),
}

# ------------------------------------------------------------------ coded values (input)

# Internal TCM keys (clinical.md TCM table). Combined values ("red_yellow_coat") are what older charts
# hold; the atomic ones (body_*, coat_*, shape_*, spots_*; helper 15) record one aspect each (body
# colour, coat colour, coat thickness/texture, shape). The knowledge file expands combined values into
# atoms (tcm.json "compound_findings"), and its rules use the atoms.
TONGUE_KEYS: dict[str, str] = {
    "body_pale": "Tongue body pale",
    "body_pale_red": "Tongue body pale red",
    "body_red": "Tongue body red",
    "body_crimson": "Tongue body crimson (deep red)",
    "body_purple": "Tongue body purple",
    "body_dusky": "Tongue body dusky (dark)",
    "spots_stasis": "Stasis spots or patches on the tongue",
    "coat_white": "Tongue coat white",
    "coat_yellow": "Tongue coat yellow",
    "coat_thin": "Tongue coat thin",
    "coat_thick": "Tongue coat thick",
    "coat_greasy": "Tongue coat greasy",
    "coat_little": "Tongue coat scanty, peeled or absent",
    "shape_swollen": "Tongue swollen (enlarged)",
    "shape_teeth_marks": "Tongue with teeth marks",
    "shape_fissured": "Tongue fissured",
    "red_yellow_coat": "Red tongue, yellow coat",
    "red_thin_yellow_coat": "Red tongue, thin yellow coat",
    "red": "Red tongue",
    "red_greasy_yellow_coat": "Red tongue, greasy yellow coat",
    "greasy_yellow_coat": "Greasy yellow coat",
    "crimson": "Crimson (deep red) tongue",
    "crimson_yellow_coat": "Crimson tongue, yellow coat",
    "pale_red_little_coat": "Pale red tongue, little coat",
    "pale_red": "Pale red tongue",
    "little_coat": "Little or no coat",
    "pale": "Pale tongue",
    "pale_white_coat": "Pale tongue, white coat",
    "white_greasy_coat": "White greasy coat",
    "purple": "Purple tongue",
    "purple_dusky": "Purple or dusky tongue",
    "purple_spots": "Purple tongue with stasis spots",
    "dusky": "Dusky tongue",
}
# Other spellings seen in records -> the knowledge file's key (input only).
TONGUE_ALIASES: dict[str, str] = {
    "red_yellow_greasy_coat": "red_greasy_yellow_coat",
    "yellow_greasy_coat": "greasy_yellow_coat",
    "greasy_white_coat": "white_greasy_coat",
}
PULSE_KEYS: dict[str, str] = {
    "deep": "Deep pulse",
    "surging": "Surging pulse",
    "tight": "Tight pulse",
    "slow": "Slow pulse",
    "floating": "Floating pulse",
    "rapid": "Rapid pulse",
    "slippery": "Slippery pulse",
    "slippery_rapid": "Slippery and rapid pulse",
    "deep_thin": "Deep thin pulse",
    "thin": "Thin pulse",
    "choppy": "Choppy pulse",
    "choppy_thin": "Choppy thin pulse",
    "wiry": "Wiry pulse",
    "wiry_slippery": "Wiry slippery pulse",
    "soggy": "Soggy pulse",
    "soggy_rapid": "Soggy rapid pulse",
    "surging_rapid": "Surging rapid pulse",
}
PULSE_ALIASES: dict[str, str] = {"rapid_slippery": "slippery_rapid", "thin_deep": "deep_thin"}
SPECIAL_AREA_KEYS: dict[str, str] = {
    "scalp": "Scalp",
    "face": "Face",
    "palms_soles": "Palms or soles",
    "nails": "Nails",
    "genitals": "Genitals",
    "flexures": "Flexures (axillae, groin, inframammary, gluteal cleft)",  # helper 15: inverse psoriasis
}
# Clinician-recorded lesion signs (helper 15): read by the TCM differentiation (tcm.json "signs").
LESION_MORPHOLOGY_KEYS: dict[str, str] = {
    "pustules": "Pustules",
    "erythroderma": "Erythroderma (confluent erythema of most of the skin)",
    "exudation": "Exudation or weeping",
    "fissures": "Fissures",
}
LESION_ONSET_KEYS: dict[str, str] = {
    "new_spreading": "New or spreading lesions",
    "stable": "Stable lesions",
    "long_standing": "Long-standing lesions",
}


def derm3r_value_code(prefix: str, key: str) -> str:
    """Own-CodeSystem code for a coded value: ("tongue", "red_yellow_coat") -> "tongue-red-yellow-coat"."""
    return f"{prefix}-{key.replace('_', '-')}"


_VALUE_TABLES: dict[FindingKey, tuple[str, dict[str, str]]] = {
    FindingKey.TONGUE: ("tongue", TONGUE_KEYS),
    FindingKey.PULSE: ("pulse", PULSE_KEYS),
    FindingKey.SPECIAL_AREA: ("area", SPECIAL_AREA_KEYS),
    FindingKey.LESION_ONSET: ("onset", LESION_ONSET_KEYS),
    FindingKey.LESION_MORPHOLOGY: ("morphology", LESION_MORPHOLOGY_KEYS),
}

_VALUE_ALIASES: dict[FindingKey, dict[str, str]] = {FindingKey.TONGUE: TONGUE_ALIASES, FindingKey.PULSE: PULSE_ALIASES}

VALUE_CODES: dict[FindingKey, dict[Coding, str]] = {
    key: {(DERM3R, derm3r_value_code(prefix, k)): k for k in table} for key, (prefix, table) in _VALUE_TABLES.items()
}
for _key, _aliases in _VALUE_ALIASES.items():
    _prefix = _VALUE_TABLES[_key][0]
    VALUE_CODES[_key].update({(DERM3R, derm3r_value_code(_prefix, a)): k for a, k in _aliases.items()})


def value_alias(key: FindingKey, text: str) -> str | None:
    """The internal key for a coded finding given as plain text ("red yellow coat"), or None."""
    _, table = _VALUE_TABLES[key]
    normal = "_".join(text.strip().lower().replace("-", " ").split())
    if normal in table:
        return normal
    return _VALUE_ALIASES.get(key, {}).get(normal)
# Special areas are also commonly recorded as SNOMED body structures.
VALUE_CODES[FindingKey.SPECIAL_AREA].update(
    {(SNOMED, "41695006"): "scalp", (SNOMED, "89545001"): "face", (SNOMED, "72651009"): "nails"}
)

# Boolean answers given as codes (pregnancy status, yes/no questions).
SNOMED_PREGNANT = "77386006"
SNOMED_NOT_PREGNANT = "60001007"
BOOLEAN_VALUE_CODES: dict[Coding, bool] = {
    (SNOMED, SNOMED_PREGNANT): True,
    (SNOMED, SNOMED_NOT_PREGNANT): False,
    (SNOMED, "373066001"): True,  # Yes
    (SNOMED, "373067005"): False,  # No
    (V2_YES_NO, "Y"): True,
    (V2_YES_NO, "N"): False,
    (LOINC, "LA33-6"): True,  # Yes
    (LOINC, "LA32-8"): False,  # No
    (LOINC, "LA15173-0"): True,  # Pregnant
    (LOINC, "LA26683-5"): False,  # Not pregnant
    # Qualitative laboratory answers (IGRA, serology, pregnancy tests).
    (SNOMED, "10828004"): True,  # Positive
    (SNOMED, "260385009"): False,  # Negative
    (SNOMED, "260373001"): True,  # Detected
    (SNOMED, "260415000"): False,  # Not detected
    (SNOMED, "11214006"): True,  # Reactive
    (SNOMED, "131194007"): False,  # Non-reactive
    (LOINC, "LA6576-8"): True,  # Positive
    (LOINC, "LA6577-6"): False,  # Negative
    (LOINC, "LA11882-0"): True,  # Detected
    (LOINC, "LA11883-8"): False,  # Not detected
    ("http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "POS"): True,
    ("http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "NEG"): False,
}
# Answers that exist but cannot be used as yes/no: reported as not interpretable, never guessed.
INDETERMINATE_VALUE_CODES: frozenset[Coding] = frozenset({
    (SNOMED, "82334004"),  # Indeterminate
    (SNOMED, "419984006"),  # Inconclusive
    (LOINC, "LA11884-6"),  # Indeterminate
    (LOINC, "LA4489-6"),  # Unknown
    ("http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "IND"),
})
# Plain-text qualitative results (valueString / CodeableConcept.text), lower-cased.
BOOLEAN_TEXT: dict[str, bool] = {
    "positive": True, "pos": True, "detected": True, "reactive": True, "yes": True, "present": True,
    "negative": False, "neg": False, "not detected": False, "non-reactive": False, "nonreactive": False,
    "non reactive": False, "no": False, "absent": False,
}
INDETERMINATE_TEXT = frozenset({"indeterminate", "inconclusive", "equivocal", "borderline", "invalid", "unknown"})

# Which findings are booleans, coded strings or numbers.
BOOLEAN_FINDINGS = frozenset({
    FindingKey.PREGNANT, FindingKey.TOPICAL_FAILURE, FindingKey.JOINT_PAIN, FindingKey.TB_IGRA, FindingKey.TB_SKIN_TEST,
    FindingKey.HBSAG, FindingKey.ANTI_HBC, FindingKey.HCV_ANTIBODY, FindingKey.PREGNANCY_TEST, FindingKey.BREASTFEEDING,
    FindingKey.PLANNING_PREGNANCY,
})
CODED_FINDINGS = frozenset(VALUE_CODES)

# ------------------------------------------------------------------ conditions (input)

_SNOMED_CONDITIONS: dict[str, tuple[ConditionKey, str]] = {
    "9014002": (ConditionKey.PSORIASIS, "Psoriasis"),
    "200965009": (ConditionKey.PSORIASIS, "Plaque psoriasis"),
    "200975007": (ConditionKey.PSORIASIS, "Psoriasis vulgaris"),
    "37042000": (ConditionKey.PSORIASIS, "Guttate psoriasis (unverified)"),
    "200973000": (ConditionKey.PSORIASIS, "Generalized pustular psoriasis (unverified)"),
    "200977004": (ConditionKey.PSORIASIS, "Erythrodermic psoriasis (unverified)"),
    "156370009": (ConditionKey.PSORIATIC_ARTHRITIS, "Psoriatic arthritis"),
    "33339001": (ConditionKey.PSORIATIC_ARTHRITIS, "Psoriasis with arthropathy"),
    "77386006": (ConditionKey.PREGNANCY, "Pregnant"),
    "72892002": (ConditionKey.PREGNANCY, "Normal pregnancy"),
    "235856003": (ConditionKey.LIVER_DISEASE, "Disorder of liver"),
    "19943007": (ConditionKey.LIVER_DISEASE, "Cirrhosis of liver"),
    "197321007": (ConditionKey.LIVER_DISEASE, "Steatosis of liver"),
    "56717001": (ConditionKey.TUBERCULOSIS, "Tuberculosis"),
    "11999007": (ConditionKey.LATENT_TUBERCULOSIS, "Latent tuberculosis (unverified)"),
    "84114007": (ConditionKey.HEART_FAILURE, "Heart failure"),
    "42343007": (ConditionKey.HEART_FAILURE, "Congestive heart failure"),
    "88805009": (ConditionKey.HEART_FAILURE, "Chronic congestive heart failure"),
    "24526004": (ConditionKey.INFLAMMATORY_BOWEL_DISEASE, "Inflammatory bowel disease"),
    "34000006": (ConditionKey.INFLAMMATORY_BOWEL_DISEASE, "Crohn's disease"),
    "64766004": (ConditionKey.INFLAMMATORY_BOWEL_DISEASE, "Ulcerative colitis"),
    "40733004": (ConditionKey.ACTIVE_INFECTION, "Infectious disease"),
    "91302008": (ConditionKey.ACTIVE_INFECTION, "Sepsis"),
    "233604007": (ConditionKey.ACTIVE_INFECTION, "Pneumonia"),
    "128045006": (ConditionKey.ACTIVE_INFECTION, "Cellulitis"),
    "66071002": (ConditionKey.HEPATITIS_B, "Viral hepatitis type B"),
    "61977001": (ConditionKey.HEPATITIS_B, "Chronic type B viral hepatitis"),
    "50711007": (ConditionKey.HEPATITIS_C, "Viral hepatitis type C"),
    "128302006": (ConditionKey.HEPATITIS_C, "Chronic viral hepatitis C"),
    "709044004": (ConditionKey.KIDNEY_DISEASE, "Chronic kidney disease"),
    "431855005": (ConditionKey.KIDNEY_DISEASE, "Chronic kidney disease stage 1"),
    "431856006": (ConditionKey.KIDNEY_DISEASE, "Chronic kidney disease stage 2"),
    "433144002": (ConditionKey.KIDNEY_DISEASE, "Chronic kidney disease stage 3"),
    "431857002": (ConditionKey.KIDNEY_DISEASE, "Chronic kidney disease stage 4"),
    "433146000": (ConditionKey.KIDNEY_DISEASE, "Chronic kidney disease stage 5"),
    "38341003": (ConditionKey.HYPERTENSION, "Hypertensive disorder"),
    "59621000": (ConditionKey.HYPERTENSION, "Essential hypertension"),
    "73211009": (ConditionKey.DIABETES, "Diabetes mellitus"),
    "44054006": (ConditionKey.DIABETES, "Diabetes mellitus type 2"),
    "46635009": (ConditionKey.DIABETES, "Diabetes mellitus type 1"),
    "55822004": (ConditionKey.HYPERLIPIDAEMIA, "Hyperlipidemia"),
    "13644009": (ConditionKey.HYPERLIPIDAEMIA, "Hypercholesterolemia"),
    "414916001": (ConditionKey.OBESITY, "Obesity"),
    "162864005": (ConditionKey.OBESITY, "Body mass index 30+ - obesity"),
    "408512008": (ConditionKey.OBESITY, "Body mass index 40+ - severely obese"),
    "35489007": (ConditionKey.DEPRESSION, "Depressive disorder"),
    "370143000": (ConditionKey.DEPRESSION, "Major depressive disorder"),
    "363346000": (ConditionKey.MALIGNANCY, "Malignant neoplastic disease"),
    "24700007": (ConditionKey.DEMYELINATING_DISEASE, "Multiple sclerosis"),
    "6118003": (ConditionKey.DEMYELINATING_DISEASE, "Demyelinating disease of central nervous system"),
    "7200002": (ConditionKey.ALCOHOL_MISUSE, "Alcoholism"),
    "15167005": (ConditionKey.ALCOHOL_MISUSE, "Alcohol abuse"),
    "169750002": (ConditionKey.BREASTFEEDING, "Mother currently breast-feeding (unverified)"),
    "413712001": (ConditionKey.BREASTFEEDING, "Breastfeeding (mother) (unverified)"),
    # Skin diagnoses other than psoriasis (mimics): the psoriasis pathway does not run on these alone.
    "43116000": (ConditionKey.ECZEMA, "Eczema"),
    "24079001": (ConditionKey.ECZEMA, "Atopic dermatitis"),
    "40275004": (ConditionKey.ECZEMA, "Contact dermatitis"),
    "84849002": (ConditionKey.TINEA, "Tinea corporis (unverified)"),
    "47382004": (ConditionKey.TINEA, "Dermatophytosis (unverified)"),
    "200936003": (ConditionKey.CUTANEOUS_LUPUS, "Lupus erythematosus (unverified)"),
    "200938002": (ConditionKey.CUTANEOUS_LUPUS, "Discoid lupus erythematosus (unverified)"),
    "55464009": (ConditionKey.CUTANEOUS_LUPUS, "Systemic lupus erythematosus"),
    "3218000": (ConditionKey.DRUG_ERUPTION, "Drug eruption (unverified)"),
    "50563003": (ConditionKey.SEBORRHOEIC_DERMATITIS, "Seborrheic dermatitis"),
    "4776004": (ConditionKey.LICHEN_PLANUS, "Lichen planus"),
    "77252004": (ConditionKey.PITYRIASIS_ROSEA, "Pityriasis rosea"),
    "118618005": (ConditionKey.CUTANEOUS_LYMPHOMA, "Mycosis fungoides (unverified)"),
    "95320005": (ConditionKey.OTHER_SKIN, "Disorder of skin"),
    "14760008": (ConditionKey.CONSTIPATION, "Constipation"),  # TCM formula modification
}

# Psoriasis forms by code (SNOMED exact; ICD-10 by prefix). Codes marked (unverified) were not
# checked against a terminology server; Condition text is read as well (`subtype_from_text`).
_SNOMED_SUBTYPES: dict[str, PsoriasisSubtype] = {
    "200965009": PsoriasisSubtype.PLAQUE,
    "200975007": PsoriasisSubtype.PLAQUE,
    "37042000": PsoriasisSubtype.GUTTATE,
    "200973000": PsoriasisSubtype.GENERALISED_PUSTULAR,
    "200977004": PsoriasisSubtype.ERYTHRODERMIC,
    "63652004": PsoriasisSubtype.PALMOPLANTAR_PUSTULAR,  # (unverified) pustulosis palmaris et plantaris
    "238603004": PsoriasisSubtype.INVERSE,  # (unverified) flexural psoriasis
    "238604005": PsoriasisSubtype.NAIL,  # (unverified) nail psoriasis
    "238602009": PsoriasisSubtype.SCALP,  # (unverified) scalp psoriasis
    "238600002": PsoriasisSubtype.INVERSE,  # (unverified) inverse psoriasis
    "200970002": PsoriasisSubtype.NAIL,  # (unverified) nail psoriasis
}
_SNOMED_SUBTYPE_DISPLAY = {
    "63652004": "Pustulosis palmaris et plantaris (unverified)",
    "238603004": "Flexural psoriasis (unverified)",
    "238604005": "Nail psoriasis (unverified)",
    "238602009": "Scalp psoriasis (unverified)",
}
_ICD10_SUBTYPES: dict[str, PsoriasisSubtype] = {
    "L400": PsoriasisSubtype.PLAQUE,  # psoriasis vulgaris
    "L401": PsoriasisSubtype.GENERALISED_PUSTULAR,
    "L403": PsoriasisSubtype.PALMOPLANTAR_PUSTULAR,
    "L404": PsoriasisSubtype.GUTTATE,
}
_SUBTYPE_TEXT: tuple[tuple[re.Pattern[str], PsoriasisSubtype], ...] = (
    (re.compile(r"erythroderm", re.I), PsoriasisSubtype.ERYTHRODERMIC),
    (re.compile(r"palmo-?plantar pustul|pustulosis palmaris|palmar.{0,20}pustul|pustul.{0,30}(palm|sole)", re.I),
     PsoriasisSubtype.PALMOPLANTAR_PUSTULAR),
    (re.compile(r"generali[sz]ed pustular|von zumbusch|\bgpp\b|pustular psoriasis", re.I), PsoriasisSubtype.GENERALISED_PUSTULAR),
    (re.compile(r"guttate", re.I), PsoriasisSubtype.GUTTATE),
    (re.compile(r"inverse|flexural|intertriginous", re.I), PsoriasisSubtype.INVERSE),
    (re.compile(r"palmo-?plantar|palmar|plantar|palms|soles", re.I), PsoriasisSubtype.PALMOPLANTAR),
    (re.compile(r"\bnail", re.I), PsoriasisSubtype.NAIL),
    (re.compile(r"scalp", re.I), PsoriasisSubtype.SCALP),
    (re.compile(r"plaque|vulgaris", re.I), PsoriasisSubtype.PLAQUE),
)


def psoriasis_subtype(system: str | None, code: str | None, text: str | None = None) -> PsoriasisSubtype | None:
    """The psoriasis form named by a Condition's coding or, failing that, its text."""
    if system and code:
        if system in ICD10_SYSTEMS:
            norm = _ICD_CLEAN.sub("", code.upper())
            for length in range(len(norm), 3, -1):
                if norm[:length] in _ICD10_SUBTYPES:
                    return _ICD10_SUBTYPES[norm[:length]]
        elif system == SNOMED and code.strip() in _SNOMED_SUBTYPES:
            return _SNOMED_SUBTYPES[code.strip()]
    return subtype_from_text(text)


def subtype_from_text(text: str | None) -> PsoriasisSubtype | None:
    if not text:
        return None
    return next((subtype for pattern, subtype in _SUBTYPE_TEXT if pattern.search(text)), None)

CONDITION_CODES: dict[Coding, ConditionKey] = {(SNOMED, c): k for c, (k, _) in _SNOMED_CONDITIONS.items()}
CONDITION_CODES.update({(SNOMED, c): ConditionKey.PSORIASIS for c in _SNOMED_SUBTYPES if (SNOMED, c) not in CONDITION_CODES})

# ICD-10 by prefix of the dot-less code; the longest matching prefix wins (L405 before L40).
_ICD10_PREFIXES: dict[str, tuple[ConditionKey, str]] = {
    "L40": (ConditionKey.PSORIASIS, "Psoriasis (L40.x)"),
    "L405": (ConditionKey.PSORIATIC_ARTHRITIS, "Arthropathic psoriasis (L40.5)"),
    # ICD-10 (WHO) M07.0-M07.3 are psoriatic arthropathies; M07.4-M07.6 are enteropathic, not mapped.
    "M070": (ConditionKey.PSORIATIC_ARTHRITIS, "Distal interphalangeal psoriatic arthropathy (M07.0, ICD-10 WHO)"),
    "M071": (ConditionKey.PSORIATIC_ARTHRITIS, "Arthritis mutilans (M07.1, ICD-10 WHO)"),
    "M072": (ConditionKey.PSORIATIC_ARTHRITIS, "Psoriatic spondylitis (M07.2, ICD-10 WHO)"),
    "M073": (ConditionKey.PSORIATIC_ARTHRITIS, "Other psoriatic arthropathies (M07.3, ICD-10 WHO)"),
    "Z331": (ConditionKey.PREGNANCY, "Pregnant state, incidental (Z33.1)"),
    "Z34": (ConditionKey.PREGNANCY, "Supervision of normal pregnancy (Z34)"),
    "K70": (ConditionKey.LIVER_DISEASE, "Alcoholic liver disease (K70)"),
    "K71": (ConditionKey.LIVER_DISEASE, "Toxic liver disease (K71)"),
    "K72": (ConditionKey.LIVER_DISEASE, "Hepatic failure (K72)"),
    "K73": (ConditionKey.LIVER_DISEASE, "Chronic hepatitis NEC (K73)"),
    "K74": (ConditionKey.LIVER_DISEASE, "Fibrosis and cirrhosis of liver (K74)"),
    "K75": (ConditionKey.LIVER_DISEASE, "Other inflammatory liver diseases (K75)"),
    "K76": (ConditionKey.LIVER_DISEASE, "Other diseases of liver (K76)"),
    "K77": (ConditionKey.LIVER_DISEASE, "Liver disorders in diseases classified elsewhere (K77)"),
    "A15": (ConditionKey.TUBERCULOSIS, "Respiratory tuberculosis (A15)"),
    "A16": (ConditionKey.TUBERCULOSIS, "Respiratory tuberculosis, not confirmed (A16)"),
    "A17": (ConditionKey.TUBERCULOSIS, "Tuberculosis of nervous system (A17)"),
    "A18": (ConditionKey.TUBERCULOSIS, "Tuberculosis of other organs (A18)"),
    "A19": (ConditionKey.TUBERCULOSIS, "Miliary tuberculosis (A19)"),
    "Z227": (ConditionKey.LATENT_TUBERCULOSIS, "Latent tuberculosis (Z22.7, ICD-10-CM)"),
    "R7611": (ConditionKey.LATENT_TUBERCULOSIS, "Positive tuberculin skin test (R76.11, ICD-10-CM)"),
    "I50": (ConditionKey.HEART_FAILURE, "Heart failure (I50)"),
    "K50": (ConditionKey.INFLAMMATORY_BOWEL_DISEASE, "Crohn's disease (K50)"),
    "K51": (ConditionKey.INFLAMMATORY_BOWEL_DISEASE, "Ulcerative colitis (K51)"),
    "A41": (ConditionKey.ACTIVE_INFECTION, "Sepsis (A41)"),
    "J18": (ConditionKey.ACTIVE_INFECTION, "Pneumonia, organism unspecified (J18)"),
    "L03": (ConditionKey.ACTIVE_INFECTION, "Cellulitis (L03)"),
    "B16": (ConditionKey.HEPATITIS_B, "Acute hepatitis B (B16)"),
    "B181": (ConditionKey.HEPATITIS_B, "Chronic viral hepatitis B (B18.1)"),
    "B180": (ConditionKey.HEPATITIS_B, "Chronic viral hepatitis B with delta-agent (B18.0)"),
    "B171": (ConditionKey.HEPATITIS_C, "Acute hepatitis C (B17.1)"),
    "B182": (ConditionKey.HEPATITIS_C, "Chronic viral hepatitis C (B18.2)"),
    "N18": (ConditionKey.KIDNEY_DISEASE, "Chronic kidney disease (N18)"),
    "I10": (ConditionKey.HYPERTENSION, "Essential hypertension (I10)"),
    "I11": (ConditionKey.HYPERTENSION, "Hypertensive heart disease (I11)"),
    "I12": (ConditionKey.HYPERTENSION, "Hypertensive chronic kidney disease (I12)"),
    "I13": (ConditionKey.HYPERTENSION, "Hypertensive heart and chronic kidney disease (I13)"),
    "I15": (ConditionKey.HYPERTENSION, "Secondary hypertension (I15)"),
    "E10": (ConditionKey.DIABETES, "Type 1 diabetes mellitus (E10)"),
    "E11": (ConditionKey.DIABETES, "Type 2 diabetes mellitus (E11)"),
    "E13": (ConditionKey.DIABETES, "Other specified diabetes mellitus (E13)"),
    "E14": (ConditionKey.DIABETES, "Unspecified diabetes mellitus (E14, ICD-10 WHO)"),
    "E780": (ConditionKey.HYPERLIPIDAEMIA, "Pure hypercholesterolaemia (E78.0)"),
    "E781": (ConditionKey.HYPERLIPIDAEMIA, "Pure hyperglyceridaemia (E78.1)"),
    "E782": (ConditionKey.HYPERLIPIDAEMIA, "Mixed hyperlipidaemia (E78.2)"),
    "E784": (ConditionKey.HYPERLIPIDAEMIA, "Other hyperlipidaemia (E78.4)"),
    "E785": (ConditionKey.HYPERLIPIDAEMIA, "Hyperlipidaemia, unspecified (E78.5)"),
    "E66": (ConditionKey.OBESITY, "Obesity (E66)"),
    "F32": (ConditionKey.DEPRESSION, "Depressive episode (F32)"),
    "F33": (ConditionKey.DEPRESSION, "Recurrent depressive disorder (F33)"),
    "C": (ConditionKey.MALIGNANCY, "Malignant neoplasms (C00-C97)"),
    "G35": (ConditionKey.DEMYELINATING_DISEASE, "Multiple sclerosis (G35)"),
    "G36": (ConditionKey.DEMYELINATING_DISEASE, "Other acute disseminated demyelination (G36)"),
    "G37": (ConditionKey.DEMYELINATING_DISEASE, "Other demyelinating diseases of CNS (G37)"),
    "F10": (ConditionKey.ALCOHOL_MISUSE, "Mental and behavioural disorders due to use of alcohol (F10)"),
    "Z391": (ConditionKey.BREASTFEEDING, "Care and examination of lactating mother (Z39.1)"),
    # Skin diagnoses other than psoriasis; any other chapter-L code is "another skin diagnosis".
    "L": (ConditionKey.OTHER_SKIN, "Diseases of the skin and subcutaneous tissue (L00-L99)"),
    "L20": (ConditionKey.ECZEMA, "Atopic dermatitis (L20)"),
    "L23": (ConditionKey.ECZEMA, "Allergic contact dermatitis (L23)"),
    "L24": (ConditionKey.ECZEMA, "Irritant contact dermatitis (L24)"),
    "L25": (ConditionKey.ECZEMA, "Unspecified contact dermatitis (L25)"),
    "L30": (ConditionKey.ECZEMA, "Other and unspecified dermatitis (L30)"),
    "L21": (ConditionKey.SEBORRHOEIC_DERMATITIS, "Seborrhoeic dermatitis (L21)"),
    "L27": (ConditionKey.DRUG_ERUPTION, "Dermatitis due to substances taken internally (L27)"),
    "L42": (ConditionKey.PITYRIASIS_ROSEA, "Pityriasis rosea (L42)"),
    "L43": (ConditionKey.LICHEN_PLANUS, "Lichen planus (L43)"),
    "L93": (ConditionKey.CUTANEOUS_LUPUS, "Lupus erythematosus (L93)"),
    "M32": (ConditionKey.CUTANEOUS_LUPUS, "Systemic lupus erythematosus (M32)"),
    "B35": (ConditionKey.TINEA, "Dermatophytosis (B35)"),
    "B36": (ConditionKey.TINEA, "Other superficial mycoses (B36)"),
    "C840": (ConditionKey.CUTANEOUS_LYMPHOMA, "Mycosis fungoides (C84.0)"),
    "K590": (ConditionKey.CONSTIPATION, "Constipation (K59.0)"),  # TCM formula modification
}

_ICD_CLEAN = re.compile(r"[^A-Z0-9]")


def condition_key(system: str | None, code: str | None) -> ConditionKey | None:
    """The ConditionKey for a coding (SNOMED exact, ICD-10 by longest prefix), or None."""
    if not system or not code:
        return None
    if system in ICD10_SYSTEMS:
        norm = _ICD_CLEAN.sub("", code.upper())
        for length in range(len(norm), 0, -1):
            hit = _ICD10_PREFIXES.get(norm[:length])
            if hit is not None:
                return hit[0]
        return None
    return CONDITION_CODES.get((system, code.strip()))


# ------------------------------------------------------------------ body sites -> PASI regions

# PASI conventions: neck belongs to head; axillae to upper limbs; groin/genitals to trunk;
# buttocks to lower limbs.
_SNOMED_BODY_SITES: dict[str, tuple[BodyRegion, str]] = {
    "69536005": (BodyRegion.HEAD, "Head structure"),
    "41695006": (BodyRegion.HEAD, "Scalp structure"),
    "89545001": (BodyRegion.HEAD, "Face structure"),
    "45048000": (BodyRegion.HEAD, "Neck structure"),
    "53120007": (BodyRegion.UPPER_LIMBS, "Upper limb structure"),
    "40983000": (BodyRegion.UPPER_LIMBS, "Upper arm structure"),
    "14975008": (BodyRegion.UPPER_LIMBS, "Forearm structure"),
    "85562004": (BodyRegion.UPPER_LIMBS, "Hand structure"),
    "85151006": (BodyRegion.UPPER_LIMBS, "Structure of left hand"),
    "7569003": (BodyRegion.UPPER_LIMBS, "Finger structure"),
    "22943007": (BodyRegion.TRUNK, "Trunk structure"),
    "51185008": (BodyRegion.TRUNK, "Thoracic structure"),
    "113345001": (BodyRegion.TRUNK, "Abdominal structure"),
    "77568009": (BodyRegion.TRUNK, "Back structure, excluding neck"),
    "61685007": (BodyRegion.LOWER_LIMBS, "Lower limb structure"),
    "68367000": (BodyRegion.LOWER_LIMBS, "Thigh structure"),
    "30021000": (BodyRegion.LOWER_LIMBS, "Lower leg structure"),
    "72696002": (BodyRegion.LOWER_LIMBS, "Knee region structure"),
    "56459004": (BodyRegion.LOWER_LIMBS, "Foot structure"),
    "46862004": (BodyRegion.LOWER_LIMBS, "Buttock structure"),
    # The three below are from memory, not checked against a terminology server (unverified).
    "127949000": (BodyRegion.UPPER_LIMBS, "Elbow region structure"),
    "91470000": (BodyRegion.UPPER_LIMBS, "Axillary region structure"),
    "26893007": (BodyRegion.TRUNK, "Inguinal region structure"),
}

# Named body sites (the keys synthetic data and tests use) -> SNOMED body structure code.
BODY_SITE_KEYS: dict[str, str] = {
    "head": "69536005", "scalp": "41695006", "face": "89545001", "neck": "45048000",
    "upper_limb": "53120007", "upper_arm": "40983000", "elbow": "127949000", "forearm": "14975008",
    "hand": "85562004", "finger": "7569003", "axilla": "91470000",
    "trunk": "22943007", "chest": "51185008", "abdomen": "113345001", "back": "77568009", "groin": "26893007",
    "lower_limb": "61685007", "thigh": "68367000", "knee": "72696002", "lower_leg": "30021000", "foot": "56459004",
    "buttock": "46862004",
}
BODY_SITE_CODES: dict[Coding, BodyRegion] = {(SNOMED, c): r for c, (r, _) in _SNOMED_BODY_SITES.items()}

# The coding written for each region (Observation.bodySite of per-photo AI observations).
REGION_CODING: dict[BodyRegion, tuple[str, str, str]] = {
    BodyRegion.HEAD: (SNOMED, "69536005", "Head structure"),
    BodyRegion.UPPER_LIMBS: (SNOMED, "53120007", "Upper limb structure"),
    BodyRegion.TRUNK: (SNOMED, "22943007", "Trunk structure"),
    BodyRegion.LOWER_LIMBS: (SNOMED, "61685007", "Lower limb structure"),
}

# Free-text fallback (body site text or display), checked in order: more specific words first so
# that "forehead" is head and "hand" is upper limb. Whole-word matching.
_BODY_SITE_WORDS: tuple[tuple[BodyRegion, tuple[str, ...]], ...] = (
    (BodyRegion.LOWER_LIMBS, ("buttock", "buttocks", "gluteal", "sole", "soles", "thigh", "thighs", "knee", "knees",
                              "shin", "shins", "calf", "calves", "ankle", "ankles", "foot", "feet", "toe", "toes",
                              "leg", "legs", "lower limb", "lower limbs", "lower extremity", "lower extremities", "hip")),
    (BodyRegion.UPPER_LIMBS, ("axilla", "axillae", "armpit", "shoulder", "elbow", "elbows", "forearm", "forearms",
                              "wrist", "wrists", "hand", "hands", "palm", "palms", "finger", "fingers", "arm", "arms",
                              "upper limb", "upper limbs", "upper extremity", "upper extremities")),
    (BodyRegion.HEAD, ("scalp", "face", "forehead", "cheek", "ear", "ears", "nose", "chin", "eyebrow", "neck",
                       "head", "hairline", "retroauricular")),
    (BodyRegion.TRUNK, ("chest", "breast", "abdomen", "abdominal", "umbilicus", "back", "lower back", "flank",
                        "trunk", "torso", "groin", "genital", "genitals", "pubic", "sacrum", "sacral")),
)
_WORD_PATTERNS = tuple(
    (region, re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE))
    for region, words in _BODY_SITE_WORDS
)


def body_region(system: str | None, code: str | None) -> BodyRegion | None:
    if not system or not code:
        return None
    return BODY_SITE_CODES.get((system, code.strip()))


def body_region_from_text(text: str | None) -> BodyRegion | None:
    """Region named by free text ("left elbow" -> upper limbs), or None."""
    if not text:
        return None
    for region, pattern in _WORD_PATTERNS:
        if pattern.search(text):
            return region
    return None


# ------------------------------------------------------------------ images

IMAGE_MEDIA_TYPE = (MEDIA_TYPE, "image")
# Media modalities that are not clinical skin photographs: radiology (DICOM) and the R4
# media-modality codes for diagrams, scans and biometric captures.
NON_PHOTO_MODALITIES: frozenset[Coding] = frozenset(
    {(DICOM_DCM, c) for c in ("CR", "CT", "DX", "MR", "MG", "NM", "PT", "RF", "US", "XA", "IO", "OT")}
    | {(MEDIA_MODALITY, c) for c in ("diagram", "fax", "scan", "retina", "fingerprint", "iris")}
    | {(SNOMED, "39714003"), (SNOMED, "363680008")}  # skeletal X-ray of wrist and hand; radiographic imaging
)

# ------------------------------------------------------------------ medications -> medication keys

# Drug names, brands, dose forms and RxNorm/ATC codes live in the drug knowledge file
# (inference/knowledge/drugs.json), read through `DrugCatalogue`; this module only asks it.


@lru_cache(maxsize=1)
def drug_catalogue() -> DrugCatalogue:
    """The packaged drug knowledge (names and codes for reading medications)."""
    return DrugCatalogue.from_knowledge(KnowledgeBase.load())


def medication_key(text: str | None, *, rxnorm: str | None = None) -> str | None:
    """The medication key for a medication name/display (and optional RxNorm code), or None if no
    rule cares about it: a psoriasis drug id, an interacting drug group ("trimethoprim", "nsaid"),
    "systemic_corticosteroid" or "tacrolimus". Name matching is case-insensitive and whole-word."""
    catalogue = drug_catalogue()
    key = catalogue.key_for_code(RXNORM, rxnorm) if rxnorm else None
    key = key or catalogue.key_for_text(text)
    # Interacting drugs (trimethoprim, NSAIDs ...) keep their own name as key; the drug rules match them by text.
    return key if key is not None and (catalogue.get(key) is not None or key in _NON_LADDER_KEYS) else None


_NON_LADDER_KEYS = frozenset({"systemic_corticosteroid", "tacrolimus"})


def _medication_keys() -> frozenset[str]:
    catalogue = drug_catalogue()
    return frozenset(d.id for d in catalogue.drugs) | _NON_LADDER_KEYS


MEDICATION_KEYS: frozenset[str] = _medication_keys()
# RxNorm ingredient codes read (from the drug knowledge file) -> drug id.
RXNORM_INGREDIENTS: dict[str, str] = {
    c.code: d.id for d in drug_catalogue().drugs for c in d.codings if c.system == RXNORM
}

# ------------------------------------------------------------------ written codes

AI_TAG = (V3_OBSERVATION_VALUE, "AIAST", "Artificial Intelligence asserted")
CATEGORY_EXAM = (OBSERVATION_CATEGORY, "exam", "Exam")
CATEGORY_IMAGING = (OBSERVATION_CATEGORY, "imaging", "Imaging")
ACT_REASON_TREATMENT = (V3_ACT_REASON, "TREAT", "treatment")
DATA_OPERATION_CREATE = (V3_DATA_OPERATION, "CREATE", "create")
PARTICIPANT_AUTHOR = (PROVENANCE_PARTICIPANT, "author", "Author")
PARTICIPANT_ASSEMBLER = (PROVENANCE_PARTICIPANT, "assembler", "Assembler")

_DERM3R_WRITTEN: dict[str, str] = {
    D_PASI_AI: "PASI estimated from photographs (AI, preliminary)",
    D_PASI_AI_LOW: "Lower bound of the image-based PASI estimate",
    D_PASI_AI_HIGH: "Upper bound of the image-based PASI estimate",
    D_LESION_ATTRIBUTES: "Lesion attributes estimated from one photograph (AI, preliminary)",
    D_ERYTHEMA: "Erythema score 0-4 (PASI E) estimated from a photograph",
    D_SCALE: "Desquamation (scale) score 0-4 (PASI D) estimated from a photograph",
    D_THICKNESS: "Induration (thickness) score 0-4 (PASI I) estimated from a photograph",
    D_AREA_FRACTION: "Lesional share of visible skin in a photograph (%)",
    D_PSORIASIS_PROBABILITY: "Probability of psoriasis from photographs (AI, preliminary)",
    D_CLASS_PROBABILITY: "Probability of one image class (AI, preliminary)",
    D_IMAGE_ANALYSIS: "Automated image analysis (derm3r)",
    D_CARE_PLAN: "Psoriasis care plan draft (AI-generated)",
    D_TCM_INTEGRATIVE: "Integrative traditional Chinese medicine consideration (not guideline care)",
    D_SOFTWARE: "Clinical decision support software",
}


def derm3r_display(code: str) -> str:
    """Display text of an own-CodeSystem code (written or read)."""
    if code in _DERM3R_WRITTEN:
        return _DERM3R_WRITTEN[code]
    if code in _DERM3R_FINDINGS:
        return _DERM3R_FINDINGS[code][1]
    raise KeyError(code)


# ------------------------------------------------------------------ codings for writers
# Dict codings ({"system", "code", "display"}) for code that writes FHIR: the write-back modules and
# the synthetic patients (`cds_hooks.demo.synthetic`), so both use exactly the codes the reader accepts.

CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"


def coding(system: str, code: str, display: str) -> dict[str, str]:
    return {"system": system, "code": code, "display": display}


# The code written for each ConditionKey (the first, most general SNOMED code of the table).
_PRIMARY_CONDITION: dict[ConditionKey, str] = {}
for _code, (_ckey, _) in _SNOMED_CONDITIONS.items():
    _PRIMARY_CONDITION.setdefault(_ckey, _code)
# Skin diagnoses other than psoriasis (for differential / synthetic data; read as OTHER).
SKIN_DIAGNOSES: dict[str, tuple[str, str]] = {
    "plaque_psoriasis": ("200965009", "Plaque psoriasis"),
    "guttate_psoriasis": ("37042000", "Guttate psoriasis"),
    "eczema": ("43116000", "Eczema"),
    "atopic_dermatitis": ("24079001", "Atopic dermatitis"),
    "tinea_corporis": ("84849002", "Tinea corporis"),  # (unverified)
}


def condition_coding(key: str) -> dict[str, str]:
    """SNOMED coding for a ConditionKey value or a SKIN_DIAGNOSES key."""
    if key in SKIN_DIAGNOSES:
        code, display = SKIN_DIAGNOSES[key]
        return coding(SNOMED, code, display)
    ckey = ConditionKey(key)
    code = _PRIMARY_CONDITION[ckey]
    return coding(SNOMED, code, _SNOMED_CONDITIONS[code][1].replace(" (unverified)", ""))


def condition_clinical_status(status: str) -> dict[str, str]:
    if status not in {"active", "recurrence", "relapse", "inactive", "remission", "resolved"}:
        raise ValueError(f"not a condition clinical status: {status!r}")
    return coding(CONDITION_CLINICAL, status, status.capitalize())


def condition_verification_status(status: str) -> dict[str, str]:
    if status not in {"unconfirmed", "provisional", "differential", "confirmed", "refuted", "entered-in-error"}:
        raise ValueError(f"not a condition verification status: {status!r}")
    return coding(CONDITION_VER_STATUS, status, status.capitalize())


def condition_category(category: str) -> dict[str, str]:
    displays = {"problem-list-item": "Problem List Item", "encounter-diagnosis": "Encounter Diagnosis"}
    return coding(CONDITION_CATEGORY, category, displays[category])


# Own-CodeSystem medication codes "medication-<key>" read back as <key>; RxNorm where we are sure.
MEDICATION_CODE_PREFIX = "medication-"


def medication_coding(key: str) -> dict[str, str]:
    """Coding for a medication key: RxNorm ingredient if the drug file has one, else the own CodeSystem."""
    display = key.replace("_", " ").capitalize()
    drug = drug_catalogue().get(key)
    rxnorm = [c for c in drug.codings if c.system == RXNORM] if drug is not None else []
    if drug is not None and len(rxnorm) == 1:  # a class entry (several ingredients) has no single RxNorm code
        return coding(RXNORM, rxnorm[0].code, drug.display)
    return coding(DERM3R, MEDICATION_CODE_PREFIX + key.replace("_", "-"), display)


def medication_key_from_code(system: str | None, code: str | None) -> str | None:
    """Medication key of an own-CodeSystem or RxNorm ingredient coding, else None."""
    if not code:
        return None
    if system == DERM3R and code.startswith(MEDICATION_CODE_PREFIX):
        return code[len(MEDICATION_CODE_PREFIX):].replace("-", "_") or None
    if system == RXNORM:
        drug = drug_catalogue().lookup_code(RXNORM, code)
        return drug.id if drug is not None else None
    return None


# Observation.code written per FindingKey value ("blood_pressure" is the panel).
_OBSERVATION_CODING: dict[str, tuple[str, str, str]] = {
    FindingKey.BMI.value: (LOINC, LOINC_BMI, _LOINC_FINDINGS[LOINC_BMI][1]),
    FindingKey.SYSTOLIC_BP.value: (LOINC, LOINC_SYSTOLIC, _LOINC_FINDINGS[LOINC_SYSTOLIC][1]),
    FindingKey.DIASTOLIC_BP.value: (LOINC, LOINC_DIASTOLIC, _LOINC_FINDINGS[LOINC_DIASTOLIC][1]),
    "blood_pressure": (LOINC, LOINC_BP_PANEL, "Blood pressure panel with all children optional"),
    FindingKey.HBA1C.value: (LOINC, LOINC_HBA1C, _LOINC_FINDINGS[LOINC_HBA1C][1]),
    FindingKey.LDL.value: (LOINC, "18262-6", _LOINC_FINDINGS["18262-6"][1]),
    FindingKey.TOTAL_CHOLESTEROL.value: (LOINC, "2093-3", _LOINC_FINDINGS["2093-3"][1]),
    FindingKey.PREGNANT.value: (LOINC, LOINC_PREGNANCY_STATUS, _LOINC_FINDINGS[LOINC_PREGNANCY_STATUS][1]),
    FindingKey.PHQ2.value: (LOINC, LOINC_PHQ2, _LOINC_FINDINGS[LOINC_PHQ2][1]),
    FindingKey.ALT.value: (LOINC, LOINC_ALT, _LOINC_FINDINGS[LOINC_ALT][1]),
    FindingKey.AST.value: (LOINC, LOINC_AST, _LOINC_FINDINGS[LOINC_AST][1]),
    FindingKey.EGFR.value: (LOINC, "62238-1", _LOINC_FINDINGS["62238-1"][1]),
}
for _code, (_fkey, _display) in _LOINC_FINDINGS.items():
    if _fkey in LAB_FINDINGS:
        _OBSERVATION_CODING.setdefault(_fkey.value, (LOINC, _code, _display))
# Own-CodeSystem findings: the first code listed per key is the one written (the tongue's aspect codes
# come after the general tcm-tongue code).
for _code, (_fkey, _display) in _DERM3R_FINDINGS.items():
    if _fkey is not FindingKey.PHQ2:
        _OBSERVATION_CODING.setdefault(_fkey.value, (DERM3R, _code, _display))

_CATEGORY_OF: dict[str, str] = {
    FindingKey.BMI.value: "vital-signs", FindingKey.SYSTOLIC_BP.value: "vital-signs",
    FindingKey.DIASTOLIC_BP.value: "vital-signs", "blood_pressure": "vital-signs",
    FindingKey.HBA1C.value: "laboratory", FindingKey.LDL.value: "laboratory",
    FindingKey.TOTAL_CHOLESTEROL.value: "laboratory", FindingKey.PREGNANT.value: "social-history",
    FindingKey.DLQI.value: "survey", FindingKey.ITCH_NRS.value: "survey", FindingKey.PEST_SCORE.value: "survey",
    FindingKey.PHQ2.value: "survey",
    **{k.value: "laboratory" for k in LAB_FINDINGS},
}
_CATEGORY_DISPLAY = {"vital-signs": "Vital Signs", "laboratory": "Laboratory", "social-history": "Social History",
                     "survey": "Survey", "exam": "Exam", "imaging": "Imaging"}


def observation_coding(key: str) -> dict[str, str]:
    """Observation.code coding for a FindingKey value (or "blood_pressure" for the panel)."""
    system, code, display = _OBSERVATION_CODING[key]
    return coding(system, code, display)


def observation_category(key: str) -> dict[str, str]:
    category = _CATEGORY_OF.get(key, "exam")
    return coding(OBSERVATION_CATEGORY, category, _CATEGORY_DISPLAY[category])


_UNIT_DISPLAY = {"{score}": "score", "mm[Hg]": "mmHg"}


def observation_unit(key: str) -> tuple[str, str]:
    """(unit text, UCUM code) for a numeric FindingKey value."""
    canonical = UNIT_RULES[FindingKey(key)].canonical
    return _UNIT_DISPLAY.get(canonical, canonical), canonical


def tcm_finding_coding(kind: str, finding: str) -> dict[str, str]:
    """Own-CodeSystem coding of a TCM finding: kind "tongue" | "pulse", finding an internal key (or alias)."""
    key = FindingKey(kind)
    prefix, table = _VALUE_TABLES[key]
    canonical = finding if finding in table else _VALUE_ALIASES.get(key, {}).get(finding)
    if canonical is None:
        raise KeyError(f"unknown {kind} finding {finding!r}")
    return coding(DERM3R, derm3r_value_code(prefix, canonical), table[canonical])


# Which aspect (Observation.component code) an atomic tongue finding belongs to (helper 15).
_TONGUE_ASPECTS: tuple[tuple[str, str], ...] = (
    ("body_", D_TONGUE_BODY), ("coat_white", D_TONGUE_COAT_COLOUR), ("coat_yellow", D_TONGUE_COAT_COLOUR),
    ("coat_", D_TONGUE_COAT_TEXTURE), ("shape_", D_TONGUE_SHAPE), ("spots_", D_TONGUE_SHAPE),
)


def tongue_aspect_coding(finding: str) -> dict[str, str]:
    """Own-CodeSystem coding of the tongue aspect an atomic finding belongs to: "coat_yellow" ->
    tcm-tongue-coat-colour. Combined values ("red_yellow_coat") have no single aspect: KeyError."""
    for prefix, code in _TONGUE_ASPECTS:
        if finding.startswith(prefix) and finding in TONGUE_KEYS:
            return coding(DERM3R, code, _DERM3R_FINDINGS[code][1])
    raise KeyError(f"{finding!r} is not an atomic tongue finding")


def body_site_coding(site: str) -> dict[str, str]:
    """SNOMED body-structure coding for a BODY_SITE_KEYS key ("elbow")."""
    code = BODY_SITE_KEYS[site]
    return coding(SNOMED, code, _SNOMED_BODY_SITES[code][1])


PREGNANT_VALUE = coding(SNOMED, SNOMED_PREGNANT, "Pregnant")
NOT_PREGNANT_VALUE = coding(SNOMED, SNOMED_NOT_PREGNANT, "Not pregnant")
MEDIA_TYPE_IMAGE = coding(MEDIA_TYPE, "image", "Image")
MEDIA_MODALITY_CLINICAL_PHOTO = coding(DICOM_DCM, "XC", "External-camera Photography")
# R5 DocumentReference.bodySite carried in an R4 resource (FHIR cross-version extension).
DOCUMENT_REFERENCE_BODY_SITE_EXTENSION = "http://hl7.org/fhir/5.0/StructureDefinition/extension-DocumentReference.bodySite"
DOCUMENT_TYPE_CLINICAL_PHOTO = coding(LOINC, "72170-4", "Photographic image")
DOCUMENT_CATEGORY_IMAGE = coding(DERM3R, "clinical-photograph", "Clinical photograph")
ENCOUNTER_CLASS_AMBULATORY = coding(V3_ACT_CODE, "AMB", "ambulatory")
DERMATOLOGY_ENCOUNTER_TYPE = coding(DERM3R, "dermatology-visit", "Dermatology outpatient visit")
# Synthetic patients (cds_hooks.demo.synthetic): every resource tagged as test data (HL7 v3 ActReason
# HTEST) so that no EHR could mistake it for a real record, and their record numbers' system.
SYNTHETIC_DATA_TAG = coding(V3_ACT_REASON, "HTEST", "test health data")


# ------------------------------------------------------------------ the data contract


def _contract() -> tuple[CodeInfo, ...]:
    rows: list[CodeInfo] = []
    for code, (key, display) in _LOINC_FINDINGS.items():
        rows.append(CodeInfo(LOINC, code, display, "read", f"finding `{key.value}`"))
    rows.append(CodeInfo(LOINC, LOINC_BP_PANEL, "Blood pressure panel (components 8480-6, 8462-4)", "read", "components"))
    rows.append(CodeInfo(LOINC, LOINC_BP_PANEL_OLD, "Blood pressure systolic and diastolic (Synthea)", "read", "components"))
    for code, (key, display) in _SNOMED_FINDINGS.items():
        rows.append(CodeInfo(SNOMED, code, display, "read", f"finding `{key.value}`"))
    for code, (key, display) in _DERM3R_FINDINGS.items():
        rows.append(CodeInfo(DERM3R, code, display, "read", f"finding `{key.value}`"))
    for key, table in VALUE_CODES.items():
        for (system, code), value in table.items():
            rows.append(CodeInfo(system, code, f"{key.value} value: {value}", "read", f"`{key.value}` = `{value}`"))
    for (system, code), flag in BOOLEAN_VALUE_CODES.items():
        rows.append(CodeInfo(system, code, "yes" if flag else "no", "read", f"boolean value {flag}"))
    for code, (key, display) in _SNOMED_CONDITIONS.items():
        rows.append(CodeInfo(SNOMED, code, display, "read", f"condition `{key.value}`"))
    for prefix, (key, display) in _ICD10_PREFIXES.items():
        rows.append(CodeInfo("ICD-10 / ICD-10-CM", f"{prefix}*", display, "read", f"condition `{key.value}`"))
    for code, (region, display) in _SNOMED_BODY_SITES.items():
        rows.append(CodeInfo(SNOMED, code, display, "read", f"region `{region.value}`"))
    for region, (system, code, display) in REGION_CODING.items():
        rows.append(CodeInfo(system, code, display, "write", f"bodySite for region `{region.value}`"))
    for code, key in RXNORM_INGREDIENTS.items():
        rows.append(CodeInfo(RXNORM, code, key, "read", f"medication `{key}`"))
    for code, display in _DERM3R_WRITTEN.items():
        rows.append(CodeInfo(DERM3R, code, display, "write", "AI output"))
    for system, code, display in (AI_TAG, CATEGORY_EXAM, CATEGORY_IMAGING, ACT_REASON_TREATMENT,
                                  DATA_OPERATION_CREATE, PARTICIPANT_AUTHOR):
        rows.append(CodeInfo(system, code, display, "write", "tag / category / provenance"))
    rows.append(CodeInfo(AI_TAG[0], AI_TAG[1], AI_TAG[2], "read", "Observations with this tag are ignored (our own output)"))
    rows.append(CodeInfo(MEDIA_TYPE, "image", "Image", "read", "Media kept as photo"))
    for system, code in sorted(NON_PHOTO_MODALITIES):
        rows.append(CodeInfo(system, code, "non-photograph modality", "read", "image ignored"))
    rows.append(CodeInfo(DERM3R, MEDICATION_CODE_PREFIX + "<key>", "Medication by ladder key", "read",
                         "medication `<key>` (hyphens read as underscores)"))
    rows.append(CodeInfo("(extension)", "http://hl7.org/fhir/5.0/StructureDefinition/extension-DocumentReference.bodySite",
                         "R5 DocumentReference.bodySite in R4", "read", "photo body site"))
    rows.append(CodeInfo(V3_OBSERVATION_VALUE, "AIAST", "Artificial Intelligence asserted", "write",
                         "meta.tag of every resource the service writes"))
    for site, code in BODY_SITE_KEYS.items():
        rows.append(CodeInfo(SNOMED, code, _SNOMED_BODY_SITES[code][1], "read/write", f"body site `{site}`"))
    for key, (code, display) in SKIN_DIAGNOSES.items():
        rows.append(CodeInfo(SNOMED, code, display, "read/write", f"skin diagnosis `{key}` (other skin diseases read as `other`)"))
    for value in (MEDIA_MODALITY_CLINICAL_PHOTO, DOCUMENT_TYPE_CLINICAL_PHOTO, DOCUMENT_CATEGORY_IMAGE,
                  DERMATOLOGY_ENCOUNTER_TYPE):
        rows.append(CodeInfo(value["system"], value["code"], value["display"], "write", "synthetic demo records"))
    return tuple(rows)


CONTRACT: tuple[CodeInfo, ...] = _contract()
