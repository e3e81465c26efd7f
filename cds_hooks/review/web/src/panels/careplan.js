import { h, humanise, panel } from "../dom.js";
import { t } from "../i18n.js";
import { transactionBundle, writtenReferences } from "../transaction.js";

// Review the draft CarePlan, edit it, and write it (with the preliminary AI Observations and the
// Provenance that came with it) to the EHR in one FHIR transaction, with the clinician's token.
export function carePlanPanel(record, api, client, announce) {
  const resources = record.resources || [];
  const plan = resources.find((r) => r.resourceType === "CarePlan");
  if (!plan) {
    return panel("careplan", t("Draft care plan"), {}, h("p", { class: "muted" }, t("This assessment has no draft care plan.")));
  }
  const others = resources.filter((r) => r !== plan);
  const title = h("input", { id: "cp-title", type: "text", value: plan.title || "", autocomplete: "off" });
  const description = h("textarea", { id: "cp-description" });
  description.value = plan.description || "";
  description.rows = fitRows(description.value);
  const activityList = h("ol", { class: "activities" });
  const addActivity = (activity = { detail: { status: "not-started" } }) => {
    const detail = activity.detail || {};
    const n = activityList.children.length + 1;
    const name = (detail.code && (detail.code.text || ((detail.code.coding || [])[0] || {}).display)) || t("Activity {n}", { n });
    const include = h("input", { type: "checkbox", id: `cp-act-${n}-include`, checked: true });
    const text = h("textarea", { id: `cp-act-${n}-text`, rows: "2", "aria-label": t("{name}: description", { name }) });
    text.value = detail.description || "";
    text.rows = fitRows(text.value);
    const item = h("li", { class: "activity" },
      h("div", { class: "activity-head" }, include, h("label", { for: include.id }, t("Include: {name}", { name })),
        detail.kind ? h("span", { class: "muted" }, ` (${humanise(detail.kind)})`) : null),
      detail.doNotPerform ? h("p", { class: "do-not-perform" },
        detail.statusReason && detail.statusReason.text ? t("Do not perform: {reason}", { reason: detail.statusReason.text }) : t("Do not perform")) : null,
      text);
    item.activity = activity;
    activityList.append(item);
    return text;
  };
  for (const activity of plan.activity || []) addActivity(activity);
  const note = h("textarea", { id: "cp-note", rows: "2" });
  const statusActive = h("input", { type: "radio", name: "cp-status", id: "cp-status-active", value: "active", checked: true });
  const statusDraft = h("input", { type: "radio", name: "cp-status", id: "cp-status-draft", value: "draft" });
  const result = h("div", { id: "cp-result", role: "status", "aria-live": "polite", tabindex: "-1" });
  const submit = h("button", { type: "submit", class: "primary", id: "cp-accept" }, t("Accept and write to the EHR"));
  const original = JSON.stringify(plan);
  const missing = missingCreateScopes(resources, (client.state.tokenResponse || {}).scope || "");
  if (missing.length) {
    // Say so before the clinician edits anything: the EHR would refuse the transaction.
    submit.disabled = true;
    result.className = "error";
    result.textContent = t("The EHR did not grant permission to create {types}: the plan cannot be written from here.", { types: missing.join(", ") });
  }

  const form = h("form", { id: "careplan-form", novalidate: true },
    h("div", { class: "field" }, h("label", { for: title.id }, t("Title")), title),
    h("div", { class: "field" }, h("label", { for: description.id }, t("Description")), description),
    h("fieldset", {}, h("legend", {}, t("Activities")), activityList,
      h("button", { type: "button", id: "cp-add", onclick: () => addActivity().focus() }, t("Add activity"))),
    h("div", { class: "field" }, h("label", { for: note.id }, t("Clinician note (optional)")), note),
    h("fieldset", { class: "inline" }, h("legend", {}, t("Write as")),
      h("span", {}, statusActive, h("label", { for: statusActive.id }, t("Accepted plan (status active)"))),
      h("span", {}, statusDraft, h("label", { for: statusDraft.id }, t("Draft for later sign-off (status draft)")))),
    h("p", { class: "muted" }, t("Written with it: {resources}.", { resources: describeOthers(others) })),
    h("div", { class: "actions" }, submit),
    result,
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const edited = structuredClone(plan);
    edited.title = title.value.trim() || undefined;
    edited.description = description.value.trim() || undefined;
    edited.activity = [...activityList.children]
      .filter((li) => li.querySelector("input[type=checkbox]").checked)
      .map((li) => {
        const activity = structuredClone(li.activity);
        activity.detail = { ...activity.detail, status: activity.detail.status || "not-started", description: li.querySelector("textarea").value.trim() };
        if (!activity.detail.description) delete activity.detail.description;
        return activity;
      })
      .filter((a) => a.detail.description || a.detail.code);
    if (!edited.activity.length) delete edited.activity;
    if (note.value.trim()) edited.note = [...(plan.note || []), { text: note.value.trim(), time: new Date().toISOString() }];
    const accepted = statusActive.checked;
    edited.status = accepted ? "active" : "draft";
    edited.intent = accepted ? "plan" : "proposal";
    const wasEdited = JSON.stringify({ ...edited, status: plan.status, intent: plan.intent }) !== original;

    submit.disabled = true;
    result.className = "";
    result.textContent = t("Writing to the EHR\u2026");
    try {
      const verifier = await fhirUser(client);
      const bundle = transactionBundle([edited, ...others], verifier);
      const response = await api.transaction(bundle);
      const written = writtenReferences(response);
      result.className = "success";
      const done = t("done");
      result.replaceChildren(h("p", {}, t("Written to the EHR: {references}.", { references: written.join(", ") || done })));
      announce(edited.status === "active" ? t("Care plan written to the EHR as active.") : t("Care plan written to the EHR as draft."));
      form.querySelectorAll("input, textarea, button").forEach((el) => { el.disabled = true; });
      try {
        await api.feedback(record.id, { outcome: "accepted", section: "careplan", edited: wasEdited, written, comment: note.value.trim() });
        result.append(h("p", { class: "muted", id: "cp-feedback" }, t("Your acceptance was recorded with the assessment.")));
      } catch (err) {
        // The plan is in the EHR either way; only the service's feedback record is missing.
        result.append(h("p", { class: "muted", id: "cp-feedback" }, t("(Acceptance not recorded with the assessment: {error})", { error: err.message })));
      }
    } catch (err) {
      submit.disabled = false;
      result.className = "error";
      result.setAttribute("role", "alert");
      result.textContent = t("Not written: {error}", { error: err.message });
    }
    result.focus();
  });

  return panel("careplan", t("Draft care plan"), {
    intro: t("Check and edit the plan the assessment proposes. Nothing is written to the record until you accept it."),
  }, form);
}

async function fhirUser(client) {
  try {
    return client.getFhirUser ? client.getFhirUser() : null;
  } catch {
    return null; // no id_token (openid not granted): the Provenance then names only the software
  }
}

// Enough rows to show the whole text without scrolling inside the box (up to a limit).
function fitRows(text) {
  return Math.min(8, Math.max(2, Math.ceil((text || "").length / 75) + 1));
}

// Resource types in the draft that the granted SMART scopes (v2 `.c` / v1 `.write`) cannot create.
// The software Device is written by PUT to its fixed id (update-as-create), so it needs `.cu`.
function missingCreateScopes(resources, scopeText) {
  const scopes = scopeText.split(/\s+/).filter(Boolean);
  const allows = (type) => scopes.some((scope) => {
    const match = /^(patient|user|system)\/([A-Za-z*]+)\.(.+)$/.exec(scope);
    if (!match || (match[2] !== type && match[2] !== "*")) return false;
    const perms = match[3].split("?")[0];
    const needed = type === "Device" ? ["c", "u"] : ["c"];
    return perms === "write" || perms === "*" || (/^[cruds]+$/.test(perms) && needed.every((p) => perms.includes(p)));
  });
  return [...new Set(resources.map((r) => r.resourceType))].filter((type) => !allows(type));
}

// "Device, 5 Observations (preliminary), Provenance": what the transaction writes besides the plan.
function describeOthers(resources) {
  const counts = new Map();
  for (const r of resources) {
    const key = `${r.resourceType}${r.resourceType === "Observation" && r.status ? ` (${r.status})` : ""}`;
    counts.set(key, (counts.get(key) || 0) + 1);
  }
  const names = {
    Observation: t("Observation"), "Observation (preliminary)": t("Observation (preliminary)"),
    Provenance: t("Provenance"), Device: t("Device"),
  };
  const parts = [...counts].map(([key, n]) => (n > 1
    ? t("{count} × {resource}", { count: n, resource: names[key] || key })
    : names[key] || key));
  return parts.join(", ") || t("nothing else");
}
