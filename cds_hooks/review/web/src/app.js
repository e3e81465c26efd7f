// The review app proper: completes the SMART launch (code -> token with PKCE verifier), reads the
// review record named by the token's appContext, and renders it.
import FHIR from "fhirclient";
import { Api } from "./api.js";
import { loadConfig } from "./config.js";
import { h } from "./dom.js";
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

function fail(message) {
  status.textContent = "";
  const error = document.getElementById("app-error");
  error.hidden = false;
  error.replaceChildren(h("h2", {}, "The review could not be opened"), h("p", {}, message));
  document.body.dataset.state = "error";
}

async function main() {
  let client;
  try {
    client = await FHIR.oauth2.ready();
  } catch (err) {
    fail(`Authorisation with the EHR failed: ${err.message}. Open the app again from the EHR.`);
    return;
  }
  const token = client.state.tokenResponse || {};
  const contextId = token.appContext;
  if (!contextId || typeof contextId !== "string") {
    fail("The EHR did not pass an assessment (appContext). Open this app from a derm3r card.");
    return;
  }
  const api = new Api(client);
  let record, config;
  try {
    [record, config] = await Promise.all([api.record(contextId), loadConfig()]);
  } catch (err) {
    fail(`The assessment could not be loaded (${err.message}). It may have expired: run the hook again.`);
    return;
  }
  if (token.patient && record.patient !== `Patient/${token.patient}`) {
    fail("This assessment belongs to a different patient than the one open in the EHR.");
    return;
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
    `Model ${record.assessment.model_version}; knowledge ${record.assessment.knowledge_version}. ` +
    `This review expires at ${new Date(record.expiresAt * 1000).toLocaleTimeString()}.`;
  status.textContent = "Assessment loaded.";
  status.classList.add("visually-hidden"); // still announced; no need to take space on screen
  document.body.dataset.state = "ready";
}

// Who the record is for, when the EHR has not already shown it (need_patient_banner).
async function renderBanner(client) {
  const banner = document.getElementById("patient-banner");
  try {
    const patient = await client.patient.read();
    const name = (patient.name || [])[0] || {};
    const display = name.text || [...(name.given || []), name.family].filter(Boolean).join(" ") || "Unnamed patient";
    banner.replaceChildren(
      h("span", { class: "patient-name" }, display),
      patient.birthDate ? h("span", {}, ` born ${patient.birthDate}`) : null,
      patient.gender ? h("span", {}, `, ${patient.gender}`) : null,
    );
  } catch (err) {
    banner.textContent = `Patient details unavailable (${err.message}).`;
  }
}

main();
