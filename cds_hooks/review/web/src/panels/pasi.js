import { evidenceList, fmt, h, humanise, panel, pct } from "../dom.js";
import { t } from "../i18n.js";

const WEIGHTS = { head: 0.1, upper_limbs: 0.2, trunk: 0.3, lower_limbs: 0.4 };
const AREA_BANDS = ["0%", "<10%", "10-29%", "30-49%", "50-69%", "70-89%", "90-100%"];

// Per-region PASI components estimated from the photographs, and the total against the
// clinician-entered PASI (which, when present, is the value of record).
export function pasiPanel(record) {
  const rep = record.assessment.representation;
  const pasi = rep && rep.pasi;
  if (!rep || !pasi) {
    return panel("pasi", t("PASI by region"), { feedbackSection: "pasi" }, h("p", { class: "muted" }, t("No usable photograph: PASI was not estimated.")));
  }
  const byRegion = new Map(rep.regions.map((r) => [r.region, r]));
  const rows = Object.keys(WEIGHTS).map((region) => {
    const r = byRegion.get(region);
    if (!r) {
      return h("tr", {}, h("th", { scope: "row" }, humanise(region)), h("td", {}, WEIGHTS[region]),
        h("td", { colspan: "6", class: "muted" }, t("Not photographed")));
    }
    const contribution = WEIGHTS[region] * (r.erythema + r.induration + r.desquamation) * r.area_score;
    return h("tr", {},
      h("th", { scope: "row" }, humanise(region)),
      h("td", {}, WEIGHTS[region]),
      h("td", {}, fmt(r.erythema)), h("td", {}, fmt(r.induration)), h("td", {}, fmt(r.desquamation)),
      h("td", {}, t("{score} ({band}; est. {estimate})", { score: r.area_score, band: AREA_BANDS[r.area_score] || "?", estimate: pct(r.area_fraction) })),
      h("td", {}, fmt(contribution)),
      h("td", {}, pct(r.confidence)),
    );
  });
  const clinician = pasi.clinician_value != null
    ? `${fmt(pasi.clinician_value)}${pasi.clinician_ref ? ` (${pasi.clinician_ref})` : ""}`
    : t("Not recorded");
  return panel("pasi", t("PASI by region"), {
    feedbackSection: "pasi",
    intro: t("Estimated from the photographs (E, I, D 0-4; area score 0-6). A clinician-entered PASI is the value of record; the estimate is for comparison."),
  },
  h("div", { class: "table-scroll", tabindex: "0", role: "region", "aria-labelledby": "pasi-table-caption" },
    h("table", {},
      h("caption", { id: "pasi-table-caption" }, t("Per-region PASI components: estimate from photographs")),
      h("thead", {}, h("tr", {}, [t("Region"), t("Weight"), t("Erythema"), t("Induration"), t("Desquamation"), t("Area score"), t("Region PASI"), t("Confidence")].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows),
      h("tfoot", {},
        h("tr", {}, h("th", { scope: "row", colspan: "6" }, t("Total PASI: estimate (range)")),
          h("td", { colspan: "2" }, `${fmt(pasi.value)} (${fmt(pasi.low)}\u2013${fmt(pasi.high)})`)),
        h("tr", {}, h("th", { scope: "row", colspan: "6" }, t("Total PASI: clinician-entered")), h("td", { colspan: "2" }, clinician)),
        pasi.discrepancy != null ? h("tr", {}, h("th", { scope: "row", colspan: "6" }, t("Estimate minus clinician")),
          h("td", { colspan: "2" }, `${pasi.discrepancy > 0 ? "+" : ""}${fmt(pasi.discrepancy)}`)) : null,
      ),
    )),
  h("p", { class: "muted" }, t("Clinician PASI is recorded as a total; per-region clinician scores are not part of the record.")),
  h("h3", {}, t("Notes on the estimate")),
  evidenceList(pasi.evidence),
  );
}
