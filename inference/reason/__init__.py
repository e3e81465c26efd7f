"""DERM-Reason: severity, treatment ladder, TCM differentiation, screenings and follow-up from a Case.

Modules: `severity`, `treatment`, `tcm` (with `tcm_inputs`, `tcm_therapy`, `tcm_safety`), `screening`,
`follow_up`, `summary` (one concern each), wired together in `agent.DermReason`; all clinical rules come from `inference.knowledge_base`."""

from inference.reason.agent import DermReason, merge_issues

__all__ = ["DermReason", "merge_issues"]
