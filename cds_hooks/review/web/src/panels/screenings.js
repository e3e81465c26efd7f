import { evidenceList, h, panel } from "../dom.js";

export function screeningsPanel(record) {
  const items = record.assessment.screenings || [];
  return panel("screenings", "Screening", { feedbackSection: "screenings" },
    items.length ? h("ul", { class: "screenings" }, items.map((s) => h("li", {},
      h("span", { class: `badge ${s.due ? "caution" : "ok"}` }, s.due ? "Due" : "Not due"), " ",
      h("strong", {}, s.display), `: ${s.action}`,
      evidenceList(s.evidence, "")))) : h("p", { class: "muted" }, "No screening recommendations."),
  );
}
