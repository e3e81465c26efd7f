"""A small, readable builder of synthetic patient charts as FHIR R4 resources, for the clinical
vignettes.

It writes what an EHR writes: standard codes (SNOMED CT, ICD-10, LOINC, RxNorm, UCUM) typed out
literally here rather than taken from `fhir_mapping.codes`, so a vignette tests the service's reading
of real-world codes instead of agreeing with itself. Scores without a LOINC code (PASI, BSA %, PGA,
DLQI, PEST) use the project's own CodeSystem, as the data contract in the README says.

Dates are relative to the moment the chart is built (`days_ago`), because the service assesses a
chart "now". Photographs are procedural (`cds_hooks.demo.synthetic.render_photo`, `inference.synth`) or
drawn here (a non-skin texture); never derm-data photographs.

    chart = (Chart("mtx-alt", sex="male", age=52)
             .psoriasis()
             .score("pasi", 9.0).score("bsa", 8)
             .medication("methotrexate")
             .lab("alt", 168).lab("ast", 140))
    prefetch = chart.prefetch()
"""

from __future__ import annotations

import base64
import hashlib
import io
import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICD10_CM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
DERM3R = "https://derm3r.org/fhir/CodeSystem/derm3r"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"

# Scores in the project's own CodeSystem: name -> (code, display, UCUM unit).
SCORES: dict[str, tuple[str, str, str]] = {
    "pasi": ("pasi", "Psoriasis Area and Severity Index", "{score}"),
    "bsa": ("bsa-percent", "Body surface area involved (%)", "%"),
    "pga": ("pga", "Physician global assessment", "{score}"),
    "dlqi": ("dlqi", "Dermatology Life Quality Index", "{score}"),
    "pest": ("pest-score", "PEST score", "{score}"),
    "itch": ("itch-nrs", "Itch NRS", "{score}"),
}

# Laboratory tests: name -> (LOINC, display, UCUM unit).
LABS: dict[str, tuple[str, str, str]] = {
    "alt": ("1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "U/L"),
    "ast": ("1920-8", "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "U/L"),
    "creatinine": ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL"),
    "egfr": ("33914-3", "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum or Plasma by Creatinine-based formula (MDRD)", "mL/min/{1.73_m2}"),
    "wbc": ("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*3/uL"),
    "neutrophils": ("751-8", "Neutrophils [#/volume] in Blood by Automated count", "10*3/uL"),
    "platelets": ("777-3", "Platelets [#/volume] in Blood by Automated count", "10*3/uL"),
    "haemoglobin": ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL"),
    "hba1c": ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%"),
    "ldl": ("18262-6", "Cholesterol in LDL [Mass/volume] in Serum or Plasma by Direct assay", "mg/dL"),
}

# Coded (qualitative) tests: name -> (LOINC, display).
CODED_TESTS: dict[str, tuple[str, str]] = {
    "igra": ("71773-6", "Mycobacterium tuberculosis stimulated gamma interferon [Presence] in Blood"),
    "hbsag": ("5196-1", "Hepatitis B virus surface Ag [Presence] in Serum"),
    "hcv_ab": ("16128-1", "Hepatitis C virus Ab [Presence] in Serum"),
}
POSITIVE = (SNOMED, "10828004", "Positive")
NEGATIVE = (SNOMED, "260385009", "Negative")

# Medications: name -> (RxNorm ingredient code or None, product text an EHR shows).
MEDICATIONS: dict[str, tuple[str | None, str]] = {
    "methotrexate": ("6851", "Methotrexate 2.5 mg oral tablet, 15 mg once weekly"),
    "cyclosporine": ("3008", "Cyclosporine 100 mg oral capsule"),
    "adalimumab": ("327361", "Adalimumab 40 mg/0.4 mL prefilled pen"),
    "apremilast": ("1492727", "Apremilast 30 mg oral tablet"),
    "acitretin": ("16818", "Acitretin 25 mg oral capsule"),
    "clobetasol": (None, "Clobetasol propionate 0.05% ointment"),
    "calcipotriol": (None, "Calcipotriol 50 micrograms/g ointment"),
    "emollient": (None, "Emollient cream (white soft paraffin 50%)"),
    "folic_acid": ("4511", "Folic acid 5 mg oral tablet, once weekly"),
    "trimethoprim_sulfamethoxazole": ("10831", "Sulfamethoxazole 800 mg / trimethoprim 160 mg oral tablet"),
}

# Body sites for photographs: name -> (SNOMED body structure, text).
SITES: dict[str, tuple[str, str]] = {
    "scalp": ("41695006", "Scalp"),
    "elbow": ("127949000", "Right elbow, extensor surface"),
    "forearm": ("14975008", "Right forearm"),
    "hand": ("85562004", "Back of right hand"),
    "trunk": ("22943007", "Lower back"),
    "knee": ("72696002", "Right knee"),
    "lower_leg": ("30021000", "Left shin"),
    "axilla": ("91470000", "Left axilla"),
    "foot": ("56459004", "Sole of right foot"),
}


DEMO_IMAGES = Path(__file__).resolve().parents[2] / "inference" / "demo_images"
_ISO_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))?$")


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _concept(system: str, code: str, display: str, text: str | None = None) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": text or display}


def _category(code: str) -> list[dict[str, Any]]:
    return [{"coding": [{"system": OBS_CATEGORY, "code": code}]}]


@dataclass
class Chart:
    """One synthetic patient's record; every method adds resources and returns the chart."""

    name: str  # the vignette id (the Patient id is derived from it: `pid`)
    sex: str = "female"
    age: float = 40
    resources: list[dict[str, Any]] = field(default_factory=list)
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc).replace(microsecond=0))
    _n: int = 0

    def __post_init__(self) -> None:
        # Resource ids carry no words of the vignette (its text must not leak into card text).
        self.pid = "pt-" + hashlib.sha256(self.name.encode()).hexdigest()[:12]
        birth = (self.now - timedelta(days=int(self.age * 365.25) + 20)).date()
        self.resources.append({"resourceType": "Patient", "id": self.pid, "gender": self.sex, "birthDate": birth.isoformat(),
                               "name": [{"family": "Vignette", "given": ["Sam"]}]})

    # ------------------------------------------------------------------ helpers

    def _id(self, kind: str) -> str:
        self._n += 1
        return f"{self.pid}-{kind[:3].lower()}{self._n}"

    @property
    def _subject(self) -> dict[str, str]:
        return {"reference": f"Patient/{self.pid}"}

    def _when(self, days_ago: float) -> str:
        return _iso(self.now - timedelta(days=days_ago))

    def _observation(self, code: dict[str, Any], category: str, days_ago: float, **value: Any) -> dict[str, Any]:
        resource = {"resourceType": "Observation", "id": self._id("Observation"), "status": "final",
                    "category": _category(category), "code": code, "subject": self._subject,
                    "effectiveDateTime": self._when(days_ago), **value}
        self.resources.append(resource)
        return resource

    # ------------------------------------------------------------------ problem list

    def condition(self, display: str, *, snomed: str | None = None, icd10: str | None = None, icd10_cm: bool = False,
                  active: bool = True, verification: str = "confirmed", days_ago: float = 400) -> Chart:
        codings = []
        if snomed:
            codings.append({"system": SNOMED, "code": snomed, "display": display})
        if icd10:
            codings.append({"system": ICD10_CM if icd10_cm else ICD10, "code": icd10, "display": display})
        resource: dict[str, Any] = {
            "resourceType": "Condition", "id": self._id("Condition"),
            "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "active" if active else "resolved"}]},
            "verificationStatus": {"coding": [{"system": VERIFICATION, "code": verification}]},
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category",
                                      "code": "problem-list-item"}]}],
            "code": {"coding": codings, "text": display}, "subject": self._subject,
            "onsetDateTime": self._when(days_ago), "recordedDate": self._when(days_ago - 1),
        }
        if not active:
            resource["abatementDateTime"] = self._when(max(0.0, days_ago - 200))
        self.resources.append(resource)
        return self

    def psoriasis(self, display: str = "Psoriasis", snomed: str | None = "9014002", icd10: str | None = "L40.0") -> Chart:
        return self.condition(display, snomed=snomed, icd10=icd10)

    def pregnant(self, weeks: int = 18) -> Chart:
        self.condition("Pregnant", snomed="77386006", icd10="Z33.1", days_ago=weeks * 7)
        return self.pregnancy_status()

    def pregnancy_status(self) -> Chart:
        """The Observation "pregnancy status: pregnant" alone (LOINC 82810-3)."""
        self._observation(_concept(LOINC, "82810-3", "Pregnancy status"), "social-history", 2,
                          valueCodeableConcept=_concept(SNOMED, "77386006", "Pregnant"))
        return self

    def breastfeeding(self) -> Chart:
        # SNOMED 169750002 "Mother currently breast-feeding" (unverified).
        return self.condition("Mother currently breast-feeding", snomed="169750002", days_ago=60)

    def planning_pregnancy(self) -> Chart:
        """Pregnancy intention recorded (LOINC 86645-9) with the answer 'yes' (LOINC LA33-6), and the
        plan in words, as a clinician would note it."""
        self._observation(_concept(LOINC, "86645-9", "Pregnancy intention in the next year - Reported"), "social-history", 5,
                          valueCodeableConcept=_concept(LOINC, "LA33-6", "Yes", "Yes, plans to conceive within the year"))
        return self

    # ------------------------------------------------------------------ measurements

    def score(self, name: str, value: float, *, days_ago: float = 3) -> Chart:
        code, display, unit = SCORES[name]
        category = "survey" if name in {"dlqi", "pest", "itch"} else "exam"
        self._observation(_concept(DERM3R, code, display), category, days_ago,
                          valueQuantity={"value": value, "unit": unit, "system": UCUM, "code": unit})
        return self

    def special_area(self, key: str, display: str, *, days_ago: float = 3) -> Chart:
        """key: scalp | face | palms_soles | nails | genitals (the project's own value codes)."""
        self._observation(_concept(DERM3R, "special-area", "Psoriasis in a special area"), "exam", days_ago,
                          valueCodeableConcept=_concept(DERM3R, f"area-{key.replace('_', '-')}", display))
        return self

    def flag(self, name: str, *, days_ago: float = 3) -> Chart:
        """A yes finding: topical_failure | joint_pain."""
        code = {"topical_failure": "topical-failure", "joint_pain": "joint-pain"}[name]
        self._observation(_concept(DERM3R, code, code.replace("-", " ").capitalize()), "exam", days_ago, valueBoolean=True)
        return self

    def lab(self, name: str, value: float, *, days_ago: float = 3, unit: str | None = None) -> Chart:
        loinc, display, ucum = LABS[name]
        unit = unit or ucum
        self._observation(_concept(LOINC, loinc, display), "laboratory", days_ago,
                          valueQuantity={"value": value, "unit": unit, "system": UCUM, "code": unit})
        return self

    def lab_text(self, name: str, text: str, *, days_ago: float = 3) -> Chart:
        """A result the service cannot turn into a number (e.g. 'haemolysed sample')."""
        loinc, display, _ = LABS[name]
        self._observation(_concept(LOINC, loinc, display), "laboratory", days_ago, valueString=text)
        return self

    def coded_test(self, name: str, positive: bool, *, days_ago: float = 10) -> Chart:
        loinc, display = CODED_TESTS[name]
        answer = POSITIVE if positive else NEGATIVE
        self._observation(_concept(LOINC, loinc, display), "laboratory", days_ago,
                          valueCodeableConcept=_concept(*answer), interpretation=[
                              {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                                           "code": "POS" if positive else "NEG"}]}])
        return self

    def bp(self, systolic: float, diastolic: float, *, days_ago: float = 3) -> Chart:
        panel = self._observation(_concept(LOINC, "85354-9", "Blood pressure panel with all children optional"), "vital-signs", days_ago)
        panel["component"] = [
            {"code": _concept(LOINC, "8480-6", "Systolic blood pressure"),
             "valueQuantity": {"value": systolic, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}},
            {"code": _concept(LOINC, "8462-4", "Diastolic blood pressure"),
             "valueQuantity": {"value": diastolic, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}},
        ]
        return self

    # ------------------------------------------------------------------ medicines

    def medication(self, name: str, *, status: str = "active", started_days_ago: float = 200) -> Chart:
        rxnorm, text = MEDICATIONS[name]
        concept: dict[str, Any] = {"text": text}
        if rxnorm:
            concept["coding"] = [{"system": RXNORM, "code": rxnorm, "display": name.replace("_", " ")}]
        period: dict[str, str] = {"start": self._when(started_days_ago)}
        if status == "stopped":
            period["end"] = self._when(30)
        self.resources.append({"resourceType": "MedicationStatement", "id": self._id("MedicationStatement"), "status": status,
                               "medicationCodeableConcept": concept, "subject": self._subject, "effectivePeriod": period,
                               "dateAsserted": self._when(started_days_ago)})
        return self

    # ------------------------------------------------------------------ photographs

    def photo(self, site: str, *, appearance: str = "bright_red", erythema: float = 2.5, scale: float = 2.5,
              thickness: float = 2.0, area: float = 0.3, skin_tone: int = 2, days_ago: float = 3) -> Chart:
        from cds_hooks.demo.synthetic import render_photo

        jpeg = render_photo(appearance, erythema=erythema, induration=thickness, desquamation=scale, area_fraction=area,
                            skin_tone=skin_tone, seed=sum(map(ord, f"{self.name}/{site}/{self._n}")))
        return self._media(jpeg, site, days_ago)

    def demo_photo(self, name: str, site: str, *, days_ago: float = 3) -> Chart:
        """One of the committed synthetic demo photographs (inference/demo_images, known ground truth)."""
        return self._media((DEMO_IMAGES / name).read_bytes(), site, days_ago)

    def texture_photo(self, site: str = "trunk", *, days_ago: float = 3) -> Chart:
        """A photograph of wood grain, not skin (the quality gate must not read it as clear skin)."""
        from PIL import Image, ImageDraw

        rng = random.Random(self.name)
        image = Image.new("RGB", (384, 288), (150, 100, 55))
        draw = ImageDraw.Draw(image)
        for y in range(0, 288, 3):
            shade = rng.randint(-30, 30)
            draw.line([(0, y), (383, y + rng.randint(-6, 6))], fill=(120 + shade, 78 + shade // 2, 40), width=2)
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=85)
        return self._media(buffer.getvalue(), site, days_ago)

    def _media(self, jpeg: bytes, site: str, days_ago: float) -> Chart:
        code, text = SITES[site]
        self.resources.append({
            "resourceType": "Media", "id": self._id("Media"), "status": "completed",
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/media-type", "code": "image"}]},
            "subject": self._subject, "createdDateTime": self._when(days_ago),
            "bodySite": _concept(SNOMED, code, text, text),
            "content": {"contentType": "image/jpeg", "data": base64.b64encode(jpeg).decode("ascii"), "title": text},
        })
        return self

    # ------------------------------------------------------------------ output

    def prefetch(self) -> dict[str, Any]:
        """Every prefetch key the services declare, filled the way an EHR would (searchsets)."""
        def searchset(kind: str) -> dict[str, Any]:
            matches = [r for r in self.resources if r["resourceType"] == kind]
            return {"resourceType": "Bundle", "type": "searchset", "total": len(matches),
                    "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r, "search": {"mode": "match"}} for r in matches]}

        return {
            "patient": self.resources[0],
            "observations": searchset("Observation"),
            "media": searchset("Media"),
            "conditions": searchset("Condition"),
            "medicationStatements": searchset("MedicationStatement"),
            "medicationRequests": searchset("MedicationRequest"),
            "documents": searchset("DocumentReference"),
        }

    def bundle(self) -> dict[str, Any]:
        """The chart as one FHIR collection Bundle (for reading or loading elsewhere)."""
        return {"resourceType": "Bundle", "type": "collection",
                "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in self.resources]}


# ---------------------------------------------------------------------- shipped synthetic profiles


def _shift_dates(value: Any, delta: timedelta) -> Any:
    """Every FHIR date/dateTime string moved by `delta` (birth dates too, so ages stay the same)."""
    if isinstance(value, dict):
        return {k: _shift_dates(v, delta) for k, v in value.items()}
    if isinstance(value, list):
        return [_shift_dates(v, delta) for v in value]
    if isinstance(value, str):
        match = _ISO_DATE.match(value)
        if match:
            if match.group(2):
                moment = datetime.fromisoformat(value.replace("Z", "+00:00")) + delta
                return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            return (datetime.fromisoformat(value) + delta).date().isoformat()
    return value


class ProfileChart:
    """A patient of `cds_hooks.demo.synthetic` (the profiles the clinical review was run on), its dates
    moved so that the newest visit was `days_ago` days before now: what a vignette expects must
    not change with the day the tests run."""

    def __init__(self, profile: str, *, seed: int = 11, visits: int = 2, days_ago: float = 3) -> None:
        from cds_hooks.demo import synthetic

        bundle = synthetic.patient_bundle(profile, seed=seed, visits=visits)
        delta = datetime.now(timezone.utc) - timedelta(days=days_ago) - synthetic.ANCHOR
        self.name = profile
        self.resources = [_shift_dates(r, delta) for r in synthetic.resources(bundle)]
        self.pid = synthetic.patient_id(bundle)

    def prefetch(self) -> dict[str, Any]:
        return Chart.prefetch(self)  # type: ignore[arg-type]  # same shape: resources[0] is the Patient
