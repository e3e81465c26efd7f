import { evidenceList, h, humanise, panel, shortDate } from "../dom.js";
import { t } from "../i18n.js";

export function summaryPanel(record) {
  const a = record.assessment;
  const rep = a.representation;
  const issues = [...(a.issues || []), ...((rep && rep.issues) || [])];
  const trend = rep && rep.trend;
  return panel("summary", t("Summary"), { feedbackSection: "severity" },
    h("p", { class: "summary-line" }, a.summary),
    h("dl", { class: "facts" },
      h("dt", {}, t("Severity")),
      h("dd", {}, h("span", { class: `badge severity-${a.severity.level}` }, humanise(a.severity.level)),
        a.severity.systemic_candidate ? t(" \u2014 candidate for systemic therapy") : ""),
      h("dt", {}, t("Trend")),
      h("dd", {}, trend ? humanise(trend.direction) + (trend.percent_change != null
        ? t(" ({change}% since {date})", { change: `${trend.percent_change > 0 ? "+" : ""}${Number(trend.percent_change).toFixed(0)}`, date: shortDate(trend.baseline_date) })
        : "") : t("Unknown")),
      h("dt", {}, t("Follow-up")),
      h("dd", {}, a.follow_up ? followUp(a.follow_up) : t("Not set")),
      h("dt", {}, t("Assessed")),
      h("dd", {}, t("{date} (model and knowledge versions at the foot of the page)", { date: shortDate(a.as_of) })),
    ),
    h("h3", {}, t("Why this severity")),
    evidenceList(a.severity.basis),
    recordUsed(record),
    issues.length ? h("div", { class: "issues", role: "note", "aria-label": t("Data quality issues") },
      h("h3", {}, t("Data issues")),
      h("ul", {}, issues.map((i) => h("li", {}, i.message, i.source_ref ? h("span", { class: "source" }, ` (${i.source_ref})`) : null))),
    ) : null,
  );
}

function followUp(plan) {
  const none = t("none");
  return t("In {weeks} weeks; targets: {targets}", { weeks: plan.interval_weeks, targets: plan.targets.join("; ") || none });
}

// The conditions and medications the reasoning saw (contraindications are checked against these).
function recordUsed(record) {
  const conditions = (record.conditions || []).filter((c) => c.active);
  const medications = (record.medications || []).filter((m) => m.active);
  if (!conditions.length && !medications.length) return null;
  const item = (x) => h("li", {}, x.display, h("span", { class: "source" }, ` (${x.ref})`));
  return h("details", { class: "record-used" },
    h("summary", {}, t("Record used: {conditions} active condition(s), {medications} active medication(s)", { conditions: conditions.length, medications: medications.length })),
    conditions.length ? [h("h3", {}, t("Conditions")), h("ul", { class: "evidence" }, conditions.map(item))] : null,
    medications.length ? [h("h3", {}, t("Medications")), h("ul", { class: "evidence" }, medications.map(item))] : null,
  );
}
