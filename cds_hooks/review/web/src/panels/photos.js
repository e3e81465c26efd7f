import { fmt, h, humanise, panel, pct, shortDate } from "../dom.js";

// Names and keys for the overlays `inference.overlays.render_overlays` draws (each a full image:
// the photo with the measurement drawn on it, shown in place of the photo).
const OVERLAYS = {
  lesion_outline: ["Lesion outline", "Cyan outline: where the model found lesional skin (the area it measured)."],
  redness: ["Redness map", "Heat map over a greyscale photo: how much redder than the patient's own skin (erythema)."],
  scale: ["Scale map", "Blue: pixels read as scale (desquamation), inside the lesion outline."],
};

// Photographs with toggleable overlays of what DERM-Rec measured, and the measurements as a table
// (the overlays are visual; the table carries the same information for screen readers).
export function photosPanel(record, api) {
  const readings = new Map(((record.assessment.representation || {}).photos || []).map((r) => [r.photo_ref, r]));
  const grid = h("div", { class: "photo-grid" });
  // Photos the model read (this visit) first, then the rest by visit day, newest first; within a
  // day, in the order the record lists them.
  const taken = (p) => (p.taken ? Date.parse(p.taken.slice(0, 10)) : 0);
  const ordered = [...record.photos].sort((a, b) =>
    (readings.has(b.ref) - readings.has(a.ref)) || (taken(b) - taken(a)) || (a.index - b.index));
  for (const photo of ordered) {
    grid.append(photoCard(record, photo, readings.get(photo.ref), api));
  }
  return panel("photos", "Photographs and measurements", {
    feedbackSection: "photos",
    intro: "What the image model measured on each photograph. Overlays show where it found lesion, redness and scale; thickness cannot be judged well from a photo.",
  }, record.photos.length ? grid : h("p", { class: "muted" }, "No photographs in this assessment."));
}

function photoCard(record, photo, reading, api) {
  const site = photo.bodySite || humanise(photo.region);
  const titleId = `photo-${photo.index}-title`;
  const img = h("img", { class: "photo", alt: `Photograph ${photo.index + 1}: ${site}, ${shortDate(photo.taken)}`, width: "640", height: "480" });
  const overlayImg = h("img", { class: "overlay", alt: "", hidden: true });
  const stack = h("div", { class: "image-stack", "aria-busy": "true" }, img, overlayImg);
  const controls = h("div", { class: "overlay-controls", role: "group", "aria-label": `Overlays for photograph ${photo.index + 1} (${site})` },
    h("span", { class: "muted" }, "Loading overlays\u2026"));
  const overlayStatus = h("p", { class: "overlay-key", "aria-live": "polite" });

  api.photoUrl(record.id, photo.index)
    .then((url) => { img.src = url; })
    .catch((err) => { img.alt = `Photograph ${photo.index + 1} could not be loaded (${err.message})`; })
    .finally(() => stack.removeAttribute("aria-busy"));

  api.overlayKinds(record.id, photo.index).then((kinds) => {
    controls.replaceChildren();
    if (!kinds.length) {
      controls.append(h("span", { class: "muted" }, "No overlays available for this photograph."));
      return;
    }
    const buttons = [];
    for (const kind of kinds) {
      const [label, key] = OVERLAYS[kind] || [humanise(kind), ""];
      const button = h("button", { type: "button", class: "toggle", "aria-pressed": "false", "data-overlay": kind }, label);
      button.addEventListener("click", async () => {
        const on = button.getAttribute("aria-pressed") !== "true";
        buttons.forEach((b) => b.setAttribute("aria-pressed", "false"));
        if (!on) {
          overlayImg.hidden = true;
          overlayStatus.textContent = "Photograph without overlay.";
          return;
        }
        button.setAttribute("aria-pressed", "true");
        if (!button.dataset.url) button.dataset.url = await api.overlayUrl(record.id, photo.index, kind);
        overlayImg.src = button.dataset.url;
        overlayImg.hidden = false;
        overlayStatus.textContent = `${label} shown. ${key}`;
      });
      buttons.push(button);
      controls.append(button);
    }
  }).catch((err) => {
    controls.replaceChildren(h("span", { class: "muted" }, `Overlays unavailable (${err.message}).`));
  });

  return h("article", { class: "photo-card", "aria-labelledby": titleId },
    h("h3", { id: titleId }, `${photo.index + 1}. ${site}`, h("span", { class: "muted photo-meta" }, `${humanise(photo.region)}, ${shortDate(photo.taken)}`)),
    stack, controls, overlayStatus,
    reading ? readingDetails(reading) : h("p", { class: "muted" }, "Not scored in this assessment (earlier visit or not selected by the model)."),
  );
}

function readingDetails(reading) {
  const q = reading.quality;
  const quality = q.usable
    ? h("p", { class: "ok" }, "Image quality: usable")
    : h("div", { class: "warn" }, h("p", {}, "Image quality: not used for scoring"), h("ul", {}, q.reasons.map((r) => h("li", {}, r))));
  if (!reading.attributes) return quality;
  const at = reading.attributes;
  const rows = [
    ["Erythema (redness)", `${fmt(at.erythema.value)} / 4`, at.erythema.confidence],
    ["Desquamation (scale)", `${fmt(at.scale.value)} / 4`, at.scale.confidence],
    ["Induration (thickness)", `${fmt(at.thickness.value)} / 4`, at.thickness.confidence],
    ["Lesional area of visible skin", pct(at.area_fraction.value), at.area_fraction.confidence],
    ["Colour", humanise(at.colour_class), at.colour_confidence],
  ];
  const top = Object.entries(reading.probabilities || {}).sort((x, y) => y[1] - x[1]).slice(0, 3);
  return h("div", {},
    quality,
    h("table", { class: "compact" },
      h("caption", { class: "visually-hidden" }, "Measurements on this photograph"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Measure"), h("th", { scope: "col" }, "Value"), h("th", { scope: "col" }, "Confidence"))),
      h("tbody", {}, rows.map(([name, value, conf]) => h("tr", {}, h("th", { scope: "row" }, name), h("td", {}, value), h("td", {}, pct(conf))))),
    ),
    top.length ? h("p", { class: "muted" }, `Most likely on this photo: ${top.map(([k, p]) => `${humanise(k)} ${pct(p)}`).join(", ")}`) : null,
  );
}
