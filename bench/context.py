"""What every part of a benchmark run shares: the plan (how much to run), the run's state (rows,
raw data, time limit), the photo sets and a few descriptions."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from bench import photos as photo_lib
from bench.report import Row

log = logging.getLogger("bench")

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
HARD_LIMIT_S = {False: 570.0, True: 55.0}  # cells not started past this are skipped, never run over


@dataclass(frozen=True)
class Plan:
    """How much to run. `full_run()` fits in < 10 minutes on 2 cores, `quick_run()` in < 60 s."""

    quick: bool
    photo_counts: tuple[int, ...]
    concurrencies: tuple[int, ...]
    nofetch_cells: tuple[tuple[int, int], ...]  # (photos, concurrency)
    cell_budget_s: float
    cell_max_requests: int
    floor_batches: tuple[int, ...]
    floor_threads: tuple[int, ...]
    repeats: int
    measure_budget_s: float
    profile_hooks: int
    cold_starts: int  # gunicorn spawns of the production config measured for cold start
    compare_workers: bool
    torch_repeats: int
    baseline_counts: tuple[int, ...]

    @classmethod
    def full_run(cls) -> "Plan":
        return cls(
            quick=False, photo_counts=(1, 3, 8), concurrencies=(1, 4, 16),
            nofetch_cells=tuple((n, c) for n in (1, 3, 8) for c in (1, 4, 16)),
            cell_budget_s=7.0, cell_max_requests=300, floor_batches=(1, 3, 8), floor_threads=(1, 2),
            repeats=20, measure_budget_s=5.0, profile_hooks=5, cold_starts=3, compare_workers=True, torch_repeats=8,
            baseline_counts=(1, 3, 8),
        )

    @classmethod
    def quick_run(cls) -> "Plan":
        return cls(
            quick=True, photo_counts=(3,), concurrencies=(1, 4), nofetch_cells=((3, 1),),
            cell_budget_s=1.5, cell_max_requests=20, floor_batches=(1, 3), floor_threads=(1,),
            repeats=5, measure_budget_s=1.0, profile_hooks=2, cold_starts=1, compare_workers=False, torch_repeats=2,
            baseline_counts=(1,),
        )


@dataclass
class Run:
    plan: Plan
    model_dir: Path | None
    workdir: Path
    auth: bool
    started: float = field(default_factory=time.monotonic)
    rows: list[Row] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def time_left(self) -> float:
        return HARD_LIMIT_S[self.plan.quick] - (time.monotonic() - self.started)

    @contextmanager
    def section(self, name: str) -> Iterator[None]:
        """Record how long a part of the run took (JSON `section_s`), to keep the run's bounds honest."""
        started = time.monotonic()
        try:
            yield
        finally:
            self.data.setdefault("section_s", {})[name] = round(time.monotonic() - started, 1)
            log.info("%s took %.1f s", name, time.monotonic() - started)

    def out_of_time(self, what: str, needs_s: float) -> bool:
        if self.time_left() < needs_s:
            self.skipped.append(f"{what}: skipped, the run's time limit was reached")
            log.warning("skipping %s: time limit", what)
            return True
        return False



def photo_sets(plan: Plan, counts: tuple[int, ...]) -> dict[int, list[bytes]]:
    return {n: photo_lib.load(photo_lib.specs_for(n, quick=plan.quick, seed=10 * n), RESULTS / "photos") for n in counts}


def describe_set(jpegs: list[bytes]) -> str:
    """'12+5+2 MP, 3.7 MB JPEG': what a row's photos were."""
    mps = []
    for j in jpegs:
        with Image.open(io.BytesIO(j)) as image:
            mps.append(image.size[0] * image.size[1] / 1e6)
    return f"{'+'.join(f'{mp:.0f}' for mp in mps)} MP, {sum(len(j) for j in jpegs) / 1e6:.1f} MB JPEG"


def rec_cache_status() -> str:
    """Whether the service's pipeline puts inference.rec_cache in front of DERM-Rec (by source, so
    that checking builds nothing)."""
    sources = [REPO / "inference" / "pipeline.py", REPO / "inference" / "rec.py"]
    wired = any("rec_cache" in p.read_text(encoding="utf-8") for p in sources if p.is_file())
    return "wired into the service" if wired else "NOT wired into the service yet"
