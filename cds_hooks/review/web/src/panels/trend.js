import { fmt, h, panel, s, shortDate } from "../dom.js";
import { t } from "../i18n.js";

const SERIES = [
  { key: "pasi", label: "PASI", max: 72 },
  { key: "bsa_percent", label: "BSA (%)", max: 100 },
  { key: "dlqi", label: "DLQI", max: 30 },
];
const W = 360, H = 170, PAD = { l: 36, r: 12, t: 12, b: 30 };

// Small multiples (one chart per measure, each with its own scale), inline SVG with a data table
// alternative; the PASI chart adds today's AI estimate as a hollow marker.
export function trendPanel(record) {
  const history = record.history || {};
  const pasi = record.assessment.representation && record.assessment.representation.pasi;
  const charts = SERIES.map((series) => {
    const points = (history[series.key] || []).map((p) => ({ date: new Date(p.date), value: Number(p.value), ref: p.ref }));
    const estimate = series.key === "pasi" && pasi ? { date: new Date(record.assessment.as_of), value: pasi.value } : null;
    return chart(series, points, estimate);
  });
  return panel("trend", t("Trend over visits"), { feedbackSection: "trend" }, h("div", { class: "charts" }, charts));
}

function chart(series, points, estimate) {
  const id = `trend-${series.key}`;
  const all = estimate ? [...points, estimate] : points;
  if (!all.length) {
    return h("figure", { class: "chart" }, h("figcaption", {}, series.label), h("p", { class: "muted" }, t("No values recorded.")));
  }
  const times = all.map((p) => p.date.getTime());
  const t0 = Math.min(...times), t1 = Math.max(...times);
  const vmax = niceMax(Math.max(...all.map((p) => p.value)), series.max);
  const x = (t) => PAD.l + (t1 === t0 ? (W - PAD.l - PAD.r) / 2 : ((t - t0) / (t1 - t0)) * (W - PAD.l - PAD.r));
  const y = (v) => H - PAD.b - (v / vmax) * (H - PAD.t - PAD.b);
  const ticks = [0, vmax / 2, vmax];
  const description = points.map((p) => `${shortDate(p.date.toISOString())}: ${fmt(p.value)}`).join("; ")
    + (estimate ? t("; AI estimate today {value}", { value: fmt(estimate.value) }) : "");
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": `${id}-title ${id}-desc`, class: "chart-svg", focusable: "false" },
    s("title", { id: `${id}-title` }, t("{measure} over visits", { measure: series.label })),
    s("desc", { id: `${id}-desc` }, description),
    ticks.map((v) => s("g", {},
      s("line", { x1: PAD.l, x2: W - PAD.r, y1: y(v), y2: y(v), class: "grid" }),
      s("text", { x: PAD.l - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" }, Number.isInteger(v) ? String(v) : fmt(v, 1)))),
    points.length > 1 ? s("polyline", { points: points.map((p) => `${x(p.date.getTime())},${y(p.value)}`).join(" "), class: "line" }) : null,
    points.map((p) => s("circle", { cx: x(p.date.getTime()), cy: y(p.value), r: 4, class: "point" },
      s("title", {}, `${shortDate(p.date.toISOString())}: ${fmt(p.value)}`))),
    estimate ? s("circle", { cx: x(estimate.date.getTime()), cy: y(estimate.value), r: 5, class: "estimate" },
      s("title", {}, t("AI estimate: {value}", { value: fmt(estimate.value) }))) : null,
    points.length ? [points[0], points[points.length - 1]].filter((p, i, arr) => i === 0 || p !== arr[0]).map((p, i) =>
      s("text", { x: x(p.date.getTime()), y: H - 10, "text-anchor": i === 0 && points.length > 1 ? "start" : "end", class: "tick" }, shortDate(p.date.toISOString()))) : null,
  );
  const table = h("details", {}, h("summary", {}, t("{measure}: values", { measure: series.label })),
    h("table", { class: "compact" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("Date")), h("th", { scope: "col" }, series.label), h("th", { scope: "col" }, t("Source")))),
      h("tbody", {},
        points.map((p) => h("tr", {}, h("td", {}, shortDate(p.date.toISOString())), h("td", {}, fmt(p.value)), h("td", {}, p.ref || ""))),
        estimate ? h("tr", {}, h("td", {}, shortDate(estimate.date.toISOString())), h("td", {}, fmt(estimate.value)), h("td", {}, t("AI estimate from photographs"))) : null)));
  return h("figure", { class: "chart" }, h("figcaption", {}, series.label, estimate ? h("span", { class: "legend" }, t(" \u25CB = AI estimate")) : null), svg, table);
}

function niceMax(value, cap) {
  const steps = [4, 10, 20, 30, 40, 50, 60, 72, 80, 100];
  return Math.min(cap, steps.find((step) => step >= value * 1.1) || cap);
}
