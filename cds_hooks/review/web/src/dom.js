// Tiny DOM helpers. Text always goes in through textContent / text nodes, never innerHTML, because
// everything shown comes from patient records and model output.
import { currentLanguage, t } from "./i18n.js";

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "value") el.value = value;
    else if (key === "checked") el.checked = Boolean(value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// SVG elements need their namespace.
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) el.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function fmt(value, digits = 1) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return t("n/a");
  return Number(value).toFixed(digits);
}

export function pct(value, digits = 0) {
  if (value === null || value === undefined) return t("n/a");
  return `${(Number(value) * 100).toFixed(digits)}%`;
}

export function humanise(key) {
  if (!key) return "";
  const known = words()[key];
  if (known) return known;
  const text = String(key).replace(/[_-]+/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// Labels for the keys the record carries as codes (severity level, body region, image class, trend,
// therapy class, colour, care-plan activity kind); a key not listed is shown humanised.
let wordsCache = null;

function words() {
  if (wordsCache && wordsCache.language === currentLanguage()) return wordsCache.map;
  wordsCache = { language: currentLanguage(), map: wordMap() };
  return wordsCache.map;
}

function wordMap() {
  return {
    clear: t("Clear"), mild: t("Mild"), moderate: t("Moderate"), severe: t("Severe"), unknown: t("Unknown"),
    not_assessed: t("Not assessed"),
    head: t("Head"), upper_limbs: t("Upper limbs"), trunk: t("Trunk"), lower_limbs: t("Lower limbs"),
    psoriasis: t("Psoriasis"), eczema_dermatitis: t("Eczema / dermatitis"), fungal_infection: t("Fungal infection"),
    lichen_planus: t("Lichen planus"), acne_rosacea: t("Acne / rosacea"), urticaria: t("Urticaria"),
    infection: t("Infection"), other: t("Other"), not_skin: t("Not skin"),
    improving: t("Improving"), stable: t("Stable"), worsening: t("Worsening"),
    topical: t("Topical"), phototherapy: t("Phototherapy"), oral_systemic: t("Oral systemic"), biologic: t("Biologic"),
    bright_red: t("Bright red"), pale_red: t("Pale red"), dark_red_purple: t("Dark red / purple"), none: t("None"),
    CarePlan: t("Care plan"), Observation: t("Observation"), MedicationRequest: t("Medication order"),
    ServiceRequest: t("Service request"), Appointment: t("Appointment"), Task: t("Task"),
    NutritionOrder: t("Nutrition order"), CommunicationRequest: t("Communication request"),
    DeviceRequest: t("Device request"), VisionPrescription: t("Vision prescription"),
    RequestGroup: t("Request group"),
  };
}

export function shortDate(iso) {
  if (!iso) return t("undated");
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toISOString().slice(0, 10);
}

// One piece of evidence as a list item: statement, then where it came from. The rule id is an
// internal name: it stays in the record (audit) and on the element for support, never on screen.
export function evidenceItem(ev) {
  const source = ev.source_ref || "";
  return h("li", ev.rule ? { "data-rule": ev.rule } : {},
    ev.statement,
    source ? h("span", { class: "source" }, ` (${source})`) : null,
    ev.citation ? h("span", { class: "citation" }, " ", t("Source: {citation}.", { citation: ev.citation })) : null,
  );
}

export function evidenceList(evidence, emptyText = t("None recorded.")) {
  if (!evidence || evidence.length === 0) return h("p", { class: "muted" }, emptyText);
  return h("ul", { class: "evidence" }, evidence.map(evidenceItem));
}

// A titled section (landmark via aria-labelledby) with an optional "Disagree" shortcut that jumps
// to the feedback form pre-set to this section.
export function panel(id, title, { feedbackSection, intro } = {}, ...children) {
  const headingId = `${id}-title`;
  const header = h("div", { class: "panel-header" }, h("h2", { id: headingId }, title));
  if (feedbackSection) {
    header.append(h("button", {
      type: "button", class: "link-button", "data-feedback-section": feedbackSection,
      "aria-label": t("Disagree with {section}", { section: title }),
    }, t("Disagree\u2026")));
  }
  return h("section", { id, class: "panel", "aria-labelledby": headingId, tabindex: "-1" },
    header, intro ? h("p", { class: "intro" }, intro) : null, ...children);
}
