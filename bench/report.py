"""The benchmark's one table (text) and the targets it is judged against."""

from __future__ import annotations

import platform
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# Targets of issue 7, as measured by bench.run.
TARGET_P95_3_PHOTOS_C1_MS = 150.0
TARGET_OVERHEAD_P50 = 1.5
TARGET_THROUGHPUT_3_PHOTOS_HPS = 20.0
TARGET_RSS_MB = 300.0
TARGET_COLD_START_S = 3.0


@dataclass(frozen=True)
class Row:
    section: str
    label: str
    photos: int | None = None
    concurrency: int | None = None
    n: int | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    throughput_hps: float | None = None
    cpu_ms: float | None = None  # service CPU per hook (HTTP rows) or process CPU per call (in-process rows)
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Target:
    name: str
    limit: str
    measured: str
    met: bool | None  # None: not measured in this run
    why: str = ""


_COLUMNS = ("row", "photos", "conc", "n", "p50 ms", "p95 ms", "p99 ms", "hooks/s", "cpu ms", "note")


def _cell(value: float | int | str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def render_table(rows: list[Row], targets: list[Target], header: list[str]) -> str:
    """Fixed-width text table: the measured rows grouped by section, then the targets."""
    # A 1-tuple is a section heading: printed on its own line, not counted in the column widths.
    body: list[tuple[str, ...]] = []
    section = None
    for row in rows:
        if row.section != section:
            section = row.section
            body.append((f"[{section}]",))
        body.append((
            "  " + row.label, _cell(row.photos), _cell(row.concurrency), _cell(row.n), _cell(row.p50_ms),
            _cell(row.p95_ms), _cell(row.p99_ms), _cell(row.throughput_hps), _cell(row.cpu_ms), row.note,
        ))
    if targets:
        body.append(("[targets]",))
        for target in targets:
            verdict = "n/a" if target.met is None else ("MET" if target.met else "MISSED")
            note = f"{verdict}: {target.measured} (target {target.limit})" + (f"; {target.why}" if target.why else "")
            body.append(("  " + target.name, "", "", "", "", "", "", "", "", note))
    cells_rows = [r for r in body if len(r) > 1]
    widths = [max(len(_COLUMNS[i]), *(len(r[i]) for r in cells_rows)) for i in range(len(_COLUMNS) - 1)]
    lines = list(header)
    lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(_COLUMNS, widths))) + "  note")
    lines.append("-" * (sum(widths) + 2 * len(widths) + 4))
    for r in body:
        if len(r) == 1:
            lines.append(r[0])
            continue
        cells = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r[:-1], widths))]
        lines.append(("  ".join(cells) + "  " + r[-1]).rstrip())
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    """CPU model, cores, RAM and load: the context every number in the table depends on."""
    model = platform.processor() or "unknown"
    cores = None
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10, check=False).stdout
        for line in lscpu.splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "Model name":
                model = value.strip()
            elif key.strip() == "CPU(s)":
                cores = int(value.strip())
    except (OSError, subprocess.SubprocessError, ValueError):
        pass  # lscpu missing: keep platform's answer
    ram_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {"cpu": model, "cores": cores, "ram_gb": ram_gb, "python": platform.python_version(), "load": load()}


def load() -> list[float]:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []
