"""Plain-JSON view of the agents' frozen dataclasses (for the CLI, the audit record and the review app)."""

from __future__ import annotations

import dataclasses
import enum
from datetime import date, datetime
from typing import Any


def to_jsonable(value: Any) -> Any:
    """Convert dataclasses, enums, dates, tuples and dicts recursively into JSON-compatible values.

    Bytes (photo data) are never serialised: they are replaced by their length so that patient images
    cannot leak into logs or audit records through this path."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return {"bytes": len(value)}
    if isinstance(value, dict):
        return {str(to_jsonable(k)): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, float):
        return round(value, 6)
    return value
