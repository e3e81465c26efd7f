"""The committed bundle in cds_hooks/static/app is exactly what the pinned build produces, so a
fresh clone runs without node and nobody can hand-edit the built files unnoticed."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "cds_hooks" / "review" / "web"
BUILT = ROOT / "cds_hooks" / "static" / "app"


def test_committed_bundle_matches_a_fresh_build(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None or not (WEB / "node_modules" / "esbuild").exists():
        pytest.fail("node and the web package are needed: npm ci --prefix cds_hooks/review/web", pytrace=False)
    out = tmp_path / "app"
    subprocess.run([node, "build.mjs"], cwd=WEB, env={**os.environ, "DERM3R_APP_OUT": str(out)}, check=True,
                   capture_output=True, timeout=120)
    fresh = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    committed = {p.relative_to(BUILT): p.read_bytes() for p in BUILT.rglob("*") if p.is_file()}
    assert sorted(fresh) == sorted(committed)
    stale = [str(name) for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"rebuild and commit cds_hooks/static/app: {stale} differ (cd cds_hooks/review/web && npm run build)"


def test_bundle_has_no_remote_references() -> None:
    """Everything is served locally: no CDN, font or analytics URLs in the built app."""
    for path in BUILT.glob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text, path.name
    css = (BUILT / "app.css").read_text(encoding="utf-8")
    assert "url(" not in css and "@import" not in css
