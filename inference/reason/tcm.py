"""TCM syndrome differentiation (integrative only): weighted evidence for and against six patterns.

Three core patterns (CACMS 2011: blood-heat, blood-dryness, blood-stasis) and three lower-evidence
extras (damp-heat, heat-toxin, wind-damp) whose scores are multiplied down by their tier factor.
Inputs: the image agents' lesion descriptors (0-1 strengths), and from the record the tongue, pulse,
lesion onset, joint pain, special areas and conditions. A pattern's score is its net weighted support
over the most it could get. Confidence is deliberately modest: capped by how many kinds of input exist
(lesion, history, tongue, pulse), capped harder when only photographs speak, and cut when the top two
patterns are close or the photographs do not favour psoriasis.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from inference.case import Case, ConditionKey, DataIssue, Finding, FindingKey
from inference.knowledge_base import KnowledgeError
from inference.reason.evidence import citation, describe_finding, rule_evidence
from inference.results import (
    Evidence,
    PatientRepresentation,
    TcmDifferentiation,
    TcmPattern,
)


@dataclass(frozen=True)
class Observed:
    """One TCM-relevant input value with its strength (1 for recorded findings, 0-1 for image descriptors)."""

    value: str
    strength: float
    statement: str
    source_ref: str | None
    category: str  # "lesion" | "history" | "tongue" | "pulse" | "other"
    from_image: bool


def check_tcm_knowledge(doc: Mapping[str, Any]) -> None:
    for pattern in doc["patterns"]:
        for rule in pattern["rules"]:
            if rule["input"] == "finding":
                try:
                    FindingKey(rule["finding"])
                except ValueError:
                    raise KnowledgeError(f"{rule['id']}: {rule['finding']!r} is not a FindingKey") from None
            if rule["input"] == "condition":
                for name in rule["any_of"]:
                    try:
                        ConditionKey(name)
                    except ValueError:
                        raise KnowledgeError(f"{rule['id']}: {name!r} is not a ConditionKey") from None


def vocabulary(doc: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    """The values the knowledge understands, per input kind ("tongue", "pulse", "onset", "descriptor", ...):
    the contract for whoever maps tongue/pulse/onset codes into `Finding` values."""
    found: dict[str, set[str]] = {}
    for pattern in doc["patterns"]:
        for rule in pattern["rules"]:
            found.setdefault(str(rule["input"]), set()).update(str(v) for v in rule["any_of"])
    return {kind: frozenset(values) for kind, values in sorted(found.items())}


def unrecognised_findings(case: Case, doc: Mapping[str, Any]) -> tuple[DataIssue, ...]:
    """Tongue, pulse or onset values no rule knows: shown, because silently ignoring them would hide data."""
    known = vocabulary(doc)
    issues = []
    for key, kind in ((FindingKey.TONGUE, "tongue"), (FindingKey.PULSE, "pulse"), (FindingKey.LESION_ONSET, "onset")):
        for finding in case.findings:
            if finding.key is key and str(finding.value) not in known.get(kind, frozenset()):
                issues.append(DataIssue(
                    "unrecognised_tcm_finding",
                    f"{kind.capitalize()} finding {str(finding.value)!r} is not in the TCM knowledge: not used",
                    finding.source_ref,
                ))
    return tuple(issues)


def differentiate(
    case: Case,
    representation: PatientRepresentation | None,
    doc: Mapping[str, Any],
    differential_open: bool = False,
) -> TcmDifferentiation | None:
    """None when the case holds no TCM-relevant input at all (nothing to differentiate)."""
    sources = doc["sources"]
    descriptors = _descriptors(representation, float(doc["descriptor_min"]))
    onset = _latest_group(case, FindingKey.LESION_ONSET, "history", "lesion onset")
    tongue = _latest_group(case, FindingKey.TONGUE, "tongue", "tongue")
    pulse = _latest_group(case, FindingKey.PULSE, "pulse", "pulse")
    used: list[Observed] = []

    patterns: list[tuple[TcmPattern, int]] = []
    for order, pattern in enumerate(doc["patterns"]):
        tier = doc["tiers"][pattern["tier"]]
        evidence_for: list[Evidence] = []
        evidence_against: list[Evidence] = []
        net = 0.0
        ceiling = sum(float(r["weight"]) for r in pattern["rules"] if float(r["weight"]) > 0)
        for rule in pattern["rules"]:
            observed = _match(rule, case, descriptors, onset, tongue, pulse)
            if observed is None:
                continue
            used.append(observed)
            weight = round(float(rule["weight"]) * observed.strength, 4)
            net += weight
            evidence = rule_evidence(f"{rule['statement']}: {observed.statement}", rule, sources, observed.source_ref, weight)
            (evidence_for if weight > 0 else evidence_against).append(evidence)
        score = max(0.0, min(1.0, net / ceiling)) * float(tier["factor"]) if ceiling > 0 else 0.0
        patterns.append((TcmPattern(
            pattern=str(pattern["id"]),
            display=str(pattern["display"]),
            score=round(score, 3),
            evidence_for=tuple(evidence_for),
            evidence_against=tuple(evidence_against),
            treatment_principle=str(pattern["treatment_principle"]),
            formulas=tuple(str(f) for f in pattern["formulas"]),
        ), order))

    if not used and not descriptors and not (onset or tongue or pulse):
        return None
    ranked = tuple(p for p, _ in sorted(patterns, key=lambda item: (-item[0].score, item[1])))
    primary = ranked[0] if ranked and ranked[0].score >= float(doc["confidence"]["min_score"]) else None
    if primary is not None:
        confidence, reasons = _confidence(ranked, used, descriptors, onset, tongue, pulse, doc, differential_open)
    else:
        confidence, reasons = 0.0, (rule_evidence(
            f"no pattern reaches the minimum score {float(doc['confidence']['min_score']):.2f}: no primary pattern",
            doc["confidence"], sources,
        ),)
    core = doc["tiers"]["core"]
    return TcmDifferentiation(
        primary=primary,
        ranked=ranked,
        confidence=confidence,
        note=str(doc["note"]),
        citation=f"{citation(sources, core)}; {sources[doc['note_source']]}",
        confidence_basis=reasons,
    )


# ---------------------------------------------------------------- inputs


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
            key, min(strength, 1.0), f"photographs show {key.replace('_', ' ')} ({strength:.2f})", ref, "lesion", True,
        )
    return found


def _latest_group(case: Case, key: FindingKey, category: str, label: str) -> dict[str, Observed]:
    """All values recorded at the newest time for `key` (a pulse may be charted as "slippery" + "rapid")."""
    latest = case.latest(key)
    if latest is None:
        return {}
    group = [f for f in case.findings if f.key is key and f.effective == latest.effective]
    return {
        str(f.value): Observed(str(f.value), 1.0, describe_finding(label, f), f.source_ref, category, False)
        for f in sorted(group, key=lambda f: (str(f.value), f.source_ref))
        if isinstance(f.value, str)
    }


def _match(
    rule: Mapping[str, Any],
    case: Case,
    descriptors: Mapping[str, Observed],
    onset: Mapping[str, Observed],
    tongue: Mapping[str, Observed],
    pulse: Mapping[str, Observed],
) -> Observed | None:
    """The strongest input satisfying `rule`, or None."""
    kind, wanted = rule["input"], tuple(rule["any_of"])
    if kind == "descriptor":
        return _strongest(descriptors, wanted)
    if kind == "onset":
        # A recorded onset is history from the patient; the image guess is used only without one.
        if onset:
            return _strongest(onset, wanted)
        return _strongest(descriptors, wanted)
    if kind == "tongue":
        return _strongest(tongue, wanted)
    if kind == "pulse":
        return _strongest(pulse, wanted)
    if kind == "finding":
        finding = case.latest(FindingKey(rule["finding"]))
        if finding is None or _token(finding) not in wanted:
            return None
        label = finding.display or finding.key.value.replace("_", " ")
        return Observed(_token(finding), 1.0, describe_finding(label, finding), finding.source_ref, "other", False)
    if kind == "condition":
        for condition in case.conditions:
            if condition.active and condition.key.value in wanted:
                return Observed(condition.key.value, 1.0, f"{condition.display} ({condition.source_ref})",
                                condition.source_ref, "other", False)
        return None
    if kind == "special_area":
        for finding in case.findings:
            if finding.key is FindingKey.SPECIAL_AREA and isinstance(finding.value, str) and finding.value in wanted:
                return Observed(finding.value, 1.0, describe_finding("special area", finding), finding.source_ref,
                                "other", False)
        return None
    raise KnowledgeError(f"{rule['id']}: unknown input {kind!r}")


def _strongest(observed: Mapping[str, Observed], wanted: tuple[str, ...]) -> Observed | None:
    hits = [observed[v] for v in wanted if v in observed]
    return max(hits, key=lambda o: o.strength) if hits else None


def _token(finding: Finding) -> str:
    return ("true" if finding.value else "false") if isinstance(finding.value, bool) else str(finding.value)


# ---------------------------------------------------------------- confidence


def _confidence(
    ranked: tuple[TcmPattern, ...],
    used: list[Observed],
    descriptors: Mapping[str, Observed],
    onset: Mapping[str, Observed],
    tongue: Mapping[str, Observed],
    pulse: Mapping[str, Observed],
    doc: Mapping[str, Any],
    differential_open: bool,
) -> tuple[float, tuple[Evidence, ...]]:
    """The confidence in the top pattern and the reasons for it (each names the knowledge rule)."""
    rules = doc["confidence"]
    sources = doc["sources"]
    categories = {o.category for o in used}
    for name, present in (("lesion", descriptors), ("history", onset), ("tongue", tongue), ("pulse", pulse)):
        if present:
            categories.add(name)
    caps = tuple(float(c) for c in rules["coverage_caps"])
    confidence = caps[min(len(categories), len(caps) - 1)]
    reasons = [rule_evidence(
        f"{len(categories)} kind(s) of finding ({', '.join(sorted(categories)) or 'none'}): confidence at most {confidence:.2f}",
        rules, sources,
    )]
    if all(o.from_image for o in used):
        confidence = min(confidence, float(rules["image_only_cap"]))
        reasons.append(rule_evidence(
            f"only photograph descriptors, no tongue, pulse or history: capped at {float(rules['image_only_cap']):.2f}",
            rules, sources,
        ))
    if len(ranked) > 1 and ranked[0].score - ranked[1].score < float(rules["close_margin"]):
        confidence *= float(rules["close_factor"])
        reasons.append(rule_evidence(
            f"{ranked[1].display} scores close to {ranked[0].display} "
            f"({ranked[1].score:.2f} vs {ranked[0].score:.2f}): confidence x{float(rules['close_factor']):g}",
            rules, sources,
        ))
    if differential_open:
        confidence *= float(rules["differential_open_factor"])
        reasons.append(rule_evidence(
            f"photographs do not favour psoriasis: confidence x{float(rules['differential_open_factor']):g}",
            rules, sources,
        ))
    top = next(p for p in doc["patterns"] if p["id"] == ranked[0].pattern)
    tier = doc["tiers"][top["tier"]]
    if float(tier["factor"]) < 1.0:
        confidence *= float(tier["factor"])
        reasons.append(Evidence(
            statement=f"{ranked[0].display} is a lower-evidence pattern: confidence x{float(tier['factor']):g}",
            rule=str(rules["id"]), citation=citation(sources, tier),
        ))
    return round(confidence, 2), tuple(reasons)
