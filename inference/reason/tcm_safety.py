"""Herb safety for the TCM section: which patient facts matter, and what they mean for a set of herbs.

The facts (pregnancy, breastfeeding, child, liver disease or raised ALT/AST, reduced kidney function,
current Western medicines) are read once per case into a `SafetyContext`. `check_items` then turns
the herbs of a formula, a modification or a patent medicine (whose package-insert flags count as one
more item) into `TcmCaution`s: a flag rule or interaction whose action is "contraindicated" makes the
formula not proposed; "caution" is shown next to it. Which herb carries which flag, and which rule
applies, is data (tcm_herbs.json, tcm_safety.json), each with its source.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from inference.case import Case, ConditionKey, FindingKey, MedicationEntry
from inference.reason.drugs import Population, PopulationFinding, age_years, breastfeeding_evidence, pregnancy_evidence
from inference.reason.evidence import citation, describe_finding, format_number
from inference.results import Evidence, TcmCaution
from inference.i18n import t, tjoin

_LIVER_CONDITIONS = (ConditionKey.LIVER_DISEASE, ConditionKey.HEPATITIS_B, ConditionKey.HEPATITIS_C)
# The context a flag rule needs -> the kind of caution it produces.
# DERM-Reason's special populations -> the safety context their herb flags are read in.
_CONTEXT_OF_POPULATION = {
    Population.PREGNANCY: "pregnancy", Population.BREASTFEEDING: "breastfeeding", Population.CHILD: "child",
    Population.HEPATIC_IMPAIRMENT: "liver", Population.RENAL_IMPAIRMENT: "kidney",
}
_KIND_OF_CONTEXT = {"pregnancy": "pregnancy", "breastfeeding": "breastfeeding", "child": "child",
                    "liver": "liver", "liver_severe": "liver", "kidney": "kidney"}


@dataclass(frozen=True)
class Item:
    """Something whose safety is checked: a herb, or a patent medicine's own label."""

    id: str  # herb id, or the product id for a label
    name: str  # clinician-facing name, e.g. "Dan Shen 丹参"
    flags: Mapping[str, str]  # flag -> level, e.g. {"pregnancy": "caution"}
    herb: bool = True  # False for a product label (it has no herb id to interact with)
    flag_citation: str | None = None  # where the item's flags come from (its monograph, label, review)


@dataclass(frozen=True)
class SafetyContext:
    """The patient facts herb safety depends on, each with the evidence that established it."""

    contexts: Mapping[str, Evidence] = field(default_factory=dict)  # "pregnancy", "child", "liver", ...
    drugs: Mapping[str, tuple[MedicationEntry, ...]] = field(default_factory=dict)  # drug group -> medications

    @property
    def basis(self) -> tuple[Evidence, ...]:
        found = list(self.contexts.values())
        for group, meds in sorted(self.drugs.items()):
            found.extend(Evidence(statement=t("current medication: {display}", display=m.display), source_ref=m.source_ref) for m in meds)
        return tuple(found)


def read_context(case: Case, doc: Mapping[str, Any],
                 populations: Iterable[PopulationFinding] | None = None) -> SafetyContext:
    """The safety facts of this patient. Pregnancy, breastfeeding, childhood and organ impairment are the
    special populations DERM-Reason already established for drug safety (`populations`, from the drug
    catalogue: one reading of the record, with its sex/record conflicts already removed); when they are
    not given (unit use) the same readers are applied here. Herb safety adds its own finer liver rule on
    top: hepatitis B/C and ALT/AST above the upper limit (and 3x above it) from the same lab findings."""
    found = tuple(populations) if populations is not None else _populations(case, doc)
    contexts: dict[str, Evidence] = {}
    for population in found:
        context = _CONTEXT_OF_POPULATION.get(population.population)
        if context is not None:
            contexts.setdefault(context, Evidence(population.statement, population.source_ref))
    liver = _liver(case, doc["liver"], doc["sources"])
    if "liver" in contexts:  # a recorded liver disease: the lab rule can still add "liver_severe"
        liver.pop("liver", None)
    contexts.update(liver)
    return SafetyContext(contexts=contexts, drugs=_drug_groups(case.medications, doc["drug_groups"]))


def herb_item(herb: Mapping[str, Any], sources: Mapping[str, Any]) -> Item:
    """A herb of tcm_herbs.json as a checked item; `sources` is that file's source table."""
    source = str(sources[herb.get("safety_source", herb["source"])])
    if herb.get("safety_unverified"):
        source += t(" (flag not checked against the source)")
    return Item(str(herb["id"]), herb_name(herb), dict(herb["safety"]), flag_citation=source)


def herb_name(herb: Mapping[str, Any]) -> str:
    """"Dan Shen 丹参": toneless pinyin in title case (readable without a Chinese font) and the hanzi."""
    return t("{plain_pinyin} {hanzi}", plain_pinyin=plain_pinyin(str(herb['pinyin'])).title(), hanzi=herb['hanzi'])


def plain_pinyin(text: str) -> str:
    """Pinyin without tone marks: "Liángxuè Huóxuè Tāng" -> "Liangxue Huoxue Tang"."""
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if unicodedata.category(c) != "Mn"))


def check_items(items: Iterable[Item], ctx: SafetyContext, doc: Mapping[str, Any],
                *, general_child_caution: bool = True) -> tuple[TcmCaution, ...]:
    """Cautions for a group of items (one formula, modification or patent medicine) in this patient.

    One caution per (rule, drug), naming every item it concerns; where a contraindication and a caution
    come from the same context for the same items, only the contraindication is kept."""
    items = tuple(items)
    sources = doc["sources"]
    found: list[TcmCaution] = []
    for rule in doc["flag_rules"]:
        why = ctx.contexts.get(rule["context"])
        if why is None:
            continue
        hits = [i for i in items if i.flags.get(rule["flag"]) == rule["level"]]
        if hits:
            found.append(TcmCaution(
                level=str(rule["action"]),
                kind=_KIND_OF_CONTEXT[rule["context"]],
                statement=t("{names}: {statement}", names=_names(hits), statement=rule['statement']),
                herbs=tuple(i.id for i in hits if i.herb),
                evidence=(why, Evidence(statement=str(rule["statement"]), rule=str(rule["id"]),
                                        citation=citation(sources, rule)),
                          *(Evidence(statement=t("{name}: {flag} flag '{level}'", name=i.name, flag=rule['flag'], level=rule['level']), citation=i.flag_citation)
                            for i in hits)),
            ))
    herb_ids = {i.id: i for i in items if i.herb}
    for rule in doc["interactions"]:
        hits = [herb_ids[h] for h in rule["herbs"] if h in herb_ids]
        if not hits:
            continue
        for group in rule["drugs"]:
            for med in ctx.drugs.get(group, ()):
                found.append(TcmCaution(
                    level=str(rule["action"]),
                    kind="interaction",
                    statement=t("{names} with {display}: {statement} (evidence: {evidence})", names=_names(hits), display=med.display, statement=rule['statement'], evidence=rule['evidence']),
                    herbs=tuple(i.id for i in hits),
                    evidence=(Evidence(statement=t("current medication: {display}", display=med.display), source_ref=med.source_ref),
                              Evidence(statement=str(rule["statement"]), rule=str(rule["id"]),
                                       citation=citation(sources, rule))),
                    drug=med.key,
                ))
    if general_child_caution and "child" in ctx.contexts:
        rule = doc["child_rule"]
        found.append(TcmCaution(
            level="caution", kind="child", statement=str(rule["statement"]), herbs=(),
            evidence=(ctx.contexts["child"], Evidence(statement=str(rule["statement"]), rule=str(rule["id"]),
                                                      citation=citation(sources, rule))),
        ))
    return _dedupe(found)


def contraindicated(cautions: Iterable[TcmCaution]) -> bool:
    return any(c.level == "contraindicated" for c in cautions)


# ---------------------------------------------------------------- patient facts


def _populations(case: Case, doc: Mapping[str, Any]) -> tuple[PopulationFinding, ...]:
    """The populations herb safety needs, read with the drug catalogue's readers (same rules, no catalogue)."""
    found = [p for p in (pregnancy_evidence(case), breastfeeding_evidence(case)) if p is not None]
    age = age_years(case)
    if age is not None and age < int(doc["child_age_years"]):
        found.append(PopulationFinding(Population.CHILD, t("age {age} years (under {child_age_years})", age=age, child_age_years=int(doc['child_age_years']))))
    kidney = _kidney(case, doc["kidney"])
    if kidney is not None:
        found.append(kidney)
    return tuple(found)


def _liver(case: Case, rule: Mapping[str, Any], sources: Mapping[str, Any]) -> dict[str, Evidence]:
    found: dict[str, Evidence] = {}
    for condition in case.conditions:
        if condition.active and condition.key in _LIVER_CONDITIONS:
            found.setdefault("liver", Evidence(t("liver disease: {display}", display=condition.display), condition.source_ref))
    factor = float(rule["contraindicate_reported_above_uln_factor"])
    for key, uln, label in ((FindingKey.ALT, float(rule["alt_uln"]), "ALT"), (FindingKey.AST, float(rule["ast_uln"]), "AST")):
        test = case.latest(key)
        if test is None or isinstance(test.value, bool) or not isinstance(test.value, (int, float)):
            continue
        value = float(test.value)
        if value > uln:
            statement = t("{label} above the upper limit {uln} U/L", label=describe_finding(label, test, ' U/L'), uln=format_number(uln))
            evidence = Evidence(statement, test.source_ref, rule=str(rule["id"]), citation=citation(sources, rule))
            found.setdefault("liver", evidence)
            if value > factor * uln:
                found.setdefault("liver_severe", Evidence(
                    f"{describe_finding(label, test, ' U/L')} above {format_number(factor)}x the upper limit",
                    test.source_ref, rule=str(rule["id"]), citation=citation(sources, rule)))
    return found


def _kidney(case: Case, rule: Mapping[str, Any]) -> PopulationFinding | None:
    for condition in case.conditions:
        if condition.active and condition.key is ConditionKey.KIDNEY_DISEASE:
            return PopulationFinding(Population.RENAL_IMPAIRMENT, t("kidney disease: {display}", display=condition.display), condition.source_ref)
    egfr = case.latest(FindingKey.EGFR)
    if egfr is not None and isinstance(egfr.value, (int, float)) and not isinstance(egfr.value, bool) \
            and float(egfr.value) < float(rule["egfr_below"]):  # fmt: skip
        return PopulationFinding(
            Population.RENAL_IMPAIRMENT,
            t("{value} below {egfr_below}", value=describe_finding('eGFR', egfr, ' mL/min/1.73 m2'), egfr_below=format_number(float(rule['egfr_below']))),
            egfr.source_ref)
    return None


def _drug_groups(medications: Iterable[MedicationEntry], groups: Mapping[str, Any]) -> dict[str, tuple[MedicationEntry, ...]]:
    """Active medications per drug group, matched on the medication key. Not on any word of the name:
    "tacrolimus ointment" is keyed as a topical calcineurin inhibitor and must not count as systemic
    tacrolimus; brand names the mapper does not know arrive keyed by their first word ("coumadin")."""
    found: dict[str, list[MedicationEntry]] = {}
    for med in medications:
        if not med.active:
            continue
        for group, spec in groups.items():
            if med.key in spec["keys"]:
                found.setdefault(group, []).append(med)
    return {group: tuple(meds) for group, meds in found.items()}


def _names(items: Iterable[Item]) -> str:
    return tjoin(", ", (i.name for i in items))


def _dedupe(cautions: list[TcmCaution]) -> tuple[TcmCaution, ...]:
    contra = {(c.kind, c.drug, h) for c in cautions if c.level == "contraindicated" for h in c.herbs}
    kept = []
    for c in cautions:
        if c.level == "caution" and c.herbs and all((c.kind, c.drug, h) in contra for h in c.herbs):
            continue
        kept.append(c)
    # Contraindications first, so the reason a formula is withheld reads first.
    return tuple(sorted(kept, key=lambda c: c.level != "contraindicated"))
