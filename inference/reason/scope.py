"""The scope gate (scope.json): the psoriasis pathway runs only when psoriasis is on the problem list.

A chart with eczema, tinea, lupus, a drug eruption - or with photographs or scores but no diagnosis -
gets no severity headline and no treatment step. Instead DERM-Reason says what the record shows and,
when the record or the photographs point to a psoriasis mimic, the test that would settle it.
Photographs support, never decide: their reading is named as preliminary and never sets the scope.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from inference.case import OTHER_SKIN_DIAGNOSES, Case, ConditionEntry, ConditionKey
from inference.knowledge_base import KnowledgeError
from inference.reason.evidence import rule_evidence
from inference.results import Evidence, PatientRepresentation, Scope
from inference.i18n import t, tjoin


@dataclass(frozen=True)
class ScopeOutcome:
    scope: Scope
    note: str  # plain text: what the record shows ("" when the pathway runs)
    tests: tuple[str, ...]  # tests that would settle the diagnosis
    evidence: tuple[Evidence, ...]
    psoriasis: tuple[ConditionEntry, ...]  # the active, confirmed psoriasis / PsA entries


def check_scope_knowledge(doc: Mapping[str, Any]) -> None:
    try:
        for name in doc["gate"]["conditions"]:
            ConditionKey(name)
        for mimic in doc["mimics"]:
            for name in mimic["conditions"]:
                if ConditionKey(name) not in OTHER_SKIN_DIAGNOSES:
                    raise KnowledgeError(f"scope.json: {mimic['id']}: {name!r} is not a skin diagnosis other than psoriasis")
            for image_class in mimic["image_classes"]:
                if image_class not in doc["image_classes"]:
                    raise KnowledgeError(f"scope.json: {mimic['id']}: unknown image class {image_class!r}")
    except ValueError as exc:
        raise KnowledgeError(f"scope.json: {exc}") from None


def decide_scope(case: Case, representation: PatientRepresentation | None, doc: Mapping[str, Any]) -> ScopeOutcome:
    gate = doc["gate"]
    sources = doc["sources"]
    wanted = {ConditionKey(c) for c in gate["conditions"]}
    entries = [c for c in case.conditions if c.active and c.key in wanted]
    confirmed = tuple(c for c in entries if c.confirmed)
    if confirmed:
        return ScopeOutcome(Scope.PSORIASIS, "", (), (), confirmed)

    parts: list[str] = []
    evidence: list[Evidence] = []
    tests: list[str] = []
    others = [c for c in case.conditions if c.active and c.key in OTHER_SKIN_DIAGNOSES]
    if others:
        names = tjoin(", ", (t("{display} ({source_ref})", display=c.display, source_ref=c.source_ref) for c in others))
        parts.append(t("Recorded skin diagnosis: {names}; psoriasis is not on the problem list, so no psoriasis severity or plan", names=names))
        scope = Scope.OTHER_DIAGNOSIS
    elif entries:
        states = tjoin(", ", (t("{display} ({verification}, {source_ref})", display=c.display, verification=c.verification, source_ref=c.source_ref) for c in entries))
        parts.append(t("Psoriasis is recorded but not confirmed: {states}", states=states))
        scope = Scope.UNCONFIRMED
    elif inactive := [c for c in case.conditions if not c.active and c.key in wanted]:
        names = tjoin(", ", (t("{display} ({source_ref})", display=c.display, source_ref=c.source_ref) for c in inactive))
        parts.append(t("Psoriasis is recorded only as inactive or resolved: {names}; record it as active if it is", names=names))
        scope = Scope.UNCONFIRMED
    else:
        parts.append(t("No skin diagnosis is on the problem list"))
        scope = Scope.UNCONFIRMED
    for mimic in doc["mimics"]:
        keys = {ConditionKey(c) for c in mimic["conditions"]}
        if any(c.key in keys for c in others) and mimic["test"] not in tests:
            tests.append(str(mimic["test"]))
            evidence.append(rule_evidence(t("{display} recorded: {test}", display=mimic['display'], test=mimic['test']), mimic, sources))

    photo = _photo_reading(representation, doc)
    if photo is not None:
        image_class, probability = photo
        label = doc["image_classes"].get(image_class, image_class.replace("_", " "))
        parts.append(t("Photographs (preliminary AI reading, not a diagnosis) look most like {label} ({probability:.0%})", label=label, probability=probability))
        for mimic in doc["mimics"]:
            if image_class in mimic["image_classes"] and mimic["test"] not in tests:
                tests.append(str(mimic["test"]))
                evidence.append(rule_evidence(
                    t("photographs suggest {display}: {test} would settle it", display=mimic['display'], test=mimic['test']), mimic, sources))
    elif representation is not None:
        parts.append(t("Photographs are on record (see the review app)"))
    parts.append(t("Confirm the diagnosis before a psoriasis plan"))
    evidence.insert(0, rule_evidence(gate["statement"], gate, sources))
    note = t("{text}.", text=tjoin(". ", parts))
    return ScopeOutcome(scope, note, tuple(tests), tuple(evidence), ())


def _photo_reading(representation: PatientRepresentation | None, doc: Mapping[str, Any]) -> tuple[str, float] | None:
    if representation is None or not representation.probabilities:
        return None
    image_class, probability = max(sorted(representation.probabilities.items()), key=lambda item: item[1])
    if probability < float(doc["image_min_probability"]["value"]):
        return None
    return image_class, probability
