// SMART App Launch 2.0, EHR launch: the EHR opens launch.html?iss=...&launch=...; fhirclient reads
// {iss}/.well-known/smart-configuration and redirects to the authorization endpoint with PKCE S256.
import FHIR from "fhirclient";
import { loadConfig } from "./config.js";

async function launch() {
  const status = document.getElementById("launch-status");
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
    status.textContent = `Could not start the launch: ${error.message || error}`;
    status.setAttribute("role", "alert");
  }
}

launch();
