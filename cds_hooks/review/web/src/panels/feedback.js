import { h, panel } from "../dom.js";

const SECTIONS = {
  overall: "The assessment overall", photos: "Photograph measurements", pasi: "PASI by region",
  probabilities: "Condition probabilities", severity: "Severity", treatment: "Treatment ladder",
  tcm: "TCM differentiation", screenings: "Screening", trend: "Trend", careplan: "Draft care plan",
};

// Record disagreement: filed as CDS Hooks feedback (outcome "overridden") on the assessment card.
export function feedbackPanel(record, api, config, announce) {
  const section = h("select", { id: "fb-section" },
    Object.entries(SECTIONS).map(([value, label]) => h("option", { value }, label)));
  const reason = h("select", { id: "fb-reason", required: true },
    Object.entries(config.overrideReasons || {}).map(([value, label]) => h("option", { value }, label)));
  const comment = h("textarea", { id: "fb-comment", rows: "3", maxlength: "2000" });
  const result = h("div", { id: "fb-result", role: "status", "aria-live": "polite", tabindex: "-1" });
  const submit = h("button", { type: "submit", id: "fb-submit" }, "Record disagreement");
  const form = h("form", { id: "feedback-form" },
    h("div", { class: "field" }, h("label", { for: section.id }, "Which part"), section),
    h("div", { class: "field" }, h("label", { for: reason.id }, "Reason"), reason),
    h("div", { class: "field" }, h("label", { for: comment.id }, "What you found (optional; kept with the feedback)"), comment),
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
      result.textContent = `Disagreement recorded (${SECTIONS[section.value]}). Thank you.`;
      announce("Disagreement recorded.");
      comment.value = "";
    } catch (err) {
      result.className = "error";
      result.textContent = `Not recorded: ${err.message}`;
    }
    submit.disabled = false;
    result.focus();
  });
  return panel("feedback", "Disagree with the assessment", {
    intro: "Your disagreement is stored with this assessment to improve the service. It does not change the record.",
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
