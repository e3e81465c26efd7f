"""Clinician feedback from the review app, filed as CDS Hooks 2.0 feedback on the assessment card.

The app sends a small JSON body; it is validated here (`ReviewFeedback`) and turned into a feedback
item of the shape the service's own `/cds-services/{id}/feedback` stores (card, outcome,
overrideReason, outcomeTimestamp), with what the app adds (which section, whether the plan was edited, which
resources were written) under `extension`, as CDS Hooks allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from cds_hooks.errors import InvalidRequest
from cds_hooks.wire.response import Coding
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


@dataclass(frozen=True)
class ReviewFeedback:
    """The review app's body for `POST /app/api/assessments/<id>/feedback`, validated. (Not the CDS
    Hooks feedback request of `cds_hooks.wire.feedback`: the app judges a whole card or one section
    of it, without suggestion ids, so it has its own small wire model; what it files is a CDS Hooks
    feedback item.)"""

    outcome: str  # accepted | overridden
    section: str = "overall"  # one of SECTIONS
    reason: str | None = None  # an OVERRIDE_REASONS key; required when overridden
    comment: str = ""  # stripped
    edited: bool = False  # the clinician edited the plan before writing it
    written: tuple[str, ...] = ()  # references of the resources the app wrote


def parse_review_feedback(body: Any) -> ReviewFeedback:
    """A ReviewFeedback from the app's JSON body (read by the strict reader); InvalidRequest if malformed."""
    if not isinstance(body, dict):
        raise InvalidRequest("feedback must be a JSON object")
    outcome = body.get("outcome")
    if outcome not in ("accepted", "overridden"):
        raise InvalidRequest("outcome must be 'accepted' or 'overridden'", expression="outcome")
    section = body.get("section", "overall")
    # isinstance first: a JSON array or object is unhashable and would make `in` raise (a 500).
    if not isinstance(section, str) or section not in SECTIONS:
        raise InvalidRequest("unknown section", expression="section")
    comment = body.get("comment") or ""
    if not isinstance(comment, str) or len(comment) > MAX_COMMENT_CHARS:
        raise InvalidRequest(f"comment must be text of at most {MAX_COMMENT_CHARS} characters", expression="comment")
    written = body.get("written") or []
    if not isinstance(written, list) or not all(isinstance(w, str) and len(w) < 200 for w in written) or len(written) > 50:
        raise InvalidRequest("written must be a list of resource references", expression="written")
    reason = body.get("reason")
    if outcome == "overridden" and (not isinstance(reason, str) or reason not in OVERRIDE_REASONS):
        raise InvalidRequest("unknown override reason", expression="reason")
    return ReviewFeedback(
        outcome=outcome,
        section=section,
        reason=reason if outcome == "overridden" else None,
        comment=comment.strip(),
        edited=bool(body.get("edited")),
        written=tuple(written),
    )


def feedback_item(record: dict, feedback: ReviewFeedback) -> tuple[str, dict]:
    """(service_id, CDS Hooks feedback item) for one app submission on `record`'s card."""
    item: dict[str, Any] = {
        "card": record.get("cardUuid") or record["id"],
        "outcome": feedback.outcome,
        "outcomeTimestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if feedback.reason is not None:
        reason = Coding(code=feedback.reason, system=OVERRIDE_REASON_SYSTEM, display=OVERRIDE_REASONS[feedback.reason])
        override: dict[str, Any] = {"reason": reason.to_json()}
        if feedback.comment:
            override["userComment"] = feedback.comment
        item["overrideReason"] = override
    extension: dict[str, Any] = {"source": "review-app", "section": feedback.section, "edited": feedback.edited}
    if feedback.written:
        extension["written"] = list(feedback.written)
    if feedback.outcome == "accepted" and feedback.comment:
        extension["comment"] = feedback.comment
    item["extension"] = {"derm3r-review": extension}
    return str(record.get("serviceId") or DEFAULT_SERVICE_ID), item
