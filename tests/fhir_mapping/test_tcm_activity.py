"""The CarePlan's integrative TCM activity text and reason codes, from real differentiations."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from fhir_mapping.tcm_activity import tcm_activity_text, tcm_reason_codes
from inference.case import Case, ConditionEntry, ConditionKey, Finding, FindingKey, PatientInfo
from inference.knowledge_base import load_knowledge
from inference.reason.tcm import differentiate
from inference.reason.tcm_therapy import TherapyKnowledge
from inference.results import TcmDifferentiation

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
KB = load_knowledge()
THERAPY = TherapyKnowledge(KB.document("tcm_formulas"), KB.document("tcm_herbs"), KB.document("tcm_safety"))


def tcm(*findings: tuple[FindingKey, object], conditions: tuple[ConditionKey, ...] = ()) -> TcmDifferentiation:
    case = Case(PatientInfo("Patient/p1"), NOW,
                findings=tuple(Finding(k, v, f"Observation/{i}", effective=NOW - timedelta(days=1))  # type: ignore[arg-type]
                               for i, (k, v) in enumerate(findings)),
                conditions=tuple(ConditionEntry(c, c.value, f"Condition/{c.value}") for c in conditions))
    result = differentiate(case, None, KB.document("tcm"), THERAPY)
    assert result is not None and result.primary is not None
    return result


def test_all_options_contraindicated_says_so_and_lists_reasons() -> None:
    result = tcm((FindingKey.JOINT_PAIN, True), (FindingKey.EGFR, 35.0), conditions=(ConditionKey.PSORIATIC_ARTHRITIS,))
    assert result.primary is not None and result.primary.pattern == "wind_damp"
    text = tcm_activity_text(result, "Integrative.")
    assert text.startswith("Integrative. Pattern: Wind-damp obstruction 风湿痹阻证")
    assert "No formula proposed: every option is contraindicated for this patient." in text
    assert "Not proposed: Dúhuó Jìshēng Tāng" in text and "Xi Xin" in text
    assert "no formula proposed" in result.card_line
    assert tcm_reason_codes(result) == []  # wind-damp has only broader ICD-11 codes


def test_proposed_formula_text_has_composition_modifications_and_reason_code() -> None:
    result = tcm((FindingKey.TONGUE, "red_yellow_coat"), (FindingKey.PULSE, "slippery_rapid"), (FindingKey.ITCH_NRS, 8.0))
    text = tcm_activity_text(result, "Integrative.")
    assert "Formula: Liángxuè Huóxuè Tāng 凉血活血汤" in text and "槐花 huái huā (Sophorae Flos) 5-10 g" in text
    assert "Modifications: marked itch: add" in text and "白鲜皮" in text
    assert "Alternative: Xījiǎo Dìhuáng Tāng 犀角地黄汤" in text
    assert tcm_reason_codes(result)[0]["coding"][0]["code"] == "SF02"
