// The review app proper: completes the SMART launch (code -> token with PKCE verifier), reads the
// review record named by the token's appContext, and renders it.
import FHIR from "fhirclient";
import { Api } from "./api.js";
import { loadConfig } from "./config.js";
import { h } from "./dom.js";
import { loadMessages, localisePage, t } from "./i18n.js";
import { carePlanPanel } from "./panels/careplan.js";
import { feedbackPanel, wireDisagreeButtons } from "./panels/feedback.js";
import { pasiPanel } from "./panels/pasi.js";
import { photosPanel } from "./panels/photos.js";
import { probabilitiesPanel } from "./panels/probabilities.js";
import { screeningsPanel } from "./panels/screenings.js";
import { summaryPanel } from "./panels/summary.js";
import { tcmPanel } from "./panels/tcm.js";
import { treatmentPanel } from "./panels/treatment.js";
import { trendPanel } from "./panels/trend.js";

const status = document.getElementById("app-status");
const announcer = document.getElementById("announcer");

function announce(message) {
  announcer.textContent = "";
  // A fresh text node after clearing makes screen readers announce repeated messages too.
  window.setTimeout(() => { announcer.textContent = message; }, 50);
}

// index.html's own text (data-i18n keys), in the app's language.
function pageText() {
  return {
    title: t("derm3r review"),
    heading: t("derm3r review"),
    skip: t("Skip to the assessment"),
    tagline: t("AI-assisted psoriasis assessment: a draft for your review, not a diagnosis."),
    patient: t("Patient"),
    sections: t("Sections"),
    "nav-summary": t("Summary"),
    "nav-photos": t("Photographs"),
    "nav-pasi": "PASI",
    "nav-probabilities": t("Probabilities"),
    "nav-treatment": t("Treatment"),
    "nav-tcm": t("TCM (integrative)"),
    "nav-screenings": t("Screening"),
    "nav-trend": t("Trend"),
    "nav-careplan": t("Care plan"),
    "nav-feedback": t("Disagree"),
    loading: t("Loading the assessment\u2026"),
    disclaimer: t("Decision support only: the clinician remains responsible for diagnosis and treatment. TCM content is integrative and not part of guideline care."),
  };
}

function fail(message) {
  status.textContent = "";
  const error = document.getElementById("app-error");
  error.hidden = false;
  error.replaceChildren(h("h2", {}, t("The review could not be opened")), h("p", {}, message));
  document.body.dataset.state = "error";
}

async function main() {
  // Labels first (Accept-Language), in parallel with the token exchange.
  const labels = loadMessages().then(() => localisePage(pageText()));
  let client;
  try {
    client = await FHIR.oauth2.ready();
  } catch (err) {
    await labels;
    fail(t("Authorisation with the EHR failed: {error}. Open the app again from the EHR.", { error: err.message }));
    return;
  }
  await labels;
  const token = client.state.tokenResponse || {};
  const contextId = token.appContext;
  if (!contextId || typeof contextId !== "string") {
    fail(t("The EHR did not pass an assessment (appContext). Open this app from a derm3r card."));
    return;
  }
  const api = new Api(client);
  let record, config;
  try {
    [record, config] = await Promise.all([api.record(contextId), loadConfig()]);
  } catch (err) {
    fail(t("The assessment could not be loaded ({error}). It may have expired: run the hook again.", { error: err.message }));
    return;
  }
  if (token.patient && record.patient !== `Patient/${token.patient}`) {
    fail(t("This assessment belongs to a different patient than the one open in the EHR."));
    return;
  }
  if (record.language && record.language !== document.documentElement.lang) {
    // The record is in another language than the labels (no translation stored for the browser's):
    // the page follows the record, so labels and content read in one language.
    await loadMessages(record.language);
    localisePage(pageText());
  }
  if (token.need_patient_banner !== false) renderBanner(client);

  const content = document.getElementById("content");
  content.replaceChildren(
    summaryPanel(record),
    photosPanel(record, api),
    pasiPanel(record),
    probabilitiesPanel(record),
    treatmentPanel(record),
    tcmPanel(record),
    screeningsPanel(record),
    trendPanel(record),
    carePlanPanel(record, api, client, announce),
    feedbackPanel(record, api, config, announce),
  );
  wireDisagreeButtons(content);
  document.getElementById("footer-info").textContent =
    t("Model {model}; knowledge {knowledge}. This review expires at {time}.", {
      model: record.assessment.model_version,
      knowledge: record.assessment.knowledge_version,
      time: new Date(record.expiresAt * 1000).toLocaleTimeString(document.documentElement.lang),
    });
  status.textContent = t("Assessment loaded.");
  status.classList.add("visually-hidden"); // still announced; no need to take space on screen
  document.body.dataset.state = "ready";
}

// Who the record is for, when the EHR has not already shown it (need_patient_banner).
async function renderBanner(client) {
  const banner = document.getElementById("patient-banner");
  try {
    const patient = await client.patient.read();
    const name = (patient.name || [])[0] || {};
    const display = name.text || [...(name.given || []), name.family].filter(Boolean).join(" ") || t("Unnamed patient");
    banner.replaceChildren(
      h("span", { class: "patient-name" }, display),
      patient.birthDate ? h("span", {}, " ", t("born {date}", { date: patient.birthDate })) : null,
      patient.gender ? h("span", {}, t(", {gender}", { gender: genderLabel(patient.gender) })) : null,
    );
  } catch (err) {
    banner.textContent = t("Patient details unavailable ({error}).", { error: err.message });
  }
}

function genderLabel(gender) {
  const labels = { female: t("female"), male: t("male"), other: t("other"), unknown: t("unknown") };
  return labels[gender] || gender;
}

main();
