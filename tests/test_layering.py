"""The package arrows of DESIGN.md: cds_hooks -> fhir_mapping -> inference, never back; inference
knows nothing of web or FHIR libraries; fhir.resources (R4B only) lives in one module."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("inference", "fhir_mapping", "cds_hooks")
FHIR_RESOURCES_HOME = REPO / "fhir_mapping" / "r4.py"


def _modules(package: str) -> list[Path]:
    return sorted(p for p in (REPO / package).rglob("*.py") if "node_modules" not in p.parts)


def _imports(path: Path) -> list[str]:
    """Every module name a file imports (absolute, or relative resolved against its package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package_parts = list(path.relative_to(REPO).with_suffix("").parts[:-1])
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            names.append(module)
            names.extend(f"{module}.{alias.name}" for alias in node.names)
    return names


def _offences(package: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in _modules(package):
        for name in _imports(path):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                found.append(f"{path.relative_to(REPO)} imports {name}")
    return sorted(set(found))


def test_inference_imports_no_web_fhir_or_service_code() -> None:
    assert _offences("inference", ("flask", "werkzeug", "fhir", "requests", "cds_hooks", "fhir_mapping", "gunicorn", "jwt")) == []


def test_fhir_mapping_never_imports_the_service() -> None:
    assert _offences("fhir_mapping", ("cds_hooks", "flask", "werkzeug")) == []


def test_fhir_resources_only_in_r4_module_and_only_r4b() -> None:
    offenders = []
    for package in PACKAGES:
        for path in _modules(package):
            for name in _imports(path):
                if name == "fhir.resources" or name.startswith("fhir.resources."):
                    if path != FHIR_RESOURCES_HOME:
                        offenders.append(f"{path.relative_to(REPO)} imports {name}")
                    elif not (name == "fhir.resources.R4B" or name.startswith("fhir.resources.R4B.")):
                        offenders.append(f"{path.relative_to(REPO)} imports {name} (R4B only)")
    assert offenders == []


@pytest.mark.parametrize("module", ["inference.pipeline", "inference.case", "inference.results", "inference.serialize"])
def test_importing_inference_loads_no_forbidden_library(module: str) -> None:
    code = (
        f"import sys, importlib; importlib.import_module({module!r}); "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'flask', 'werkzeug', 'requests', 'fhir', 'cds_hooks', 'fhir_mapping'}); "
        "print(','.join(bad))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
