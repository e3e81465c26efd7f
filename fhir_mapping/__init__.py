"""FHIR R4 <-> derm3r: builds `inference.case.Case` from FHIR data and writes agent results back as
draft CarePlan, preliminary Observations and Provenance. fhir.resources (R4B) is imported in one module.

Entry points:
- `case_builder.build_case(resources, patient_id=, as_of=, fetch_attachment=, max_photos=)` -> Case
  (`case_builder.psoriasis_condition_refs(case)` for CarePlan.addresses);
- `writeback.assessment_resources(assessment, condition_refs=)` -> [Device, Observations, CarePlan,
  Provenance] and `writeback.transaction_bundle(resources)`;
- `client.FhirClient` (allow-listed, bounded FHIR REST reads) raising `errors.Fhir*`;
- `codes` (every code, one module; `data_contract.md` is rendered from it) and `r4.validate`.
- `ehr_record`: builders of the record an EHR holds (Patient, Encounter, Condition, MedicationStatement,
  Observation, Media, Binary, DocumentReference), used by the synthetic patients (`cds_hooks.demo.synthetic`).
"""
