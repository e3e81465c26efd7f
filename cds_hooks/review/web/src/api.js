// Calls to the review API (same origin) and the EHR's FHIR server, both with the SMART access token.
// The token travels only in the Authorization header; images become blob: URLs so that no token or
// patient id is ever put into a URL.

export class Api {
  constructor(client) {
    this.client = client;
    this.base = new URL("api/", document.baseURI);
  }

  headers(extra = {}) {
    return {
      Authorization: this.client.getAuthorizationHeader(),
      "X-FHIR-Server": this.client.state.serverUrl,
      ...extra,
    };
  }

  async fetchOk(url, init = {}) {
    const response = await fetch(url, { ...init, headers: this.headers(init.headers), credentials: "omit" });
    if (!response.ok) throw new Error(await describeFailure(response));
    return response;
  }

  url(contextId, suffix = "") {
    return new URL(`assessments/${encodeURIComponent(contextId)}${suffix}`, this.base);
  }

  async record(contextId) {
    return (await this.fetchOk(this.url(contextId))).json();
  }

  async photoUrl(contextId, index) {
    const response = await this.fetchOk(this.url(contextId, `/photos/${index}`));
    return URL.createObjectURL(await response.blob());
  }

  async overlayKinds(contextId, index) {
    const response = await this.fetchOk(this.url(contextId, `/photos/${index}/overlays`));
    return (await response.json()).kinds || [];
  }

  async overlayUrl(contextId, index, kind) {
    const response = await this.fetchOk(this.url(contextId, `/photos/${index}/overlays/${encodeURIComponent(kind)}`));
    return URL.createObjectURL(await response.blob());
  }

  async feedback(contextId, body) {
    const response = await this.fetchOk(this.url(contextId, "/feedback"), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    return response.json();
  }

  // POST a FHIR transaction Bundle to the EHR's FHIR base with the SMART token.
  async transaction(bundle) {
    const base = this.client.state.serverUrl.replace(/\/+$/, "");
    const response = await fetch(base, {
      method: "POST",
      credentials: "omit",
      headers: {
        Authorization: this.client.getAuthorizationHeader(),
        "Content-Type": "application/fhir+json",
        Accept: "application/fhir+json",
      },
      body: JSON.stringify(bundle),
    });
    if (!response.ok) throw new Error(await describeFailure(response));
    return response.json();
  }
}

async function describeFailure(response) {
  let detail = "";
  try {
    const body = await response.json();
    detail = (body.issue || []).map((i) => i.diagnostics || i.code).filter(Boolean).join("; ");
  } catch {
    // Not JSON: the status line is all there is to say.
  }
  return `HTTP ${response.status}${detail ? `: ${detail}` : ""}`;
}
