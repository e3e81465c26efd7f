"""FHIR R4 resources (prefetch values, search results) -> one `inference.case.Case`.

The builder is lenient by design: anything it cannot use becomes a `DataIssue` for the data-quality
card, never an exception. Bundles are unwrapped, duplicates dropped, other patients' resources and
resources dated after `as_of` ignored (with an issue). Photos are chosen newest first and bounded
before any bytes are fetched; attachment URLs are fetched only through the caller's
`fetch_attachment`, which owns the allow-list and the size and time limits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable, Iterator, Mapping, Protocol

from inference.case import (
    Case,
    ConditionEntry,
    ConditionKey,
    DataIssue,
    Finding,
    MedicationEntry,
    PatientInfo,
    Photo,
)

from fhir_mapping import issues, r4
from fhir_mapping.attachment import PhotoCandidate
from fhir_mapping.condition import map_condition
from fhir_mapping.datatypes import Mapped, reference_string, referenced_id, resource_ref
from fhir_mapping.document_reference import map_document_reference
from fhir_mapping.errors import FhirError
from fhir_mapping.media import DEFAULT_MAX_PHOTO_BYTES, map_media
from fhir_mapping.medication import map_medication
from fhir_mapping.observation import map_observation
from fhir_mapping.patient import map_patient
from fhir_mapping.queries import READ_KINDS, VALIDATED_KINDS
from fhir_mapping.searchset import is_bundle, walk_entries
from inference.i18n import t

log = logging.getLogger(__name__)

# Clock skew between EHR and service: a record "from the future" by less than this is accepted.
FUTURE_TOLERANCE = timedelta(hours=24)
MAX_BUNDLE_DEPTH = 3

# The mapper of each photo resource type (`queries.PHOTO_TYPES`; a test keeps the two in step).
class _PhotoMapper(Protocol):
    def __call__(self, resource: dict, *, full_url: str | None = ..., max_bytes: int = ...) -> Mapped[PhotoCandidate]: ...


_PHOTO_MAPPERS: Mapping[str, _PhotoMapper] = {
    "Media": map_media,
    "DocumentReference": map_document_reference,
}


@dataclass(frozen=True)
class _Item:
    resource: dict
    full_url: str | None


def _unwrap(resources: Iterable[object], found_issues: list[DataIssue]) -> Iterator[_Item]:
    def walk(value: object, full_url: str | None, depth: int) -> Iterator[_Item]:
        if value is None:
            return  # a prefetch key the EHR could not fill
        if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
            found_issues.append(issues.issue(issues.UNREADABLE_RESOURCE, t("An item in the record is not a FHIR resource; ignored.")))
            return
        if is_bundle(value):
            if depth >= MAX_BUNDLE_DEPTH:
                return
            for entry in walk_entries(value):
                yield from walk(entry.resource, entry.full_url, depth + 1)
            return
        yield _Item(value, full_url)

    for value in resources:
        yield from walk(value, None, 0)


def _subject_id(resource: dict) -> tuple[bool, str | None]:
    """(has a subject/patient reference, the Patient id it names if readable)."""
    for element in ("subject", "patient"):
        ref = reference_string(resource.get(element))
        if ref is not None:
            return True, referenced_id(ref, "Patient")
    return False, None


def _belongs_to(item: _Item, patient_id: str) -> bool:
    resource = item.resource
    if resource["resourceType"] == "Patient":
        rid = resource.get("id")
        return rid == patient_id if isinstance(rid, str) and rid else referenced_id(item.full_url, "Patient") == patient_id
    has_subject, subject = _subject_id(resource)
    # No subject at all: prefetch queries are patient-scoped, so accept. A subject that is not
    # readable as a Patient reference (e.g. a Group) is not this patient.
    return (not has_subject) or subject == patient_id


def _validation_view(resource: dict) -> dict:
    """The resource as validated: inline photo bytes are replaced by a stub, because validating
    megabytes of base64 costs tens of milliseconds per photo and the mapper decodes (and checks) the
    bytes anyway."""
    content = resource.get("content")
    if resource.get("resourceType") == "Media" and isinstance(content, dict) and isinstance(content.get("data"), str):
        return {**resource, "content": {**content, "data": "AA=="}}
    return resource


def _too_new(moment: datetime | None, as_of: datetime) -> bool:
    return moment is not None and moment > as_of + FUTURE_TOLERANCE


def photo_order_key(candidate: PhotoCandidate) -> tuple[bool, datetime]:
    """Sort key for newest first; undated photos last."""
    oldest = datetime.min.replace(tzinfo=timezone.utc)
    return candidate.taken is not None, candidate.taken or oldest


class _Builder:
    def __init__(self, patient_id: str, as_of: datetime, fetch_attachment: Callable[[str], bytes] | None,
                 max_photos: int, max_photo_bytes: int) -> None:
        self.patient_id = patient_id
        self.as_of = as_of
        self.fetch_attachment = fetch_attachment
        self.max_photos = max_photos
        self.max_photo_bytes = max_photo_bytes
        self.issues: list[DataIssue] = []
        self.patient: PatientInfo | None = None
        self.findings: list[Finding] = []
        self.conditions: list[ConditionEntry] = []
        self.medications: list[MedicationEntry] = []
        self.candidates: list[PhotoCandidate] = []
        self.other_patient = 0

    def add_issues(self, mapped: Mapped) -> None:
        self.issues.extend(mapped.issues)

    def read(self, resources: Iterable[object]) -> None:
        seen: set[str] = set()
        items: list[_Item] = []
        for item in _unwrap(resources, self.issues):
            kind = item.resource["resourceType"]
            if kind not in READ_KINDS:
                continue
            ref = resource_ref(item.resource, item.full_url)
            if ref in seen:
                continue  # the same resource from two prefetch keys or a prefetch and a search
            seen.add(ref)
            items.append(item)
        medications = {resource_ref(i.resource, i.full_url): i.resource for i in items if i.resource["resourceType"] == "Medication"}
        for item in items:
            if item.resource["resourceType"] != "Medication":
                self.read_one(item, medications)
        if self.other_patient:
            self.issues.append(issues.issue(issues.OTHER_PATIENT,
                                            t("{other_patient} record(s) for a different patient were supplied and ignored.", other_patient=self.other_patient)))

    def read_one(self, item: _Item, medications: dict[str, dict]) -> None:
        resource, kind = item.resource, item.resource["resourceType"]
        ref = resource_ref(resource, item.full_url)
        if not _belongs_to(item, self.patient_id):
            self.other_patient += 1  # reported once, as a count: the refs would only be noise
            return
        if kind in VALIDATED_KINDS:
            problem = r4.check(_validation_view(resource))
            if problem is not None:
                # Keep going: the mappers read defensively, and a minor schema slip should not hide
                # a blood pressure. The clinician is told the record is malformed.
                self.issues.append(issues.issue(issues.INVALID_RESOURCE,
                                                t("A {kind} is not valid FHIR R4; only readable parts were used.", kind=kind), ref))
        if kind == "Patient":
            if self.patient is None:
                self.patient = map_patient(resource, full_url=item.full_url)
        elif kind == "Observation":
            mapped = map_observation(resource, full_url=item.full_url)
            self.add_issues(mapped)
            self.keep_current(mapped.items, ref)
        elif kind == "Condition":
            mapped_c = map_condition(resource, full_url=item.full_url)
            self.add_issues(mapped_c)
            self.conditions.extend(mapped_c.items)
        elif kind in ("MedicationStatement", "MedicationRequest"):
            mapped_m = map_medication(resource, full_url=item.full_url, medications=medications)
            self.add_issues(mapped_m)
            self.medications.extend(mapped_m.items)
        elif kind in _PHOTO_MAPPERS:
            self.add_candidates(_PHOTO_MAPPERS[kind](resource, full_url=item.full_url, max_bytes=self.max_photo_bytes), ref)

    def keep_current(self, findings: Iterable[Finding], ref: str) -> None:
        for finding in findings:
            if _too_new(finding.effective, self.as_of):
                self.issues.append(issues.issue(issues.FUTURE_DATED, t("An observation is dated after the assessment time; ignored."), ref))
                return
            self.findings.append(finding)

    def add_candidates(self, mapped: Mapped[PhotoCandidate], ref: str) -> None:
        self.add_issues(mapped)
        for candidate in mapped.items:
            if _too_new(candidate.taken, self.as_of):
                self.issues.append(issues.issue(issues.FUTURE_DATED, t("A photo is dated after the assessment time; ignored."), ref))
            else:
                self.candidates.append(candidate)

    def fetch(self, candidate: PhotoCandidate) -> bytes | None:
        if candidate.data is not None:
            return candidate.data
        if self.fetch_attachment is None or candidate.url is None:
            self.issues.append(issues.issue(issues.ATTACHMENT_UNAVAILABLE,
                                            t("A photo is stored elsewhere and could not be retrieved."), candidate.ref))
            return None
        try:
            data = self.fetch_attachment(candidate.url)
        except (FhirError, OSError, ValueError) as exc:
            # Only the exception kind: messages of foreign exceptions may quote URLs or ids.
            log.info("photo attachment could not be fetched (%s)", type(exc).__name__)
            self.issues.append(issues.issue(issues.ATTACHMENT_UNAVAILABLE,
                                            t("A photo could not be retrieved from the EHR."), candidate.ref))
            return None
        if not isinstance(data, (bytes, bytearray)) or not data:
            self.issues.append(issues.issue(issues.ATTACHMENT_INVALID, t("A retrieved photo was empty."), candidate.ref))
            return None
        if len(data) > self.max_photo_bytes:
            self.issues.append(issues.issue(issues.ATTACHMENT_TOO_LARGE, t("The image is larger than the service accepts."), candidate.ref))
            return None
        return bytes(data)

    def photos(self) -> tuple[Photo, ...]:
        ordered = sorted(self.candidates, key=photo_order_key, reverse=True)
        chosen: list[Photo] = []
        digests: set[str] = set()
        skipped = 0
        for candidate in ordered:
            if len(chosen) >= self.max_photos:
                skipped += 1
                continue
            data = self.fetch(candidate)
            if data is None:
                continue
            photo = Photo(ref=candidate.ref, data=data, content_type=candidate.content_type, region=candidate.region,
                          body_site=candidate.body_site, taken=candidate.taken)
            if photo.sha256 in digests:
                self.issues.append(issues.issue(issues.DUPLICATE_PHOTO, t("The same photo is recorded twice; analysed once."), candidate.ref))
                continue
            digests.add(photo.sha256)
            chosen.append(photo)
        if skipped:
            self.issues.append(issues.issue(issues.TOO_MANY_PHOTOS,
                                            t("{skipped} older photo(s) were not analysed (limit {max_photos} per request).", skipped=skipped, max_photos=self.max_photos)))
        return tuple(chosen)

    def patient_info(self) -> PatientInfo:
        if self.patient is not None:
            return self.patient
        self.issues.append(issues.issue(issues.PATIENT_MISSING, t("Patient demographics were not available (age and sex unknown).")))
        return PatientInfo(ref=f"Patient/{self.patient_id}")


def build_case(resources: Iterable[dict], *, patient_id: str, as_of: datetime,
               fetch_attachment: Callable[[str], bytes] | None = None, max_photos: int = 16,
               max_photo_bytes: int = DEFAULT_MAX_PHOTO_BYTES) -> Case:
    """Build the Case for `patient_id` at `as_of` (tz-aware) from FHIR resources and Bundles.

    `fetch_attachment(url)` returns the bytes of a photo stored by URL (relative "Binary/1" or
    absolute); it may raise `fhir_mapping.errors.FhirError`, OSError or ValueError, which become
    DataIssues. At most `max_photos` photos (newest first) are fetched and kept.
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    if max_photos < 0:
        raise ValueError("max_photos must be >= 0")
    builder = _Builder(patient_id, as_of, fetch_attachment, max_photos, max_photo_bytes)
    builder.read(resources)
    photos = builder.photos()
    patient = builder.patient_info()
    return Case(patient=patient, as_of=as_of, findings=tuple(builder.findings), conditions=tuple(builder.conditions),
                medications=tuple(builder.medications), photos=photos, issues=_dedupe(builder.issues))


def _dedupe(found: list[DataIssue]) -> tuple[DataIssue, ...]:
    return tuple(dict.fromkeys(found))


def psoriasis_condition_refs(case: Case) -> tuple[str, ...]:
    """References of the active psoriasis / psoriatic arthritis Conditions (for CarePlan.addresses)."""
    wanted = {ConditionKey.PSORIASIS, ConditionKey.PSORIATIC_ARTHRITIS}
    return tuple(dict.fromkeys(c.source_ref for c in case.conditions
                               if c.key in wanted and c.active and c.source_ref.startswith("Condition/")))
