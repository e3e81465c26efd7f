"""A per-request time budget shared by every FHIR call a request makes."""

from __future__ import annotations

import time
from typing import Callable


class Deadline:
    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._end = clock() + seconds

    def remaining(self) -> float:
        return max(0.0, self._end - self._clock())

    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def timeout(self, cap: float) -> float:
        """The timeout for the next call: the per-call cap, or what is left of the budget if less."""
        return min(cap, self.remaining())
