// SMART App Launch 2.0, EHR launch: the EHR opens launch.html?iss=...&launch=...; fhirclient reads
// {iss}/.well-known/smart-configuration and redirects to the authorization endpoint with PKCE S256.
import FHIR from "fhirclient";
import { loadConfig } from "./config.js";
import { loadMessages, localisePage, t } from "./i18n.js";

async function launch() {
  const status = document.getElementById("launch-status");
  await loadMessages();
  localisePage({
    title: t("derm3r review: connecting to the EHR"),
    heading: t("derm3r review"),
    connecting: t("Connecting to the EHR\u2026"),
  });
  try {
    const config = await loadConfig();
    await FHIR.oauth2.authorize({
      clientId: config.clientId,
      scope: config.scope,
      redirectUri: "index.html",
      // Refuse servers that do not advertise S256: never fall back to a launch without PKCE.
      pkceMode: "required",
      completeInTarget: true,
    });
  } catch (error) {
    status.textContent = t("Could not start the launch: {error}", { error: error.message || error });
    status.setAttribute("role", "alert");
  }
}

launch();
