"""The clinical knowledge base: versioned JSON files, each validated against its JSON Schema at load.

Knowledge is data, not code (DESIGN.md, "Conventions"): severity thresholds, the treatment ladder,
contraindications, TCM patterns, screening and follow-up rules live in `inference/knowledge/*.json`,
every rule with an `id` and a `source` that names an entry of the file's own `sources` table. A file
that does not match its schema, cites an unknown source or repeats a rule id is rejected at load, so a
malformed edit fails at start-up instead of silently changing a recommendation.

The base is loaded once per directory (cached) and is deeply immutable, so one instance can be shared
by every request.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

logger = logging.getLogger(__name__)

DEFAULT_DIR = Path(__file__).resolve().parent / "knowledge"

# The files DERM-Reason needs, in the order their versions appear in `KnowledgeBase.version`.
KNOWLEDGE_FILES: tuple[str, ...] = (
    "severity", "treatment", "tcm", "tcm_formulas", "tcm_herbs", "tcm_safety", "screening", "follow_up", "drugs", "scope",
)


class KnowledgeError(ValueError):
    """A knowledge file is missing, unreadable, or does not satisfy its schema or cross-references."""


@dataclass(frozen=True)
class KnowledgeBase:
    """All knowledge documents (deep-frozen: mappings are read-only, lists are tuples)."""

    directory: Path
    documents: Mapping[str, Mapping[str, Any]]
    versions: Mapping[str, str]
    digest: str  # sha256 over the exact bytes of every file, so an unversioned edit is still visible

    @property
    def version(self) -> str:
        """One string naming every file's version and the content digest, e.g.
        "severity=1.0.0;treatment=1.0.0;...;sha256=1a2b3c4d5e6f"."""
        parts = [f"{name}={self.versions[name]}" for name in KNOWLEDGE_FILES if name in self.versions]
        return ";".join([*parts, f"sha256={self.digest[:12]}"])

    def document(self, name: str) -> Mapping[str, Any]:
        try:
            return self.documents[name]
        except KeyError:
            raise KnowledgeError(f"no knowledge document named {name!r}") from None

    def citation(self, name: str, source_id: str) -> str:
        """The full citation text of `source_id` in document `name`."""
        sources = self.document(name)["sources"]
        return str(sources[source_id])

    @classmethod
    def load(cls, directory: Path | None = None) -> KnowledgeBase:
        """Load and validate the knowledge files in `directory` (default: the packaged files).

        Cached per resolved directory: calling it again returns the same instance."""
        return _load_cached((directory or DEFAULT_DIR).resolve())


def load_knowledge(directory: Path | None = None) -> KnowledgeBase:
    """Shorthand for `KnowledgeBase.load`."""
    return KnowledgeBase.load(directory)


@lru_cache(maxsize=8)
def _load_cached(directory: Path) -> KnowledgeBase:
    documents: dict[str, Mapping[str, Any]] = {}
    versions: dict[str, str] = {}
    digest = hashlib.sha256()
    seen_ids: dict[str, str] = {}
    for name in KNOWLEDGE_FILES:
        path = directory / f"{name}.json"
        schema_path = directory / "schema" / f"{name}.schema.json"
        raw = _read_bytes(path)
        document = _parse_json(raw, path)
        validate_document(document, _parse_json(_read_bytes(schema_path), schema_path), name)
        _check_references(document, name, seen_ids)
        digest.update(name.encode() + b"\0" + raw + b"\0")
        documents[name] = freeze(document)
        versions[name] = str(document["version"])
    base = KnowledgeBase(
        directory=directory,
        documents=MappingProxyType(documents),
        versions=MappingProxyType(versions),
        digest=digest.hexdigest(),
    )
    logger.info("knowledge base loaded: %s", base.version)
    return base


def validate_document(document: Any, schema: Mapping[str, Any], name: str) -> None:
    """Raise KnowledgeError listing every schema violation of `document` (sorted, so the message is stable)."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise KnowledgeError(f"schema for {name} is itself invalid: {exc.message}") from exc
    errors = sorted(Draft202012Validator(schema).iter_errors(document), key=lambda e: (list(e.absolute_path), e.message))
    if errors:
        details = "; ".join(f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}" for e in errors[:10])
        more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
        raise KnowledgeError(f"{name}.json does not match its schema: {details}{more}")


def _check_references(document: Mapping[str, Any], name: str, seen_ids: dict[str, str]) -> None:
    """What JSON Schema cannot say: every cited source exists, and rule ids are unique across files."""
    sources = document.get("sources", {})
    for node in _walk(document):
        for key in ("source", "note_source", "interval_source", "also_source", "alternative_source"):
            ref = node.get(key)
            if isinstance(ref, str) and ref not in sources:
                raise KnowledgeError(f"{name}.json: {node.get('id', key)!r} cites unknown source {ref!r}")
        for ref in node.get("note_sources", ()) if isinstance(node.get("note_sources"), list) else ():
            if ref not in sources:
                raise KnowledgeError(f"{name}.json: {node.get('id', 'note_sources')!r} cites unknown source {ref!r}")
        rule_id = node.get("id")
        if isinstance(rule_id, str) and "." in rule_id:
            if rule_id in seen_ids:
                raise KnowledgeError(f"{name}.json: rule id {rule_id!r} already used in {seen_ids[rule_id]}.json")
            seen_ids[rule_id] = name


def _walk(value: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(value, Mapping):
        yield value
        for child in value.values():
            yield from _walk(child)
    elif isinstance(value, list):
        for child in value:
            yield from _walk(child)


def freeze(value: Any) -> Any:
    """Deep-freeze parsed JSON: dicts become read-only mappings, lists become tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    return value


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise KnowledgeError(f"cannot read knowledge file {path}: {exc.strerror}") from exc


def _parse_json(raw: bytes, path: Path) -> Any:
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise KnowledgeError(f"{path.name} is not valid JSON: {exc}") from exc
