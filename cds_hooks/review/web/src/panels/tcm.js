import { evidenceList, h, panel, pct } from "../dom.js";

// TCM syndrome differentiation, labelled integrative: the guideline makes no recommendation on TCM,
// so it is shown beside, never instead of, guideline care, with the evidence against each pattern.
// For each pattern: Chinese name and pinyin, standard codes, pathogenesis, treatment principle, the
// formula options with composition (hanzi, pinyin, Latin name, daily dose), modifications keyed to
// the patient's findings, herb-safety cautions next to the formula they concern, formulas withheld as
// contraindicated (with the reason), patent medicines and external treatments.

const ROLE = { sovereign: "sovereign 君", minister: "minister 臣", assistant: "assistant 佐", envoy: "envoy 使",
  added: "added", ingredient: "ingredient" };

function dose(herb) {
  return herb.dose_g ? `${herb.dose_g[0]}-${herb.dose_g[1]} g` : "";
}

function cautionList(cautions) {
  if (!cautions || cautions.length === 0) return null;
  return h("ul", { class: "cautions" }, cautions.map((c) =>
    h("li", { class: c.level === "contraindicated" ? "contraindicated" : "caution" },
      h("strong", {}, c.level === "contraindicated" ? "Contraindicated: " : "Caution: "), c.statement,
      evidenceList(c.evidence))));
}

function compositionTable(herbs) {
  return h("table", { class: "composition" },
    h("thead", {}, h("tr", {}, ["Herb", "Pinyin", "Pharmaceutical name", "Daily dose", "Role", "Note"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, herbs.map((herb) => h("tr", {},
      h("td", { lang: "zh-CN" }, herb.hanzi), h("td", {}, herb.pinyin), h("td", {}, h("i", {}, herb.latin), ` (${herb.english})`),
      h("td", {}, dose(herb)), h("td", {}, ROLE[herb.role] || herb.role),
      h("td", {}, [herb.note, herb.unverified ? "not checked against the Pharmacopoeia" : null].filter(Boolean).join("; "))))));
}

function formulaBlock(f) {
  const title = `${f.pinyin} `;
  return h("div", { class: f.proposed ? "formula" : "formula withheld" },
    h("h5", {}, title, h("span", { lang: "zh-CN" }, f.hanzi), ` (${f.english})`,
      f.proposed ? null : h("strong", {}, " - not proposed for this patient")),
    f.origin ? h("p", { class: "muted" }, `Origin: ${f.origin}`) : null,
    f.substitution ? h("p", {}, h("strong", {}, "Substitution: "), f.substitution) : null,
    cautionList(f.cautions),
    compositionTable(f.composition),
    f.modifications && f.modifications.length ? h("div", {}, h("h6", {}, "Modifications for this patient's findings"),
      h("ul", {}, f.modifications.map((m) => h("li", {}, m.statement, m.proposed ? null : h("strong", {}, " (not advised)"),
        cautionList(m.cautions), evidenceList(m.evidence))))) : null,
    f.note ? h("p", { class: "muted" }, f.note) : null,
    f.unverified ? h("p", { class: "muted" }, `Unverified: ${f.unverified_note || "not checked against the source"}`) : null,
    h("p", { class: "citation" }, `Source: ${f.citation}`),
  );
}

function patternBody(p) {
  const body = [];
  if (p.urgent_note) body.push(h("p", { class: "urgent", role: "alert" }, p.urgent_note));
  if (p.codes && p.codes.length) {
    body.push(h("p", { class: "muted" }, "Codes: ", p.codes.map((c) =>
      `${c.display} [${c.system}${c.code ? ` ${c.code}` : ""}${c.verified ? "" : ", unverified"}${c.equivalence === "broader" ? ", broader concept, not equivalent" : ""}]`).join("; ")));
  }
  if (p.pathogenesis) {
    body.push(h("p", {}, h("strong", {}, "Pathogenesis: "), p.pathogenesis, " ",
      h("span", { lang: "zh-CN" }, p.pathogenesis_hanzi)));
  }
  body.push(h("p", {}, h("strong", {}, "Treatment principle: "), p.principle_detail || p.treatment_principle,
    p.principle_hanzi ? h("span", {}, " ", h("span", { lang: "zh-CN" }, p.principle_hanzi), ` (${p.principle_pinyin})`) : null));
  if (p.formula_options && p.formula_options.length) {
    body.push(h("h4", {}, "Formulas"), p.formula_options.map(formulaBlock));
  } else {
    body.push(h("p", {}, h("strong", {}, "Classic formulas: "), p.formulas.join("; ") || "none listed"));
  }
  if (p.patent_medicines && p.patent_medicines.length) {
    body.push(h("h4", {}, "Chinese patent medicines"), h("ul", {}, p.patent_medicines.map((m) => h("li", {},
      `${m.pinyin} `, h("span", { lang: "zh-CN" }, m.hanzi), ` (${m.english})`,
      m.proposed ? null : h("strong", {}, " - not proposed for this patient"),
      `; key herbs: ${m.composition.map((x) => `${x.hanzi} ${x.pinyin}`).join(", ")}`,
      m.note ? `; ${m.note}` : null, cautionList(m.cautions),
      m.unverified ? h("span", { class: "muted" }, ` Unverified: ${m.unverified_note}`) : null))));
  }
  if (p.external_treatments && p.external_treatments.length) {
    body.push(h("h4", {}, "External treatments"), h("ul", {}, p.external_treatments.map((e) => h("li", {},
      h("span", { lang: "zh-CN" }, e.hanzi), ` ${e.pinyin} (${e.english}): ${e.use}`,
      e.unverified ? h("span", { class: "muted" }, " (unverified)") : null))));
  }
  body.push(h("div", { class: "for-against" },
    h("div", {}, h("h4", {}, "Evidence for"), evidenceList(p.evidence_for)),
    h("div", {}, h("h4", {}, "Evidence against"), evidenceList(p.evidence_against))));
  return body;
}

export function tcmPanel(record) {
  const tcm = record.assessment.tcm;
  const title = "TCM differentiation (integrative)";
  if (!tcm) return panel("tcm", title, { feedbackSection: "tcm" }, h("p", { class: "muted" }, "Not enough findings for a TCM differentiation."));
  const patterns = tcm.ranked.map((p, i) => {
    const primary = tcm.primary && p.pattern === tcm.primary.pattern;
    const name = p.hanzi ? [p.display, " ", h("span", { lang: "zh-CN" }, p.hanzi), ` (${p.pinyin})`] : [p.display];
    const label = [...name, `: support ${pct(p.score)}${p.tier === "extra" ? ", lower-evidence pattern" : ""}${primary ? " (primary)" : ""}`];
    return h("details", { class: "pattern", open: primary || i === 0 },
      h("summary", {}, h("h3", { class: "pattern-title" }, label)), ...patternBody(p));
  });
  return panel("tcm", title, { feedbackSection: "tcm" },
    h("p", { class: "integrative", role: "note" },
      /^integrative/i.test(tcm.note || "") ? null : h("strong", {}, "Integrative medicine. "), tcm.note),
    h("p", {}, `Confidence in this differentiation: ${pct(tcm.confidence)}. Source: ${tcm.citation}.`),
    tcm.safety_basis && tcm.safety_basis.length
      ? h("div", {}, h("h3", {}, "Herb safety was checked against"), evidenceList(tcm.safety_basis)) : null,
    patterns,
  );
}
