"""Cold and warm start of the local stack, stop time and resident memory.

Cold: a fresh state folder and an empty Maven repository, so the first jar resolution from
Maven Central is counted. Warm: the same state folder started again. Uses the default ports,
so stop a running stack first (./run stop). Takes about two minutes.

    .venv/bin/python bench/bench_stack.py [--warm-runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from infra import stack
from infra.settings import StackSettings


def timed_up(settings: StackSettings) -> tuple[float, dict[str, float]]:
    t0 = time.monotonic()
    statuses = stack.up(settings)
    elapsed = time.monotonic() - t0
    return elapsed, {s.name: s.rss_mib or 0.0 for s in statuses}


def timed_down(settings: StackSettings) -> float:
    t0 = time.monotonic()
    stack.down(settings)
    return time.monotonic() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm-runs", type=int, default=3)
    args = parser.parse_args()
    if any(s.pid for s in stack.status(StackSettings())):
        raise SystemExit("the project's stack is running: stop it first (./run stop)")

    with tempfile.TemporaryDirectory(prefix="ocop-bench-") as tmp:
        os.environ["MAVEN_OPTS"] = f"-Dmaven.repo.local={Path(tmp) / 'm2'}"
        settings = StackSettings(state_dir=Path(tmp) / "state")
        cold, rss = timed_up(settings)
        time.sleep(5)  # let both settle before reading resident memory
        rss = {s.name: s.rss_mib or 0.0 for s in stack.status(settings)}
        stops = [timed_down(settings)]
        warm = []
        for _ in range(args.warm_runs):
            elapsed, _ = timed_up(settings)
            warm.append(elapsed)
            stops.append(timed_down(settings))

    print(f"cold start (empty Maven repo, fresh state): {cold:6.1f} s")
    print(
        f"warm start, median of {len(warm)}:              {statistics.median(warm):6.1f} s"
        f"  (runs: {', '.join(f'{w:.1f}' for w in warm)})"
    )
    print(f"stop, median of {len(stops)}:                    {statistics.median(stops):6.1f} s")
    for name, mib in rss.items():
        print(f"resident memory, {name:9}:                {mib:6.0f} MiB")
    print(f"resident memory, both:                     {sum(rss.values()):6.0f} MiB")


if __name__ == "__main__":
    main()
