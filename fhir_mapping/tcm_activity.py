"""The text of the CarePlan's integrative TCM activity: the pattern with its Chinese name, pathogenesis,
treatment principle, the proposed formula with its composition (hanzi, Latin name, daily dose range),
modifications keyed to findings, the herb-safety cautions next to the formula they concern, formulas
withheld as contraindicated and why, and the sources. Pure function of the TCM result; the card shows
only `TcmDifferentiation.card_line` / `card_caution`, this carries the detail into the EHR.
"""

from __future__ import annotations

from inference.results import TcmDifferentiation, TcmFormula, TcmHerbDose, TcmModification


def _dose(h: TcmHerbDose) -> str:
    dose = f" {h.dose_g[0]:g}-{h.dose_g[1]:g} g" if h.dose_g else ""
    return f"{h.hanzi} {h.pinyin} ({h.latin}){dose}"


def _formula(f: TcmFormula) -> str:
    text = f"{f.pinyin} {f.hanzi} ({f.english}): " + ", ".join(_dose(h) for h in f.composition) + "."
    if f.substitution:
        text += f" {f.substitution}"
    return text


def _modification(m: TcmModification) -> str:
    names = ", ".join(_dose(h) for h in m.add)
    reason = m.statement.split(":", 1)[0]
    if not m.proposed:
        return f"{reason}: not advised ({'; '.join(c.statement for c in m.cautions if c.level == 'contraindicated')})"
    return f"{reason}: add {names}"


def tcm_activity_text(tcm: TcmDifferentiation, prefix: str, sources: str | None = None) -> str:
    """Plain text for CarePlan.activity.detail.description (the caller clips it to the EHR's limit).
    `sources`: the citations as the caller renders them for clinicians (default: the raw citation)."""
    p = tcm.primary
    if p is None:
        return f"{prefix} No TCM pattern is supported well enough to name."
    parts = [
        prefix,
        f"Pattern: {p.display} {p.hanzi} ({p.pinyin}), support {p.score:.2f}, overall confidence {tcm.confidence:.2f}.",
    ]
    if p.urgent_note:
        parts.append(p.urgent_note)
    if p.pathogenesis:
        parts.append(f"Pathogenesis: {p.pathogenesis}")
    parts.append(f"Treatment principle: {p.principle_detail or p.treatment_principle}"
                 + (f" ({p.principle_hanzi})." if p.principle_hanzi else "."))
    proposed = [f for f in p.formula_options if f.proposed]
    withheld = [f for f in p.formula_options if not f.proposed]
    if proposed:
        first = proposed[0]
        parts.append("Formula: " + _formula(first))
        mods = [_modification(m) for m in first.modifications]
        if mods:
            parts.append("Modifications: " + "; ".join(mods) + ".")
        if first.cautions:
            parts.append("Cautions: " + "; ".join(f"[{c.level}] {c.statement}" for c in first.cautions) + ".")
        if len(proposed) > 1:
            parts.append("Alternative: " + "; ".join(f"{f.pinyin} {f.hanzi}" for f in proposed[1:]) + ".")
    elif not p.formula_options:
        parts.append("Classic formulas: " + (", ".join(p.formulas) or "none listed") + ".")
    else:
        parts.append("No formula proposed: every option is contraindicated for this patient.")
    for f in withheld:
        reasons = "; ".join(c.statement for c in f.cautions if c.level == "contraindicated")
        parts.append(f"Not proposed: {f.pinyin} {f.hanzi} ({reasons}).")
    parts.append("Doses are usual adult daily doses of the Pharmacopoeia; a qualified practitioner writes the prescription.")
    parts.append(f"Source: {sources if sources is not None else tcm.citation}.")
    return " ".join(parts)


def tcm_reason_codes(tcm: TcmDifferentiation) -> list[dict]:
    """CarePlan.activity.detail.reasonCode for the primary pattern: verified codes that are equivalent
    to it (a broader code would misstate the pattern, so it stays in the review data only)."""
    if tcm.primary is None:
        return []
    codings = [{"system": c.system, "code": c.code, "display": c.display}
               for c in tcm.primary.codes if c.verified and c.code and c.equivalence == "equivalent"]
    if not codings:
        return []
    return [{"coding": codings, "text": f"{tcm.primary.display} {tcm.primary.hanzi}".strip()}]
