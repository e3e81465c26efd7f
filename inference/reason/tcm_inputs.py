"""The inputs of the TCM differentiation, read once per case, and the matcher the knowledge rules use.

Tongue and pulse: the newest charted group of values, combined values ("red_yellow_coat") expanded
into the atomic findings the rules use (body colour, coat colour, coat thickness/texture, shape).
Lesion signs (pustules, erythroderma, exudation, flexural involvement, fissures) are read from every
kind of input that can show them, strongest first: coded Conditions (code or text), clinician-recorded
morphology Observations, special-area findings, photographed body sites, BSA, and the photo
descriptors of DERM-Rep (the hook for photo morphology: a descriptor key listed under a sign in
tcm.json counts as that sign, at its 0-1 strength).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from inference.case import Case, ConditionKey, Finding, FindingKey
from inference.knowledge_base import KnowledgeError
from inference.reason.evidence import describe_finding, format_number
from inference.results import PatientRepresentation
from inference.i18n import t

# ICD-10 code systems as records write them (the WHO and CM URIs and their OIDs): a knowledge entry
# "icd10|L40.1" matches any of them, by prefix, ignoring the dot.
_ICD10_MARKERS = ("icd-10", "2.16.840.1.113883.6.3", "2.16.840.1.113883.6.90")
_ICD_CLEAN = re.compile(r"[^A-Z0-9]")


@dataclass(frozen=True)
class Observed:
    """One TCM-relevant input value with its strength (1 for recorded findings, 0-1 for image descriptors)."""

    value: str
    strength: float
    statement: str
    source_ref: str | None
    category: str  # "lesion" | "history" | "tongue" | "pulse" | "other"
    from_image: bool


@dataclass(frozen=True)
class TcmInputs:
    descriptors: Mapping[str, Observed]
    onset: Mapping[str, Observed]
    tongue: Mapping[str, Observed]  # atomic findings
    pulse: Mapping[str, Observed]  # atomic findings
    signs: Mapping[str, Observed]

    @property
    def recorded_kinds(self) -> frozenset[str]:
        """Kinds of input present at all (whether or not a rule used them): for the confidence coverage."""
        kinds = set()
        for name, present in (("lesion", self.descriptors or self.signs), ("history", self.onset),
                              ("tongue", self.tongue), ("pulse", self.pulse)):
            if present:
                kinds.add(name)
        return frozenset(kinds)


def read_inputs(case: Case, representation: PatientRepresentation | None, doc: Mapping[str, Any]) -> TcmInputs:
    descriptors = _descriptors(representation, float(doc["descriptor_min"]))
    expansions = doc["compound_findings"]
    return TcmInputs(
        descriptors=descriptors,
        onset=_latest_group(case, FindingKey.LESION_ONSET, "history", t("lesion onset"), {}),
        tongue=_latest_group(case, FindingKey.TONGUE, "tongue", "tongue", expansions["tongue"]),
        pulse=_latest_group(case, FindingKey.PULSE, "pulse", "pulse", expansions["pulse"]),
        signs=_signs(case, descriptors, doc["signs"]),
    )


def match(rule: Mapping[str, Any], case: Case, inputs: TcmInputs) -> Observed | None:
    """The strongest input satisfying `rule` (a knowledge rule or a modification trigger), or None."""
    kind = rule["input"]
    wanted = tuple(rule.get("any_of", ()))
    if kind == "descriptor":
        return _strongest(inputs.descriptors, wanted)
    if kind == "onset":
        # A recorded onset is history from the patient; the image guess is used only without one.
        return _strongest(inputs.onset, wanted) if inputs.onset else _strongest(inputs.descriptors, wanted)
    if kind == "tongue":
        return _strongest(inputs.tongue, wanted)
    if kind == "pulse":
        return _strongest(inputs.pulse, wanted)
    if kind == "sign":
        return _strongest(inputs.signs, wanted)
    if kind == "finding":
        return _finding(rule, case)
    if kind == "condition":
        for condition in case.conditions:
            if condition.active and condition.key.value in wanted:
                return Observed(condition.key.value, 1.0, t("{display} ({source_ref})", display=condition.display, source_ref=condition.source_ref),
                                condition.source_ref, "other", False)
        return None
    if kind == "special_area":
        for finding in case.findings:
            if finding.key is FindingKey.SPECIAL_AREA and isinstance(finding.value, str) and finding.value in wanted:
                return Observed(finding.value, 1.0, describe_finding(t("special area"), finding), finding.source_ref,
                                "other", False)
        return None
    raise KnowledgeError(f"{rule.get('id', 'rule')}: unknown input {kind!r}")


# ---------------------------------------------------------------- readers


def _finding(rule: Mapping[str, Any], case: Case) -> Observed | None:
    finding = case.latest(FindingKey(rule["finding"]))
    if finding is None:
        return None
    label = finding.display or finding.key.value.replace("_", " ")
    if "at_least" in rule:
        if isinstance(finding.value, bool) or not isinstance(finding.value, (int, float)):
            return None
        if float(finding.value) < float(rule["at_least"]):
            return None
        return Observed(format_number(float(finding.value)), 1.0, describe_finding(label, finding), finding.source_ref,
                        "other", False)
    token = _token(finding)
    if token not in rule["any_of"]:
        return None
    return Observed(token, 1.0, describe_finding(label, finding), finding.source_ref, "other", False)


def _descriptors(representation: PatientRepresentation | None, minimum: float) -> dict[str, Observed]:
    if representation is None:
        return {}
    found: dict[str, Observed] = {}
    for key in sorted(representation.tcm_descriptors):
        strength = float(representation.tcm_descriptors[key])
        if strength < minimum:
            continue
        evidence = representation.descriptor_evidence.get(key, ())
        ref = next((e.source_ref for e in evidence if e.source_ref), None)
        found[key] = Observed(
            key, min(strength, 1.0), t("photographs show {key} ({strength:.2f})", key=key.replace('_', ' '), strength=strength), ref, "lesion", True,
        )
    return found


def _latest_group(case: Case, key: FindingKey, category: str, label: str,
                  expansions: Mapping[str, Any]) -> dict[str, Observed]:
    """All values recorded at the newest time for `key` (a pulse may be charted as "slippery" + "rapid";
    a tongue as one Observation with a component per aspect), combined values expanded to atoms."""
    latest = case.latest(key)
    if latest is None:
        return {}
    group = [f for f in case.findings if f.key is key and f.effective == latest.effective]
    found: dict[str, Observed] = {}
    for f in sorted(group, key=lambda f: (str(f.value), f.source_ref)):
        if not isinstance(f.value, str):
            continue
        statement = describe_finding(label, f)
        for atom in expansions.get(f.value, (f.value,)):
            found.setdefault(str(atom), Observed(str(atom), 1.0, statement, f.source_ref, category, False))
    return found


def _signs(case: Case, descriptors: Mapping[str, Observed], signs: Mapping[str, Any]) -> dict[str, Observed]:
    found: dict[str, Observed] = {}
    for name, spec in signs.items():
        candidates = [
            *_sign_from_conditions(case, name, spec),
            *_sign_from_findings(case, name, spec),
            *_sign_from_photo_sites(case, name, spec),
            *(Observed(name, d.strength, d.statement, d.source_ref, "lesion", True)
              for key, d in descriptors.items() if key in spec["descriptors"]),
        ]
        if candidates:
            # Strongest first; among equals a recorded (non-image) input wins, then the earliest listed.
            found[name] = max(candidates, key=lambda o: (o.strength, not o.from_image))
    return found


def _sign_from_conditions(case: Case, name: str, spec: Mapping[str, Any]) -> list[Observed]:
    hits = []
    stems = tuple(str(s).lower() for s in spec["condition_text"])
    for condition in case.conditions:
        if not condition.active or condition.key not in (ConditionKey.PSORIASIS, ConditionKey.OTHER):
            continue
        by_code = condition.code is not None and any(_code_matches(condition.code, c) for c in spec["condition_codes"])
        by_text = any(stem in condition.display.lower() for stem in stems)
        if by_code or by_text:
            hits.append(Observed(name, 1.0, t("{display} ({source_ref})", display=condition.display, source_ref=condition.source_ref), condition.source_ref,
                                 "lesion", False))
    return hits


def _sign_from_findings(case: Case, name: str, spec: Mapping[str, Any]) -> list[Observed]:
    hits = []
    for finding in case.findings:
        if finding.key is FindingKey.LESION_MORPHOLOGY and finding.value in spec["morphology"]:
            hits.append(Observed(name, 1.0, describe_finding(t("lesion morphology"), finding), finding.source_ref,
                                 "lesion", False))
        elif finding.key is FindingKey.SPECIAL_AREA and finding.value in spec.get("special_areas", ()):
            hits.append(Observed(name, 1.0, describe_finding(t("special area"), finding), finding.source_ref,
                                 "lesion", False))
    bsa_min = spec.get("bsa_at_least")
    bsa = case.latest(FindingKey.BSA_PERCENT)
    if bsa_min is not None and bsa is not None and isinstance(bsa.value, (int, float)) \
            and not isinstance(bsa.value, bool) and float(bsa.value) >= float(bsa_min):  # fmt: skip
        hits.append(Observed(name, 1.0, describe_finding("BSA", bsa, "%"), bsa.source_ref, "lesion", False))
    return hits


def _sign_from_photo_sites(case: Case, name: str, spec: Mapping[str, Any]) -> list[Observed]:
    stems = tuple(str(s).lower() for s in spec.get("photo_sites", ()))
    if not stems:
        return []
    return [
        Observed(name, 1.0, t("photograph of the {body_site} ({ref})", body_site=photo.body_site, ref=photo.ref), photo.ref, "lesion", False)
        for photo in case.photos
        if photo.body_site and any(stem in photo.body_site.lower() for stem in stems)
    ]


def _code_matches(recorded: str, wanted: str) -> bool:
    """`recorded` "system|code" against a knowledge entry "system|code" or "icd10|L40.1" (prefix)."""
    system, _, code = recorded.partition("|")
    want_system, _, want_code = wanted.partition("|")
    if want_system == "icd10":
        if not any(marker in system.lower() for marker in _ICD10_MARKERS):
            return False
        return _ICD_CLEAN.sub("", code.upper()).startswith(_ICD_CLEAN.sub("", want_code.upper()))
    return system == want_system and code.strip() == want_code


def _strongest(observed: Mapping[str, Observed], wanted: tuple[str, ...]) -> Observed | None:
    hits = [observed[v] for v in wanted if v in observed]
    return max(hits, key=lambda o: o.strength) if hits else None


def _token(finding: Finding) -> str:
    return ("true" if finding.value else "false") if isinstance(finding.value, bool) else str(finding.value)
