import { evidenceList, h, panel, pct } from "../dom.js";

// TCM syndrome differentiation, labelled integrative: the guideline makes no recommendation on TCM,
// so it is shown beside, never instead of, guideline care, with the evidence against each pattern.
export function tcmPanel(record) {
  const tcm = record.assessment.tcm;
  const title = "TCM differentiation (integrative)";
  if (!tcm) return panel("tcm", title, { feedbackSection: "tcm" }, h("p", { class: "muted" }, "Not enough findings for a TCM differentiation."));
  const patterns = tcm.ranked.map((p, i) => {
    const primary = tcm.primary && p.pattern === tcm.primary.pattern;
    const body = [
      h("p", {}, h("strong", {}, "Treatment principle: "), p.treatment_principle),
      h("p", {}, h("strong", {}, "Classic formulas: "), p.formulas.join("; ") || "none listed"),
      h("div", { class: "for-against" },
        h("div", {}, h("h4", {}, "Evidence for"), evidenceList(p.evidence_for)),
        h("div", {}, h("h4", {}, "Evidence against"), evidenceList(p.evidence_against))),
    ];
    const label = `${p.display}: support ${pct(p.score)}${primary ? " (primary)" : ""}`;
    return h("details", { class: "pattern", open: primary || i === 0 },
      h("summary", {}, h("h3", { class: "pattern-title" }, label)), ...body);
  });
  return panel("tcm", title, { feedbackSection: "tcm" },
    h("p", { class: "integrative", role: "note" },
      /^integrative/i.test(tcm.note || "") ? null : h("strong", {}, "Integrative medicine. "), tcm.note),
    h("p", {}, `Confidence in this differentiation: ${pct(tcm.confidence)}. Source: ${tcm.citation}.`),
    patterns,
  );
}
