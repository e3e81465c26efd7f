"""Closed vocabularies are enums end to end: severity levels, therapy classes (ladder steps), card
indicators, trend directions and population standings come out of DERM-Reason as `StrEnum` members
that equal and serialise as their plain strings (so JSON and comparisons with data are unchanged),
and knowledge that names a value outside a vocabulary fails at start-up."""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from inference.case import Case, ConditionEntry, ConditionKey, Finding, FindingKey, MedicationEntry, PatientInfo
from inference.knowledge_base import KnowledgeError, load_knowledge
from inference.reason.agent import DermReason
from inference.reason.drugs import DrugCatalogue
from inference.reason.severity import check_severity_knowledge
from inference.reason.treatment import check_treatment_knowledge
from inference.results import Indicator, PopulationStatus, SeverityLevel, TherapyClass, TrendDirection

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
KB = load_knowledge()


def _thaw(value: Any) -> Any:
    if isinstance(value, dict) or hasattr(value, "items"):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_thaw(v) for v in value]
    return value


def _assessment() -> Any:
    # Severe psoriasis on methotrexate with an active infection: a step, options and alerts.
    case = Case(
        PatientInfo("Patient/p1", date(1980, 5, 1), "female"),
        NOW,
        findings=(Finding(FindingKey.BSA_PERCENT, 24.0, "Observation/bsa", effective=NOW - timedelta(days=1)),),
        conditions=(
            ConditionEntry(ConditionKey.PSORIASIS, "Psoriasis", "Condition/ps"),
            ConditionEntry(ConditionKey.PREGNANCY, "Pregnancy", "Condition/preg"),
        ),
        medications=(MedicationEntry("methotrexate", "Methotrexate", "MedicationStatement/mtx", start=(NOW - timedelta(days=200)).date()),),
    )
    return DermReason(KB).assess(case, None)


def test_reason_output_carries_enum_members() -> None:
    a = _assessment()
    assert type(a.severity.level) is SeverityLevel and a.severity.level == "severe"
    assert a.treatment is not None and type(a.treatment.step) is TherapyClass
    assert a.treatment.options and all(type(o.therapy_class) is TherapyClass for o in a.treatment.options)
    assert all(type(o.status) is PopulationStatus for o in a.treatment.options)
    assert a.alerts and all(type(al.severity) is Indicator for al in a.alerts)


def test_enums_serialise_as_their_plain_strings() -> None:
    a = _assessment()
    dumped = json.loads(json.dumps(dataclasses.asdict(a), default=str))
    assert dumped["severity"]["level"] == "severe"
    assert {o["therapy_class"] for o in dumped["treatment"]["options"]} <= {"topical", "phototherapy", "oral_systemic", "biologic"}
    for member in (*SeverityLevel, *TherapyClass, *Indicator, *TrendDirection, *PopulationStatus):
        assert json.dumps(member) == json.dumps(member.value) and f"{member}" == member.value == str(member)


def test_ladder_order_is_the_enum_order() -> None:
    assert [str(c) for c in TherapyClass] == ["topical", "phototherapy", "oral_systemic", "biologic"]


@pytest.mark.parametrize(
    "edit",
    [
        lambda doc: doc["measures"][0]["bands"][0].__setitem__("level", "extreme"),
        lambda doc: doc.__setitem__("levels", ["clear", "mild", "severe"]),
    ],
    ids=["band level", "levels list"],
)
def test_severity_knowledge_with_an_unknown_level_fails(edit: Any) -> None:
    doc = _thaw(KB.document("severity"))
    check_severity_knowledge(doc)
    edit(doc)
    with pytest.raises(KnowledgeError):
        check_severity_knowledge(doc)


@pytest.mark.parametrize(
    "edit",
    [
        lambda p, d: p["levels"].__setitem__("severe", "surgery"),
        lambda p, d: p["escalate"].__setitem__("biologic", "surgery"),
        lambda p, d: p.__setitem__("systemic_candidate_step", "oral"),
        lambda p, d: p["levels"].pop("clear"),
        lambda p, d: d["subtypes"][0].__setitem__("max_step", "surgery"),
    ],
    ids=["level -> unknown step", "escalate -> unknown step", "systemic step", "level missing", "subtype max_step"],
)
def test_treatment_knowledge_with_an_unknown_step_or_level_fails(edit: Any) -> None:
    doc = _thaw(KB.document("treatment"))
    catalogue = DrugCatalogue.from_knowledge(KB)
    check_treatment_knowledge(doc, catalogue)
    bad = copy.deepcopy(doc)
    edit(bad["profiles"][bad["default_profile"]], bad)
    with pytest.raises(KnowledgeError):
        check_treatment_knowledge(bad, catalogue)
