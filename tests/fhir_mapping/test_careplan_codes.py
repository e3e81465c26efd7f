"""Draft CarePlan activities carry standard codes from the drug knowledge (issue 11 item 9), and its
notes are plain, escaped text without internal identifiers."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timezone

import pytest

from fhir_mapping import r4
from fhir_mapping.careplan import ATC, UNVERIFIED_CODE_EXTENSION, care_plan
from inference.results import Assessment, Contraindication, Evidence, Severity, TreatmentOption, TreatmentPlan

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"


def _assessment(*options: TreatmentOption, summary: str = "Severe psoriasis (BSA 24%); step: biologic therapy") -> Assessment:
    return Assessment(
        patient_ref="Patient/p1",
        as_of=datetime(2026, 11, 30, tzinfo=timezone.utc),
        severity=Severity("severe", (Evidence("BSA 24% (Observation/0b6f2a4e-2b8a-4c7e-9c55-2f1f0b6c3d11, 2026-11-29): severe",
                                              rule="severity.bsa.severe",
                                              citation="AAD-NPF joint guideline: topical therapy; clinical.md 'Severity' [(unverified) configurable default]"),),
                          True),
        treatment=TreatmentPlan("biologic", "Biologic therapy", tuple(options),
                                (Evidence("severe disease *not* controlled <b>", rule="treatment.step.severe",
                                          citation="aad_npf_biologics_2019"),)),
        tcm=None, screenings=(), follow_up=None, representation=None, issues=(),
        knowledge_version="treatment=2.0.0;sha256=abc", model_version="2026.11.2", summary=summary,
    )


def _activity(plan: dict, text: str) -> dict:
    return next(a["detail"] for a in plan["activity"] if a["detail"]["code"]["text"] == text)


def _codes(detail: dict) -> dict[str, str]:
    return {c["system"]: c["code"] for c in detail["code"].get("coding", [])}


@pytest.mark.parametrize(
    ("therapy", "display", "system", "code"),
    [
        ("methotrexate", "Methotrexate", RXNORM, "6851"),
        ("methotrexate", "Methotrexate", ATC, "L04AX03"),
        ("adalimumab", "Adalimumab", RXNORM, "327361"),
        ("adalimumab", "Adalimumab", ATC, "L04AB04"),
        ("nb_uvb", "Narrowband UVB", SNOMED, "413162004"),
        ("tnf_inhibitor", "TNF inhibitor", ATC, "L04AB"),
        ("il17_inhibitor", "IL-17 inhibitor", ATC, "L04AC"),
    ],
)
def test_activities_carry_codes_from_the_drug_knowledge(therapy: str, display: str, system: str, code: str) -> None:
    plan = care_plan(_assessment(TreatmentOption(therapy, display, "biologic")), resource_id="cp1")
    detail = _activity(plan, display)
    assert _codes(detail).get(system) == code, detail["code"]
    r4.check(plan)  # still valid FHIR R4


def test_unverified_codes_say_so_and_verified_ones_do_not() -> None:
    plan = care_plan(_assessment(TreatmentOption("secukinumab", "Secukinumab", "biologic"),
                                 TreatmentOption("methotrexate", "Methotrexate", "oral_systemic")), resource_id="cp1")
    secukinumab = {c["system"]: c for c in _activity(plan, "Secukinumab")["code"]["coding"]}
    assert secukinumab[RXNORM]["extension"] == [{"url": UNVERIFIED_CODE_EXTENSION, "valueBoolean": True}]
    assert "extension" not in secukinumab[ATC]
    assert all("extension" not in c for c in _activity(plan, "Methotrexate")["code"]["coding"])


def test_an_option_the_knowledge_does_not_know_keeps_its_text_only() -> None:
    plan = care_plan(_assessment(TreatmentOption("mystery_cream", "Mystery cream", "topical")), resource_id="cp1")
    assert _activity(plan, "Mystery cream")["code"] == {"text": "Mystery cream"}


def test_notes_are_plain_escaped_and_free_of_internal_identifiers() -> None:
    option = TreatmentOption("methotrexate", "Methotrexate", "oral_systemic",
                             contraindications=(Contraindication("methotrexate", "pregnancy (Observation/7; pregnancy.mtx)", True, ()),))
    plan = care_plan(_assessment(option), resource_id="cp1")
    text = "\n".join(n["text"] for n in plan["note"]) + _activity(plan, "Methotrexate")["statusReason"]["text"]
    for pattern in (r"Observation/", r"\b[a-z]+\.[a-z_]+\.[a-z_]+\b", r"\.md\b", r"unverified", r"configurable default",
                    r"sha256", r"[0-9a-f]{8}-[0-9a-f]{4}-"):
        assert not re.search(pattern, text), (pattern, text)
    assert "\\*not\\*" in text and "\\<b\\>" in text  # markdown and HTML escaped
    assert "AAD-NPF guideline: biologics (2019)" in text  # sources as citations


def test_a_class_with_several_members_is_coded_by_its_atc_group_only() -> None:
    option = TreatmentOption("tnf_inhibitor", "TNF inhibitor (adalimumab, etanercept)", "biologic",
                             drugs=("adalimumab", "etanercept"))
    plan = care_plan(_assessment(option), resource_id="cp1")
    assert _activity(plan, option.display)["code"]["coding"] == [{"system": ATC, "code": "L04AB"}]


def test_a_class_narrowed_to_one_member_is_coded_as_that_drug() -> None:
    option = TreatmentOption("tnf_inhibitor", "TNF inhibitor (certolizumab)", "biologic", drugs=("certolizumab",))
    codes_ = _codes(_activity(care_plan(_assessment(option), resource_id="cp1"), option.display))
    assert codes_[ATC] == "L04AB05" and RXNORM in codes_
