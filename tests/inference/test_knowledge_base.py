"""The knowledge loader: validates every file against its schema, cross-checks sources and ids, loads once,
and hands out immutable documents."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from inference.knowledge_base import DEFAULT_DIR, KNOWLEDGE_FILES, KnowledgeBase, KnowledgeError, load_knowledge
from inference.reason import DermReason


def _copy_knowledge(tmp_path: Path) -> Path:
    target = tmp_path / "knowledge"
    shutil.copytree(DEFAULT_DIR, target)
    return target


def _edit(directory: Path, name: str, change: Callable[[dict[str, Any]], None]) -> None:
    path = directory / f"{name}.json"
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def test_packaged_knowledge_loads_with_combined_version() -> None:
    kb = load_knowledge()
    assert set(kb.documents) == set(KNOWLEDGE_FILES)
    for name in KNOWLEDGE_FILES:
        assert f"{name}={kb.versions[name]}" in kb.version
    assert kb.version.endswith(f"sha256={kb.digest[:12]}")


def test_loaded_once_per_directory() -> None:
    assert KnowledgeBase.load() is KnowledgeBase.load(DEFAULT_DIR)


def test_documents_are_immutable() -> None:
    kb = load_knowledge()
    severity = kb.document("severity")
    with pytest.raises(TypeError):
        severity["version"] = "9.9.9"  # type: ignore[index]
    assert isinstance(severity["measures"], tuple)
    with pytest.raises(TypeError):
        kb.documents["extra"] = {}  # type: ignore[index]


def test_every_rule_cites_a_known_source() -> None:
    kb = load_knowledge()
    for name in KNOWLEDGE_FILES:
        document = kb.document(name)
        assert document["sources"], name
        text = json.dumps(json.loads((DEFAULT_DIR / f"{name}.json").read_text()))
        assert '"source"' in text


def test_unknown_document_name_is_an_error() -> None:
    with pytest.raises(KnowledgeError):
        load_knowledge().document("nope")


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        node: Any = document
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


def _delete(path: tuple[Any, ...]) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        node: Any = document
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return change


def _duplicate_rule_id(document: dict[str, Any]) -> None:
    document["rules"]["hold"] = copy.deepcopy(document["rules"]["severity"])


MTX = 10  # index of methotrexate in drugs.json "drugs"


MALFORMED: list[tuple[str, str, Callable[[dict[str, Any]], None], str]] = [
    ("severity", "missing version", _delete(("version",)), "version"),
    ("severity", "bad version", _set(("version",), "v1"), "version"),
    ("severity", "band without id", _delete(("measures", 0, "bands", 0, "id")), "id"),
    ("severity", "band without bounds", _set(("measures", 0, "bands", 1), {"id": "severity.bsa.x", "level": "mild", "source": "derm3r_default"}), "bands"),
    ("severity", "unknown level", _set(("measures", 0, "bands", 0, "level"), "terrible"), "level"),
    ("severity", "unknown measure", _set(("measures", 0, "measure"), "height"), "measure"),
    ("severity", "string threshold", _set(("measures", 0, "bands", 3, "gt"), "10"), "gt"),
    ("severity", "band without source", _delete(("measures", 0, "bands", 0, "source")), "source"),
    ("severity", "unknown source", _set(("measures", 0, "bands", 0, "source"), "somebody_said_so"), "unknown source"),
    ("severity", "extra property", _set(("measures", 0, "bands", 0, "colour"), "red"), "colour"),
    ("treatment", "level mapped to an unknown step", _set(("profiles", "aad_npf", "levels", "mild"), "surgery"), "mild"),
    ("treatment", "profile without a step", _delete(("profiles", "nice", "steps", "biologic")), "biologic"),
    ("treatment", "option without drugs", _set(("options", "methotrexate", "drugs"), []), "drugs"),
    ("treatment", "unknown source", _set(("rules", "hold", "source"), "hearsay"), "unknown source"),
    ("treatment", "duplicate rule id", _duplicate_rule_id, "already used"),
    ("drugs", "unknown population status", _set(("drugs", 0, "populations", "pregnancy", "status"), "fine"), "status"),
    ("drugs", "population missing", _delete(("drugs", 0, "populations", "child")), "child"),
    ("drugs", "unknown therapy class", _set(("drugs", 0, "therapy_class"), "surgery"), "therapy_class"),
    ("drugs", "monitoring without threshold", _delete(("drugs", MTX, "monitoring", 1, "gt")), "monitoring"),
    ("drugs", "coding without code", _delete(("drugs", MTX, "codings", 0, "code")), "code"),
    ("drugs", "unknown source", _set(("drugs", MTX, "populations", "pregnancy", "source"), "hearsay"), "unknown source"),
    ("scope", "mimic without a test", _delete(("mimics", 0, "test")), "test"),
    ("tcm", "weight out of range", _set(("patterns", 0, "rules", 0, "weight"), 3), "weight"),
    ("tcm", "zero weight", _set(("patterns", 0, "rules", 0, "weight"), 0), "weight"),
    ("tcm", "unknown pattern", _set(("patterns", 0, "id"), "wind_cold"), "id"),
    ("tcm", "disclaimer removed", _set(("note",), "TCM is great and you should use it instead."), "note"),
    ("tcm", "unknown input", _set(("patterns", 0, "rules", 0, "input"), "horoscope"), "input"),
    ("tcm", "finding rule without finding key", _delete(("patterns", 5, "rules", 0, "finding")), "finding"),
    ("screening", "questionnaire without missing outcome", _delete(("questionnaires", 0, "outcomes", "missing")), "missing"),
    ("screening", "negative interval", _set(("cardiometabolic", "interval_months"), 0), "interval_months"),
    ("follow_up", "interval without levels or steps", _delete(("intervals", 1, "steps")), "intervals"),
    ("follow_up", "weeks as text", _set(("intervals", 0, "weeks"), "four"), "weeks"),
]


@pytest.mark.parametrize(("name", "label", "change", "mentions"), MALFORMED, ids=[f"{m[0]}: {m[1]}" for m in MALFORMED])
def test_malformed_knowledge_is_rejected(
    tmp_path: Path, name: str, label: str, change: Callable[[dict[str, Any]], None], mentions: str
) -> None:
    directory = _copy_knowledge(tmp_path)
    _edit(directory, name, change)
    with pytest.raises(KnowledgeError) as info:
        KnowledgeBase.load(directory)
    assert name in str(info.value)
    assert mentions in str(info.value)


@pytest.mark.parametrize("name", KNOWLEDGE_FILES)
def test_missing_file_is_rejected(tmp_path: Path, name: str) -> None:
    directory = _copy_knowledge(tmp_path)
    (directory / f"{name}.json").unlink()
    with pytest.raises(KnowledgeError, match="cannot read"):
        KnowledgeBase.load(directory)


def test_invalid_json_is_rejected(tmp_path: Path) -> None:
    directory = _copy_knowledge(tmp_path)
    (directory / "tcm.json").write_text("{not json")
    with pytest.raises(KnowledgeError, match="not valid JSON"):
        KnowledgeBase.load(directory)


def test_invalid_schema_is_rejected(tmp_path: Path) -> None:
    directory = _copy_knowledge(tmp_path)
    (directory / "schema" / "tcm.schema.json").write_text(json.dumps({"type": "no-such-type"}))
    with pytest.raises(KnowledgeError, match="schema for tcm"):
        KnowledgeBase.load(directory)


CROSS_CHECKS: list[tuple[str, str, Callable[[dict[str, Any]], None]]] = [
    ("treatment", "option names an unknown drug", _set(("options", "methotrexate", "drugs"), ["snake_oil"])),
    ("treatment", "step offers an unknown option", _set(("profiles", "aad_npf", "steps", "topical", "offer"), ["snake_oil"])),
    ("treatment", "unknown subtype", _set(("subtypes", 0, "subtype"), "spotty")),
    ("treatment", "unknown default profile", _set(("default_profile",), "homeopathy")),
    ("drugs", "unknown condition key", _set(("drugs", MTX, "conditions", 0, "condition"), "bad_luck")),
    ("drugs", "unknown check", _set(("drugs", MTX, "checks_before"), ["check.horoscope"])),
    ("drugs", "unknown lab", _set(("drugs", MTX, "monitoring", 1, "lab"), "shoe_size")),
    ("drugs", "interaction with an unknown drug", _set(("drugs", MTX, "interactions", 0, "with"), "snake_oil")),
    ("drugs", "unknown alternative", _set(("drugs", MTX, "populations", "pregnancy", "alternatives"), ["snake_oil"])),
    ("scope", "unknown condition key", _set(("mimics", 0, "conditions"), ["bad_luck"])),
    ("scope", "psoriasis listed as a mimic", _set(("mimics", 0, "conditions"), ["psoriasis"])),
    ("tcm", "unknown finding key", _set(("patterns", 5, "rules", 0, "finding"), "shoe_size")),
    ("screening", "unknown measure", _set(("questionnaires", 0, "measure"), "shoe_size")),
    ("screening", "action template with unknown field", _set(("questionnaires", 0, "outcomes", "positive", "action"), "PEST {score}")),
]


@pytest.mark.parametrize(("name", "label", "change"), CROSS_CHECKS, ids=[f"{c[0]}: {c[1]}" for c in CROSS_CHECKS])
def test_knowledge_inconsistent_with_case_model_fails_at_construction(
    tmp_path: Path, name: str, label: str, change: Callable[[dict[str, Any]], None]
) -> None:
    directory = _copy_knowledge(tmp_path)
    _edit(directory, name, change)
    with pytest.raises(KnowledgeError):
        DermReason.load(directory)


def test_edit_without_version_bump_changes_digest(tmp_path: Path) -> None:
    directory = _copy_knowledge(tmp_path)
    _edit(directory, "follow_up", _set(("intervals", 0, "weeks"), 6))
    edited = KnowledgeBase.load(directory)
    assert edited.versions == load_knowledge().versions
    assert edited.version != load_knowledge().version


def test_methotrexate_index_used_by_the_tables() -> None:
    assert load_knowledge().document("drugs")["drugs"][MTX]["id"] == "methotrexate"


def test_drug_test_result_rules_name_known_keys(tmp_path: Path) -> None:
    directory = _copy_knowledge(tmp_path)
    _edit(directory, "drugs", _set(("test_results", 0, "findings"), ["shoe_size"]))
    with pytest.raises(KnowledgeError):
        DermReason.load(directory)
