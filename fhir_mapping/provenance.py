"""Provenance for one assessment's write-back: the software Device is the author of every resource
created, the source photographs are the entities it used."""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from fhir_mapping import codes
from fhir_mapping.emit import ai_meta, concept, instant, is_literal_reference, reference
from inference.i18n import t

REASON_TEXT = t("AI clinical decision support (derm3r): draft for clinician review")


def provenance(*, resource_id: str, target_refs: Sequence[str], device_id: str, device_display: str,
               as_of: datetime, source_refs: Sequence[str] = ()) -> dict:
    """Provenance naming `device_id` as author of `target_refs` (references, e.g. "urn:uuid:...")."""
    if not target_refs:
        raise ValueError("a Provenance needs at least one target")
    resource: dict = {
        "resourceType": "Provenance",
        "id": resource_id,
        "meta": ai_meta(),
        "target": [{"reference": ref} for ref in dict.fromkeys(target_refs)],
        "occurredDateTime": instant(as_of),
        "recorded": instant(as_of),
        "reason": [concept(codes.ACT_REASON_TREATMENT, REASON_TEXT)],
        "activity": concept(codes.DATA_OPERATION_CREATE),
        "agent": [{
            "type": concept(codes.PARTICIPANT_AUTHOR),
            "who": reference(device_id, device_display, resource_type="Device"),  # literal: Device is PUT by id
        }],
    }
    sources = [ref for ref in dict.fromkeys(source_refs) if is_literal_reference(ref)]
    if sources:
        resource["entity"] = [{"role": "source", "what": {"reference": ref}} for ref in sources]
    return resource
