"""Shared helpers for the service-core tests (tests/cds_hooks/test_*.py): app construction with a
fast deterministic stand-in pipeline, request bodies, and a loopback FHIR test server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from cds_hooks.app import create_app
from cds_hooks.settings import Settings
from inference.case import BodyRegion, Case
from inference.results import (
    Assessment,
    AttributeScore,
    Contraindication,
    Evidence,
    FollowUp,
    LesionAttributes,
    PasiEstimate,
    PatientRepresentation,
    QualityReport,
    RecResult,
    Screening,
    Severity,
    TcmDifferentiation,
    TcmPattern,
    TreatmentOption,
    TreatmentPlan,
    Trend,
)

REPO = Path(__file__).resolve().parents[2]
FHIR_SERVER_DIR = REPO / "tests" / "fhir_server"
PV = "derm3r-patient-view"
ES = "derm3r-encounter-start"

# A minimal valid PNG (1x1) and JPEG would be rejected by the quality gate; the stand-in pipeline
# does not decode, the real one (test_cli, e2e tests) gets synthetic photographs.
PHOTO_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _score(value: float, confidence: float = 0.8) -> AttributeScore:
    return AttributeScore(value=value, confidence=confidence)


@dataclass
class StubPipeline:
    """Deterministic stand-in for `inference.pipeline.Pipeline`: a fixed, fully populated
    Assessment (every card section exercised), with the case's own references, and a call log."""

    severity: str = "moderate"
    calls: int = 0

    def assess(self, case: Case) -> Assessment:
        self.calls += 1
        photos = tuple(
            RecResult(
                photo_ref=p.ref,
                quality=QualityReport(usable=i == 0, reasons=() if i == 0 else ("image is blurred: retake with the camera steady",)),
                probabilities={"psoriasis": 0.8, "eczema": 0.2} if i == 0 else {},
                attributes=LesionAttributes(
                    erythema=_score(2.0), scale=_score(1.5), thickness=_score(1.0, 0.3), area_fraction=_score(0.2), colour_class="bright_red"
                )
                if i == 0
                else None,
                model_version="stub-1",
                region=p.region,
            )
            for i, p in enumerate(case.photos)
        )
        rep = None
        if photos:
            rep = PatientRepresentation(
                probabilities={"psoriasis": 0.8, "eczema": 0.2},
                regions=(),
                pasi=PasiEstimate(value=9.6, low=7.0, high=12.5, regions_seen=(BodyRegion.TRUNK,), evidence=(Evidence("trunk photo read", source_ref=photos[0].photo_ref),)),
                trend=Trend(direction="worsening", percent_change=25.0, baseline_value=7.7, baseline_date=datetime(2026, 9, 1, tzinfo=timezone.utc)),
                tcm_descriptors={"bright_red": 0.8},
                descriptor_evidence={},
                photos=photos,
                model_version="stub-1",
            )
        basis = (Evidence("PASI 9.6 (photo estimate) is above 5", rule="severity.pasi.moderate", citation="AAD-NPF 2019 psoriasis guideline"),)
        return Assessment(
            patient_ref=case.patient.ref,
            as_of=case.as_of,
            severity=Severity(level=self.severity, basis=basis, systemic_candidate=self.severity == "severe"),
            treatment=TreatmentPlan(
                step="phototherapy",
                step_display="Phototherapy (NB-UVB)",
                options=(
                    TreatmentOption("nbuvb", "Narrow-band UVB", "phototherapy"),
                    TreatmentOption(
                        "methotrexate",
                        "Methotrexate",
                        "oral_systemic",
                        contraindications=(Contraindication("methotrexate", "pregnancy <b>", True, (Evidence("Condition pregnancy", source_ref="Condition/9"),)),),
                        pre_treatment_checks=("CBC and liver tests",),
                    ),
                ),
                rationale=(Evidence("moderate disease not controlled by topicals", rule="ladder.phototherapy", citation="AAD-NPF 2019 phototherapy guideline"),),
            ),
            tcm=TcmDifferentiation(
                primary=TcmPattern(
                    "blood_heat", "Blood heat", 0.7, (Evidence("bright red lesions", weight=0.5),), (), "clear heat, cool blood", ("Xijiao Dihuang Tang",)
                ),
                ranked=(),
                confidence=0.4,
                note="Integrative only; does not replace guideline care.",
                citation="CACMS psoriasis TCM guideline 2011",
            ),
            screenings=(
                Screening("psoriatic_arthritis", "Psoriatic arthritis (PEST)", True, "Ask the PEST questionnaire", (Evidence("no PEST in 12 months", citation="AAD-NPF 2019 comorbidities"),)),
                Screening("depression", "Depression (PHQ-2)", False, "n/a", ()),
            ),
            follow_up=FollowUp(12, ("BSA <= 1% at 3 months",), ()),
            representation=rep,
            issues=(),
            knowledge_version="stub-kb-1",
            model_version="stub-1",
            summary=f"Psoriasis {self.severity}: PASI ~9.6 from photos, worsening; phototherapy step",
        )


_REAL_PIPELINE: list[Any] = []


def real_pipeline() -> Any:
    """The shipped pipeline, built once per test session. Skips (with the reason) only while the
    lesion model files are not in the repository yet; any other load failure is a test failure."""
    if not _REAL_PIPELINE:
        for module in ("inference.rec", "inference.rep", "inference.reason"):
            pytest.importorskip(module)
        from inference.lesion_model import LesionModelNotFound
        from inference.pipeline import build_pipeline

        try:
            _REAL_PIPELINE.append(build_pipeline())
        except LesionModelNotFound as exc:
            pytest.skip(f"lesion model not shipped yet: {exc}")
    return _REAL_PIPELINE[0]


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    base = Settings(
        auth_enabled=False,
        public_base_url="http://derm3r.test",
        data_dir=tmp_path / "var",
        fhir_timeout_seconds=1.0,
        request_deadline_seconds=3.0,
    )
    return replace(base, **overrides)


def make_app(tmp_path: Path, *, pipeline: Any = None, client_factory: Any = None, **overrides: Any):
    """The app with auth off and a stub pipeline unless given; `overrides` are Settings fields."""
    return create_app(settings_for(tmp_path, **overrides), pipeline=pipeline or StubPipeline(), client_factory=client_factory)


def patient(pid: str = "p1") -> dict:
    return {"resourceType": "Patient", "id": pid, "gender": "female", "birthDate": "1980-04-02"}


def condition(pid: str = "p1", cid: str = "c1") -> dict:
    return {
        "resourceType": "Condition",
        "id": cid,
        "subject": {"reference": f"Patient/{pid}"},
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "9014002", "display": "Psoriasis"}]},
    }


def searchset(*resources: dict) -> dict:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


def request_body(pid: str = "p1", *, hook: str = "patient-view", prefetch: dict | None = None, **extra: Any) -> dict:
    context = {"userId": "Practitioner/u1", "patientId": pid}
    if hook == "encounter-start":
        context["encounterId"] = "e1"
    body = {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": context}
    body["prefetch"] = prefetch if prefetch is not None else {"patient": patient(pid), "conditions": searchset(condition(pid))}
    body.update(extra)
    return body


def operation_outcome_issue(response: Any) -> dict:
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome", body
    assert body["issue"] and body["issue"][0]["severity"] == "error"
    return body["issue"][0]


# ---------------------------------------------------------------- loopback FHIR test server


@dataclass
class FhirTestServer:
    base: str
    admin: str
    process: subprocess.Popen

    def load(self, bundle: dict) -> None:
        response = requests.post(self.base, json=bundle, headers={"Content-Type": "application/fhir+json"}, timeout=30)
        response.raise_for_status()

    def fault(self, **fault: Any) -> None:
        requests.post(f"{self.admin}/faults", json=fault, timeout=5).raise_for_status()

    def clear(self) -> None:
        requests.delete(f"{self.admin}/faults", timeout=5).raise_for_status()
        requests.delete(f"{self.admin}/requests", timeout=5).raise_for_status()
        requests.put(f"{self.admin}/token", json={"token": None}, timeout=5).raise_for_status()

    def forget_requests(self) -> None:
        requests.delete(f"{self.admin}/requests", timeout=5).raise_for_status()

    def require_token(self, token: str | None) -> None:
        requests.put(f"{self.admin}/token", json={"token": token}, timeout=5).raise_for_status()

    def seen(self) -> list[dict]:
        return list(requests.get(f"{self.admin}/requests", timeout=5).json()["requests"])


def start_fhir_server() -> Iterator[FhirTestServer]:
    """Start tests/fhir_server/server.mjs on a free loopback port (skip if node or its modules are
    missing: `.ci/run` installs them)."""
    node = shutil.which("node")
    if node is None or not (FHIR_SERVER_DIR / "node_modules").is_dir():
        pytest.skip("FHIR test server not installed (run .ci/run)")
    proc = subprocess.Popen(
        [node, "--experimental-websocket", "server.mjs", "--port", "0"],
        cwd=FHIR_SERVER_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "NODE_NO_WARNINGS": "1"},
    )
    try:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())
        base = first["base"]
        yield FhirTestServer(base=base, admin=base.rsplit("/fhir", 1)[0] + "/admin", process=proc)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
