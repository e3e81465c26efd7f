"""Synthetic patients (from `cds_hooks.demo.synthetic`) carrying exactly N realistic-size photographs,
as CDS Hooks prefetch (inline photos) and as a FHIR transaction (photos as Binary, fetched by the
service when there is no prefetch)."""

from __future__ import annotations

import base64
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from bench.photos import TaggablePhoto
from cds_hooks.demo import synthetic
from fhir_mapping.queries import PATIENT_KEY, PREFETCH_TEMPLATES

PROFILE = "psoriasis_moderate"  # three body sites per visit
_VISITS = 3  # 9 photographs in the source bundle: enough for the largest set (8)
SERVICE_ID = "derm3r-patient-view"

# prefetch key -> resource type, derived from the service's own templates (Patient is added apart).
PREFETCH_KEYS: dict[str, str] = {
    key: template.split("?", 1)[0] for key, template in PREFETCH_TEMPLATES.items() if key != PATIENT_KEY
}
_PLACEHOLDER = "@@DERM3R-BENCH-PHOTO-{}@@"
_PLACEHOLDER_RE = re.compile(r"@@DERM3R-BENCH-PHOTO-(\d+)@@")


def _with_photos(mode: str, photos: list[bytes], seed: int) -> dict[str, Any]:
    """A transaction bundle whose newest len(photos) Media carry `photos`: for mode "binary" as
    Binary resources, for "inline" as placeholders (`_PLACEHOLDER` with the photo's index) that
    `prefetch_request` replaces; older Media (and their Binaries) are dropped."""
    bundle = synthetic.patient_bundle(PROFILE, photos=mode, seed=seed, visits=_VISITS)
    media = sorted(synthetic.resources(bundle, "Media"), key=lambda m: m["createdDateTime"], reverse=True)
    if len(media) < len(photos):
        raise ValueError(f"profile {PROFILE} has only {len(media)} photographs, {len(photos)} requested")
    keep = media[: len(photos)]
    keep_ids = {m["id"] for m in keep}
    binaries: dict[str, bytes] = {}
    for n, (medium, jpeg) in enumerate(zip(keep, photos, strict=True)):
        medium["content"]["size"] = len(jpeg)
        if mode == "inline":
            medium["content"]["data"] = _PLACEHOLDER.format(n)
        if mode == "binary":
            binaries[medium["content"]["url"].split("/", 1)[1]] = jpeg
    entries = []
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Media" and resource["id"] not in keep_ids:
            continue
        if resource["resourceType"] == "Binary":
            if resource["id"] not in binaries:
                continue
            resource["data"] = base64.b64encode(binaries[resource["id"]]).decode("ascii")
        entries.append(entry)
    bundle["entry"] = entries
    return bundle


@dataclass(frozen=True)
class FhirPatient:
    """A patient for the FHIR server: the transaction without its Binary entries, and the photos to
    upload as raw Binary content. Medplum refuses base64Binary elements over 1 MB in JSON, so a
    real-size photo has to travel as raw bytes (`PUT Binary/<id>` with an image content type)."""

    patient_id: str
    transaction: dict[str, Any]
    binaries: dict[str, bytes]  # Binary id -> JPEG bytes


def fhir_patient(photos: list[bytes], seed: int) -> FhirPatient:
    bundle = _with_photos("binary", photos, seed)
    binaries = {}
    entries = []
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Binary":
            binaries[resource["id"]] = base64.b64decode(resource["data"])
        else:
            entries.append(entry)
    return FhirPatient(synthetic.patient_id(bundle), {**bundle, "entry": entries}, binaries)


@dataclass(frozen=True)
class PrefetchRequest:
    """A hook request with inline photos, pre-serialised in pieces so a body with fresh photo bytes
    (see bench.photos.TaggablePhoto) and a fresh hookInstance costs a join, not a json.dumps."""

    patient_id: str
    pieces: tuple[bytes, ...]  # JSON text between the photos
    photos: tuple[TaggablePhoto, ...]
    photo_bytes: int

    def body(self, hook_instance: str, tag: bytes | None) -> bytes:
        """The request body; `tag` None sends the photos' original bytes (cache-friendly)."""
        parts = [b'{"hookInstance":"', hook_instance.encode("ascii"), b'",', self.pieces[0]]
        for photo, piece in zip(self.photos, self.pieces[1:], strict=True):
            parts.append(photo.b64(tag))
            parts.append(piece)
        return b"".join(parts)


def prefetch_request(photos: list[bytes], seed: int) -> PrefetchRequest:
    bundle = _with_photos("inline", photos, seed)
    patient_id = synthetic.patient_id(bundle)
    prefetch: dict[str, Any] = {"patient": next(synthetic.resources(bundle, "Patient"))}
    for key, rtype in PREFETCH_KEYS.items():
        prefetch[key] = synthetic.searchset(bundle, rtype)
    rest = {
        "hook": "patient-view",
        "context": {"userId": "Practitioner/derm3r-bench", "patientId": patient_id},
        "prefetch": prefetch,
    }
    text = json.dumps(rest, separators=(",", ":"))
    assert text.startswith("{")
    text = text[1:]
    # re.split with one group alternates JSON text and photo indexes: text, 0, text, 2, text, ...
    split = _PLACEHOLDER_RE.split(text)
    pieces = tuple(t.encode("utf-8") for t in split[0::2])
    order = [int(i) for i in split[1::2]]
    return PrefetchRequest(
        patient_id=patient_id,
        pieces=pieces,
        photos=tuple(TaggablePhoto.of(photos[i]) for i in order),
        photo_bytes=sum(len(p) for p in photos),
    )


def fhir_request_body(patient_id: str, fhir_base: str, access_token: str) -> bytes:
    """A hook request without prefetch: the service fetches everything from `fhir_base`."""
    body = {
        "hookInstance": str(uuid.uuid4()),
        "hook": "patient-view",
        "context": {"userId": "Practitioner/derm3r-bench", "patientId": patient_id},
        "fhirServer": fhir_base,
        "fhirAuthorization": {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "derm3r-bench",
        },
    }
    return json.dumps(body).encode("utf-8")
