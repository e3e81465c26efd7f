"""derm3r's own FHIR URIs (CodeSystems, NamingSystems, extensions) share one root, defined once in
`fhir_mapping.codes`: no module writes one as a literal, and the old `derm3r.example.org` root of
the review app's override reasons is gone."""

from __future__ import annotations

import re
from pathlib import Path

from cds_hooks.review.feedback import OVERRIDE_REASON_SYSTEM
from cds_hooks.cards import TOPIC_SYSTEM
from cds_hooks.order_cards import OVERRIDE_SYSTEM
from fhir_mapping import codes
from fhir_mapping.careplan import UNVERIFIED_CODE_EXTENSION

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("cds_hooks", "fhir_mapping", "inference")
OWN_LITERAL = re.compile(r"https://derm3r(\.example)?\.org/fhir/")


def test_own_uris_are_built_from_the_one_root() -> None:
    for uri in (codes.DERM3R, codes.DERM3R_IDENTIFIER, codes.DERM3R_DEVICE_IDENTIFIER, OVERRIDE_REASON_SYSTEM, TOPIC_SYSTEM,
                OVERRIDE_SYSTEM, UNVERIFIED_CODE_EXTENSION, codes.SYNTHETIC_MRN):
        assert uri.startswith(codes.OWN_FHIR_ROOT + "/"), uri
    assert codes.own_uri("CodeSystem", "x") == "https://derm3r.org/fhir/CodeSystem/x"


def test_no_module_writes_an_own_uri_as_a_literal() -> None:
    offenders = []
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            literals = OWN_LITERAL.findall(text)
            # codes.py holds the root itself (once).
            allowed = 1 if path == REPO / "fhir_mapping" / "codes.py" else 0
            if len(literals) > allowed:
                offenders.append(str(path.relative_to(REPO)))
    assert offenders == []
