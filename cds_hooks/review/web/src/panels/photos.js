import { fmt, h, humanise, panel, pct, shortDate } from "../dom.js";
import { t } from "../i18n.js";

// Names and keys for the overlays `inference.overlays.render_overlays` draws (each a full image:
// the photo with the measurement drawn on it, shown in place of the photo).
function overlays() {
  return {
    lesion_outline: [t("Lesion outline"), t("Cyan outline: where the model found lesional skin (the area it measured).")],
    redness: [t("Redness map"), t("Heat map over a greyscale photo: how much redder than the patient's own skin (erythema).")],
    scale: [t("Scale map"), t("Blue: pixels read as scale (desquamation), inside the lesion outline.")],
  };
}

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
  return panel("photos", t("Photographs and measurements"), {
    feedbackSection: "photos",
    intro: t("What the image model measured on each photograph. Overlays show where it found lesion, redness and scale; thickness cannot be judged well from a photo."),
  }, record.photos.length ? grid : h("p", { class: "muted" }, t("No photographs in this assessment.")));
}

function photoCard(record, photo, reading, api) {
  const site = photo.bodySite || humanise(photo.region);
  const titleId = `photo-${photo.index}-title`;
  const img = h("img", { class: "photo", alt: t("Photograph {n}: {site}, {date}", { n: photo.index + 1, site, date: shortDate(photo.taken) }), width: "640", height: "480" });
  const overlayImg = h("img", { class: "overlay", alt: "", hidden: true });
  const stack = h("div", { class: "image-stack", "aria-busy": "true" }, img, overlayImg);
  const controls = h("div", { class: "overlay-controls", role: "group", "aria-label": t("Overlays for photograph {n} ({site})", { n: photo.index + 1, site }) },
    h("span", { class: "muted" }, t("Loading overlays\u2026")));
  const overlayStatus = h("p", { class: "overlay-key", "aria-live": "polite" });

  api.photoUrl(record.id, photo.index)
    .then((url) => { img.src = url; })
    .catch((err) => { img.alt = t("Photograph {n} could not be loaded ({error})", { n: photo.index + 1, error: err.message }); })
    .finally(() => stack.removeAttribute("aria-busy"));

  api.overlayKinds(record.id, photo.index).then((kinds) => {
    controls.replaceChildren();
    if (!kinds.length) {
      controls.append(h("span", { class: "muted" }, t("No overlays available for this photograph.")));
      return;
    }
    const buttons = [];
    for (const kind of kinds) {
      const [label, key] = overlays()[kind] || [humanise(kind), ""];
      const button = h("button", { type: "button", class: "toggle", "aria-pressed": "false", "data-overlay": kind }, label);
      button.addEventListener("click", async () => {
        const on = button.getAttribute("aria-pressed") !== "true";
        buttons.forEach((b) => b.setAttribute("aria-pressed", "false"));
        if (!on) {
          overlayImg.hidden = true;
          overlayStatus.textContent = t("Photograph without overlay.");
          return;
        }
        button.setAttribute("aria-pressed", "true");
        if (!button.dataset.url) button.dataset.url = await api.overlayUrl(record.id, photo.index, kind);
        overlayImg.src = button.dataset.url;
        overlayImg.hidden = false;
        overlayStatus.textContent = t("{overlay} shown. {key}", { overlay: label, key });
      });
      buttons.push(button);
      controls.append(button);
    }
  }).catch((err) => {
    controls.replaceChildren(h("span", { class: "muted" }, t("Overlays unavailable ({error}).", { error: err.message })));
  });

  return h("article", { class: "photo-card", "aria-labelledby": titleId },
    h("h3", { id: titleId }, `${photo.index + 1}. ${site}`, h("span", { class: "muted photo-meta" }, `${humanise(photo.region)}, ${shortDate(photo.taken)}`)),
    stack, controls, overlayStatus,
    reading ? readingDetails(reading) : h("p", { class: "muted" }, t("Not scored in this assessment (earlier visit or not selected by the model).")),
  );
}

function readingDetails(reading) {
  const q = reading.quality;
  const quality = q.usable
    ? h("p", { class: "ok" }, t("Image quality: usable"))
    : h("div", { class: "warn" }, h("p", {}, t("Image quality: not used for scoring")), h("ul", {}, q.reasons.map((r) => h("li", {}, r))));
  if (!reading.attributes) return quality;
  const at = reading.attributes;
  const rows = [
    [t("Erythema (redness)"), `${fmt(at.erythema.value)} / 4`, at.erythema.confidence],
    [t("Desquamation (scale)"), `${fmt(at.scale.value)} / 4`, at.scale.confidence],
    [t("Induration (thickness)"), `${fmt(at.thickness.value)} / 4`, at.thickness.confidence],
    [t("Lesional area of visible skin"), pct(at.area_fraction.value), at.area_fraction.confidence],
    [t("Colour"), humanise(at.colour_class), at.colour_confidence],
  ];
  const top = Object.entries(reading.probabilities || {}).sort((x, y) => y[1] - x[1]).slice(0, 3);
  return h("div", {},
    quality,
    h("table", { class: "compact" },
      h("caption", { class: "visually-hidden" }, t("Measurements on this photograph")),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("Measure")), h("th", { scope: "col" }, t("Value")), h("th", { scope: "col" }, t("Confidence")))),
      h("tbody", {}, rows.map(([name, value, conf]) => h("tr", {}, h("th", { scope: "row" }, name), h("td", {}, value), h("td", {}, pct(conf))))),
    ),
    top.length ? h("p", { class: "muted" }, t("Most likely on this photo: {classes}", { classes: top.map(([k, p]) => `${humanise(k)} ${pct(p)}`).join(", ") })) : null,
  );
}
