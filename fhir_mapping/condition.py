"""FHIR R4 Condition -> `inference.case.ConditionEntry`.

Refuted and entered-in-error conditions are skipped. Codes come from `fhir_mapping.codes` (SNOMED
exact, ICD-10 by prefix); an unmapped condition is kept as `ConditionKey.OTHER` so the clinician
still sees it, and a text-only "psoriasis" / "psoriatic arthritis" is recognised because problem
lists often carry free text.
"""

from __future__ import annotations

import re
from datetime import date

from inference.case import ConditionEntry, ConditionKey

from fhir_mapping import codes, issues
from fhir_mapping.datatypes import Mapped, codings, concept_text, parse_date, resource_ref
from inference.i18n import t

SKIPPED_VERIFICATION = frozenset({"refuted", "entered-in-error"})
ACTIVE_CLINICAL = frozenset({"active", "recurrence", "relapse"})
INACTIVE_CLINICAL = frozenset({"inactive", "remission", "resolved"})

_TEXT_KEYS: tuple[tuple[re.Pattern[str], ConditionKey], ...] = (
    (re.compile(r"\bpsoriatic arthritis\b|\bpsoriasis with arthropathy\b|\barthropathic psoriasis\b", re.I),
     ConditionKey.PSORIATIC_ARTHRITIS),
    (re.compile(r"\bpsoriasis\b", re.I), ConditionKey.PSORIASIS),
    (re.compile(r"\beczema\b|\bdermatitis\b", re.I), ConditionKey.ECZEMA),
    (re.compile(r"\btinea\b|\bringworm\b|\bdermatophyt", re.I), ConditionKey.TINEA),
    (re.compile(r"\blupus\b", re.I), ConditionKey.CUTANEOUS_LUPUS),
    (re.compile(r"\bdrug (eruption|rash)\b|\bdrug-induced (eruption|rash)\b", re.I), ConditionKey.DRUG_ERUPTION),
    (re.compile(r"\blichen planus\b", re.I), ConditionKey.LICHEN_PLANUS),
    (re.compile(r"\bpityriasis rosea\b", re.I), ConditionKey.PITYRIASIS_ROSEA),
    (re.compile(r"\bmycosis fungoides\b", re.I), ConditionKey.CUTANEOUS_LYMPHOMA),
)


def _status_code(concept: object) -> str | None:
    for _, code, _ in codings(concept):
        if code:
            return code
    return None


def _is_active(resource: dict) -> bool:
    clinical = _status_code(resource.get("clinicalStatus"))
    if clinical in ACTIVE_CLINICAL:
        return True
    if clinical in INACTIVE_CLINICAL:
        return False
    # No clinical status: an abatement date means it is over.
    return not any(k.startswith("abatement") for k in resource)


def _onset(resource: dict) -> date | None:
    onset = parse_date(resource.get("onsetDateTime"))
    if onset is None and isinstance(resource.get("onsetPeriod"), dict):
        onset = parse_date(resource["onsetPeriod"].get("start"))
    return onset


def map_condition(resource: dict, *, full_url: str | None = None) -> Mapped[ConditionEntry]:
    ref = resource_ref(resource, full_url)
    if _status_code(resource.get("verificationStatus")) in SKIPPED_VERIFICATION:
        return Mapped()
    concept = resource.get("code")
    key: ConditionKey | None = None
    code_string: str | None = None
    for system, code, _ in codings(concept):
        if code_string is None and system and code:
            code_string = f"{system}|{code}"
        key = codes.condition_key(system, code)
        if key is not None:
            code_string = f"{system}|{code}"
            break
    display = concept_text(concept)
    if key is None and display:
        key = next((k for pattern, k in _TEXT_KEYS if pattern.search(display)), None)
    if key is None and display is None:
        return Mapped(issues=(issues.issue(issues.CONDITION_UNCODED, t("A condition has neither a code nor text; ignored."), ref),))
    subtype = None
    if key in (ConditionKey.PSORIASIS, ConditionKey.PSORIATIC_ARTHRITIS):
        subtype = next((s for system, code, text in codings(concept)
                        if (s := codes.psoriasis_subtype(system, code, text)) is not None), None) \
            or codes.subtype_from_text(display)
    entry = ConditionEntry(key=key or ConditionKey.OTHER, display=display or t("(no text)"), source_ref=ref,
                           code=code_string, active=_is_active(resource), onset=_onset(resource),
                           verification=_status_code(resource.get("verificationStatus")), subtype=subtype)
    return Mapped((entry,))
