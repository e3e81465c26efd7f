"""Each clinical vignette through the real service path: must / must-not expectations on the cards
and the draft CarePlan (see vignettes.py for the table, README "What derm3r does" for the prose)."""

from __future__ import annotations

import pytest

from .vignettes import VIGNETTES, Vignette


def _param(v: Vignette):
    marks = [pytest.mark.xfail(strict=True, reason=v.pending)] if v.pending else []
    return pytest.param(v, id=v.id, marks=marks)


def test_there_are_enough_vignettes_with_unique_ids() -> None:
    ids = [v.id for v in VIGNETTES]
    assert len(ids) >= 40
    assert len(set(ids)) == len(ids)
    assert all(v.expect and v.source for v in VIGNETTES)


@pytest.mark.parametrize("vignette", [_param(v) for v in VIGNETTES])
def test_vignette(vignette: Vignette, outcomes) -> None:
    outcome = outcomes[vignette.id]
    assert outcome.status == 200, outcome.body
    failures = [f"{e}: {msg}" for e in vignette.expect if (msg := e.failure(outcome))]
    assert not failures, f"{vignette.id} ({vignette.situation}) [{vignette.source}]:\n  " + "\n  ".join(failures)
