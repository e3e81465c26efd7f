"""derm3r inference: the clinical case model and the three agents (DERM-Rec, DERM-Rep, DERM-Reason).

Imports nothing of flask, fhir.resources or requests (see tests/test_layering.py)."""
