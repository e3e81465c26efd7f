import { h, humanise, panel, pct } from "../dom.js";
import { t } from "../i18n.js";

export function probabilitiesPanel(record) {
  const rep = record.assessment.representation;
  const probs = Object.entries((rep && rep.probabilities) || {}).sort((a, b) => b[1] - a[1]);
  const list = h("ul", { class: "bars" }, probs.map(([key, p]) => {
    const label = `${humanise(key)}: ${pct(p)}`;
    return h("li", {},
      h("span", { class: "bar-label" }, humanise(key)),
      h("span", { class: "bar", role: "img", "aria-label": label }, h("span", { class: "bar-fill", style: null, "data-width": Math.round(p * 100) })),
      h("span", { class: "bar-value" }, pct(p)),
    );
  }));
  // Widths are set from script (CSP forbids inline style attributes in markup).
  for (const fill of list.querySelectorAll(".bar-fill")) fill.style.width = `${fill.dataset.width}%`;
  return panel("probabilities", t("Condition probabilities"), { feedbackSection: "probabilities" },
    probs.length ? list : h("p", { class: "muted" }, t("No usable photograph: no probabilities.")),
    h("div", { class: "caveat", role: "note", "aria-label": t("Calibration caveats") },
      h("h3", {}, t("Read these with care")),
      h("ul", {},
        h("li", {}, t("Probabilities are calibrated on the project's held-out images, which differ from your patients' photographs (lighting, skin tone, camera, body site).")),
        h("li", {}, t("They rank a few conditions the model was trained on; a condition outside that list can still be the right diagnosis.")),
        h("li", {}, t("Image-only diagnosis is unreliable in real-world studies (top-3 accuracy of open models 1.5\u201313.4%). This is not a diagnosis.")),
      )),
  );
}
