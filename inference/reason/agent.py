"""DERM-Reason: the holistic step. Case (+ DERM-Rep's patient representation, when there are photos)
-> severity, treatment ladder step, TCM differentiation, screenings due, follow-up, data issues.

Stateless after construction (the knowledge base is immutable), so one instance serves every request,
and the same case always gives the same Assessment."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from inference.case import Case, DataIssue
from inference.knowledge_base import KnowledgeBase
from inference.reason.follow_up import plan_follow_up, progress_evidence
from inference.reason.screening import check_screening_knowledge, screenings
from inference.reason.severity import assess_severity
from inference.reason.summary import summarise
from inference.reason.tcm import (
    check_tcm_knowledge,
    differentiate,
    unrecognised_findings,
)
from inference.reason.tcm_therapy import TherapyKnowledge, check_therapy_knowledge
from inference.reason.treatment import check_treatment_knowledge, plan_treatment
from inference.results import Assessment, PatientRepresentation


class DermReason:
    def __init__(self, knowledge: KnowledgeBase) -> None:
        # Cross-checks against the case model run here, once, so a bad knowledge edit fails at start-up.
        check_treatment_knowledge(knowledge.document("treatment"))
        check_tcm_knowledge(knowledge.document("tcm"))
        self._therapy = TherapyKnowledge(
            knowledge.document("tcm_formulas"), knowledge.document("tcm_herbs"), knowledge.document("tcm_safety"),
        )
        check_therapy_knowledge(knowledge.document("tcm"), self._therapy)
        check_screening_knowledge(knowledge.document("screening"))
        self._knowledge = knowledge

    @classmethod
    def load(cls, knowledge_dir: Path | None = None) -> DermReason:
        """Build from the knowledge files in `knowledge_dir` (None: the packaged files)."""
        return cls(KnowledgeBase.load(knowledge_dir))

    @property
    def knowledge_version(self) -> str:
        return self._knowledge.version

    def assess(self, case: Case, representation: PatientRepresentation | None) -> Assessment:
        kb = self._knowledge
        severity = assess_severity(case, representation, kb.document("severity"))
        plan = plan_treatment(case, severity, kb.document("treatment"))
        tcm = differentiate(case, representation, kb.document("tcm"), self._therapy, severity.differential_open)
        due = screenings(case, severity, plan, kb.document("screening"), kb.document("treatment"))
        follow_up = plan_follow_up(
            severity.severity.level, plan.step if plan else None, kb.document("follow_up"),
            progress_evidence(case, representation),
        )

        own: list[DataIssue] = list(severity.issues)
        own.extend(unrecognised_findings(case, kb.document("tcm")))
        if representation is None and not case.photos:
            own.append(DataIssue("no_photos", "No clinical photographs: no image PASI or lesion descriptors"))
        elif representation is None:
            own.append(DataIssue("photos_not_analysed", "Photographs present but not analysed: no image PASI"))
        if severity.severity.level != "unknown" and plan is None:
            own.append(DataIssue("no_treatment_step", "No treatment ladder rule matched this case"))
        issues = merge_issues(case.issues, representation.issues if representation else (), own)

        return Assessment(
            patient_ref=case.patient.ref,
            as_of=case.as_of,
            severity=severity.severity,
            treatment=plan,
            tcm=tcm,
            screenings=due,
            follow_up=follow_up,
            representation=representation,
            issues=issues,
            knowledge_version=kb.version,
            model_version=representation.model_version if representation else "",
            summary=summarise(severity, plan, due, tcm, len(issues)),
        )


def merge_issues(*groups: Iterable[DataIssue]) -> tuple[DataIssue, ...]:
    """Case issues first, then the image agents', then DERM-Reason's; one per (code, source_ref)."""
    seen: set[tuple[str, str | None]] = set()
    merged: list[DataIssue] = []
    for group in groups:
        for issue in group:
            key = (issue.code, issue.source_ref)
            if key not in seen:
                seen.add(key)
                merged.append(issue)
    return tuple(merged)
