// The app's own labels in the language the service negotiated (Accept-Language, else the service's
// DERM3R_LANGUAGE), from the project's message catalogue: `messages.json` answers {msgid: msgstr}
// for the msgids marked here with t("...") (extracted by Babel's JavaScript extractor, see babel.cfg).
// The English text is the msgid, so an unknown msgid or a failed load shows English, never a key.
// Placeholders are `{name}` as in the Python templates: t("Source: {citation}", { citation }).

let messages = {};
let language = "en";

export function t(msgid, params) {
  const template = messages[msgid] || msgid;
  if (!params) return template;
  return template.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

export function currentLanguage() {
  return language;
}

// Load the labels (once per language); `wanted` follows the assessment's own language when it differs
// from what the browser's Accept-Language gave (e.g. a record stored without that translation).
export async function loadMessages(wanted) {
  if (wanted && wanted === language && Object.keys(messages).length) return language;
  const url = new URL("messages.json", document.baseURI);
  if (wanted) url.searchParams.set("language", wanted);
  try {
    const response = await fetch(url, { credentials: "omit" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const body = await response.json();
    messages = body.messages || {};
    language = body.language || "en";
  } catch {
    messages = {};
    language = "en"; // the msgids are the English labels: the app stays usable
  }
  document.documentElement.lang = language;
  return language;
}

// The static page (index.html / launch.html): each element marked data-i18n="key" gets text[key], a
// map the page's script builds with t("...") calls (so the extractor finds the English text there).
export function localisePage(text, root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) {
    const value = text[el.dataset.i18n];
    if (value !== undefined) el.textContent = value;
  }
  for (const el of root.querySelectorAll("[data-i18n-label]")) {
    const value = text[el.dataset.i18nLabel];
    if (value !== undefined) el.setAttribute("aria-label", value);
  }
  if (text.title) document.title = text.title;
}
