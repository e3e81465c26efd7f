"""The time a request may still spend reading photographs, visible to DERM-Rec without threading a
deadline through every agent signature.

The service sets it around the pipeline call (`with photo_time_budget(seconds_left): ...`); DERM-Rec
checks it before decoding each photo and refuses the photos it no longer has time for, with a
reason the clinician can act on. Per-photo decode work is bounded separately (`imaging`: bytes,
pixels, progressive scans), so one photo cannot run far past the budget either. Outside such a
block (offline CLI, tests) there is no budget.

A context variable, not a global: each request (thread) sees its own budget.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

_END: ContextVar[float | None] = ContextVar("derm3r_photo_time_budget_end", default=None)

# The quality-report metric that marks a photo skipped for lack of time: such a reading says
# nothing about the photo, so the content-hash cache must not keep it.
TIME_BUDGET_METRIC = "time_budget_exceeded"
TIME_BUDGET_REASON = (
    "not read: the time allowed for reading this request's photographs ran out; "
    "send fewer or smaller photos (standard JPEG) or open the patient again"
)


@contextmanager
def photo_time_budget(seconds: float) -> Iterator[None]:
    token = _END.set(time.monotonic() + max(0.0, seconds))
    try:
        yield
    finally:
        _END.reset(token)


def photo_time_left() -> float | None:
    """Seconds left for photo reading in this context; None when unbounded."""
    end = _END.get()
    return None if end is None else end - time.monotonic()


def photo_time_exhausted() -> bool:
    left = photo_time_left()
    return left is not None and left <= 0.0
