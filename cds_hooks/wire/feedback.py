"""The feedback request (`POST {baseUrl}/cds-services/{id}/feedback`), parsed and validated.

Invariants from the spec's logical model: cds-fb-1 (outcome accepted | overridden), cds-fb-2
(accepted implies acceptedSuggestions), cds-fb-3 (an overrideReason carries a reason, a userComment
or both)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from cds_hooks.errors import InvalidRequest
from cds_hooks.wire.fields import (
    optional_extension,
    optional_str,
    require_object,
    require_str,
    require_utc_timestamp,
    require_uuid,
)
from cds_hooks.wire.response import Coding, compact

OUTCOMES = ("accepted", "overridden")
MAX_FEEDBACK_ITEMS = 200  # one EHR session does not act on more cards than this in one POST


@dataclass(frozen=True)
class OverrideReason:
    reason: Coding | None = None
    user_comment: str | None = None


@dataclass(frozen=True)
class FeedbackItem:
    card: str  # card.uuid from our response
    outcome: str
    outcome_timestamp: datetime  # UTC
    accepted_suggestions: tuple[str, ...] = ()  # suggestion uuids
    override_reason: OverrideReason | None = None

    def to_json(self) -> dict[str, Any]:
        """Canonical JSON for storage (normalised timestamp, so re-sent feedback is recognised as a
        duplicate even if the client formats the time differently)."""
        reason = self.override_reason
        return compact(
            {
                "card": self.card,
                "outcome": self.outcome,
                "acceptedSuggestions": [{"id": s} for s in self.accepted_suggestions],
                "overrideReason": {
                    "reason": reason.reason.to_json() if reason and reason.reason else None,
                    "userComment": reason.user_comment if reason else None,
                },
                "outcomeTimestamp": self.outcome_timestamp.astimezone(timezone.utc).isoformat().replace("+00:00", "Z"),
            }
        )


def _parse_coding(value: Any, path: str) -> Coding:
    raw = require_object(value, path)
    return Coding(
        code=require_str(raw, "code", path, max_len=256),
        system=require_str(raw, "system", path, max_len=1024),
        display=optional_str(raw, "display", path, max_len=1024),
    )


def _parse_override_reason(value: Any, path: str) -> OverrideReason:
    raw = require_object(value, path)
    reason = _parse_coding(raw["reason"], f"{path}.reason") if raw.get("reason") is not None else None
    comment = optional_str(raw, "userComment", path, max_len=4000)
    if reason is None and comment is None:  # cds-fb-3
        raise InvalidRequest(f"{path} needs a reason, a userComment or both", expression=path)
    return OverrideReason(reason=reason, user_comment=comment)


def _parse_item(value: Any, path: str) -> FeedbackItem:
    raw = require_object(value, path)
    card = require_uuid(raw, "card", path)
    outcome = require_str(raw, "outcome", path, max_len=32)
    if outcome not in OUTCOMES:  # cds-fb-1
        raise InvalidRequest(f"{path}.outcome must be 'accepted' or 'overridden'", expression=f"{path}.outcome")
    accepted: list[str] = []
    raw_accepted = raw.get("acceptedSuggestions")
    if raw_accepted is not None:
        if not isinstance(raw_accepted, list):
            raise InvalidRequest(f"{path}.acceptedSuggestions must be an array", expression=f"{path}.acceptedSuggestions")
        for i, entry in enumerate(raw_accepted):
            accepted.append(require_uuid(require_object(entry, f"{path}.acceptedSuggestions[{i}]"), "id", f"{path}.acceptedSuggestions[{i}]"))
    if outcome == "accepted" and not accepted:  # cds-fb-2
        raise InvalidRequest(f"{path}.acceptedSuggestions is required when outcome is accepted", expression=f"{path}.acceptedSuggestions")
    if outcome == "overridden" and accepted:
        raise InvalidRequest(f"{path}: an overridden card has no accepted suggestions", expression=f"{path}.acceptedSuggestions")
    override = None
    if raw.get("overrideReason") is not None:
        if outcome != "overridden":
            raise InvalidRequest(f"{path}.overrideReason only applies to overridden cards", expression=f"{path}.overrideReason")
        override = _parse_override_reason(raw["overrideReason"], f"{path}.overrideReason")
    optional_extension(raw, path)
    return FeedbackItem(
        card=card,
        outcome=outcome,
        outcome_timestamp=require_utc_timestamp(raw, "outcomeTimestamp", path),
        accepted_suggestions=tuple(dict.fromkeys(accepted)),
        override_reason=override,
    )


def parse_feedback(body: Any) -> tuple[FeedbackItem, ...]:
    raw = require_object(body, "request")
    items = raw.get("feedback")
    if not isinstance(items, list) or not items:
        raise InvalidRequest("feedback must be a non-empty array", expression="feedback")
    if len(items) > MAX_FEEDBACK_ITEMS:
        raise InvalidRequest(f"feedback has more than {MAX_FEEDBACK_ITEMS} items", expression="feedback")
    return tuple(_parse_item(item, f"feedback[{i}]") for i, item in enumerate(items))
