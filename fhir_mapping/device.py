"""The software Device that authors every AI output (named by Observation.device and Provenance.agent).

It is written by PUT `Device/<device_id>` (update-as-create), never by POST: a plain EHR applying a
CDS `create` action makes a new Device each time, and once two share the identifier a conditional
create on it fails with 412. A deterministic id makes every write of it idempotent, so the other
resources reference it literally as `Device/<id>`."""

from __future__ import annotations

import re
import uuid

from fhir_mapping import codes
from fhir_mapping.emit import NAMESPACE, ai_meta, derm3r_concept
from inference.i18n import t

SOFTWARE_NAME = "derm3r"


def device_id(model_version: str, knowledge_version: str) -> str:
    """One Device per (model, knowledge) version pair, shared by all patients."""
    return str(uuid.uuid5(NAMESPACE, f"device|{model_version}|{knowledge_version}"))


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def device_identifier_value(model_version: str, knowledge_version: str) -> str:
    # Only search-safe characters: the value goes into an `ifNoneExist` query unescaped.
    model = _UNSAFE.sub("-", model_version) or "unknown"
    knowledge = _UNSAFE.sub("-", knowledge_version) or "unknown"
    return f"{SOFTWARE_NAME}-model-{model}-knowledge-{knowledge}"


def software_device(model_version: str, knowledge_version: str) -> dict:
    """Device resource for the derm3r software at these model and knowledge-base versions."""
    return {
        "resourceType": "Device",
        "id": device_id(model_version, knowledge_version),
        "meta": ai_meta(),
        "identifier": [{"system": codes.DERM3R_DEVICE_IDENTIFIER,
                        "value": device_identifier_value(model_version, knowledge_version)}],
        "status": "active",
        "deviceName": [{"name": SOFTWARE_NAME, "type": "model-name"}],
        "type": derm3r_concept(codes.D_SOFTWARE, t("Clinical decision support software (dermatology)")),
        "version": [
            {"type": {"text": t("model")}, "value": model_version or "unknown"},
            {"type": {"text": t("knowledge base")}, "value": knowledge_version or "unknown"},
        ],
        "note": [{"text": t("Software. Its outputs are preliminary and require clinician review.")}],
    }


def device_reference(device: dict) -> str:
    """"Device/<id>": the literal reference other resources use and the URL the Device is PUT to."""
    return f"Device/{device['id']}"
