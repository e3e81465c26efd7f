import { evidenceList, h, humanise, panel } from "../dom.js";
import { t } from "../i18n.js";

// The treatment-ladder step and its options, each with the contraindication checks run against the
// patient's record and the checks due before starting it.
export function treatmentPanel(record) {
  const step = record.assessment.treatment;
  if (!step) return panel("treatment", t("Treatment ladder"), { feedbackSection: "treatment" }, h("p", { class: "muted" }, t("No treatment step proposed.")));
  const rows = step.options.map((o) => {
    const absolute = o.contraindications.filter((c) => c.absolute);
    const relative = o.contraindications.filter((c) => !c.absolute);
    const status = absolute.length ? h("span", { class: "badge danger" }, t("Contraindicated"))
      : relative.length ? h("span", { class: "badge caution" }, t("Use with caution")) : h("span", { class: "badge ok" }, t("No contraindication found"));
    return h("tr", {},
      h("th", { scope: "row" }, o.display),
      h("td", {}, humanise(o.therapy_class)),
      h("td", {}, status,
        o.contraindications.length ? h("ul", { class: "evidence" }, o.contraindications.map((c) => h("li", {},
          c.absolute ? t("Absolute: {reason}", { reason: c.reason }) : t("Relative: {reason}", { reason: c.reason }),
          c.evidence.map((e) => h("span", { class: "source" }, ` (${[e.source_ref, e.citation].filter(Boolean).join("; ")})`)),
        ))) : null),
      h("td", {}, o.pre_treatment_checks.length ? h("ul", {}, o.pre_treatment_checks.map((c) => h("li", {}, c))) : h("span", { class: "muted" }, t("None"))),
    );
  });
  return panel("treatment", t("Treatment ladder"), { feedbackSection: "treatment" },
    h("p", {}, h("strong", {}, t("Proposed step: ")), step.step_display),
    h("h3", {}, t("Why this step")),
    evidenceList(step.rationale),
    h("div", { class: "table-scroll", tabindex: "0", role: "region", "aria-labelledby": "treatment-caption" },
      h("table", {},
        h("caption", { id: "treatment-caption" }, t("Options at this step and contraindication checks")),
        h("thead", {}, h("tr", {}, [t("Option"), t("Class"), t("Contraindications"), t("Before starting")].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, rows))),
  );
}
