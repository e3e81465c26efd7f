"""Treatment step and options under the configured guideline profile (treatment.json), with every
option judged for this patient by the drug knowledge (drugs.json via `DrugCatalogue`).

The step is the highest one any rule asks for: the profile's step for the severity level, the
systemic-candidate step (IPC 2020), the psoriatic-arthritis step, the patient's current step (never
stepped down automatically) and, when severe disease persists on current therapy, the next step.
Options are the step's offer list (topicals stay as adjuncts at every higher step); an option is a
group of drugs (e.g. TNF inhibitors) and names only the members this patient may have. Contraindicated
options stay in the plan, marked not allowed, so the clinician sees why they are missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from inference.case import Case, ConditionKey, FindingKey, PsoriasisSubtype
from inference.knowledge_base import KnowledgeError
from inference.reason.drugs import (
    ConcernKind,
    CurrentDrug,
    DrugCatalogue,
    DrugConcern,
    DrugIntent,
    PopulationFinding,
    PopulationStatus,
    RXNORM,
)
from inference.reason.evidence import UNVERIFIED_SUFFIX, format_number, rule_evidence
from inference.reason.severity import LEVELS, SeverityOutcome
from inference.results import Contraindication, DrugCoding, Evidence, TherapyClass, TreatmentOption, TreatmentPlan
from inference.i18n import t, tjoin

# Ladder steps are therapy classes, lowest first.
STEP_ORDER: tuple[TherapyClass, ...] = tuple(TherapyClass)
_SYSTEMIC = (TherapyClass.ORAL_SYSTEMIC, TherapyClass.BIOLOGIC)


@dataclass(frozen=True)
class PlanContext:
    """What the plan needs beyond the case and the severity (computed once per assessment)."""

    catalogue: DrugCatalogue
    profile: str
    populations: tuple[PopulationFinding, ...] = ()
    subtypes: tuple[PsoriasisSubtype, ...] = ()
    hold: bool = False  # a current immunosuppressive therapy must be held (active TB / serious infection)


def check_treatment_knowledge(doc: Mapping[str, Any], catalogue: DrugCatalogue) -> None:
    """Cross-checks the schema cannot express: options name known drugs, steps offer known options,
    profiles and subtypes exist, every step is a `TherapyClass` and every level a graded `SeverityLevel`."""
    for option_id, option in doc["options"].items():
        for drug in option["drugs"]:
            if catalogue.get(drug) is None:
                raise KnowledgeError(f"treatment.json: option {option_id!r} names unknown drug {drug!r}")
    if doc["default_profile"] not in doc["profiles"]:
        raise KnowledgeError(f"treatment.json: default profile {doc['default_profile']!r} is not defined")
    for name, profile in doc["profiles"].items():
        steps = [*profile["steps"], *profile["levels"].values(), profile["systemic_candidate_step"],
                 profile["psoriatic_arthritis_step"], *profile["escalate"], *profile["escalate"].values()]
        unknown = sorted({str(s) for s in steps} - set(STEP_ORDER))
        if unknown:
            raise KnowledgeError(f"treatment.json: profile {name} names unknown steps {unknown}")
        if set(profile["levels"]) != set(LEVELS):
            raise KnowledgeError(f"treatment.json: profile {name} levels {sorted(profile['levels'])} differ from {[str(v) for v in LEVELS]}")
        for step_id, step in profile["steps"].items():
            for option in step["offer"]:
                if option not in doc["options"]:
                    raise KnowledgeError(f"treatment.json: profile {name} step {step_id} offers unknown option {option!r}")
        for option in profile["adjunct"]:
            if option not in doc["options"]:
                raise KnowledgeError(f"treatment.json: profile {name} adjunct {option!r} unknown")
    for rule in doc["subtypes"]:
        try:
            PsoriasisSubtype(rule["subtype"])
        except ValueError:
            raise KnowledgeError(f"treatment.json: {rule['id']}: unknown subtype {rule['subtype']!r}") from None
        if rule.get("max_step") is not None and rule["max_step"] not in STEP_ORDER:
            raise KnowledgeError(f"treatment.json: {rule['id']}: unknown max_step {rule['max_step']!r}")
        for option in (*rule.get("prefer", ()), *rule.get("drop", ()), *rule.get("option_display", {})):
            if option not in doc["options"]:
                raise KnowledgeError(f"treatment.json: {rule['id']} names unknown option {option!r}")


def profile_of(doc: Mapping[str, Any], name: str | None) -> tuple[str, Mapping[str, Any]]:
    """(id, profile) for `name` (None: the file's default). Unknown names are a configuration error."""
    key = name or str(doc["default_profile"])
    if key not in doc["profiles"]:
        raise KnowledgeError(f"unknown guideline profile {key!r}; known: {', '.join(sorted(doc['profiles']))}")
    return key, doc["profiles"][key]


def subtype_rules(doc: Mapping[str, Any], subtypes: Iterable[PsoriasisSubtype]) -> list[Mapping[str, Any]]:
    wanted = {s.value for s in subtypes}
    return [r for r in doc["subtypes"] if r["subtype"] in wanted]


def plan_treatment(case: Case, severity: SeverityOutcome, doc: Mapping[str, Any], context: PlanContext) -> TreatmentPlan | None:
    """None when severity is unknown or every grading measure is out of date: no step without a current
    clinician measure."""
    level = severity.severity.level
    if level not in LEVELS or severity.stale:
        return None
    catalogue = context.catalogue
    profile_id, profile = profile_of(doc, context.profile)
    sources, rules = doc["sources"], doc["rules"]
    current = catalogue.current(case)
    chosen: list[tuple[TherapyClass, Evidence]] = []

    base = TherapyClass(profile["levels"][level])
    step_display: str = profile["steps"][base]["display"]  # knowledge text: looked up when rendered
    chosen.append((base, rule_evidence(t("{level} disease: {display} ({display2})", level=level, display=t(step_display).lower(), display2=profile['display']),
                                       rules["severity"], sources)))
    if severity.severity.systemic_candidate and level != "clear" and not severity.conflict:
        chosen.append((TherapyClass(profile["systemic_candidate_step"]), rule_evidence(rules["systemic_candidate"]["statement"],
                                                                              rules["systemic_candidate"], sources)))
    psa = psoriatic_arthritis(case, doc)
    if psa is not None:
        chosen.append((TherapyClass(profile["psoriatic_arthritis_step"]), rule_evidence(
            t("{statement}: {statement2}", statement=psa.statement, statement2=rules['psoriatic_arthritis']['statement']), rules["psoriatic_arthritis"], sources, psa.source_ref)))
        if psa.rule is not None:  # suspected, not coded: show the rule that made it so
            chosen.append((TherapyClass(profile["psoriatic_arthritis_step"]), psa))
    current_step = _current_step(current)
    if current_step is not None:
        therapy = next(c for c in current if c.drug.therapy_class is current_step)
        chosen.append((current_step, rule_evidence(
            t("on {display} ({source_ref}): {statement}", display=therapy.drug.display, source_ref=therapy.medication.source_ref, statement=rules['continue']['statement']),
            rules["continue"], sources, therapy.medication.source_ref)))
        if level == "severe" and not severity.conflict and not context.hold:
            chosen.append((TherapyClass(profile["escalate"][current_step]), rule_evidence(
                t("severe disease on {display}: {statement}", display=therapy.drug.display, statement=rules['escalate']['statement']), rules["escalate"], sources,
                therapy.medication.source_ref)))

    step_id = max(chosen, key=lambda item: STEP_ORDER.index(item[0]))[0]
    sub_rules = subtype_rules(doc, context.subtypes)
    for rule in sub_rules:
        cap = TherapyClass(rule["max_step"]) if rule.get("max_step") else None
        if cap and psa is None and STEP_ORDER.index(step_id) > STEP_ORDER.index(cap) and level != "severe":
            step_id = cap
            chosen.append((cap, rule_evidence(rule["note"], rule, sources)))
    on_hold = context.hold and current_step is not None and current_step in _SYSTEMIC
    if on_hold:
        step_id = current_step or step_id
        chosen.append((step_id, rule_evidence(rules["hold"]["statement"], rules["hold"], sources)))
    kept = _options_for(case, doc, profile, step_id, context, current, sub_rules, psa is not None, on_hold)
    if not on_hold and step_id == TherapyClass.ORAL_SYSTEMIC and not _any_allowed(kept, _SYSTEMIC):
        # Every systemic option of this step is contraindicated for the patient: the profile's next step
        # is offered (e.g. NICE: biologics when systemic non-biologic therapy is contraindicated).
        step_id = TherapyClass.BIOLOGIC
        chosen.append((step_id, rule_evidence(rules["step_unsuitable"]["statement"], rules["step_unsuitable"], sources)))
        kept = _options_for(case, doc, profile, step_id, context, current, sub_rules, psa is not None, on_hold)
    rationale = [e for s, e in chosen if s == step_id or e.rule != rules["continue"]["id"]]
    if severity.differential_open and severity.differential is not None:
        rationale.append(severity.differential)
    for rule in sub_rules:
        if "note" in rule and not rule.get("max_step"):
            rationale.append(rule_evidence(t("{display}: {note}", display=rule['display'], note=rule['note']), rule, sources))
    step = profile["steps"][step_id]
    display = str(rules["hold"].get("display", rules["hold"]["statement"])) if on_hold else str(step["display"])
    return TreatmentPlan(step=step_id, step_display=display, options=kept, rationale=tuple(rationale),
                         profile=profile_id, profile_display=str(profile["display"]), on_hold=on_hold)


def _any_allowed(options: tuple[TreatmentOption, ...], classes: tuple[TherapyClass, ...]) -> bool:
    return any(o.allowed and not o.adjunct and o.therapy_class in classes for o in options)


def _options_for(case: Case, doc: Mapping[str, Any], profile: Mapping[str, Any], step_id: TherapyClass, context: PlanContext,
                 current: tuple[CurrentDrug, ...], sub_rules: list[Mapping[str, Any]], joint_only: bool,
                 on_hold: bool) -> tuple[TreatmentOption, ...]:
    """The step's offer (or, on hold, topicals and NB-UVB only), subtype preferences applied, topicals kept
    as adjuncts above the topical step; allowed first, then preferred, then profile order."""
    catalogue = context.catalogue
    if on_hold:
        offer: list[str] = list(profile["steps"][TherapyClass.TOPICAL]["offer"]) + ["nb_uvb"]
    else:
        offer = list(profile["steps"][step_id]["offer"])
    offer = _apply_subtypes(offer, sub_rules)
    adjuncts = [a for a in _apply_subtypes(list(profile["adjunct"]), sub_rules) if a not in offer]
    for rule in sub_rules:  # a subtype's preferred topicals are kept as adjuncts too (e.g. calcineurin inhibitor for flexures)
        for option in rule.get("prefer", ()):
            if option not in offer and option not in adjuncts and _is_topical(doc, option, catalogue):
                adjuncts.insert(0, option)
    if step_id == TherapyClass.TOPICAL and not on_hold:
        adjuncts = []
    displays = {k: v for rule in sub_rules for k, v in rule.get("option_display", {}).items()}
    options = [_option(case, doc, o, context, current, displays, joint_only, adjunct=False) for o in offer]
    options += [_option(case, doc, o, context, current, displays, False, adjunct=True) for o in adjuncts]
    kept = tuple(o for o in options if o is not None)
    rank = {PopulationStatus.PREFERRED: 0, PopulationStatus.ACCEPTABLE: 1, PopulationStatus.CAUTION: 2,
            PopulationStatus.CONTRAINDICATED: 3}
    return tuple(sorted(kept, key=lambda o: (not o.allowed, o.adjunct, rank.get(o.status, 1))))


def _apply_subtypes(offer: list[str], sub_rules: list[Mapping[str, Any]]) -> list[str]:
    for rule in sub_rules:
        offer = [o for o in offer if o not in rule.get("drop", ())]
        preferred = [o for o in rule.get("prefer", ()) if o in offer]
        offer = preferred + [o for o in offer if o not in preferred]
    return offer


def _is_topical(doc: Mapping[str, Any], option: str, catalogue: DrugCatalogue) -> bool:
    return all(catalogue[d].therapy_class is TherapyClass.TOPICAL for d in doc["options"][option]["drugs"])


def psoriatic_arthritis(case: Case, doc: Mapping[str, Any]) -> Evidence | None:
    """Psoriatic arthritis coded on the problem list, or suspected: PEST at or above the threshold with
    joint symptoms recorded (treatment.json "suspected_psoriatic_arthritis")."""
    coded = next((c for c in case.conditions if c.active and c.key is ConditionKey.PSORIATIC_ARTHRITIS), None)
    if coded is not None:
        return Evidence(t("{display} recorded ({source_ref})", display=coded.display, source_ref=coded.source_ref), coded.source_ref)
    rule = doc["suspected_psoriatic_arthritis"]
    pest, joints = case.latest(FindingKey.PEST_SCORE), case.latest(FindingKey.JOINT_PAIN)
    if (pest is not None and isinstance(pest.value, (int, float)) and not isinstance(pest.value, bool)
            and pest.value >= float(rule["pest_gte"]) and joints is not None and joints.value is True):
        return rule_evidence(t("suspected psoriatic arthritis: PEST {value} with joint pain ({source_ref}, {source_ref2})", value=format_number(float(pest.value)), source_ref=pest.source_ref, source_ref2=joints.source_ref), rule, doc["sources"], pest.source_ref)
    return None


def _current_step(current: tuple[CurrentDrug, ...]) -> TherapyClass | None:
    steps = [c.drug.therapy_class for c in current]
    return max(steps, key=STEP_ORDER.index) if steps else None


def _option(case: Case, doc: Mapping[str, Any], option_id: str, context: PlanContext, current: tuple[CurrentDrug, ...],
            displays: Mapping[str, str], joint_only: bool, *, adjunct: bool) -> TreatmentOption | None:
    """One option, its members judged for this patient; None when `joint_only` drops a member-less option."""
    catalogue = context.catalogue
    option = doc["options"][option_id]
    members = [catalogue[d] for d in option["drugs"]]
    if joint_only and members[0].therapy_class in _SYSTEMIC:
        members = [m for m in members if m.joint_active]
        if not members:
            return None
    current_ids = {c.drug.id for c in current}
    allowed: list[tuple[Any, PopulationStatus, tuple[DrugConcern, ...]]] = []
    blocked: list[DrugConcern] = []
    cautions: list[DrugConcern] = []
    for drug in members:
        intent = DrugIntent.CONTINUE if drug.id in current_ids else DrugIntent.START
        concerns = catalogue.evaluate(drug, case, intent, context.populations)
        # A drug to withhold (abnormal monitoring) or hold (active infection) is not offered, even if current.
        absolute = [c for c in concerns if c.kind in (ConcernKind.CONTRAINDICATED, ConcernKind.HOLD)
                    or (c.kind is ConcernKind.ABNORMAL_MONITORING and c.withhold)]
        if absolute:
            blocked.extend(absolute)
            continue
        status = catalogue.status_for(drug, context.populations, case)
        allowed.append((drug, status, concerns))
        cautions.extend(c for c in concerns if c.kind in (ConcernKind.CAUTION, ConcernKind.INTERACTION, ConcernKind.DUPLICATE_THERAPY))
    rank = {PopulationStatus.PREFERRED: 0, PopulationStatus.ACCEPTABLE: 1, PopulationStatus.CAUTION: 2}
    allowed.sort(key=lambda item: rank.get(item[1], 1))  # stable: knowledge order within a status
    base = displays.get(option_id, str(option["display"]))
    is_class = len(option["drugs"]) > 1 or members[0].display != option["display"] and members[0].therapy_class is TherapyClass.BIOLOGIC
    if is_class and allowed:
        display = t("{base} ({items})", base=base, items=tjoin(", ", (t(d.display).lower() for d, _, _ in allowed)))
    else:
        display = base
    contraindications: list[Contraindication] = []
    if not allowed:
        for concern in _dedupe(blocked):
            contraindications.append(Contraindication(option_id, concern.reason, True, (_evidence(concern),)))
    for concern in _dedupe(cautions):
        contraindications.append(Contraindication(option_id, concern.reason, False, (_evidence(concern),)))
    checks: list[str] = []
    for _, _, concerns in allowed:
        for concern in concerns:
            if concern.kind is ConcernKind.MISSING_CHECK:
                name = concern.reason.split(": ", 1)[1].split(" - ", 1)[0]
                if name not in checks:
                    checks.append(name)
    if allowed:
        status = allowed[0][1]
        note = _note(allowed[0][0], context, case) if status is PopulationStatus.PREFERRED else ""
    else:
        status, note = PopulationStatus.CONTRAINDICATED, ""
    codings = _codings(d for d, _, _ in allowed) if allowed else _codings(members)
    return TreatmentOption(
        therapy=option_id, display=display, therapy_class=members[0].therapy_class,
        contraindications=tuple(contraindications), pre_treatment_checks=tuple(checks),
        drugs=tuple(d.id for d, _, _ in allowed), codings=codings, status=status, note=note, adjunct=adjunct,
        current=any(d.id in current_ids for d, _, _ in allowed),
    )


def _note(drug: Any, context: PlanContext, case: Case) -> str:
    for finding in context.populations:
        rule = drug.populations.get(finding.population)
        if rule is not None and rule.status is PopulationStatus.PREFERRED:
            return t("preferred in {value}: {note}", value=finding.population.value.replace('_', ' '), note=rule.note)
    return ""


def _codings(drugs: Iterable[Any]) -> tuple[DrugCoding, ...]:
    """Member codings; a class entry with several RxNorm ingredients keeps only its class code (ATC)."""
    found: list[DrugCoding] = []
    for drug in drugs:
        rxnorm = [c for c in drug.codings if c.system == RXNORM]
        for coding in drug.codings:
            if coding.system == RXNORM and len(rxnorm) > 1:
                continue
            if coding not in found:
                found.append(coding)
    return tuple(found)


def _dedupe(concerns: Iterable[DrugConcern]) -> list[DrugConcern]:
    seen: set[str] = set()
    kept: list[DrugConcern] = []
    for concern in concerns:
        key = concern.rule_id.split(".", 2)[-1] + concern.reason.split(":", 1)[-1]
        if key not in seen:
            seen.add(key)
            kept.append(concern)
    return kept


def _evidence(concern: DrugConcern) -> Evidence:
    citation = concern.citation.text + (UNVERIFIED_SUFFIX if concern.citation.unverified else "")
    return Evidence(statement=concern.reason, source_ref=concern.source_ref, rule=concern.rule_id, citation=citation)
