"""For the closing note of issue 11: each finding of the clinical review, the vignette that
re-creates its input, and what the service answers now (card summaries, indicators, the draft
CarePlan's treatments). Runs the same service path as the tests.

    PYTHONPATH=$PWD python -m tests.clinical.review_note > review-note.md
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from cds_hooks.card_text import word_count

from .expect import activity_label

# Review finding -> vignette ids that re-create its input.
FINDINGS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Wrong disease: eczema chart (BSA 6, DLQI 11) -> 'Severe psoriasis; oral systemic'", ("profile-eczema", "eczema")),
    ("Wrong disease: tinea chart with photos -> 'Mild psoriasis; topical corticosteroid'", ("profile-tinea", "tinea")),
    ("Wrong disease: one photo, no diagnosis -> 'Moderate psoriasis; phototherapy'", ("photo-only", "scores-only")),
    ("Pregnancy: apremilast first, no caution; moderate + pregnant -> PUVA", ("profile-pregnancy", "pregnant-moderate")),
    ("Methotrexate with ALT 168 / AST 140 silently dropped; 'before starting'", ("mtx-alt",)),
    ("Active TB on methotrexate: headline 'step: biologic', no hold", ("mtx-active-tb",)),
    ("Erythrodermic (BSA 92%) and GPP read as plaque disease", ("erythrodermic", "gpp")),
    ("Psoriatic arthritis: acitretin/cyclosporine offered, biologics never reached", ("profile-psa", "psa-coded")),
    ("Child of 9: adult ladder, pregnancy check, adult BP cut-off", ("child-9",)),
    ("PASI 28 / BSA 1% / PGA 1 -> 'Severe, oral systemic', not flagged", ("pasi-bsa-conflict",)),
    ("Man with a 'pregnant' Observation gets pregnancy rules", ("man-pregnant",)),
    ("Photos decide severity; wood texture -> 'Clear psoriasis (image PASI ~0)'", ("psoriasis-photos-only", "texture-photo")),
    ("Guideline fidelity: severe -> oral only; moderate -> phototherapy only, topicals dropped", ("plain-severe", "plain-moderate")),
)


def main() -> None:
    from . import conftest  # the same app, keys and signing as the tests
    from .vignettes import VIGNETTES

    class _Factory:
        def mktemp(self, name: str) -> Path:
            return Path(tempfile.mkdtemp(prefix=name))

    client = conftest.signed_client.__wrapped__(_Factory())  # type: ignore[attr-defined]
    by_id = {v.id: v for v in VIGNETTES}
    out = ["| review finding | vignette | derm3r now answers |", "|---|---|---|"]
    longest = 0
    for finding, ids in FINDINGS:
        for vid in ids:
            outcome = client.call(by_id[vid])
            cards = "<br>".join(f"`{c['indicator']}` {c['summary']}" for c in outcome.cards) or "no cards"
            plan = [activity_label(d).split(" | ")[0] for d in outcome.activities() if d.get("kind") in ("MedicationRequest",)
                    or "UVB" in activity_label(d)]
            longest = max([longest, *(word_count(c.get("detail", "")) for c in outcome.cards)])
            text = cards + (f"<br>CarePlan proposes: {', '.join(plan)}" if plan else "<br>no treatment proposed")
            out.append(f"| {finding} | `{vid}` | {text.replace('|', '/')} |")
    out.append("")
    out.append(f"Longest card detail in these answers: {longest} words (limit 150).")
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
