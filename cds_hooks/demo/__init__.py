"""Playing the EHR, off the request path: nothing here is imported while the service answers a hook.

- `run`: the `derm3r demo` command (the service on a loopback port, called over real HTTP).
- `fhir_server`: the FHIR-server side of `derm3r demo --fhir URL` (probe, seed, confirm patients).
- `issuer`: a throw-away CDS Client identity that signs the demo's JWTs.
- `ehr_request`: a FHIR Bundle -> a CDS Hooks request with prefetch, draft orders -> an ordering
  hook's context, as an EHR builds them (used by `derm3r demo`, `derm3r assess`, tests, benchmarks).
- `offline`: `derm3r assess`, one request answered by the full request path in process.
- `synthetic`: deterministic synthetic patients as FHIR transaction Bundles, written through
  `fhir_mapping`'s builders.
"""
