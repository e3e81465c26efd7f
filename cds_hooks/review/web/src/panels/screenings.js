import { evidenceList, h, panel } from "../dom.js";
import { t } from "../i18n.js";

export function screeningsPanel(record) {
  const items = record.assessment.screenings || [];
  return panel("screenings", t("Screening"), { feedbackSection: "screenings" },
    items.length ? h("ul", { class: "screenings" }, items.map((s) => h("li", {},
      h("span", { class: `badge ${s.due ? "caution" : "ok"}` }, s.due ? t("Due") : t("Not due")), " ",
      h("strong", {}, s.display), t(": {action}", { action: s.action }),
      evidenceList(s.evidence, "")))) : h("p", { class: "muted" }, t("No screening recommendations.")),
  );
}
