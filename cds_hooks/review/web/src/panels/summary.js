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
    issues.length ? h("div", { class: "issues", role: "note", "aria-label": "Data quality issues" },
      h("h3", {}, "Data issues"),
      h("ul", {}, issues.map((i) => h("li", {}, i.message, i.source_ref ? h("span", { class: "source" }, ` (${i.source_ref})`) : null))),
    ) : null,
  );
}
