"""Clinician feedback from the review app, filed as CDS Hooks 2.0 feedback on the assessment card.

The app sends a small JSON body; it is validated here and turned into a feedback item of the shape
the service's own `/cds-services/{id}/feedback` stores (card, outcome, overrideReason,
outcomeTimestamp), with what the app adds (which section, whether the plan was edited, which
resources were written) under `extension`, as CDS Hooks allows.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from cds_hooks.errors import InvalidRequest
from fhir_mapping import codes

# The project's own code system for why a clinician disagreed (shown as choices in the app).
OVERRIDE_REASON_SYSTEM = codes.REVIEW_OVERRIDE_REASON
OVERRIDE_REASONS: dict[str, str] = {
    "severity-wrong": "Severity assessment is wrong",
    "measurement-wrong": "Photo measurements (PASI, area, redness, scale) are wrong",
    "diagnosis-wrong": "Condition probabilities are misleading",
    "treatment-inappropriate": "Treatment step or option is inappropriate",
    "contraindication-missed": "A contraindication was missed",
    "tcm-disagree": "Disagree with the TCM differentiation",
    "other": "Other",
}
SECTIONS: frozenset[str] = frozenset(
    {"overall", "photos", "pasi", "probabilities", "severity", "treatment", "tcm", "screenings", "trend", "careplan"}
)
MAX_COMMENT_CHARS = 2000
DEFAULT_SERVICE_ID = "derm3r-review"


def feedback_item(record: dict, body: Any) -> tuple[str, dict]:
    """(service_id, CDS Hooks feedback item) for one app submission; InvalidRequest if malformed."""
    if not isinstance(body, dict):
        raise InvalidRequest("feedback must be a JSON object")
    outcome = body.get("outcome")
    if outcome not in ("accepted", "overridden"):
        raise InvalidRequest("outcome must be 'accepted' or 'overridden'", expression="outcome")
    section = body.get("section", "overall")
    if section not in SECTIONS:
        raise InvalidRequest("unknown section", expression="section")
    comment = body.get("comment") or ""
    if not isinstance(comment, str) or len(comment) > MAX_COMMENT_CHARS:
        raise InvalidRequest(f"comment must be text of at most {MAX_COMMENT_CHARS} characters", expression="comment")
    written = body.get("written") or []
    if not isinstance(written, list) or not all(isinstance(w, str) and len(w) < 200 for w in written) or len(written) > 50:
        raise InvalidRequest("written must be a list of resource references", expression="written")

    item: dict[str, Any] = {
        "card": record.get("cardUuid") or record["id"],
        "outcome": outcome,
        "outcomeTimestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if outcome == "overridden":
        reason = body.get("reason")
        if reason not in OVERRIDE_REASONS:
            raise InvalidRequest("unknown override reason", expression="reason")
        override: dict[str, Any] = {
            "reason": {"system": OVERRIDE_REASON_SYSTEM, "code": reason, "display": OVERRIDE_REASONS[reason]}
        }
        if comment.strip():
            override["userComment"] = comment.strip()
        item["overrideReason"] = override
    extension: dict[str, Any] = {"source": "review-app", "section": section, "edited": bool(body.get("edited"))}
    if written:
        extension["written"] = written
    if outcome == "accepted" and comment.strip():
        extension["comment"] = comment.strip()
    item["extension"] = {"derm3r-review": extension}
    return str(record.get("serviceId") or DEFAULT_SERVICE_ID), item
