"""FHIR R4 Observation -> `inference.case.Finding`s.

One Observation may give several findings (a blood-pressure panel's components). Codes are looked up
in `fhir_mapping.codes`; values are normalised to the finding's canonical unit and range-checked.
Observations that were cancelled, entered in error or not yet resulted are skipped; so are our own
earlier AI-asserted outputs (they must not feed back as if a clinician had recorded them).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from inference.case import DataIssue, Finding, FindingKey

from fhir_mapping import codes, issues
from fhir_mapping.datatypes import (
    Mapped,
    codings,
    concept_text,
    is_ai_asserted,
    number,
    parse_datetime,
    resource_ref,
    string,
)
from inference.i18n import t

SKIPPED_STATUSES = frozenset({"entered-in-error", "cancelled", "registered"})


class _ValueProblem(Exception):
    """A value that cannot be used; `code`/`message` become a DataIssue."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def observation_effective(resource: dict) -> datetime | None:
    """When the observation applies: effective[x] (period start, else end), else issued."""
    for name in ("effectiveDateTime", "effectiveInstant"):
        moment = parse_datetime(resource.get(name))
        if moment is not None:
            return moment
    period = resource.get("effectivePeriod")
    if isinstance(period, dict):
        moment = parse_datetime(period.get("start")) or parse_datetime(period.get("end"))
        if moment is not None:
            return moment
    return parse_datetime(resource.get("issued"))


def _key_of(concept: Any) -> FindingKey | None:
    for system, code, _ in codings(concept):
        key = codes.finding_key(system, code)
        if key is not None:
            return key
    return None


def _is_panel(concept: Any) -> bool:
    return any((system, code) in codes.BP_PANEL_CODES for system, code, _ in codings(concept))


def _has_value(element: dict) -> bool:
    return any(k.startswith("value") for k in element)


def _boolean_value(key: FindingKey, element: dict) -> bool:
    if isinstance(element.get("valueBoolean"), bool):
        return element["valueBoolean"]
    concept = element.get("valueCodeableConcept")
    for system, code, _ in codings(concept):
        if system and code and (system, code) in codes.BOOLEAN_VALUE_CODES:
            return codes.BOOLEAN_VALUE_CODES[(system, code)]
        if system and code and (system, code) in codes.INDETERMINATE_VALUE_CODES:
            raise _ValueProblem(issues.INDETERMINATE_RESULT, t("{label}: result indeterminate; not interpretable, repeat the test.", label=_label(key)))
    text = element.get("valueString")
    if not isinstance(text, str) and isinstance(concept, dict):
        text = concept.get("text")
    if isinstance(text, str):
        normal = " ".join(text.strip().lower().replace("-", " ").split())
        for spelling, flag in codes.BOOLEAN_TEXT.items():
            if normal == spelling.replace("-", " "):
                return flag
        if normal in codes.INDETERMINATE_TEXT:
            raise _ValueProblem(issues.INDETERMINATE_RESULT, t("{label}: result indeterminate; not interpretable, repeat the test.", label=_label(key)))
    if key is FindingKey.JOINT_PAIN and not _has_value(element):
        return True  # an Observation coded "joint pain (finding)" asserts its presence
    if key in codes.LAB_FINDINGS and isinstance(element.get("valueQuantity"), dict):
        raise _ValueProblem(issues.UNINTERPRETABLE_LAB, t("{label}: a numeric value was recorded for a positive/negative test; not interpretable without its cut-off.", label=_label(key)))
    raise _ValueProblem(issues.UNKNOWN_VALUE_CODE, t("{label}: the recorded answer is not a recognised yes/no code.", label=_label(key)))


def _label(key: FindingKey) -> str:
    return codes.FINDING_LABELS.get(key, key.value.replace("_", " "))


def _coded_value(key: FindingKey, element: dict) -> str:
    table = codes.VALUE_CODES[key]
    concept = element.get("valueCodeableConcept")
    for system, code, _ in codings(concept):
        if system and code and (system, code) in table:
            return table[(system, code)]
    # A plain internal key given as text is accepted ("red_yellow_coat", "red yellow coat").
    text = element.get("valueString")
    if not isinstance(text, str) and isinstance(concept, dict):
        text = concept.get("text")
    if isinstance(text, str):
        known = codes.value_alias(key, text)
        if known is not None:
            return known
    raise _ValueProblem(issues.UNKNOWN_VALUE_CODE, t("{value}: the recorded value is not a recognised code.", value=key.value))


def _numeric_value(key: FindingKey, element: dict) -> tuple[float, str]:
    rule = codes.UNIT_RULES[key]
    quantity = element.get("valueQuantity")
    if isinstance(quantity, dict):
        value = number(quantity.get("value"))
        if value is None:
            raise _ValueProblem(issues.MISSING_VALUE, t("{value}: the quantity has no numeric value.", value=key.value))
        candidates = [quantity.get("code"), quantity.get("unit")]
        spellings = [c.strip().lower() for c in candidates if isinstance(c, str)] or [""]
        for spelling in spellings:
            if spelling in rule.accepted:
                factor, offset = rule.accepted[spelling]
                return value * factor + offset, rule.canonical
        code = issues.UNINTERPRETABLE_LAB if key in codes.LAB_FINDINGS else issues.UNEXPECTED_UNIT
        raise _ValueProblem(code, t("{label}: unit is not one the service can convert to {canonical}; value not used.", label=_label(key), canonical=rule.canonical))
    integer = element.get("valueInteger")
    if isinstance(integer, int) and not isinstance(integer, bool):
        return float(integer), rule.canonical
    if key in codes.LAB_FINDINGS and isinstance(element.get("valueString"), str):
        # "<5", ">1000", "haemolysed": a result exists, but not as a number the rules can compare.
        raise _ValueProblem(issues.UNINTERPRETABLE_LAB, t("{label}: result recorded as text, not a number; not interpretable.", label=_label(key)))
    raise _ValueProblem(issues.MISSING_VALUE, t("{value}: no numeric value recorded.", value=key.value))


def _reference_range(key: FindingKey, resource: dict) -> tuple[float | None, float | None]:
    """(low, high) of the Observation's first reference range, converted to the finding's canonical unit."""
    ranges = resource.get("referenceRange")
    if key not in codes.UNIT_RULES or not isinstance(ranges, list) or not ranges or not isinstance(ranges[0], dict):
        return None, None
    rule = codes.UNIT_RULES[key]
    bounds: list[float | None] = []
    for name in ("low", "high"):
        quantity = ranges[0].get(name)
        value = number(quantity.get("value")) if isinstance(quantity, dict) else None
        spellings = [c.strip().lower() for c in (quantity.get("code"), quantity.get("unit")) if isinstance(c, str)] \
            if isinstance(quantity, dict) else []
        factor = next((rule.accepted[sp] for sp in spellings or [""] if sp in rule.accepted), None)
        bounds.append(None if value is None or factor is None else round(value * factor[0] + factor[1], 4))
    return bounds[0], bounds[1]


def _value(key: FindingKey, element: dict) -> tuple[float | str | bool, str | None]:
    if key in codes.BOOLEAN_FINDINGS:
        return _boolean_value(key, element), None
    if key in codes.CODED_FINDINGS:
        return _coded_value(key, element), None
    value, unit = _numeric_value(key, element)
    rule = codes.UNIT_RULES[key]
    if not rule.minimum <= value <= rule.maximum:
        raise _ValueProblem(issues.OUT_OF_RANGE, t("{value}: value outside the plausible range {minimum:g}-{maximum:g} {canonical}; ignored.", value=key.value, minimum=rule.minimum, maximum=rule.maximum, canonical=rule.canonical))
    return round(value, 4), unit


def _finding(key: FindingKey, element: dict, *, ref: str, effective: datetime | None,
             found: list[Finding], problems: list[DataIssue]) -> None:
    if "dataAbsentReason" in element and not _has_value(element):
        return  # explicitly not recorded: nothing to report
    try:
        value, unit = _value(key, element)
    except _ValueProblem as problem:
        problems.append(issues.issue(problem.code, problem.message, ref))
        return
    low, high = _reference_range(key, element) if not isinstance(value, (bool, str)) else (None, None)
    found.append(Finding(key=key, value=value, source_ref=ref, unit=unit, effective=effective,
                         display=concept_text(element.get("code")), reference_low=low, reference_high=high))


def map_observation(resource: dict, *, full_url: str | None = None) -> Mapped[Finding]:
    """Findings from one Observation (empty when its codes are not used by the service)."""
    ref = resource_ref(resource, full_url)
    status = string(resource.get("status"))
    if status in SKIPPED_STATUSES or is_ai_asserted(resource):
        return Mapped()
    effective = observation_effective(resource)
    found: list[Finding] = []
    problems: list[DataIssue] = []
    code = resource.get("code")
    components = resource.get("component")
    # A panel: the BP panel codes, or any Observation whose values are all in its components (e.g. a
    # TCM tongue inspection with one component per aspect); the panel code itself yields nothing.
    grouped = isinstance(components, list) and bool(components) and not _has_value(resource)
    key = None if _is_panel(code) or grouped else _key_of(code)
    if key is not None:
        _finding(key, resource, ref=ref, effective=effective, found=found, problems=problems)
    for component in components if isinstance(components, list) else ():
        if not isinstance(component, dict):
            continue
        component_key = _key_of(component.get("code"))
        if component_key is not None:
            _finding(component_key, component, ref=ref, effective=effective, found=found, problems=problems)
    return Mapped(tuple(found), tuple(problems))
