import { evidenceList, fmt, h, humanise, panel, pct } from "../dom.js";

const WEIGHTS = { head: 0.1, upper_limbs: 0.2, trunk: 0.3, lower_limbs: 0.4 };
const AREA_BANDS = ["0%", "<10%", "10-29%", "30-49%", "50-69%", "70-89%", "90-100%"];

// Per-region PASI components estimated from the photographs, and the total against the
// clinician-entered PASI (which, when present, is the value of record).
export function pasiPanel(record) {
  const rep = record.assessment.representation;
  const pasi = rep && rep.pasi;
  if (!rep || !pasi) {
    return panel("pasi", "PASI by region", { feedbackSection: "pasi" }, h("p", { class: "muted" }, "No usable photograph: PASI was not estimated."));
  }
  const byRegion = new Map(rep.regions.map((r) => [r.region, r]));
  const rows = Object.keys(WEIGHTS).map((region) => {
    const r = byRegion.get(region);
    if (!r) {
      return h("tr", {}, h("th", { scope: "row" }, humanise(region)), h("td", {}, WEIGHTS[region]),
        h("td", { colspan: "6", class: "muted" }, "Not photographed"));
    }
    const contribution = WEIGHTS[region] * (r.erythema + r.induration + r.desquamation) * r.area_score;
    return h("tr", {},
      h("th", { scope: "row" }, humanise(region)),
      h("td", {}, WEIGHTS[region]),
      h("td", {}, fmt(r.erythema)), h("td", {}, fmt(r.induration)), h("td", {}, fmt(r.desquamation)),
      h("td", {}, `${r.area_score} (${AREA_BANDS[r.area_score] || "?"}; est. ${pct(r.area_fraction)})`),
      h("td", {}, fmt(contribution)),
      h("td", {}, pct(r.confidence)),
    );
  });
  const clinician = pasi.clinician_value != null
    ? `${fmt(pasi.clinician_value)}${pasi.clinician_ref ? ` (${pasi.clinician_ref})` : ""}`
    : "Not recorded";
  return panel("pasi", "PASI by region", {
    feedbackSection: "pasi",
    intro: "Estimated from the photographs (E, I, D 0-4; area score 0-6). A clinician-entered PASI is the value of record; the estimate is for comparison.",
  },
  h("div", { class: "table-scroll", tabindex: "0", role: "region", "aria-labelledby": "pasi-table-caption" },
    h("table", {},
      h("caption", { id: "pasi-table-caption" }, "Per-region PASI components: estimate from photographs"),
      h("thead", {}, h("tr", {}, ["Region", "Weight", "Erythema", "Induration", "Desquamation", "Area score", "Region PASI", "Confidence"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows),
      h("tfoot", {},
        h("tr", {}, h("th", { scope: "row", colspan: "6" }, "Total PASI: estimate (range)"),
          h("td", { colspan: "2" }, `${fmt(pasi.value)} (${fmt(pasi.low)}\u2013${fmt(pasi.high)})`)),
        h("tr", {}, h("th", { scope: "row", colspan: "6" }, "Total PASI: clinician-entered"), h("td", { colspan: "2" }, clinician)),
        pasi.discrepancy != null ? h("tr", {}, h("th", { scope: "row", colspan: "6" }, "Estimate minus clinician"),
          h("td", { colspan: "2" }, `${pasi.discrepancy > 0 ? "+" : ""}${fmt(pasi.discrepancy)}`)) : null,
      ),
    )),
  h("p", { class: "muted" }, "Clinician PASI is recorded as a total; per-region clinician scores are not part of the record."),
  h("h3", {}, "Notes on the estimate"),
  evidenceList(pasi.evidence),
  );
}
