"""The text of the CarePlan's integrative TCM activity: the pattern with its Chinese name, pathogenesis,
treatment principle, the proposed formula with its composition (hanzi, Latin name, daily dose range),
modifications keyed to findings, the herb-safety cautions next to the formula they concern, formulas
withheld as contraindicated and why, and the sources. Pure function of the TCM result; the card shows
only `TcmDifferentiation.card_line` / `card_caution`, this carries the detail into the EHR.
"""

from __future__ import annotations

import re

from inference.results import TcmDifferentiation, TcmFormula, TcmHerbDose, TcmModification
from inference.i18n import localize, t, tjoin


def _dose(h: TcmHerbDose) -> str:
    dose = t(" {dose_g:g}-{dose_g2:g} g", dose_g=h.dose_g[0], dose_g2=h.dose_g[1]) if h.dose_g else ""
    return t("{hanzi} {pinyin} ({latin}){dose}", hanzi=h.hanzi, pinyin=h.pinyin, latin=h.latin, dose=dose)


def _formula(f: TcmFormula) -> str:
    text = t("{pinyin} {hanzi} ({english}): {herbs}.", pinyin=f.pinyin, hanzi=f.hanzi, english=f.english, herbs=tjoin(", ", [_dose(h) for h in f.composition]))
    if f.substitution:
        text += t(" {substitution}", substitution=f.substitution)
    return text


def _modification(m: TcmModification) -> str:
    names = tjoin(", ", (_dose(h) for h in m.add))
    reason = re.split("[:：]", localize(m.statement), maxsplit=1)[0]  # the finding, without the why
    if not m.proposed:
        return t("{reason}: not advised ({items})", reason=reason, items=tjoin("; ", (c.statement for c in m.cautions if c.level == 'contraindicated')))
    return t("{reason}: add {names}", reason=reason, names=names)


def tcm_activity_text(tcm: TcmDifferentiation, prefix: str, sources: str | None = None) -> str:
    """Plain text for CarePlan.activity.detail.description (the caller clips it to the EHR's limit).
    `sources`: the citations as the caller renders them for clinicians (default: the raw citation)."""
    p = tcm.primary
    if p is None:
        return t("{prefix} No TCM pattern is supported well enough to name.", prefix=prefix)
    parts = [
        prefix,
        t("Pattern: {display} {hanzi} ({pinyin}), support {score:.2f}, overall confidence {confidence:.2f}.", display=p.display, hanzi=p.hanzi, pinyin=p.pinyin, score=p.score, confidence=tcm.confidence),
    ]
    if p.urgent_note:
        parts.append(p.urgent_note)
    if p.pathogenesis:
        parts.append(t("Pathogenesis: {pathogenesis}", pathogenesis=p.pathogenesis))
    parts.append(t("Treatment principle: {value}", value=p.principle_detail or p.treatment_principle)
                 + (t(" ({principle_hanzi}).", principle_hanzi=p.principle_hanzi) if p.principle_hanzi else "."))
    proposed = [f for f in p.formula_options if f.proposed]
    withheld = [f for f in p.formula_options if not f.proposed]
    if proposed:
        first = proposed[0]
        parts.append(t("Formula: {formula}", formula=_formula(first)))
        mods = [_modification(m) for m in first.modifications]
        if mods:
            parts.append(t("Modifications: {items}.", items=tjoin("; ", mods)))
        if first.cautions:
            parts.append(t("Cautions: {items}.", items=tjoin("; ", [t("[{level}] {statement}", level=c.level, statement=c.statement) for c in first.cautions])))
        if len(proposed) > 1:
            parts.append(t("Alternative: {items}.", items=tjoin("; ", [t("{pinyin} {hanzi}", pinyin=f.pinyin, hanzi=f.hanzi) for f in proposed[1:]])))
    elif not p.formula_options:
        parts.append(t("Classic formulas: {items}.", items=tjoin(", ", p.formulas) or t("none listed")))
    else:
        parts.append(t("No formula proposed: every option is contraindicated for this patient."))
    for f in withheld:
        reasons = tjoin("; ", (c.statement for c in f.cautions if c.level == "contraindicated"))
        parts.append(t("Not proposed: {pinyin} {hanzi} ({reasons}).", pinyin=f.pinyin, hanzi=f.hanzi, reasons=reasons))
    parts.append(t("Doses are usual adult daily doses of the Pharmacopoeia; a qualified practitioner writes the prescription."))
    parts.append(t("Source: {value}.", value=sources if sources is not None else tcm.citation))
    return tjoin(" ", parts)


def tcm_reason_codes(tcm: TcmDifferentiation) -> list[dict]:
    """CarePlan.activity.detail.reasonCode for the primary pattern: verified codes that are equivalent
    to it (a broader code would misstate the pattern, so it stays in the review data only)."""
    if tcm.primary is None:
        return []
    codings = [{"system": c.system, "code": c.code, "display": c.display}
               for c in tcm.primary.codes if c.verified and c.code and c.equivalence == "equivalent"]
    if not codings:
        return []
    return [{"coding": codings, "text": t("{display} {hanzi}", display=tcm.primary.display, hanzi=tcm.primary.hanzi).strip()}]
