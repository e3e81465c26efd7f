import { evidenceList, h, humanise, panel } from "../dom.js";

// The treatment-ladder step and its options, each with the contraindication checks run against the
// patient's record and the checks due before starting it.
export function treatmentPanel(record) {
  const t = record.assessment.treatment;
  if (!t) return panel("treatment", "Treatment ladder", { feedbackSection: "treatment" }, h("p", { class: "muted" }, "No treatment step proposed."));
  const rows = t.options.map((o) => {
    const absolute = o.contraindications.filter((c) => c.absolute);
    const relative = o.contraindications.filter((c) => !c.absolute);
    const status = absolute.length ? h("span", { class: "badge danger" }, "Contraindicated")
      : relative.length ? h("span", { class: "badge caution" }, "Use with caution") : h("span", { class: "badge ok" }, "No contraindication found");
    return h("tr", {},
      h("th", { scope: "row" }, o.display),
      h("td", {}, humanise(o.therapy_class)),
      h("td", {}, status,
        o.contraindications.length ? h("ul", { class: "evidence" }, o.contraindications.map((c) => h("li", {},
          `${c.absolute ? "Absolute" : "Relative"}: ${c.reason}`,
          c.evidence.map((e) => h("span", { class: "source" }, ` (${[e.source_ref, e.citation].filter(Boolean).join("; ")})`)),
        ))) : null),
      h("td", {}, o.pre_treatment_checks.length ? h("ul", {}, o.pre_treatment_checks.map((c) => h("li", {}, c))) : h("span", { class: "muted" }, "None")),
    );
  });
  return panel("treatment", "Treatment ladder", { feedbackSection: "treatment" },
    h("p", {}, h("strong", {}, "Proposed step: "), t.step_display),
    h("h3", {}, "Why this step"),
    evidenceList(t.rationale),
    h("div", { class: "table-scroll", tabindex: "0", role: "region", "aria-labelledby": "treatment-caption" },
      h("table", {},
        h("caption", { id: "treatment-caption" }, "Options at this step and contraindication checks"),
        h("thead", {}, h("tr", {}, ["Option", "Class", "Contraindications", "Before starting"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, rows))),
  );
}
