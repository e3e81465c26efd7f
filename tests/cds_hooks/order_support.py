"""Builders for the ordering-hook tests: a patient record (prefetch) and draft orders, written with
the raw codes an EHR sends (SNOMED conditions, LOINC observations, RxNorm medicines)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from service_support import searchset

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
TODAY = date.today()


def days_ago(n: int) -> str:
    return (TODAY - timedelta(days=n)).isoformat()


# RxNorm ingredient codes (RxCUI) of the medicines the tests order.
RXCUI = {
    "methotrexate": "6851",
    "cyclosporine": "3008",
    "acitretin": "16818",
    "apremilast": "1492727",
    "adalimumab": "327361",
    "etanercept": "214555",
    "infliximab": "191831",
    "certolizumab": "709271",
    "ustekinumab": "847083",
    "secukinumab": "1599788",
    "ixekizumab": "1745099",
    "brodalumab": "1872251",
    "guselkumab": "1928588",
    "risankizumab": "2166040",
    "tildrakizumab": "2053419",
    "deucravacitinib": "2588115",
    "trimethoprim": "10829",
    "ibuprofen": "5640",
    "simvastatin": "36567",
    "acetaminophen": "161",
}

CONDITIONS = {
    "psoriasis": ("9014002", "Psoriasis"),
    "pregnancy": ("77386006", "Pregnant"),
    "tuberculosis": ("56717001", "Tuberculosis"),
    "latent_tb": ("11999007", "Latent tuberculosis"),
    "heart_failure": ("84114007", "Heart failure"),
    "crohns": ("34000006", "Crohn's disease"),
    "liver": ("19943007", "Cirrhosis of liver"),
    "ckd4": ("431857002", "Chronic kidney disease stage 4"),
    "infection": ("233604007", "Pneumonia"),
    "hepatitis_b": ("61977001", "Chronic type B viral hepatitis"),
    "multiple_sclerosis": ("24700007", "Multiple sclerosis"),
    "hypertension": ("59621000", "Essential hypertension"),
    "malignancy": ("363346000", "Malignant neoplastic disease"),
}

# LOINC lab / vital codes (the same the drug knowledge reads).
LABS = {
    "alt": ("1742-6", "ALT", "U/L"),
    "ast": ("1920-8", "AST", "U/L"),
    "creatinine": ("2160-0", "Creatinine", "mg/dL"),
    "egfr": ("33914-3", "eGFR", "mL/min/{1.73_m2}"),
    "wbc": ("6690-2", "Leukocytes", "10*3/uL"),
    "neutrophils": ("751-8", "Neutrophils", "10*3/uL"),
    "platelets": ("777-3", "Platelets", "10*3/uL"),
    "haemoglobin": ("718-7", "Hemoglobin", "g/dL"),
    "total_cholesterol": ("2093-3", "Cholesterol", "mg/dL"),
    "triglycerides": ("2571-8", "Triglycerides", "mg/dL"),
    "ldl": ("18262-6", "LDL cholesterol", "mg/dL"),
    "hdl": ("2085-9", "HDL cholesterol", "mg/dL"),
    "systolic_bp": ("8480-6", "Systolic blood pressure", "mm[Hg]"),
    "diastolic_bp": ("8462-4", "Diastolic blood pressure", "mm[Hg]"),
}
QUALITATIVE = {
    "igra": ("71773-6", "QuantiFERON"),
    "hbsag": ("5196-1", "Hepatitis B surface Ag"),
    "anti_hbc": ("16933-4", "Hepatitis B core Ab"),
    "hcv": ("16128-1", "Hepatitis C Ab"),
    "hcg": ("2106-3", "Choriogonadotropin (pregnancy test)"),
}
POSITIVE = {"system": SNOMED, "code": "10828004", "display": "Positive"}
NEGATIVE = {"system": SNOMED, "code": "260385009", "display": "Negative"}


@dataclass
class Chart:
    """One synthetic patient's record, built up by the test, turned into prefetch."""

    pid: str = "p1"
    sex: str = "female"
    birth: str = "1990-05-01"
    resources: list[dict] = field(default_factory=list)

    def _id(self) -> str:
        return uuid.uuid4().hex[:12]

    def condition(self, key: str, *, onset_days: int = 200, active: bool = True) -> "Chart":
        code, display = CONDITIONS[key]
        self.resources.append(
            {
                "resourceType": "Condition",
                "id": self._id(),
                "subject": {"reference": f"Patient/{self.pid}"},
                "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active" if active else "resolved"}]},
                "code": {"coding": [{"system": SNOMED, "code": code, "display": display}], "text": display},
                "onsetDateTime": days_ago(onset_days),
                "recordedDate": days_ago(onset_days),
            }
        )
        return self

    def lab(self, key: str, value: float, *, days: int = 10) -> "Chart":
        code, display, unit = LABS[key]
        self.resources.append(
            {
                "resourceType": "Observation",
                "id": self._id(),
                "status": "final",
                "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory" if key not in ("systolic_bp", "diastolic_bp") else "vital-signs"}]}],
                "code": {"coding": [{"system": LOINC, "code": code, "display": display}], "text": display},
                "subject": {"reference": f"Patient/{self.pid}"},
                "effectiveDateTime": days_ago(days),
                "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
            }
        )
        return self

    def test_result(self, key: str, positive: bool, *, days: int = 10) -> "Chart":
        code, display = QUALITATIVE[key]
        self.resources.append(
            {
                "resourceType": "Observation",
                "id": self._id(),
                "status": "final",
                "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
                "code": {"coding": [{"system": LOINC, "code": code, "display": display}], "text": display},
                "subject": {"reference": f"Patient/{self.pid}"},
                "effectiveDateTime": days_ago(days),
                "valueCodeableConcept": {"coding": [POSITIVE if positive else NEGATIVE]},
            }
        )
        return self

    def all_checks_done(self, *, days: int = 10) -> "Chart":
        """Every pre-treatment check recent and normal (so only the problem under test remains)."""
        for key, value in (
            ("alt", 22), ("ast", 24), ("creatinine", 0.8), ("egfr", 95), ("wbc", 6.5), ("neutrophils", 3.8),
            ("platelets", 250), ("haemoglobin", 13.5), ("total_cholesterol", 180), ("triglycerides", 110),
            ("ldl", 100), ("hdl", 55), ("systolic_bp", 118), ("diastolic_bp", 76),
        ):
            if not any(r.get("code", {}).get("coding", [{}])[0].get("code") == LABS[key][0] for r in self.resources):
                self.lab(key, value, days=days)
        for key in ("igra", "hbsag", "anti_hbc", "hcv"):
            self.test_result(key, False, days=days)
        pregnant = any(r["resourceType"] == "Condition" and r["code"]["coding"][0]["code"] == CONDITIONS["pregnancy"][0] for r in self.resources)
        if self.sex == "female" and not pregnant:  # a negative test after the pregnancy was recorded would (rightly) override it
            self.test_result("hcg", False, days=days)
        return self

    def taking(self, name: str, *, kind: str = "MedicationStatement", status: str = "active") -> "Chart":
        concept = {"coding": [{"system": RXNORM, "code": RXCUI[name], "display": name}], "text": name}
        resource: dict[str, Any] = {
            "resourceType": kind,
            "id": self._id(),
            "status": status,
            "subject": {"reference": f"Patient/{self.pid}"},
            "medicationCodeableConcept": concept,
        }
        if kind == "MedicationRequest":
            resource["intent"] = "order"
            resource["authoredOn"] = days_ago(60)
        else:
            resource["effectivePeriod"] = {"start": days_ago(60)}
        self.resources.append(resource)
        return self

    def patient(self) -> dict:
        return {"resourceType": "Patient", "id": self.pid, "gender": self.sex, "birthDate": self.birth}

    def prefetch(self) -> dict:
        by_type: dict[str, list[dict]] = {}
        for r in self.resources:
            by_type.setdefault(r["resourceType"], []).append(r)
        return {
            "patient": self.patient(),
            "conditions": searchset(*by_type.get("Condition", [])),
            "observations": searchset(*by_type.get("Observation", [])),
            "medicationStatements": searchset(*by_type.get("MedicationStatement", [])),
            "medicationRequests": searchset(*by_type.get("MedicationRequest", [])),
        }


def medication_order(name: str, *, oid: str | None = None, pid: str = "p1", coded: bool = True, text: str | None = None) -> dict:
    """A draft MedicationRequest as an EHR sends it: RxNorm-coded, or only a free-text name."""
    concept: dict[str, Any] = {"text": text or f"{name} (as ordered)"}
    if coded:
        concept["coding"] = [{"system": RXNORM, "code": RXCUI[name], "display": name}]
    return {
        "resourceType": "MedicationRequest",
        "id": oid or f"draft-{name}",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{pid}"},
        "medicationCodeableConcept": concept,
    }


def phototherapy_order(*, oid: str = "draft-nbuvb", pid: str = "p1", text: str = "Narrowband UVB phototherapy") -> dict:
    return {
        "resourceType": "ServiceRequest",
        "id": oid,
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{pid}"},
        "code": {"text": text},
    }


def order_request(hook: str, chart: Chart, *orders: dict, selections: list[str] | None = None, prefetch: bool = True) -> dict:
    context: dict[str, Any] = {
        "userId": "Practitioner/u1",
        "patientId": chart.pid,
        "encounterId": "e1",
        "draftOrders": {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": o} for o in orders]},
    }
    if hook == "order-select":
        context["selections"] = selections if selections is not None else [f"{orders[-1]['resourceType']}/{orders[-1]['id']}"]
    body: dict[str, Any] = {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": context}
    if prefetch:
        body["prefetch"] = chart.prefetch()
    return body
