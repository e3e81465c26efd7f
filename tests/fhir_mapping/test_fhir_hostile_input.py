"""build_case never raises on arbitrary JSON shaped roughly like FHIR: every problem is a DataIssue."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fhir_mapping import codes
from fhir_mapping.case_builder import build_case

AS_OF = datetime(2026, 11, 27, tzinfo=timezone.utc)

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                     st.text(max_size=12), st.sampled_from(["2026-01-01", "2026-13-40T99:00", "Patient/p1", "urn:uuid:p1",
                                                            "image/png", "AA==", "completed", "final", codes.LOINC,
                                                            codes.SNOMED, "39156-5", "9014002", "Binary/1"]))
_json = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.sampled_from(
                                                           ["coding", "system", "code", "text", "value", "unit", "display",
                                                            "reference", "data", "url", "contentType", "start", "attachment",
                                                            "concept", "valueQuantity", "valueInteger"]), inner, max_size=4)),
                     max_leaves=12)
_fields = st.sampled_from(["id", "status", "code", "subject", "patient", "component", "valueQuantity", "valueBoolean",
                           "valueCodeableConcept", "valueString", "valueInteger", "effectiveDateTime", "effectivePeriod",
                           "content", "bodySite", "type", "modality", "createdDateTime", "clinicalStatus",
                           "verificationStatus", "medicationCodeableConcept", "medicationReference", "contained",
                           "intent", "meta", "extension", "birthDate", "gender", "entry", "docStatus", "onsetDateTime"])
_resource = st.builds(
    lambda rtype, body: {**body, "resourceType": rtype},
    st.sampled_from(["Patient", "Observation", "Media", "DocumentReference", "Condition", "MedicationStatement",
                     "MedicationRequest", "Medication", "Bundle", "Encounter"]),
    st.dictionaries(_fields, _json, max_size=8),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_resource, _json), max_size=6))
def test_build_case_never_raises(items: list) -> None:
    def fetch(url: str) -> bytes:
        return b"\x89PNG" + url.encode()[:8]

    case = build_case(items, patient_id="p1", as_of=AS_OF, fetch_attachment=fetch, max_photos=2)
    assert len(case.photos) <= 2
    for finding in case.findings:
        assert finding.effective is None or finding.effective.tzinfo is not None
