import { evidenceList, h, humanise, panel, shortDate } from "../dom.js";

export function summaryPanel(record) {
  const a = record.assessment;
  const rep = a.representation;
  const issues = [...(a.issues || []), ...((rep && rep.issues) || [])];
  const trend = rep && rep.trend;
  return panel("summary", "Summary", { feedbackSection: "severity" },
    h("p", { class: "summary-line" }, a.summary),
    h("dl", { class: "facts" },
      h("dt", {}, "Severity"),
      h("dd", {}, h("span", { class: `badge severity-${a.severity.level}` }, humanise(a.severity.level)),
        a.severity.systemic_candidate ? " \u2014 candidate for systemic therapy" : ""),
      h("dt", {}, "Trend"),
      h("dd", {}, trend ? `${humanise(trend.direction)}${trend.percent_change != null ? ` (${trend.percent_change > 0 ? "+" : ""}${Number(trend.percent_change).toFixed(0)}% since ${shortDate(trend.baseline_date)})` : ""}` : "Unknown"),
      h("dt", {}, "Follow-up"),
      h("dd", {}, a.follow_up ? `In ${a.follow_up.interval_weeks} weeks; targets: ${a.follow_up.targets.join("; ") || "none"}` : "Not set"),
      h("dt", {}, "Assessed"),
      h("dd", {}, `${shortDate(a.as_of)} (model and knowledge versions at the foot of the page)`),
    ),
    h("h3", {}, "Why this severity"),
    evidenceList(a.severity.basis),
    recordUsed(record),
    issues.length ? h("div", { class: "issues", role: "note", "aria-label": "Data quality issues" },
      h("h3", {}, "Data issues"),
      h("ul", {}, issues.map((i) => h("li", {}, i.message, i.source_ref ? h("span", { class: "source" }, ` (${i.source_ref})`) : null))),
    ) : null,
  );
}

// The conditions and medications the reasoning saw (contraindications are checked against these).
function recordUsed(record) {
  const conditions = (record.conditions || []).filter((c) => c.active);
  const medications = (record.medications || []).filter((m) => m.active);
  if (!conditions.length && !medications.length) return null;
  const item = (x) => h("li", {}, x.display, h("span", { class: "source" }, ` (${x.ref})`));
  return h("details", { class: "record-used" },
    h("summary", {}, `Record used: ${conditions.length} active condition(s), ${medications.length} active medication(s)`),
    conditions.length ? [h("h3", {}, "Conditions"), h("ul", { class: "evidence" }, conditions.map(item))] : null,
    medications.length ? [h("h3", {}, "Medications"), h("ul", { class: "evidence" }, medications.map(item))] : null,
  );
}
