"""Herb safety facts read from the case, and how flag rules combine (unit level; the service-path tests in
tests/cds_hooks/test_tcm_service.py check each rule on its formula)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from inference.case import Case, ConditionEntry, ConditionKey, Finding, FindingKey, MedicationEntry, PatientInfo
from inference.knowledge_base import load_knowledge
from inference.reason.tcm_safety import Item, check_items, herb_item, plain_pinyin, read_context

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
KB = load_knowledge()
SAFETY = KB.document("tcm_safety")
HERBS = {h["id"]: h for h in KB.document("tcm_herbs")["herbs"]}
HERB_SOURCES = KB.document("tcm_herbs")["sources"]


def case(*findings: Finding, conditions: tuple[ConditionKey, ...] = (), meds: tuple[str, ...] = (),
         born: date | None = date(1980, 1, 1)) -> Case:
    return Case(
        PatientInfo("Patient/p1", birth_date=born), NOW, findings=findings,
        conditions=tuple(ConditionEntry(k, k.value, f"Condition/{k.value}") for k in conditions),
        medications=tuple(MedicationEntry(m.split()[0].lower(), m, f"MedicationStatement/{i}") for i, m in enumerate(meds)),
    )


def finding(key: FindingKey, value: float | str | bool, days_ago: int = 1) -> Finding:
    return Finding(key, value, f"Observation/{key.value}-{days_ago}", effective=NOW - timedelta(days=days_ago))


def items(*herbs: str) -> list[Item]:
    return [herb_item(HERBS[h], HERB_SOURCES) for h in herbs]


CONTEXTS = [
    # (case, expected contexts)
    (case(finding(FindingKey.PREGNANT, True)), {"pregnancy"}),
    (case(conditions=(ConditionKey.PREGNANCY,)), {"pregnancy"}),
    (case(finding(FindingKey.PREGNANT, False), conditions=(ConditionKey.PREGNANCY,)), set()),  # newer status: not pregnant
    (case(conditions=(ConditionKey.BREASTFEEDING,)), {"breastfeeding"}),
    (case(born=date(2010, 6, 1)), {"child"}),
    (case(born=date(2008, 11, 28)), {"child"}),  # 17 the day before the 18th birthday
    (case(born=date(2008, 11, 27)), set()),  # 18 today
    (case(born=None), set()),
    (case(finding(FindingKey.ALT, 41.0)), {"liver"}),
    (case(finding(FindingKey.ALT, 40.0)), set()),
    (case(finding(FindingKey.AST, 130.0)), {"liver", "liver_severe"}),
    (case(conditions=(ConditionKey.HEPATITIS_B,)), {"liver"}),
    (case(finding(FindingKey.EGFR, 59.0)), {"kidney"}),
    (case(finding(FindingKey.EGFR, 75.0)), set()),
    (case(conditions=(ConditionKey.KIDNEY_DISEASE,)), {"kidney"}),
]


@pytest.mark.parametrize(("patient", "expected"), CONTEXTS)
def test_safety_facts_from_the_case(patient: Case, expected: set[str]) -> None:
    assert set(read_context(patient, SAFETY).contexts) == expected


def test_newest_liver_test_counts() -> None:
    patient = case(finding(FindingKey.ALT, 200.0, days_ago=90), finding(FindingKey.ALT, 30.0, days_ago=2))
    assert "liver" not in read_context(patient, SAFETY).contexts


def test_drugs_match_by_key_and_only_when_active() -> None:
    patient = case(meds=("Coumadin 5 mg", "Humira pen", "Apixaban 5 mg"))
    groups = read_context(patient, SAFETY).drugs
    assert set(groups) == {"warfarin", "anticoagulant_doac"}  # "humira" is not a key; the mapper keys it as adalimumab
    topical = Case(PatientInfo("Patient/p1"), NOW, medications=(
        MedicationEntry("calcineurin_inhibitor", "Tacrolimus 0.1% ointment", "MedicationStatement/1"),))
    assert read_context(topical, SAFETY).drugs == {}  # topical tacrolimus is not systemic immunosuppression
    stopped = Case(PatientInfo("Patient/p1"), NOW, medications=(
        MedicationEntry("warfarin", "Warfarin", "MedicationStatement/1", active=False),))
    assert read_context(stopped, SAFETY).drugs == {}


def test_contraindication_supersedes_caution_for_the_same_herbs() -> None:
    ctx = read_context(case(finding(FindingKey.ALT, 200.0)), SAFETY)
    cautions = check_items(items("bai_xian_pi", "zhi_he_shou_wu"), ctx, SAFETY)
    by_herb = {(c.level, h) for c in cautions for h in c.herbs}
    assert ("contraindicated", "bai_xian_pi") in by_herb and ("caution", "bai_xian_pi") not in by_herb
    assert ("contraindicated", "zhi_he_shou_wu") in by_herb
    assert cautions[0].level == "contraindicated"  # the reason to withhold reads first
    # every caution names the patient fact, the rule with its citation, and the herb's own source
    for c in cautions:
        assert c.evidence[0].source_ref == "Observation/alt-1"
        assert c.evidence[1].rule and c.evidence[1].citation
        assert any("He Shou Wu" in e.statement or "Bai Xian Pi" in e.statement for e in c.evidence[2:])


def test_no_context_no_caution() -> None:
    assert check_items(items(*HERBS), read_context(case(), SAFETY), SAFETY) == ()


def test_plain_pinyin_drops_tone_marks() -> None:
    assert plain_pinyin("Liángxuè Huóxuè Tāng") == "Liangxue Huoxue Tang"
    assert plain_pinyin("lǜ") == "lu"


# ---------------------------------------------------------------- one reading of the populations (merge of 11 and 15)


def test_herb_safety_reads_the_populations_derm_reason_found() -> None:
    from inference.reason.drugs import DrugCatalogue

    drugs = DrugCatalogue.from_knowledge(KB)
    # a breastfeeding Observation (issue 11's finding) counts for herbs too
    nursing = case(finding(FindingKey.BREASTFEEDING, True))
    assert "breastfeeding" in read_context(nursing, SAFETY, drugs.populations(nursing)[0]).contexts
    assert "breastfeeding" in read_context(nursing, SAFETY).contexts  # same readers without the catalogue
    # "pregnant" recorded on a man is a record conflict, not a pregnancy: no pregnancy herb rules
    man = Case(PatientInfo("Patient/m", birth_date=date(1980, 1, 1), sex="male"), NOW,
               findings=(finding(FindingKey.PREGNANT, True),))
    assert "pregnancy" not in read_context(man, SAFETY, drugs.populations(man)[0]).contexts
    # liver disease from the populations, lab severity from the finer herb rule on top
    liver = case(finding(FindingKey.ALT, 200.0), conditions=(ConditionKey.LIVER_DISEASE,))
    ctx = read_context(liver, SAFETY, drugs.populations(liver)[0])
    assert {"liver", "liver_severe"} <= set(ctx.contexts) and "Condition" in str(ctx.contexts["liver"].source_ref)
