"""Must / must-not expectations on what the service answered for one vignette.

An `Outcome` is the HTTP answer (cards) plus the draft CarePlan its suggestion would create. Each
expectation is a small object with `failure(outcome) -> str | None` (None when met) and a short
`__str__` used in failure messages and in the README table. Patterns are case-insensitive regular
expressions matched against card text with Markdown escapes removed, so wording stays free while the
clinical content is pinned."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

LEVELS = {"info": 0, "warning": 1, "critical": 2}


def plain(markdown: str) -> str:
    """Card Markdown as text: backslash escapes and emphasis markers removed."""
    text = re.sub(r"\\(.)", r"\1", markdown)
    return text.replace("**", "").replace("__", "")


@dataclass(frozen=True)
class Outcome:
    status: int
    body: dict[str, Any]

    @property
    def cards(self) -> list[dict[str, Any]]:
        return list(self.body.get("cards", []))

    def card_text(self, card: dict[str, Any]) -> str:
        return plain(f"{card['summary']}\n{card.get('detail', '')}")

    def topic(self, card: dict[str, Any]) -> str:
        return str(card.get("source", {}).get("topic", {}).get("code", ""))

    def careplans(self) -> list[dict[str, Any]]:
        plans = []
        for card in self.cards:
            for suggestion in card.get("suggestions", []):
                for action in suggestion.get("actions", []):
                    resource = action.get("resource") or {}
                    if resource.get("resourceType") == "CarePlan":
                        plans.append(resource)
        return plans

    def activities(self, *, active_only: bool = True) -> list[dict[str, Any]]:
        """CarePlan activity details; `active_only` leaves out those marked doNotPerform."""
        found = []
        for plan in self.careplans():
            for activity in plan.get("activity", []):
                detail = activity.get("detail", {})
                if active_only and detail.get("doNotPerform"):
                    continue
                found.append(detail)
        return found


def activity_label(detail: dict[str, Any]) -> str:
    code = detail.get("code", {})
    names = [code.get("text", "")] + [c.get("display", "") for c in code.get("coding", [])]
    return " | ".join(n for n in names if n)


def _search(pattern: str, text: str) -> bool:
    return re.search(pattern, text, re.IGNORECASE | re.MULTILINE) is not None


def _cards_where(outcome: Outcome, where: str) -> Iterable[tuple[dict[str, Any], str]]:
    for card in outcome.cards:
        if where == "summary":
            yield card, plain(card["summary"])
        elif where == "alert":
            if LEVELS.get(card["indicator"], 0) >= 1:
                yield card, outcome.card_text(card)
        elif where == "cards":
            yield card, outcome.card_text(card)
        elif outcome.topic(card) == where:  # a topic code, e.g. "data-quality"
            yield card, outcome.card_text(card)


@dataclass(frozen=True)
class Says:
    """Some card (summary + detail; or only summaries / alert cards / cards of one topic) matches."""

    pattern: str
    where: str = "cards"

    def failure(self, outcome: Outcome) -> str | None:
        if any(_search(self.pattern, text) for _, text in _cards_where(outcome, self.where)):
            return None
        return f"no {self.where} text matches /{self.pattern}/"

    def __str__(self) -> str:
        return f"says /{self.pattern}/" + ("" if self.where == "cards" else f" ({self.where})")


@dataclass(frozen=True)
class Never:
    pattern: str
    where: str = "cards"

    def failure(self, outcome: Outcome) -> str | None:
        for card, text in _cards_where(outcome, self.where):
            hit = re.search(self.pattern, text, re.IGNORECASE | re.MULTILINE)
            if hit:
                return f"{self.where} text matches /{self.pattern}/: ...{text[max(0, hit.start() - 60):hit.end() + 40]!r}..."
        return None

    def __str__(self) -> str:
        return f"never /{self.pattern}/" + ("" if self.where == "cards" else f" ({self.where})")


@dataclass(frozen=True)
class Alert:
    """A card at `level` or above whose summary matches `pattern` (a red flag the clinician sees first)."""

    pattern: str
    level: str = "warning"

    def failure(self, outcome: Outcome) -> str | None:
        for card in outcome.cards:
            if LEVELS.get(card["indicator"], 0) >= LEVELS[self.level] and _search(self.pattern, plain(card["summary"])):
                return None
        seen = [(c["indicator"], c["summary"]) for c in outcome.cards]
        return f"no {self.level}+ card with summary /{self.pattern}/; cards: {seen}"

    def __str__(self) -> str:
        return f"{self.level}+ card /{self.pattern}/"


@dataclass(frozen=True)
class NoAlert:
    """Every card is `info`: nothing here justifies interrupting the clinician."""

    def failure(self, outcome: Outcome) -> str | None:
        loud = [(c["indicator"], c["summary"]) for c in outcome.cards if c["indicator"] != "info"]
        return f"unexpected alert cards: {loud}" if loud else None

    def __str__(self) -> str:
        return "no warning/critical card"


@dataclass(frozen=True)
class Offers:
    """The draft CarePlan proposes (not doNotPerform) an activity whose code matches."""

    pattern: str

    def failure(self, outcome: Outcome) -> str | None:
        labels = [activity_label(d) for d in outcome.activities()]
        if any(_search(self.pattern, label) for label in labels):
            return None
        return f"no proposed CarePlan activity matches /{self.pattern}/; proposed: {labels}"

    def __str__(self) -> str:
        return f"plan offers /{self.pattern}/"


@dataclass(frozen=True)
class NeverOffers:
    """No proposed CarePlan activity matches (a contraindicated one may be listed as doNotPerform)."""

    pattern: str

    def failure(self, outcome: Outcome) -> str | None:
        bad = [activity_label(d) for d in outcome.activities() if _search(self.pattern, activity_label(d))]
        return f"CarePlan proposes {bad} (matches /{self.pattern}/)" if bad else None

    def __str__(self) -> str:
        return f"plan never offers /{self.pattern}/"


@dataclass(frozen=True)
class NoPsoriasisPlan:
    """Out of the psoriasis pathway: no severity headline, no treatment step, no drug or
    phototherapy in any draft CarePlan."""

    def failure(self, outcome: Outcome) -> str | None:
        for card in outcome.cards:
            summary = plain(card["summary"])
            if _search(r"\b(clear|mild|moderate|severe) psoriasis\b|\bstep:", summary):
                return f"psoriasis headline or step on a non-psoriasis chart: {summary!r}"
        treatments = [activity_label(d) for d in outcome.activities() if d.get("kind") == "MedicationRequest"
                      or _search(r"UVB|phototherapy|PUVA", activity_label(d))]
        return f"treatment proposed on a non-psoriasis chart: {treatments}" if treatments else None

    def __str__(self) -> str:
        return "no severity headline, no treatment step or drug"


@dataclass(frozen=True)
class NoCards:
    def failure(self, outcome: Outcome) -> str | None:
        return f"expected no cards, got {[c['summary'] for c in outcome.cards]}" if outcome.cards else None

    def __str__(self) -> str:
        return "no cards"


@dataclass(frozen=True)
class PlanCoded:
    """A proposed CarePlan activity whose label matches `pattern` carries a coding in `system`."""

    pattern: str
    system: str

    def failure(self, outcome: Outcome) -> str | None:
        matching = [d for d in outcome.activities() if _search(self.pattern, activity_label(d))]
        if not matching:
            return f"no proposed activity matches /{self.pattern}/"
        for detail in matching:
            if not any(c.get("system") == self.system and c.get("code") for c in detail.get("code", {}).get("coding", [])):
                return f"activity {activity_label(detail)!r} has no {self.system} coding"
        return None

    def __str__(self) -> str:
        return f"plan codes /{self.pattern}/ in {self.system.rsplit('/', 1)[-1]}"
