"""FHIR R4 <-> derm3r: builds `inference.case.Case` from FHIR data and writes agent results back as
draft CarePlan, preliminary Observations and Provenance. fhir.resources (R4B) is imported in one module."""
