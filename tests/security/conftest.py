"""Fixtures for the security tests: a real app (real pipeline, real JWT verification with a trust
file, real SQLite store), a JWT signer for the trusted test issuer, and a loopback "canary" HTTP
server that records any request reaching it (an SSRF that gets through shows up as a hit)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from loopback import Answer, loopback_server
from security_support import ISSUER, Canary, EdgeOnlyPipeline, Signer, build_app, security_pipeline


@pytest.fixture(scope="session")
def signer() -> Signer:
    return Signer()


@pytest.fixture(scope="session")
def trust_file(tmp_path_factory: pytest.TempPathFactory, signer: Signer) -> Path:
    path = tmp_path_factory.mktemp("trust") / "issuers.json"
    path.write_text(json.dumps({ISSUER: {"jwks": signer.jwks, "algorithms": ["ES384"]}}))
    return path


@pytest.fixture(scope="session")
def pipeline() -> Any:
    """The pipeline, built once per test session (as once per worker process in production): the
    shipped one, or the real agents around a fixed classifier while the model file is absent."""
    try:
        built, description = security_pipeline()
    except ImportError as exc:  # an agent module not in the tree yet
        pytest.skip(f"inference pipeline not available yet: {exc}")
    print(f"security tests use: {description}")
    return built


AppFactory = Callable[..., Any]


@pytest.fixture()
def make_app(tmp_path: Path, trust_file: Path, pipeline: Any) -> AppFactory:
    """Build an app with real auth; keyword arguments override Settings fields or pass
    `client_factory=` through to create_app."""

    def build(client_factory: Any = None, **overrides: Any) -> Any:
        return build_app(tmp_path / "data", trust_file, pipeline, client_factory=client_factory, **overrides)

    return build


@pytest.fixture(scope="module")
def module_app(tmp_path_factory: pytest.TempPathFactory, trust_file: Path, pipeline: Any) -> Any:
    """One app for a whole module (property-based tests run hundreds of examples against it)."""
    return build_app(tmp_path_factory.mktemp("data"), trust_file, pipeline)


@pytest.fixture()
def edge_app(tmp_path: Path, trust_file: Path) -> AppFactory:
    """Builder for an app whose pipeline refuses to run (503). For attacks that must be stopped at
    the edge (auth, parsing, limits, SSRF checks): reaching the pipeline fails the test."""

    def build(client_factory: Any = None, **overrides: Any) -> Any:
        return build_app(tmp_path / "data", trust_file, EdgeOnlyPipeline(), client_factory=client_factory, **overrides)

    return build


@pytest.fixture()
def app(make_app: AppFactory) -> Any:
    return make_app()


@pytest.fixture()
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture()
def canary() -> Iterator[Canary]:
    state = Canary()

    def handle(method: str, path: str, headers: dict[str, str]) -> Answer:
        state.hits.append(path)
        return state.answer(path.split("?")[0])

    with loopback_server(handle) as url:
        state.url = url
        yield state
