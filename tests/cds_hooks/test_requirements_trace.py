"""Every CDS Hooks 2.0 SHALL/SHALL NOT/SHOULD/SHOULD NOT requirement on a Service is traced to a
test that exists, or to a stated reason it does not apply (requirements_trace.csv). So is every
SHALL-level requirement of the hook definitions derm3r serves from the CDS Hooks library
(order-select, order-sign; IDs prefixed `hooks-1.0.1:`): the Server ones as such, the Client ones by
the test showing the service refuses a request that breaks them."""

from __future__ import annotations

import ast
import csv
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REQUIREMENTS = REPO.parent / "shared" / "reference" / "cds-hooks" / "requirements" / "cds-hooks_2.0_requirements.Requirements.csv"
TRACE = Path(__file__).with_name("requirements_trace.csv")
LIBRARY = REQUIREMENTS.with_name("cds-hooks-library_1.0.1_requirements.Requirements.csv")
LIBRARY_PREFIX = "hooks-1.0.1:"
LIBRARY_HOOKS = ("order-select", "order-sign")  # the library hooks derm3r serves
CONFORMANCE = {"SHALL", "SHALL NOT", "SHOULD", "SHOULD NOT"}


def _service_requirements() -> dict[str, str]:
    import pytest

    if not REQUIREMENTS.exists():
        pytest.skip(f"requirements list not available at {REQUIREMENTS}")
    with REQUIREMENTS.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {
        r["ID*"].strip(): r["Conformance*"].strip()
        for r in rows
        if r["Conformance*"].strip() in CONFORMANCE and "Service" in r["Actors*"]
    }


def _library_requirements() -> dict[str, str]:
    import pytest

    if not LIBRARY.exists():
        pytest.skip(f"hook library requirements not available at {LIBRARY}")
    with LIBRARY.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {
        LIBRARY_PREFIX + r["ID*"].strip(): r["Conformance*"].strip()
        for r in rows
        if r["Conformance*"].strip() in CONFORMANCE and any(f"/{hook}.html" in r["URL*"] for hook in LIBRARY_HOOKS)
    }


def _trace() -> list[dict[str, str]]:
    with TRACE.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _test_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name.startswith("test_")}


def test_every_service_requirement_is_traced_once() -> None:
    wanted = _service_requirements()
    rows = [r for r in _trace() if not r["ID"].startswith(LIBRARY_PREFIX)]
    ids = [r["ID"] for r in rows]
    assert len(ids) == len(set(ids)), "an ID is listed twice"
    assert set(ids) == set(wanted), {"missing": sorted(set(wanted) - set(ids), key=int), "extra": sorted(set(ids) - set(wanted), key=int)}
    for row in rows:
        assert row["conformance"] == wanted[row["ID"]], row


def test_every_named_test_exists_and_every_exception_has_a_reason() -> None:
    cache: dict[Path, set[str]] = {}
    for row in _trace():
        target = row["test"].strip()
        if target.startswith("n/a"):
            assert target.startswith("n/a: ") and len(target) > 15, row
            continue
        file_part, _, function = target.partition("::")
        path = REPO / file_part
        assert path.is_file(), row
        functions = cache.setdefault(path, _test_functions(path))
        assert function in functions, row


def test_every_requirement_of_the_served_library_hooks_is_traced_once() -> None:
    wanted = _library_requirements()
    rows = [r for r in _trace() if r["ID"].startswith(LIBRARY_PREFIX)]
    ids = [r["ID"] for r in rows]
    assert len(ids) == len(set(ids)), "an ID is listed twice"
    assert set(ids) == set(wanted), {"missing": sorted(set(wanted) - set(ids)), "extra": sorted(set(ids) - set(wanted))}
    for row in rows:
        assert row["conformance"] == wanted[row["ID"]], row
