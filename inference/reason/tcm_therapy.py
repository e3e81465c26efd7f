"""From a TCM pattern to its treatment: formula options with composition and doses, modifications keyed
to the patient's findings, Chinese patent medicines and external treatments, each checked for herb
safety in this patient (`tcm_safety`). A contraindicated formula stays in the result, marked not
proposed, with the reason; it never appears among the pattern's proposed formula names.

Everything clinical is data: tcm.json (patterns, modifications), tcm_formulas.json (formulas, patent
medicines, external treatments), tcm_herbs.json (names, doses, safety flags), tcm_safety.json (rules).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from inference.case import Case
from inference.knowledge_base import KnowledgeError
from inference.reason.evidence import citation
from inference.reason.tcm_inputs import TcmInputs, match
from inference.reason.tcm_safety import (
    Item,
    SafetyContext,
    check_items,
    contraindicated,
    herb_item,
    plain_pinyin,
)
from inference.results import (
    Evidence,
    TcmCode,
    TcmExternalTreatment,
    TcmFormula,
    TcmHerbDose,
    TcmModification,
)
from inference.i18n import t, tjoin


@dataclass(frozen=True)
class TherapyKnowledge:
    """The three therapy documents, indexed by id (indexes built once: one instance serves every request)."""

    formulas_doc: Mapping[str, Any]
    herbs_doc: Mapping[str, Any]
    safety_doc: Mapping[str, Any]

    @cached_property
    def herbs(self) -> dict[str, Mapping[str, Any]]:
        return {str(h["id"]): h for h in self.herbs_doc["herbs"]}

    @cached_property
    def formulas(self) -> dict[str, Mapping[str, Any]]:
        return {str(f["id"]): f for f in self.formulas_doc["formulas"]}

    @cached_property
    def patent_medicines(self) -> dict[str, Mapping[str, Any]]:
        return {str(p["id"]): p for p in self.formulas_doc["patent_medicines"]}

    @cached_property
    def external_treatments(self) -> dict[str, Mapping[str, Any]]:
        return {str(e["id"]): e for e in self.formulas_doc["external_treatments"]}

    @cached_property
    def items(self) -> dict[str, Item]:
        """Each herb as a safety-checked item (names and flag citations composed once)."""
        return {herb_id: herb_item(herb, self.herbs_doc["sources"]) for herb_id, herb in self.herbs.items()}

    @cached_property
    def compositions(self) -> dict[str, tuple[TcmHerbDose, ...]]:
        """Formula id -> its composition with doses; patent medicine id -> its key herbs (no dose)."""
        herbs = self.herbs
        found = {fid: tuple(_dose(herbs[i["herb"]], str(i["role"]), i) for i in f["composition"])
                 for fid, f in self.formulas.items()}
        found.update({pid: tuple(_dose(herbs[h], "ingredient", None, with_dose=False) for h in p["key_herbs"])
                      for pid, p in self.patent_medicines.items()})
        return found

    @cached_property
    def added(self) -> dict[str, TcmHerbDose]:
        """Herb id -> the herb as a modification adds it."""
        return {herb_id: _dose(herb, "added", None) for herb_id, herb in self.herbs.items() if herb["dose_g"] is not None}


def check_therapy_knowledge(tcm: Mapping[str, Any], k: TherapyKnowledge) -> None:
    """Cross-references JSON Schema cannot express; a broken reference fails at start-up."""
    herbs, formulas = k.herbs, k.formulas
    banned = {str(b["id"]) for b in k.herbs_doc["banned"]}
    for b in k.herbs_doc["banned"]:
        if b["substitute"] not in herbs:
            raise KnowledgeError(f"banned {b['id']}: substitute {b['substitute']!r} is not a herb")
    for herb in herbs.values():
        for key in ("safety_source", "source"):
            if key in herb and herb[key] not in k.herbs_doc["sources"]:
                raise KnowledgeError(f"herb {herb['id']}: unknown {key} {herb[key]!r}")
        if herb["id"] in banned or herb.get("substitutes", "") not in banned | {""}:
            raise KnowledgeError(f"herb {herb['id']}: banned ingredient or unknown substitution")
        if herb["dose_g"] is not None and herb["dose_g"][0] > herb["dose_g"][1]:
            raise KnowledgeError(f"herb {herb['id']}: dose range {herb['dose_g'][0]}-{herb['dose_g'][1]} g is reversed")
    decocted = [(t("formula {id}", id=f['id']), i["herb"]) for f in formulas.values() for i in f["composition"]]
    decocted += [(str(m["id"]), h) for m in tcm["modifications"] for h in m["add"]]
    for where, herb_id in decocted:
        if herb_id not in herbs:
            raise KnowledgeError(f"{where}: unknown herb {herb_id!r}")
        if herbs[herb_id]["dose_g"] is None:
            raise KnowledgeError(f"{where}: {herb_id!r} has no decoction dose (patent medicines only)")
    for product in k.patent_medicines.values():
        for herb in product["key_herbs"]:
            if herb not in herbs:
                raise KnowledgeError(f"patent medicine {product['id']}: unknown herb {herb!r}")
    for pattern in tcm["patterns"]:
        for name, table in (("formulas", formulas), ("patent_medicines", k.patent_medicines),
                            ("external_treatments", k.external_treatments)):
            for ref in pattern[name]:
                if ref not in table:
                    raise KnowledgeError(f"pattern {pattern['id']}: unknown {name} entry {ref!r}")
        for code in pattern["codes"]:
            if code["system"] not in tcm["code_systems"]:
                raise KnowledgeError(f"pattern {pattern['id']}: unknown code system {code['system']!r}")
    safety = k.safety_doc
    for rule in safety["interactions"]:
        for herb in rule["herbs"]:
            if herb not in herbs:
                raise KnowledgeError(f"{rule['id']}: unknown herb {herb!r}")
        for group in rule["drugs"]:
            if group not in safety["drug_groups"]:
                raise KnowledgeError(f"{rule['id']}: unknown drug group {group!r}")


def pattern_codes(pattern: Mapping[str, Any], tcm: Mapping[str, Any]) -> tuple[TcmCode, ...]:
    systems = tcm["code_systems"]
    return tuple(
        TcmCode(system=str(systems[c["system"]]["uri"]), code=c["code"], display=str(c["display"]),
                verified=bool(c["verified"]), equivalence=str(c["equivalence"]))
        for c in pattern["codes"]
    )


def formula_display(formula: Mapping[str, Any]) -> str:
    """"Liangxue Huoxue Tang 凉血活血汤", with the substitution named where a banned ingredient was replaced."""
    name = t("{plain_pinyin} {hanzi}", plain_pinyin=plain_pinyin(str(formula['pinyin'])), hanzi=formula['hanzi'])
    if formula.get("substitution"):
        name += t(" (water buffalo horn substituted for rhinoceros horn)")
    return name


def formula_options(pattern: Mapping[str, Any], case: Case, inputs: TcmInputs, ctx: SafetyContext,
                    tcm: Mapping[str, Any], k: TherapyKnowledge) -> tuple[TcmFormula, ...]:
    """The pattern's formulas, proposed ones first (knowledge order kept within each group)."""
    sources = k.formulas_doc["sources"]
    triggered = _triggered_modifications(pattern, case, inputs, tcm)
    options = []
    for formula_id in pattern["formulas"]:
        formula = k.formulas[formula_id]
        composition = k.compositions[formula_id]
        cautions = check_items([k.items[i["herb"]] for i in formula["composition"]], ctx, k.safety_doc)
        present = {i["herb"] for i in formula["composition"]}
        modifications = tuple(m for m in (_modification(mod, obs, present, ctx, tcm, k) for mod, obs in triggered)
                              if m is not None)
        options.append(TcmFormula(
            formula=formula_id, kind="decoction", hanzi=str(formula["hanzi"]), pinyin=str(formula["pinyin"]),
            english=str(formula["english"]), composition=composition, cautions=cautions,
            proposed=not contraindicated(cautions), citation=citation(sources, formula),
            origin=str(formula["origin"]), substitution=str(formula.get("substitution", "")),
            modifications=modifications, note=str(k.formulas_doc["dose_note"]),
            unverified=bool(formula.get("unverified", False)), unverified_note=str(formula.get("unverified_note", "")),
        ))
    return tuple(sorted(options, key=lambda f: not f.proposed))


def patent_medicines(pattern: Mapping[str, Any], ctx: SafetyContext, k: TherapyKnowledge) -> tuple[TcmFormula, ...]:
    sources = k.formulas_doc["sources"]
    found = []
    for product_id in pattern["patent_medicines"]:
        product = k.patent_medicines[product_id]
        items = [k.items[h] for h in product["key_herbs"]]
        name = t("{plain_pinyin} {hanzi}", plain_pinyin=plain_pinyin(str(product['pinyin'])), hanzi=product['hanzi'])
        items.append(Item(str(product_id), t("{name} (package insert)", name=name), dict(product["label"]), herb=False,
                          flag_citation=citation(sources, product)))
        cautions = check_items(items, ctx, k.safety_doc)
        found.append(TcmFormula(
            formula=str(product_id), kind="patent_medicine", hanzi=str(product["hanzi"]), pinyin=str(product["pinyin"]),
            english=str(product["english"]),
            composition=k.compositions[str(product_id)],
            cautions=cautions, proposed=not contraindicated(cautions), citation=citation(sources, product),
            note=str(product.get("label_note", "")), unverified=bool(product.get("unverified", False)),
            unverified_note=str(product.get("unverified_note", "")),
        ))
    return tuple(sorted(found, key=lambda f: not f.proposed))


def external_treatments(pattern: Mapping[str, Any], k: TherapyKnowledge) -> tuple[TcmExternalTreatment, ...]:
    sources = k.formulas_doc["sources"]
    return tuple(
        TcmExternalTreatment(
            treatment=str(e["id"]), hanzi=str(e["hanzi"]), pinyin=str(e["pinyin"]), english=str(e["english"]),
            use=str(e["use"]), citation=citation(sources, e), unverified=bool(e.get("unverified", False)),
        )
        for e in (k.external_treatments[t] for t in pattern["external_treatments"])
    )


# ---------------------------------------------------------------- helpers


def _dose(herb: Mapping[str, Any], role: str, ingredient: Mapping[str, Any] | None, *, with_dose: bool = True) -> TcmHerbDose:
    dose = (ingredient or {}).get("dose_g") or herb["dose_g"]
    with_dose = with_dose and dose is not None
    notes = [str(n) for n in ((ingredient or {}).get("note"), herb.get("preparation"), herb.get("dose_note")) if n]
    if herb.get("substitutes"):
        notes.append(t("replaces a banned ingredient"))
    return TcmHerbDose(
        herb=str(herb["id"]), hanzi=str(herb["hanzi"]), pinyin=str(herb["pinyin"]), latin=str(herb["latin"]),
        english=str(herb["english"]), dose_g=(float(dose[0]), float(dose[1])) if with_dose else None, role=role,
        note=tjoin("; ", notes), unverified=bool(herb.get("unverified", False)),
    )


def _triggered_modifications(pattern: Mapping[str, Any], case: Case, inputs: TcmInputs,
                             tcm: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], Any]]:
    found = []
    for mod in tcm["modifications"]:
        if "patterns" in mod and pattern["id"] not in mod["patterns"]:
            continue
        observed = next((o for o in (match(w, case, inputs) for w in mod["when"]) if o is not None), None)
        if observed is not None:
            found.append((mod, observed))
    return found


def _modification(mod: Mapping[str, Any], observed: Any, present: set[str], ctx: SafetyContext,
                  tcm: Mapping[str, Any], k: TherapyKnowledge) -> TcmModification | None:
    added = [h for h in mod["add"] if h not in present]
    if not added:
        return None  # the formula already holds these herbs
    cautions = check_items([k.items[h] for h in added], ctx, k.safety_doc, general_child_caution=False)
    names = tjoin(", ", (k.items[h].name for h in added))
    return TcmModification(
        statement=t("{statement}: add {names}", statement=mod['statement'], names=names),
        add=tuple(k.added[h] for h in added),
        evidence=(Evidence(statement=observed.statement, source_ref=observed.source_ref),
                  Evidence(statement=str(mod["statement"]), rule=str(mod["id"]), citation=citation(tcm["sources"], mod))),
        cautions=cautions,
        proposed=not contraindicated(cautions),
    )
