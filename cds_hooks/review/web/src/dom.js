// Tiny DOM helpers. Text always goes in through textContent / text nodes, never innerHTML, because
// everything shown comes from patient records and model output.

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
  if (value === null || value === undefined || Number.isNaN(Number(value))) return "n/a";
  return Number(value).toFixed(digits);
}

export function pct(value, digits = 0) {
  if (value === null || value === undefined) return "n/a";
  return `${(Number(value) * 100).toFixed(digits)}%`;
}

export function humanise(key) {
  if (!key) return "";
  const text = String(key).replace(/[_-]+/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function shortDate(iso) {
  if (!iso) return "undated";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toISOString().slice(0, 10);
}

// One piece of evidence as a list item: statement, then where it came from.
export function evidenceItem(ev) {
  const source = [ev.source_ref, ev.rule && `rule ${ev.rule}`].filter(Boolean).join("; ");
  return h("li", {},
    ev.statement,
    source ? h("span", { class: "source" }, ` (${source})`) : null,
    ev.citation ? h("span", { class: "citation" }, ` Source: ${ev.citation}.`) : null,
  );
}

export function evidenceList(evidence, emptyText = "None recorded.") {
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
      "aria-label": `Disagree with ${title}`,
    }, "Disagree\u2026"));
  }
  return h("section", { id, class: "panel", "aria-labelledby": headingId, tabindex: "-1" },
    header, intro ? h("p", { class: "intro" }, intro) : null, ...children);
}
