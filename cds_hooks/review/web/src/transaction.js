// Build a FHIR transaction Bundle from the draft resources. Resources refer to each other as
// "Type/id" (or urn:uuid:id); inside a transaction those must become the entries' fullUrls so the
// server assigns real ids and fixes the references up.

// Resources that are not about the patient and are shared between plans: written by PUT to their
// deterministic id (update-as-create), so accepting another plan never duplicates them, and
// referenced literally as "Type/id" (not rewritten to a fullUrl).
const PUT_BY_ID = new Set(["Device"]);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function transactionBundle(resources, verifierRef = null) {
  const urns = new Map();
  const entries = resources.map((resource) => {
    if (PUT_BY_ID.has(resource.resourceType) && resource.id) return { fullUrl: null, resource };
    const id = resource.id && UUID.test(resource.id) ? resource.id.toLowerCase() : crypto.randomUUID();
    const fullUrl = `urn:uuid:${id}`;
    if (resource.id) {
      urns.set(`${resource.resourceType}/${resource.id}`, fullUrl);
      urns.set(`urn:uuid:${resource.id}`, fullUrl);
    }
    return { fullUrl, resource };
  });
  return {
    resourceType: "Bundle",
    type: "transaction",
    entry: entries.map(({ fullUrl, resource }) => {
      const copy = rewrite(structuredClone(resource), urns);
      const putUrl = fullUrl ? null : `${copy.resourceType}/${copy.id}`;
      if (!putUrl) delete copy.id;
      if (copy.meta) {
        // Keep tags (e.g. "AI asserted") and security labels; the server owns version and timestamps.
        delete copy.meta.versionId;
        delete copy.meta.lastUpdated;
        if (!Object.keys(copy.meta).length) delete copy.meta;
      }
      if (copy.resourceType === "Provenance" && verifierRef) {
        // The clinician who accepted the plan is recorded beside the software that drafted it.
        copy.agent = [...(copy.agent || []), {
          type: { coding: [{ system: "http://terminology.hl7.org/CodeSystem/provenance-participant-type", code: "verifier", display: "Verifier" }] },
          who: { reference: verifierRef },
        }];
      }
      if (putUrl) return { resource: copy, request: { method: "PUT", url: putUrl } };
      return { fullUrl, resource: copy, request: { method: "POST", url: copy.resourceType } };
    }),
  };
}

function rewrite(value, urns) {
  if (Array.isArray(value)) return value.map((v) => rewrite(v, urns));
  if (value && typeof value === "object") {
    for (const [key, child] of Object.entries(value)) {
      value[key] = key === "reference" && typeof child === "string" && urns.has(child) ? urns.get(child) : rewrite(child, urns);
    }
  }
  return value;
}

// "CarePlan/123" for each created resource, from a transaction-response Bundle.
export function writtenReferences(response) {
  return (response.entry || [])
    .map((e) => (e.response && e.response.location) || "")
    .map((loc) => loc.replace(/^.*?\b([A-Z][A-Za-z]+\/[^/]+)(\/_history\/.*)?$/, "$1"))
    .filter(Boolean);
}
