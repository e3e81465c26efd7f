"""The service registry: what a CDS Service is (id, hook, title, description, prefetch templates,
handler) and the immutable set of them that discovery, routing and feedback are derived from.

derm3r's own services are declared once, in `cds_hooks.services` (which imports the handlers); this
module imports no handler, so the request path has no import cycle."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Generic, Iterable, Iterator, Mapping

from cds_hooks.errors import UnknownService
from cds_hooks.wire.context import TOKEN_FIELDS
from cds_hooks.wire.request import C, HookRequest
from cds_hooks.wire.response import CdsResponse, compact
from fhir_mapping.queries import PATIENT_KEY, PREFETCH_TEMPLATES


@dataclass(frozen=True)
class ServiceCall(Generic[C]):
    """One validated call of a service: what a handler receives (never the raw JSON). Its request's
    context is an instance of the hook's context class (`cds_hooks.wire.context.CONTEXTS`), and a
    handler names that class: `ServiceCall[OrderContext]`."""

    request: HookRequest[C]
    service: "ServiceDefinition"
    client_issuer: str | None = None  # `iss` of the verified client JWT (None with auth off)


# (call, runtime) -> response. The runtime is a `cds_hooks.runtime.Runtime`; each handler declares
# that type itself. Naming it here would make the registry depend on the runtime that holds it.
Handler = Callable[[ServiceCall[Any], Any], CdsResponse]

_TOKEN = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")
_SERVICE_ID = re.compile(r"^[A-Za-z0-9\-_.]{1,64}$")


@dataclass(frozen=True)
class ServiceDefinition:
    id: str
    hook: str
    title: str
    description: str
    handler: Handler = field(repr=False)
    prefetch: Mapping[str, str] = field(default_factory=lambda: PREFETCH_TEMPLATES)
    # Keys without which no assessment is possible: missing and unobtainable -> 412.
    required_prefetch: frozenset[str] = frozenset({PATIENT_KEY})
    usage_requirements: str | None = None

    def __post_init__(self) -> None:
        if not _SERVICE_ID.match(self.id):
            raise ValueError(f"service id {self.id!r} is not URL-safe")
        allowed = TOKEN_FIELDS.get(self.hook)
        if allowed is None:
            raise ValueError(f"no context model for hook {self.hook!r}")
        for key, template in self.prefetch.items():
            for token in _TOKEN.findall(template):
                if token not in allowed:
                    raise ValueError(f"prefetch {key!r} uses {token!r}, not a root-level {self.hook} context token")
        missing = self.required_prefetch - set(self.prefetch)
        if missing:
            raise ValueError(f"required prefetch keys without a template: {sorted(missing)}")

    def to_discovery(self) -> dict[str, Any]:
        return compact(
            {
                "hook": self.hook,
                "title": self.title,
                "description": self.description,
                "id": self.id,
                "prefetch": dict(self.prefetch),
                "usageRequirements": self.usage_requirements,
            }
        )


def render_template(template: str, tokens: Mapping[str, str]) -> str | None:
    """Replace prefetch tokens; None if a token has no value in this request's context (the
    template then cannot be run, e.g. an optional encounterId that was not sent)."""
    missing = False

    def substitute(match: re.Match[str]) -> str:
        nonlocal missing
        value = tokens.get(match.group(1))
        if value is None:
            missing = True
            return ""
        return value

    rendered = _TOKEN.sub(substitute, template)
    return None if missing else rendered


class Registry:
    """An ordered, immutable set of services keyed by id."""

    def __init__(self, services: Iterable[ServiceDefinition]) -> None:
        by_id: dict[str, ServiceDefinition] = {}
        for service in services:
            if service.id in by_id:
                raise ValueError(f"duplicate service id {service.id!r}")
            by_id[service.id] = service
        self._by_id = MappingProxyType(by_id)

    def __iter__(self) -> Iterator[ServiceDefinition]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, service_id: str) -> ServiceDefinition:
        try:
            return self._by_id[service_id]
        except KeyError:
            raise UnknownService(f"no CDS Service with id {service_id!r}", expression="id") from None

    def discovery(self) -> dict[str, Any]:
        # `services` is the one array the spec wants even when empty.
        return {"services": [s.to_discovery() for s in self]}
