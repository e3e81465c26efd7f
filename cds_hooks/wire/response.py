"""Outbound CDS Hooks 2.0 models: Coding, Source, Link, Action, Suggestion, Card, response.

Constructors enforce the spec's rules (summary < 140 characters, indicator and selectionBehavior
enums, selectionBehavior with suggestions, display on override reasons, appContext only on smart
links, absolute URLs, at most one recommended suggestion under at-most-one). A violation is a bug in
derm3r, so it raises `ValueError` (-> 500), never a malformed response. `to_json` omits None and
empty values (spec: JSON elements SHALL NOT be null or empty), except the top-level `cards` array,
which the spec requires even when empty."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from cds_hooks.wire.fields import is_absolute_http_url, is_uuid
from fhir_mapping.safe_text import plain_text, strip_unsafe_everywhere
from inference.i18n import Text, localize, localize_tree
from inference.results import Indicator

INDICATORS = tuple(Indicator)  # the CDS Hooks card indicator (one enum, shared with DERM-Reason)
SELECTION_BEHAVIORS = ("at-most-one", "any")
ACTION_TYPES = ("create", "update", "delete")
LINK_TYPES = ("absolute", "smart")
SUMMARY_MAX = 139  # "<140-character summary"


def compact(value: Any) -> Any:
    """Drop None, empty strings, empty lists and empty objects, recursively."""
    if isinstance(value, dict):
        out = {k: compact(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if not _empty(v)}
    if isinstance(value, (list, tuple)):
        items = [compact(v) for v in value]
        return [v for v in items if not _empty(v)]
    return value


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, (str, list, dict)) and len(value) == 0)


def _render_text(model: Any, *names: str) -> None:
    """Lazy messages (`inference.i18n.Text`) in these fields rendered now, in the request's language,
    so the spec's limits are checked on the text the clinician will read."""
    for name in names:
        value = getattr(model, name)
        if isinstance(value, Text):
            object.__setattr__(model, name, localize(value))
        elif isinstance(value, Mapping):
            object.__setattr__(model, name, localize_tree(dict(value)))


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


@dataclass(frozen=True)
class Coding:
    code: str
    system: str
    display: str | None = None

    def __post_init__(self) -> None:
        _render_text(self, "display")
        _require(bool(self.code) and bool(self.system), "Coding needs code and system")

    def to_json(self) -> dict[str, Any]:
        return compact({"code": self.code, "system": self.system, "display": self.display})


@dataclass(frozen=True)
class Source:
    label: str
    url: str | None = None
    icon: str | None = None
    topic: Coding | None = None

    def __post_init__(self) -> None:
        _render_text(self, "label")
        _require(bool(self.label), "Source.label is required")
        for name in ("url", "icon"):
            value = getattr(self, name)
            _require(value is None or is_absolute_http_url(value), f"Source.{name} must be an absolute URL")

    def to_json(self) -> dict[str, Any]:
        return compact(
            {"label": self.label, "url": self.url, "icon": self.icon, "topic": self.topic.to_json() if self.topic else None}
        )


@dataclass(frozen=True)
class Link:
    label: str
    url: str
    type: str
    app_context: str | None = None
    autolaunchable: bool | None = None

    def __post_init__(self) -> None:
        _render_text(self, "label")
        _require(bool(self.label), "Link.label is required")
        _require(self.type in LINK_TYPES, f"Link.type must be one of {LINK_TYPES}")
        _require(is_absolute_http_url(self.url), "Link.url must be an absolute URL")
        _require(self.app_context is None or self.type == "smart", "appContext is only valid on smart links (cds-resp-3)")

    def to_json(self) -> dict[str, Any]:
        return compact(
            {
                "label": self.label,
                "url": self.url,
                "type": self.type,
                "appContext": self.app_context,
                "autolaunchable": self.autolaunchable,
            }
        )


@dataclass(frozen=True)
class Action:
    type: str
    description: str
    resource: Mapping[str, Any] | None = field(default=None, repr=False)
    resource_id: str | None = None

    def __post_init__(self) -> None:
        _render_text(self, "description", "resource")
        _require(self.type in ACTION_TYPES, f"Action.type must be one of {ACTION_TYPES}")
        _require(bool(self.description), "Action.description is required (cds-resp-5)")
        if self.type in ("create", "update"):
            _require(self.resource is not None and "resourceType" in self.resource, f"{self.type} needs a FHIR resource")
        else:
            _require(self.resource_id is not None and self.resource is None, "delete uses resourceId, not resource (cds-resp-2)")

    def to_json(self) -> dict[str, Any]:
        return compact(
            {
                "type": self.type,
                "description": self.description,
                "resource": dict(self.resource) if self.resource is not None else None,
                "resourceId": self.resource_id,
            }
        )


@dataclass(frozen=True)
class Suggestion:
    label: str
    uuid: str
    actions: tuple[Action, ...] = ()
    is_recommended: bool | None = None

    def __post_init__(self) -> None:
        _render_text(self, "label")
        _require(bool(self.label), "Suggestion.label is required")
        _require(is_uuid(self.uuid), "Suggestion.uuid must be a UUID")

    def to_json(self) -> dict[str, Any]:
        return compact(
            {
                "label": self.label,
                "uuid": self.uuid,
                "isRecommended": self.is_recommended,
                "actions": [a.to_json() for a in self.actions],
            }
        )


@dataclass(frozen=True)
class Card:
    uuid: str
    summary: str
    indicator: str
    source: Source
    detail: str | None = None
    suggestions: tuple[Suggestion, ...] = ()
    selection_behavior: str | None = None
    override_reasons: tuple[Coding, ...] = ()
    links: tuple[Link, ...] = ()

    def __post_init__(self) -> None:
        _render_text(self, "summary", "detail")
        _require(is_uuid(self.uuid), "Card.uuid must be a UUID")
        _require(bool(self.summary) and len(self.summary) <= SUMMARY_MAX, "Card.summary must be 1-139 characters")
        _require(self.indicator in INDICATORS, f"Card.indicator must be one of {INDICATORS}")
        if self.suggestions:
            _require(self.selection_behavior is not None, "selectionBehavior is required with suggestions (cds-resp-6)")
        _require(
            self.selection_behavior is None or self.selection_behavior in SELECTION_BEHAVIORS,
            f"selectionBehavior must be one of {SELECTION_BEHAVIORS}",
        )
        if self.selection_behavior == "at-most-one":
            recommended = sum(1 for s in self.suggestions if s.is_recommended)
            _require(recommended <= 1, "at most one suggestion may be recommended under at-most-one (cds-resp-1)")
        _require(all(r.display for r in self.override_reasons), "override reasons need a display (cds-resp-4)")
        uuids = [s.uuid for s in self.suggestions]
        _require(len(uuids) == len(set(uuids)), "suggestion uuids must be unique within a card")

    def to_json(self) -> dict[str, Any]:
        return compact(
            {
                "uuid": self.uuid,
                "summary": self.summary,
                "detail": self.detail,
                "indicator": self.indicator,
                "source": self.source.to_json(),
                "suggestions": [s.to_json() for s in self.suggestions],
                "selectionBehavior": self.selection_behavior,
                "overrideReasons": [r.to_json() for r in self.override_reasons],
                "links": [link.to_json() for link in self.links],
            }
        )


@dataclass(frozen=True)
class CdsResponse:
    cards: tuple[Card, ...] = ()
    system_actions: tuple[Action, ...] = ()

    def __post_init__(self) -> None:
        uuids = [c.uuid for c in self.cards]
        _require(len(uuids) == len(set(uuids)), "card uuids must be unique")

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"cards": [c.to_json() for c in self.cards]}
        if self.system_actions:
            body["systemActions"] = [a.to_json() for a in self.system_actions]
        # Last pass: no control or bidi-override character leaves in a card, whoever built it.
        return strip_unsafe_everywhere(body)


def truncate_summary(text: str) -> str:
    """Fit `text` into the summary limit on a word boundary, with an ellipsis when cut. Plain text
    (summaries may carry record text): unsafe characters removed, bare URLs defanged."""
    text = plain_text(text)
    if len(text) <= SUMMARY_MAX:
        return text
    cut = text[: SUMMARY_MAX - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"
