"""Structure of the code base, read from the source with `ast` (nothing is imported):

(a) no import cycle among the modules of cds_hooks, fhir_mapping and inference. Every import
    counts: module level, inside functions, and under `if TYPE_CHECKING:` (a loop held together by
    a function-local import is still a loop: the modules still cannot be understood one at a time);
(b) bench/ and tools/ never import tests/ (tests may use them, not the other way round);
(c) FHIR Bundles are read (entries, `next` links) only in fhir_mapping (`fhir_mapping.searchset`):
    the service's own code (cds_hooks, inference) holds no second Bundle reader. bench/, tools/ and
    tests/ are not checked: they play the EHR (they build, serve and page Bundles of their own).

`tests/test_layering.py` keeps the package arrows (which package may import which).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Mapping

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("cds_hooks", "fhir_mapping", "inference")
HARNESSES = ("bench", "tools")
FHIR_HOME = "fhir_mapping"
BUNDLE_CHECKED = ("cds_hooks", "inference")

# Modules that may read Bundle entries outside fhir_mapping, each with the reason. Keep it tiny.
# The demo modules play a second, toy EHR: they build and serve their own synthetic Bundles.
ALLOWED_BUNDLE_READERS: Mapping[str, str] = {
    "cds_hooks.demo": "demo subpackage: the toy EHR that builds and serves synthetic patients' Bundles",
}

# Keys whose *reading* marks Bundle parsing: `entry` (Bundle.entry) and `relation` (Bundle.link,
# where paging's `next` is found). Writing them (building a Bundle) is fine anywhere.
BUNDLE_KEYS = frozenset({"entry", "relation"})


@dataclass(frozen=True)
class Module:
    name: str  # dotted, "cds_hooks.registry"; a package is named by its __init__
    path: Path
    tree: ast.Module

    @property
    def package_parts(self) -> list[str]:
        """The package relative imports are resolved against."""
        parts = self.name.split(".")
        return parts if self.path.name == "__init__.py" else parts[:-1]


def load_modules(root: Path, top_level: Iterable[str]) -> dict[str, Module]:
    modules: dict[str, Module] = {}
    for top in top_level:
        for path in sorted((root / top).rglob("*.py")):
            if "node_modules" in path.parts:
                continue
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            name = ".".join(parts)
            modules[name] = Module(name, path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    return modules


def _from_base(module: Module, node: ast.ImportFrom) -> str:
    """The absolute module of `from <base> import ...` (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    base_parts = module.package_parts[: len(module.package_parts) - node.level + 1]
    return ".".join([*base_parts, node.module] if node.module else base_parts)


def imported_names(module: Module) -> Iterator[tuple[str, int]]:
    """(dotted name, line) of every import anywhere in the module. `from m import n` yields `m.n`
    (n may be a submodule) and `m`; relative imports are resolved."""
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = _from_base(module, node)
            yield base, node.lineno
            for alias in node.names:
                yield f"{base}.{alias.name}", node.lineno


def _resolve(name: str, known: Mapping[str, Module]) -> str | None:
    """The module an imported name lives in: the longest known dotted prefix."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def import_graph(modules: Mapping[str, Module]) -> dict[str, set[str]]:
    """Module -> the modules it imports. `from pkg import sub` is an edge to `pkg.sub`, not to
    `pkg`; parent packages are not counted (Python runs them first, as every tool assumes)."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for module in modules.values():
        targets: list[str | None] = []
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Import):
                targets.extend(_resolve(alias.name, modules) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = _from_base(module, node)
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    targets.append(submodule if submodule in modules else _resolve(base, modules))
        graph[module.name].update(t for t in targets if t is not None and t != module.name)
    return graph


def import_cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return sorted(cycles)


def imports_of(modules: Mapping[str, Module], forbidden: str) -> list[str]:
    """`path:line imports name` for every import of package `forbidden` (or its modules)."""
    found = []
    for module in modules.values():
        for name, line in imported_names(module):
            if name == forbidden or name.startswith(forbidden + "."):
                found.append(f"{module.path.name}:{line} ({module.name}) imports {name}")
    return sorted(set(found))


def _key(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def bundle_reads(module: Module) -> list[str]:
    """`module:line` of each read of a Bundle key: `x["entry"]` (not as an assignment target),
    `x.get("entry")`, and the same for `relation`."""
    found = []
    for node in ast.walk(module.tree):
        key = None
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            key = _key(node.slice)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" and node.args:
            key = _key(node.args[0])
        if key in BUNDLE_KEYS:
            found.append(f"{module.name}:{node.lineno} reads {key!r}")
    return found


def allowed_reader(name: str) -> bool:
    return any(name == allowed or name.startswith(allowed + ".") for allowed in ALLOWED_BUNDLE_READERS)


def bundle_parsing_outside_home(modules: Mapping[str, Module]) -> list[str]:
    return sorted(
        hit
        for name, module in modules.items()
        if name.split(".")[0] in BUNDLE_CHECKED and not allowed_reader(name)
        for hit in bundle_reads(module)
    )


# ---------------------------------------------------------------------------------- the checks


@pytest.fixture(scope="module")
def modules() -> dict[str, Module]:
    return load_modules(REPO, PACKAGES + HARNESSES)


def test_no_import_cycle_among_the_packages(modules: dict[str, Module]) -> None:
    graph = import_graph({name: m for name, m in modules.items() if name.split(".")[0] in PACKAGES})
    assert import_cycles(graph) == []


def test_bench_and_tools_never_import_tests(modules: dict[str, Module]) -> None:
    harnesses = {name: m for name, m in modules.items() if name.split(".")[0] in HARNESSES}
    assert harnesses, "bench/ and tools/ hold Python modules"
    assert imports_of(harnesses, "tests") == []


def test_fhir_bundles_are_read_only_in_fhir_mapping(modules: dict[str, Module]) -> None:
    assert bundle_parsing_outside_home(modules) == []


def test_the_bundle_reader_allow_list_stays_tiny() -> None:
    assert len(ALLOWED_BUNDLE_READERS) <= 6
    assert all(reason.strip() for reason in ALLOWED_BUNDLE_READERS.values())
    assert not any(name.split(".")[0] == FHIR_HOME for name in ALLOWED_BUNDLE_READERS)


def test_the_markers_still_see_the_real_reader(modules: dict[str, Module]) -> None:
    """fhir_mapping's Bundle reader is what the markers look for: if it no longer matched them,
    the check above would pass on anything."""
    hits = bundle_reads(modules["fhir_mapping.searchset"])
    assert any("'entry'" in hit for hit in hits) and any("'relation'" in hit for hit in hits)


# ------------------------------------------------------------ the checker catches what it should


def _plant(root: Path, files: Mapping[str, str]) -> dict[str, Module]:
    for relative, source in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return load_modules(root, sorted({relative.split("/")[0] for relative in files}))


def test_a_cycle_held_by_a_function_local_import_is_found(tmp_path: Path) -> None:
    modules = _plant(tmp_path, {
        "cds_hooks/__init__.py": "",
        "cds_hooks/registry.py": "def default_registry():\n    from cds_hooks.handler import assess\n    return assess\n",
        "cds_hooks/handler.py": "from cds_hooks.runtime import Runtime\n",
        "cds_hooks/runtime.py": "from . import registry\n",
        "cds_hooks/leaf.py": "import cds_hooks.runtime\n",
    })
    assert import_cycles(import_graph(modules)) == [["cds_hooks.handler", "cds_hooks.registry", "cds_hooks.runtime"]]


def test_a_cycle_through_type_checking_and_across_packages_is_found(tmp_path: Path) -> None:
    modules = _plant(tmp_path, {
        "fhir_mapping/__init__.py": "",
        "fhir_mapping/client.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from cds_hooks.prefetch import FhirReader\n",
        "cds_hooks/__init__.py": "",
        "cds_hooks/prefetch.py": "from fhir_mapping import client\n",
    })
    assert import_cycles(import_graph(modules)) == [["cds_hooks.prefetch", "fhir_mapping.client"]]


def test_no_cycle_is_reported_for_a_plain_layered_set(tmp_path: Path) -> None:
    modules = _plant(tmp_path, {
        "cds_hooks/__init__.py": "def create_app():\n    from cds_hooks.app import build\n    return build()\n",
        "cds_hooks/app.py": "from cds_hooks import services\nfrom cds_hooks.registry import Registry\n",
        "cds_hooks/services.py": "from cds_hooks.registry import Registry\nfrom cds_hooks.handler import assess\n",
        "cds_hooks/handler.py": "from cds_hooks.registry import ServiceCall\n",
        "cds_hooks/registry.py": "import re\n",
    })
    assert import_cycles(import_graph(modules)) == []


def test_a_harness_importing_tests_is_found(tmp_path: Path) -> None:
    modules = _plant(tmp_path, {
        "bench/__init__.py": "",
        "bench/fhir.py": "def start():\n    from tests.integration.conftest import FhirServer\n    return FhirServer\n",
        "bench/ok.py": "import testsuite\nfrom tools import fhir_server\n",
        "tools/__init__.py": "",
        "tools/helper.py": "import tests\n",
    })
    assert imports_of(modules, "tests") == [
        "fhir.py:2 (bench.fhir) imports tests.integration.conftest",
        "fhir.py:2 (bench.fhir) imports tests.integration.conftest.FhirServer",
        "helper.py:1 (tools.helper) imports tests",
    ]


def test_bundle_paging_outside_fhir_mapping_is_found(tmp_path: Path) -> None:
    modules = _plant(tmp_path, {
        "cds_hooks/__init__.py": "",
        "cds_hooks/prefetch.py": (
            "def flatten(bundle):\n"
            "    found = [e['resource'] for e in bundle.get('entry') or ()]\n"
            "    nxt = [l['url'] for l in bundle['link'] if l['relation'] == 'next']\n"
            "    return found, nxt\n"
        ),
        # Building a Bundle is not reading one; the allow-listed demo may read its own.
        "cds_hooks/answer.py": "def page(rs):\n    b = {'resourceType': 'Bundle', 'entry': [{'resource': r} for r in rs]}\n    b['entry'] = []\n    return b\n",
        "cds_hooks/demo/__init__.py": "",
        "cds_hooks/demo/server.py": "def ids(bundle):\n    return [e['resource']['id'] for e in bundle['entry']]\n",
        "fhir_mapping/__init__.py": "",
        "fhir_mapping/searchset.py": "def entries(bundle):\n    return bundle.get('entry')\n",
        "inference/__init__.py": "",
        "inference/agent.py": "def n(bundle):\n    return len(bundle['entry'])\n",
    })
    assert bundle_parsing_outside_home(modules) == [
        "cds_hooks.prefetch:2 reads 'entry'",
        "cds_hooks.prefetch:3 reads 'relation'",
        "inference.agent:2 reads 'entry'",
    ]
