import { evidenceList, h, panel, pct } from "../dom.js";
import { currentLanguage, t } from "../i18n.js";

// TCM syndrome differentiation, labelled integrative: the guideline makes no recommendation on TCM,
// so it is shown beside, never instead of, guideline care, with the evidence against each pattern.
// For each pattern: Chinese name and pinyin, standard codes, pathogenesis, treatment principle, the
// formula options with composition (hanzi, pinyin, Latin name, daily dose), modifications keyed to
// the patient's findings, herb-safety cautions next to the formula they concern, formulas withheld as
// contraindicated (with the reason), patent medicines and external treatments.

function roles() {
  return { sovereign: t("sovereign 君"), minister: t("minister 臣"), assistant: t("assistant 佐"), envoy: t("envoy 使"),
    added: t("added"), ingredient: t("ingredient") };
}

// The English gloss after a Chinese name and its pinyin: for English readers only (in Chinese the
// name itself is the term).
function gloss(english) {
  return english && currentLanguage() === "en" ? ` (${english})` : "";
}

function dose(herb) {
  return herb.dose_g ? `${herb.dose_g[0]}-${herb.dose_g[1]} g` : "";
}

function cautionList(cautions) {
  if (!cautions || cautions.length === 0) return null;
  return h("ul", { class: "cautions" }, cautions.map((c) =>
    h("li", { class: c.level === "contraindicated" ? "contraindicated" : "caution" },
      h("strong", {}, c.level === "contraindicated" ? t("Contraindicated: ") : t("Caution: ")), c.statement,
      evidenceList(c.evidence))));
}

function compositionTable(herbs) {
  return h("table", { class: "composition" },
    h("thead", {}, h("tr", {}, [t("Herb"), t("Pinyin"), t("Pharmaceutical name"), t("Daily dose"), t("Role"), t("Note")].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, herbs.map((herb) => h("tr", {},
      h("td", { lang: "zh-CN" }, herb.hanzi), h("td", {}, herb.pinyin), h("td", {}, h("i", {}, herb.latin), gloss(herb.english)),
      h("td", {}, dose(herb)), h("td", {}, roles()[herb.role] || herb.role),
      h("td", {}, [herb.note, herb.unverified ? t("not checked against the Pharmacopoeia") : null].filter(Boolean).join("; "))))));
}

function notChecked() {
  return t("not checked against the source");
}

function formulaBlock(f) {
  const title = `${f.pinyin} `;
  return h("div", { class: f.proposed ? "formula" : "formula withheld" },
    h("h5", {}, title, h("span", { lang: "zh-CN" }, f.hanzi), gloss(f.english),
      f.proposed ? null : h("strong", {}, t(" - not proposed for this patient"))),
    f.origin ? h("p", { class: "muted" }, t("Origin: {origin}", { origin: f.origin })) : null,
    f.substitution ? h("p", {}, h("strong", {}, t("Substitution: ")), f.substitution) : null,
    cautionList(f.cautions),
    compositionTable(f.composition),
    f.modifications && f.modifications.length ? h("div", {}, h("h6", {}, t("Modifications for this patient's findings")),
      h("ul", {}, f.modifications.map((m) => h("li", {}, m.statement, m.proposed ? null : h("strong", {}, t(" (not advised)")),
        cautionList(m.cautions), evidenceList(m.evidence))))) : null,
    f.note ? h("p", { class: "muted" }, f.note) : null,
    f.unverified ? h("p", { class: "muted" }, t("Unverified: {note}", { note: f.unverified_note || notChecked() })) : null,
    h("p", { class: "citation" }, t("Source: {citation}", { citation: f.citation })),
  );
}

function patternBody(p) {
  const body = [];
  if (p.urgent_note) body.push(h("p", { class: "urgent", role: "alert" }, p.urgent_note));
  if (p.codes && p.codes.length) {
    const unverified = t(", unverified");
    const broader = t(", broader concept, not equivalent");
    body.push(h("p", { class: "muted" }, t("Codes: "), p.codes.map((c) =>
      `${c.display} [${c.system}${c.code ? ` ${c.code}` : ""}${c.verified ? "" : unverified}${c.equivalence === "broader" ? broader : ""}]`).join("; ")));
  }
  if (p.pathogenesis) {
    body.push(h("p", {}, h("strong", {}, t("Pathogenesis: ")), p.pathogenesis, " ",
      h("span", { lang: "zh-CN" }, p.pathogenesis_hanzi)));
  }
  body.push(h("p", {}, h("strong", {}, t("Treatment principle: ")), p.principle_detail || p.treatment_principle,
    p.principle_hanzi ? h("span", {}, " ", h("span", { lang: "zh-CN" }, p.principle_hanzi), ` (${p.principle_pinyin})`) : null));
  if (p.formula_options && p.formula_options.length) {
    body.push(h("h4", {}, t("Formulas")), p.formula_options.map(formulaBlock));
  } else {
    body.push(h("p", {}, h("strong", {}, t("Classic formulas: ")), p.formulas.join("; ") || t("none listed")));
  }
  if (p.patent_medicines && p.patent_medicines.length) {
    body.push(h("h4", {}, t("Chinese patent medicines")), h("ul", {}, p.patent_medicines.map((m) => h("li", {},
      `${m.pinyin} `, h("span", { lang: "zh-CN" }, m.hanzi), gloss(m.english),
      m.proposed ? null : h("strong", {}, t(" - not proposed for this patient")),
      t("; key herbs: {herbs}", { herbs: m.composition.map((x) => `${x.hanzi} ${x.pinyin}`).join(", ") }),
      m.note ? `; ${m.note}` : null, cautionList(m.cautions),
      m.unverified ? h("span", { class: "muted" }, " " + t("Unverified: {note}", { note: m.unverified_note })) : null))));
  }
  if (p.external_treatments && p.external_treatments.length) {
    body.push(h("h4", {}, t("External treatments")), h("ul", {}, p.external_treatments.map((e) => h("li", {},
      h("span", { lang: "zh-CN" }, e.hanzi), ` ${e.pinyin}${gloss(e.english)}`, t(": {use}", { use: e.use }),
      e.unverified ? h("span", { class: "muted" }, t(" (unverified)")) : null))));
  }
  body.push(h("div", { class: "for-against" },
    h("div", {}, h("h4", {}, t("Evidence for")), evidenceList(p.evidence_for)),
    h("div", {}, h("h4", {}, t("Evidence against")), evidenceList(p.evidence_against))));
  return body;
}

export function tcmPanel(record) {
  const tcm = record.assessment.tcm;
  const title = t("TCM differentiation (integrative)");
  if (!tcm) return panel("tcm", title, { feedbackSection: "tcm" }, h("p", { class: "muted" }, t("Not enough findings for a TCM differentiation.")));
  const patterns = tcm.ranked.map((p, i) => {
    const primary = tcm.primary && p.pattern === tcm.primary.pattern;
    // In Chinese the display already is the Chinese name: shown once, with its pinyin.
    const name = !p.hanzi ? [p.display]
      : p.display === p.hanzi || currentLanguage() !== "en" ? [h("span", { lang: "zh-CN" }, p.hanzi), ` (${p.pinyin})`]
        : [p.display, " ", h("span", { lang: "zh-CN" }, p.hanzi), ` (${p.pinyin})`];
    const label = [...name, t(": support {score}", { score: pct(p.score) }),
      p.tier === "extra" ? t(", lower-evidence pattern") : "", primary ? t(" (primary)") : ""];
    return h("details", { class: "pattern", open: primary || i === 0 },
      h("summary", {}, h("h3", { class: "pattern-title" }, label)), ...patternBody(p));
  });
  return panel("tcm", title, { feedbackSection: "tcm" },
    h("p", { class: "integrative", role: "note" },
      /^integrative|^中西医结合|^整合/i.test(tcm.note || "") ? null : h("strong", {}, t("Integrative medicine. ")), tcm.note),
    h("p", {}, t("Confidence in this differentiation: {confidence}. Source: {citation}.", { confidence: pct(tcm.confidence), citation: tcm.citation })),
    tcm.safety_basis && tcm.safety_basis.length
      ? h("div", {}, h("h3", {}, t("Herb safety was checked against")), evidenceList(tcm.safety_basis)) : null,
    patterns,
  );
}
