"""CPU time per hook, in process, compared across source trees.

    python -m bench.hook_cpu                                  # this tree: 3-photo hooks
    python -m bench.hook_cpu --tree /tmp/old --tree .         # two trees, rounds alternated

Why this exists: DERM-Rec's budget (issue 14) is CPU per 3-photo hook against an older tree. On a
shared two-core machine the five hooks of `bench.run`'s stage profile move by +-40 ms with what else
runs, so a comparison needs many hooks, both trees measured in the same minutes, and a statistic
that load inflates least. Each round starts one fresh process per tree (in the tree, with its own
code and model), warms it up, then times `--hooks` hooks (the real app behind Flask's test client,
auth on, fresh photo bytes per hook as in `bench.run`); rounds alternate the trees. Reported per
tree: median and low decile of CPU ms per hook over all rounds. CPU time is this process's (all its
threads), so a busy machine inflates it less than wall time, but cache and frequency effects remain:
read differences of a few ms as noise.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

# Runs inside each tree, against that tree's own `bench` helpers (present since 2026-11), so older
# trees can be measured without this file.
_WORKER = """
import json, sys, time, uuid
from bench import inprocess
from bench.context import Plan, photo_sets
from bench.patients import prefetch_request
photos, hooks = int(sys.argv[1]), int(sys.argv[2])
request = prefetch_request(photo_sets(Plan.full_run(), (photos,))[photos], seed=500)
app = inprocess.build_app(None)
def one(tag):
    body = request.body(str(uuid.uuid4()), tag.encode())
    started = time.process_time()
    response = app.post(body)
    spent = (time.process_time() - started) * 1000.0
    if response.status_code != 200:
        raise SystemExit(f"hook answered HTTP {response.status_code}")
    return spent
for n in range(3):
    one(f"warm{n}")
print(json.dumps([one(f"h{n}") for n in range(hooks)]))
"""


def measure(tree: Path, photos: int, hooks: int) -> list[float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, "-c", _WORKER, str(photos), str(hooks)],
        cwd=tree, env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return [float(v) for v in json.loads(out.stdout.strip().splitlines()[-1])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hook_cpu", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, action="append", help="source tree (repeatable; default: this one)")
    parser.add_argument("--photos", type=int, choices=(1, 3, 8), default=3)
    parser.add_argument("--hooks", type=int, default=30, help="timed hooks per round and tree")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    trees = [t.resolve() for t in (args.tree or [Path(__file__).resolve().parents[1]])]
    samples: dict[Path, list[float]] = {t: [] for t in trees}
    for round_ in range(args.rounds):
        for tree in trees if round_ % 2 == 0 else reversed(trees):
            samples[tree].extend(measure(tree, args.photos, args.hooks))
            print(f"round {round_ + 1}: {tree}: median {statistics.median(samples[tree]):.1f} ms", file=sys.stderr)
    print(f"CPU ms per {args.photos}-photo hook, in process, {args.rounds} rounds x {args.hooks} hooks, load {os.getloadavg()[0]:.2f}")
    for tree, values in samples.items():
        decile = statistics.quantiles(values, n=10)[0]
        print(f"  {tree}: median {statistics.median(values):.1f}  p10 {decile:.1f}  min {min(values):.1f}  n {len(values)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
