"""`fhir_mapping.queries` is the one list of what derm3r reads from FHIR; the places that act on it
(case builder mappers, prefetch templates, labels, validation) stay in step with it."""

from __future__ import annotations

from fhir_mapping import case_builder, plain_text
from fhir_mapping.queries import (
    KEY_LABELS,
    ORDER_PREFETCH_TEMPLATES,
    PATIENT_KEY,
    PHOTO_TYPES,
    PREFETCH_TEMPLATES,
    READ_KINDS,
    VALIDATED_KINDS,
    key_label,
    template_type,
)


def test_every_photo_type_has_a_mapper_a_prefetch_key_and_is_read() -> None:
    assert set(case_builder._PHOTO_MAPPERS) == set(PHOTO_TYPES)
    asked = {template_type(t) for t in PREFETCH_TEMPLATES.values()}
    assert set(PHOTO_TYPES) <= asked
    assert set(PHOTO_TYPES) <= READ_KINDS


def test_every_prefetch_key_has_a_label_and_asks_for_a_kind_the_builder_reads() -> None:
    assert set(PREFETCH_TEMPLATES) == set(KEY_LABELS)
    assert {template_type(t) for t in PREFETCH_TEMPLATES.values()} <= READ_KINDS
    assert VALIDATED_KINDS <= READ_KINDS


def test_the_ordering_hooks_ask_for_no_photographs() -> None:
    assert PATIENT_KEY in ORDER_PREFETCH_TEMPLATES
    assert not {template_type(t) for t in ORDER_PREFETCH_TEMPLATES.values()} & set(PHOTO_TYPES)
    assert all(PREFETCH_TEMPLATES[key] == template for key, template in ORDER_PREFETCH_TEMPLATES.items())


def test_labels_fall_back_to_the_key() -> None:
    assert key_label("media") == "Clinical photographs (Media)"
    assert key_label("unknownKey") == "unknownKey"


def test_photo_references_are_scrubbed_from_clinician_text() -> None:
    for rtype in PHOTO_TYPES:
        assert f"{rtype}/abc-1" not in plain_text.scrub(f"see {rtype}/abc-1 for the lesion")
