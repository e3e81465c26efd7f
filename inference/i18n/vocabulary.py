"""Words that travel through derm3r as data values (enum values, code displays, class names) and
that a clinician reads once rendered: severity levels, special populations, body regions, image
classes, option statuses, the project's own CodeSystem displays used as CodeableConcept.text.

Listed here, marked with `t`, so `pybabel extract` puts them in the catalogue; at render time the
plain value ("moderate", "upper limbs") is looked up as a msgid. Nothing imports these names: the
list only exists to be extracted, and the catalogue test checks every entry is translated.
"""

from __future__ import annotations

from inference.i18n import t

SEVERITY_LEVELS = (t("clear"), t("mild"), t("moderate"), t("severe"), t("unknown"), t("not assessed"),
                   t("Clear"), t("Mild"), t("Moderate"), t("Severe"))
POPULATIONS = (t("pregnancy"), t("breastfeeding"), t("planning pregnancy"), t("child"), t("older adult"),
               t("renal impairment"), t("hepatic impairment"), t("pregnant"), t("kidney disease"),
               t("liver disease"))
SPECIAL_AREAS = (t("scalp"), t("face"), t("palms soles"), t("nails"), t("genitals"), t("flexures"))
BODY_REGIONS = (t("head"), t("upper limbs"), t("trunk"), t("lower limbs"), t("unknown site"))
IMAGE_CLASSES = (t("psoriasis"), t("eczema dermatitis"), t("fungal infection"), t("lichen planus"),
                 t("acne rosacea"), t("urticaria"), t("infection"), t("other"), t("not skin"))
OPTION_MARKS = (t("current"), t("preferred"), t("caution"), t("contraindicated"), t("acceptable"))
CONFIDENCE = (t("high"), t("low"))
# TCM herb-safety kinds and what safety was checked against (tcm_safety.json context ids).
TCM_SAFETY = (t("liver"), t("kidney"), t("interaction"), t("liver severe"), t("renal"), t("hepatic"))
# FHIR resource types and statuses named in suggestion actions ("Create CarePlan ... (status draft)").
RESOURCE_TYPES = (t("CarePlan"), t("Observation"), t("Provenance"), t("Device"), t("MedicationRequest"),
                  t("ServiceRequest"))
STATUSES = (t("draft"), t("preliminary"), t("final"), t("active"))
TREND = (t("improving"), t("stable"), t("worsening"))
# What the photographs show for TCM differentiation (inference.rep descriptor keys, "_" read as " ")
# and the herb-safety flag levels and populations of tcm_herbs.json ("{name}: {flag} flag '{level}'").
TCM_DESCRIPTORS = (t("thick scale"), t("fine dry scale"), t("thick plaque"), t("bright red"), t("pale red"),
                   t("dark red purple"))
TCM_FLAGS = (t("reported"), t("nephrotoxic"), t("children"))
# A tongue or pulse finding recorded without a display is named by its kind (inference.reason.tcm_inputs).
FINDING_KINDS = (t("tongue"), t("pulse"))
# Displays of derm3r's own CodeSystem (fhir_mapping.codes), used as CodeableConcept.text in Chinese.
DERM3R_CODES = (
    t("PASI estimated from photographs (AI, preliminary)"),
    t("Lower bound of the image-based PASI estimate"),
    t("Upper bound of the image-based PASI estimate"),
    t("Lesion attributes estimated from one photograph (AI, preliminary)"),
    t("Erythema score 0-4 (PASI E) estimated from a photograph"),
    t("Desquamation (scale) score 0-4 (PASI D) estimated from a photograph"),
    t("Induration (thickness) score 0-4 (PASI I) estimated from a photograph"),
    t("Lesional share of visible skin in a photograph (%)"),
    t("Probability of psoriasis from photographs (AI, preliminary)"),
    t("Probability of one image class (AI, preliminary)"),
    t("Automated image analysis (derm3r)"),
    t("Psoriasis care plan draft (AI-generated)"),
    t("Integrative traditional Chinese medicine consideration (not guideline care)"),
    t("Clinical decision support software"),
)
