"""Copy the latest full run's table into bench/README.md (between the bench:table markers).

    python -m bench.readme [bench/results/latest.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

README = Path(__file__).resolve().parent / "README.md"
LATEST = Path(__file__).resolve().parent / "results" / "latest.json"
START, END = "<!-- bench:table:start -->", "<!-- bench:table:end -->"


def render(result: dict) -> str:
    m = result["machine"]
    lines = [
        START,
        f"Full run of {result['started']} ({result['wall_s']:.0f} s), `python -m bench.run`; machine: {m['cpu']} "
        f"(`lscpu` model name), {m['cores']} cores, {m['ram_gb']} GB RAM, Python {m['python']}; shared with the rest of "
        f"the team, load average {' / '.join(map(str, m['load']))} at start (1/5/15 min), so compare `cpu ms`, not wall times, "
        "across runs.",
        "",
        "```",
        result["table"],
        "```",
        END,
    ]
    return "\n".join(lines)


def update(readme: Path, result: dict) -> None:
    text = readme.read_text(encoding="utf-8")
    head, found, rest = text.partition(START)
    if not found:
        raise SystemExit(f"{readme} has no {START} marker")
    _, found, tail = rest.partition(END)
    if not found:
        raise SystemExit(f"{readme} has no {END} marker")
    readme.write_text(head + render(result) + tail, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    source = Path(args[0]) if args else LATEST
    result = json.loads(source.read_text(encoding="utf-8"))
    if result.get("quick"):
        raise SystemExit("refusing to publish a --quick run: its numbers are not for comparison")
    update(README, result)
    print(f"{README} updated from {source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
