"""README's "What derm3r does" table is the vignette table (situation -> behaviour -> source)."""

from __future__ import annotations

from .readme_table import README, pasted, table


def test_readme_table_matches_the_vignettes() -> None:
    assert pasted(README.read_text(encoding="utf-8")) == table(), (
        "README's 'What derm3r does' table is stale; from the repository root run:\n"
        "python -m tests.clinical.readme_table --write")
