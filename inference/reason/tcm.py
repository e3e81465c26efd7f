"""TCM syndrome differentiation (integrative only): weighted evidence for and against six patterns, then
the pattern's full reasoning: pathogenesis, treatment principle, formula options with composition,
modifications, patent medicines and external treatments, each checked for herb safety in this patient.

Three core patterns (CACMS 2011: blood-heat, blood-dryness, blood-stasis) and three lower-evidence
extras (damp-heat, heat-toxin, wind-damp) whose scores are multiplied down by their tier factor.
Inputs (`tcm_inputs`): the image agents' lesion descriptors (0-1 strengths), and from the record the
tongue (per aspect), pulse, lesion onset, lesion signs (pustules, erythroderma, exudation, flexural
sites from coded Conditions, morphology Observations, body sites), joint pain and conditions. A
pattern's score is its net weighted support over the most it could get. Confidence is deliberately
modest: capped by how many kinds of input exist (lesion, history, tongue, pulse), capped harder when
only photographs speak, and cut when the top two patterns are close or the photographs do not favour
psoriasis.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from inference.case import Case, ConditionKey, DataIssue, FindingKey
from inference.knowledge_base import KnowledgeError
from inference.reason.drugs import PopulationFinding
from inference.reason.evidence import citation, rule_evidence
from inference.reason.tcm_inputs import Observed, TcmInputs, match, read_inputs
from inference.reason.tcm_safety import SafetyContext, plain_pinyin, read_context
from inference.reason.tcm_therapy import (
    TherapyKnowledge,
    external_treatments,
    formula_display,
    formula_options,
    patent_medicines,
    pattern_codes,
)
from inference.results import (
    Evidence,
    PatientRepresentation,
    TcmDifferentiation,
    TcmFormula,
    TcmPattern,
)
from inference.i18n import t, tjoin


def check_tcm_knowledge(doc: Mapping[str, Any]) -> None:
    """Cross-checks against the case model and the knowledge's own vocabulary (run once at start-up)."""
    atoms = {"tongue": set(doc["compound_findings"]["tongue_atoms"]), "pulse": set(doc["compound_findings"]["pulse_atoms"])}
    for kind in ("tongue", "pulse"):
        for compound, parts in doc["compound_findings"][kind].items():
            if not set(parts) <= atoms[kind]:
                raise KnowledgeError(f"compound {kind} {compound!r} expands to unknown atoms {sorted(set(parts) - atoms[kind])}")
    rules = [r for p in doc["patterns"] for r in p["rules"]]
    matchers = rules + [w for m in doc["modifications"] for w in m["when"]]
    for rule in matchers:
        name = rule.get("id", "modification trigger")
        if rule["input"] in atoms and not set(rule["any_of"]) <= atoms[rule["input"]]:
            raise KnowledgeError(f"{name}: {rule['input']} values must be atoms, not {rule['any_of']}")
        if rule["input"] == "sign" and not set(rule["any_of"]) <= set(doc["signs"]):
            raise KnowledgeError(f"{name}: unknown sign in {rule['any_of']}")
        if rule["input"] == "finding":
            try:
                FindingKey(rule["finding"])
            except ValueError:
                raise KnowledgeError(f"{name}: {rule['finding']!r} is not a FindingKey") from None
        if rule["input"] == "condition":
            for value in rule["any_of"]:
                try:
                    ConditionKey(value)
                except ValueError:
                    raise KnowledgeError(f"{name}: {value!r} is not a ConditionKey") from None


def vocabulary(doc: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    """The values the knowledge understands, per input kind ("tongue", "pulse", "onset", "descriptor", ...):
    the contract for whoever maps tongue/pulse/onset codes into `Finding` values. Tongue and pulse accept
    every atom and every combined value the knowledge expands."""
    found: dict[str, set[str]] = {}
    for pattern in doc["patterns"]:
        for rule in pattern["rules"]:
            if "any_of" in rule:
                found.setdefault(str(rule["input"]), set()).update(str(v) for v in rule["any_of"])
    for kind in ("tongue", "pulse"):
        compound = doc["compound_findings"]
        found.setdefault(kind, set()).update(compound[f"{kind}_atoms"], compound[kind])
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
                    t("{kind} finding {value!r} is not in the TCM knowledge: not used", kind=kind.capitalize(), value=str(finding.value)),
                    finding.source_ref,
                ))
    return tuple(issues)


def differentiate(
    case: Case,
    representation: PatientRepresentation | None,
    doc: Mapping[str, Any],
    therapy: TherapyKnowledge,
    differential_open: bool = False,
    *,
    populations: Iterable[PopulationFinding] | None = None,
) -> TcmDifferentiation | None:
    """None when the case holds no TCM-relevant input at all (nothing to differentiate).

    `therapy` is the formula, herb and safety knowledge: every pattern carries its full reasoning and
    its formulas are checked against this patient's safety facts; `populations` are the special populations
    DERM-Reason found (pregnancy, breastfeeding, child, organ impairment), read once for drugs and herbs."""
    sources = doc["sources"]
    inputs = read_inputs(case, representation, doc)
    ctx = read_context(case, therapy.safety_doc, populations)
    used: list[Observed] = []

    patterns: list[tuple[TcmPattern, int]] = []
    for order, pattern in enumerate(doc["patterns"]):
        tier = doc["tiers"][pattern["tier"]]
        evidence_for: list[Evidence] = []
        evidence_against: list[Evidence] = []
        net = 0.0
        ceiling = sum(float(r["weight"]) for r in pattern["rules"] if float(r["weight"]) > 0)
        for rule in pattern["rules"]:
            observed = match(rule, case, inputs)
            if observed is None:
                continue
            used.append(observed)
            weight = round(float(rule["weight"]) * observed.strength, 4)
            net += weight
            evidence = rule_evidence(t("{statement}: {statement2}", statement=rule['statement'], statement2=observed.statement), rule, sources, observed.source_ref, weight)
            (evidence_for if weight > 0 else evidence_against).append(evidence)
        score = max(0.0, min(1.0, net / ceiling)) * float(tier["factor"]) if ceiling > 0 else 0.0
        scored = TcmPattern(
            pattern=str(pattern["id"]),
            display=str(pattern["display"]),
            score=round(score, 3),
            evidence_for=tuple(evidence_for),
            evidence_against=tuple(evidence_against),
            treatment_principle=str(pattern["treatment_principle"]),
            formulas=(),
        )
        patterns.append((_with_reasoning(scored, pattern, case, inputs, ctx, doc, therapy), order))

    if not used and not inputs.descriptors and not (inputs.onset or inputs.tongue or inputs.pulse or inputs.signs):
        return None
    ranked = tuple(p for p, _ in sorted(patterns, key=lambda item: (-item[0].score, item[1])))
    primary = ranked[0] if ranked and ranked[0].score >= float(doc["confidence"]["min_score"]) else None
    if primary is not None:
        confidence, reasons = _confidence(ranked, used, inputs, doc, differential_open)
    else:
        confidence, reasons = 0.0, (rule_evidence(
            t("no pattern reaches the minimum score {min_score:.2f}: no primary pattern", min_score=float(doc['confidence']['min_score'])),
            doc["confidence"], sources,
        ),)
    core = doc["tiers"]["core"]
    return TcmDifferentiation(
        primary=primary,
        ranked=ranked,
        confidence=confidence,
        note=str(doc["note"]),
        citation=t("{citation}; {sources}", citation=citation(sources, core), sources=sources[doc['note_source']]),
        confidence_basis=reasons,
        card_line=_card_line(primary) if primary is not None else "",
        card_caution=_card_caution(primary, ctx) if primary is not None else "",
        safety_basis=ctx.basis,
    )


def _with_reasoning(scored: TcmPattern, pattern: Mapping[str, Any], case: Case, inputs: TcmInputs,
                    ctx: SafetyContext, doc: Mapping[str, Any], therapy: TherapyKnowledge) -> TcmPattern:
    """The pattern's pathogenesis, principle and codes, and its treatment checked for this patient's safety."""
    principle, pathogenesis = pattern["principle"], pattern["pathogenesis"]
    base = replace(
        scored, hanzi=str(pattern["hanzi"]), pinyin=str(pattern["pinyin"]), codes=pattern_codes(pattern, doc),
        pathogenesis=str(pathogenesis["en"]), pathogenesis_hanzi=str(pathogenesis["hanzi"]),
        principle_detail=str(principle["en"]), principle_hanzi=str(principle["hanzi"]),
        principle_pinyin=str(principle["pinyin"]), urgent_note=str(pattern.get("urgent_note", "")),
        tier=str(pattern["tier"]),
    )
    options = formula_options(pattern, case, inputs, ctx, doc, therapy)
    return replace(
        base,
        formulas=tuple(formula_display(therapy.formulas[f.formula]) for f in options if f.proposed),
        formula_options=options,
        patent_medicines=patent_medicines(pattern, ctx, therapy),
        external_treatments=external_treatments(pattern, therapy),
    )


def _card_line(primary: TcmPattern) -> str:
    """One line: pattern (hanzi, pinyin), principle, first proposed formula (short name)."""
    line = t("{display} {hanzi} ({pinyin}): {treatment_principle}", display=primary.display, hanzi=primary.hanzi, pinyin=primary.pinyin, treatment_principle=t(primary.treatment_principle).lower())
    proposed = [f for f in primary.formula_options if f.proposed]
    if proposed:
        line += t("; {short_name} {hanzi}", short_name=_short_name(proposed[0]), hanzi=proposed[0].hanzi)
    elif primary.formula_options:
        line += t("; no formula proposed (contraindicated for this patient)")
    return line


def _card_caution(primary: TcmPattern, ctx: SafetyContext) -> str:
    """The herb-safety line for the card: what safety was checked against, the cautions on the proposed
    formulas, and which formulas were withheld as contraindicated ("" when nothing applies)."""
    proposed = [f for f in primary.formula_options if f.proposed]
    withheld = [f for f in primary.formula_options if not f.proposed]
    parts = []
    for formula in proposed:
        if formula.cautions:
            kinds = sorted({c.kind for c in formula.cautions})
            parts.append(t("{short_name}: caution ({items})", short_name=_short_name(formula), items=tjoin(", ", kinds)))
    if withheld:
        reasons = sorted({c.kind for f in withheld for c in f.cautions if c.level == "contraindicated"})
        parts.append(t("{items} not proposed ({items2})", items=tjoin(", ", (_short_name(f) for f in withheld)), items2=tjoin(", ", reasons)))
    # Plain words and the medications as recorded (no internal group ids in clinician text).
    checked = sorted(set(ctx.contexts) - {"liver_severe"}) + sorted({m.display for meds in ctx.drugs.values() for m in meds})
    if not parts and checked:
        parts.append(t("no flags for the proposed formulas"))
    text = t("Herb safety ({items}): {findings}.", items=tjoin(", ", checked), findings=tjoin("; ", parts)) if parts else ""
    if primary.urgent_note:
        # Erythroderma / generalised pustular psoriasis: the emergency outranks any herbal advice.
        text = t("{urgent_note} {text}", urgent_note=primary.urgent_note, text=text).strip()
    return text


def _short_name(formula: TcmFormula) -> str:
    return plain_pinyin(formula.pinyin)


# ---------------------------------------------------------------- confidence


def _confidence(
    ranked: tuple[TcmPattern, ...],
    used: list[Observed],
    inputs: TcmInputs,
    doc: Mapping[str, Any],
    differential_open: bool,
) -> tuple[float, tuple[Evidence, ...]]:
    """The confidence in the top pattern and the reasons for it (each names the knowledge rule)."""
    rules = doc["confidence"]
    sources = doc["sources"]
    categories = {o.category for o in used} | set(inputs.recorded_kinds)
    caps = tuple(float(c) for c in rules["coverage_caps"])
    confidence = caps[min(len(categories), len(caps) - 1)]
    reasons = [rule_evidence(
        t("{count} kind(s) of finding ({value}): confidence at most {confidence:.2f}", count=len(categories), value=tjoin(", ", sorted(categories)) or 'none', confidence=confidence),
        rules, sources,
    )]
    if all(o.from_image for o in used):
        confidence = min(confidence, float(rules["image_only_cap"]))
        reasons.append(rule_evidence(
            t("only photograph descriptors, no tongue, pulse or history: capped at {image_only_cap:.2f}", image_only_cap=float(rules['image_only_cap'])),
            rules, sources,
        ))
    if len(ranked) > 1 and ranked[0].score - ranked[1].score < float(rules["close_margin"]):
        confidence *= float(rules["close_factor"])
        reasons.append(rule_evidence(
            t("{display} scores close to {display2} ({score:.2f} vs {score2:.2f}): confidence x{close_factor:g}", display=ranked[1].display, display2=ranked[0].display, score=ranked[1].score, score2=ranked[0].score, close_factor=float(rules['close_factor'])),
            rules, sources,
        ))
    if differential_open:
        confidence *= float(rules["differential_open_factor"])
        reasons.append(rule_evidence(
            t("photographs do not favour psoriasis: confidence x{differential_open_factor:g}", differential_open_factor=float(rules['differential_open_factor'])),
            rules, sources,
        ))
    top = next(p for p in doc["patterns"] if p["id"] == ranked[0].pattern)
    tier = doc["tiers"][top["tier"]]
    if float(tier["factor"]) < 1.0:
        confidence *= float(tier["factor"])
        reasons.append(Evidence(
            statement=t("{display} is a lower-evidence pattern: confidence x{factor:g}", display=ranked[0].display, factor=float(tier['factor'])),
            rule=str(rules["id"]), citation=citation(sources, tier),
        ))
    return round(confidence, 2), tuple(reasons)
