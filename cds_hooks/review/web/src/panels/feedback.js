import { h, panel } from "../dom.js";
import { t } from "../i18n.js";

function sections() {
  return {
    overall: t("The assessment overall"), photos: t("Photograph measurements"), pasi: t("PASI by region"),
    probabilities: t("Condition probabilities"), severity: t("Severity"), treatment: t("Treatment ladder"),
    tcm: t("TCM differentiation"), screenings: t("Screening"), trend: t("Trend"), careplan: t("Draft care plan"),
  };
}

// Why a clinician disagrees: the codes come from the service (config.json); their labels are here.
function reasonLabels() {
  return {
    "severity-wrong": t("Severity assessment is wrong"),
    "measurement-wrong": t("Photo measurements (PASI, area, redness, scale) are wrong"),
    "diagnosis-wrong": t("Condition probabilities are misleading"),
    "treatment-inappropriate": t("Treatment step or option is inappropriate"),
    "contraindication-missed": t("A contraindication was missed"),
    "tcm-disagree": t("Disagree with the TCM differentiation"),
    other: t("Other"),
  };
}

// Record disagreement: filed as CDS Hooks feedback (outcome "overridden") on the assessment card.
export function feedbackPanel(record, api, config, announce) {
  const SECTIONS = sections();
  const REASONS = reasonLabels();
  const section = h("select", { id: "fb-section" },
    Object.entries(SECTIONS).map(([value, label]) => h("option", { value }, label)));
  const reason = h("select", { id: "fb-reason", required: true },
    Object.entries(config.overrideReasons || {}).map(([value, label]) => h("option", { value }, REASONS[value] || label)));
  const comment = h("textarea", { id: "fb-comment", rows: "3", maxlength: "2000" });
  const result = h("div", { id: "fb-result", role: "status", "aria-live": "polite", tabindex: "-1" });
  const submit = h("button", { type: "submit", id: "fb-submit" }, t("Record disagreement"));
  const form = h("form", { id: "feedback-form" },
    h("div", { class: "field" }, h("label", { for: section.id }, t("Which part")), section),
    h("div", { class: "field" }, h("label", { for: reason.id }, t("Reason")), reason),
    h("div", { class: "field" }, h("label", { for: comment.id }, t("What you found (optional; kept with the feedback)")), comment),
    h("div", { class: "actions" }, submit),
    result,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    result.className = "";
    try {
      await api.feedback(record.id, { outcome: "overridden", section: section.value, reason: reason.value, comment: comment.value.trim() });
      result.className = "success";
      result.textContent = t("Disagreement recorded ({section}). Thank you.", { section: SECTIONS[section.value] });
      announce(t("Disagreement recorded."));
      comment.value = "";
    } catch (err) {
      result.className = "error";
      result.textContent = t("Not recorded: {error}", { error: err.message });
    }
    submit.disabled = false;
    result.focus();
  });
  return panel("feedback", t("Disagree with the assessment"), {
    intro: t("Your disagreement is stored with this assessment to improve the service. It does not change the record."),
  }, form);
}

// "Disagree…" buttons in each panel jump here with the section chosen.
export function wireDisagreeButtons(root) {
  root.addEventListener("click", (event) => {
    const button = event.target.closest("[data-feedback-section]");
    if (!button) return;
    const select = document.getElementById("fb-section");
    select.value = button.dataset.feedbackSection;
    document.getElementById("feedback").scrollIntoView({ block: "start" });
    document.getElementById("fb-reason").focus();
  });
}
