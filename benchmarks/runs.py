"""Benchmark: what a run costs beyond its own computation, fresh and warm, and what the build's plan costs.

Side by side, in one process, each command as a user types it (a subprocess):
- the plan: `hopbook status`, which `hopbook build` prints before running anything;
- the baseline, a fresh run: `hopbook run SLUG --profile P -p seed S`, whose wall time is the command's own
  overhead plus the kernel's time (recorded in results.json as elapsed_s: imports and computation);
- a sweep point on a warm worker: `hopbook sweep` over N and then 2N seeds on one worker; the difference
  divided by N is the marginal cost of a point, set against the point's own recorded elapsed_s.

    python benchmarks/runs.py [--chapter linear-attention] [--profile smoke] [--points 4]
"""

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HOPBOOK = str(Path(sys.executable).with_name("hopbook"))


def timed(*args: str) -> float:
    """Wall seconds of one hopbook command, which must succeed."""
    start = time.perf_counter()
    subprocess.run([HOPBOOK, *args], check=True, capture_output=True)
    return time.perf_counter() - start


def elapsed(results: Path) -> float:
    return json.loads(results.read_text())["elapsed_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chapter", default="linear-attention")
    parser.add_argument("--profile", default="smoke")
    parser.add_argument("--points", type=int, default=4)
    args = parser.parse_args()
    chapter, profile, n = args.chapter, args.profile, args.points
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        plan = [timed("status", "--profile", profile) for _ in range(3)]
        fresh, fresh_kernel = [], []
        for seed in range(n):
            folder = out / f"fresh-{seed}"
            fresh.append(timed("run", chapter, "--profile", profile, "-p", "seed", str(seed), "--out", str(folder)))
            fresh_kernel.append(elapsed(folder / "results.json"))
        sweeps = {}
        for size in (n, 2 * n):
            seeds = ",".join(str(100 + s) for s in range(size))  # seeds no fresh run used: nothing is cached
            folder = out / f"sweep-{size}"
            sweeps[size] = timed("sweep", chapter, "--profile", profile, "-p", "seed", seeds, "--workers", "1",
                                 "--out", str(folder))
        points = sorted((out / f"sweep-{2 * n}" / "points").glob("*/results.json"))
        warm_compute = statistics.mean(elapsed(p) for p in points)
    marginal = (sweeps[2 * n] - sweeps[n]) / n
    fresh_wall, kernel = statistics.mean(fresh), statistics.mean(fresh_kernel)
    print(f"$ python benchmarks/runs.py --chapter {chapter} --profile {profile} --points {n}"
          f"   # {time.strftime('%Y-%m-%d')}, {platform.machine()}, {platform.python_version()}")
    print(f"plan (hopbook status, {profile}): {statistics.median(plan):.2f} s, median of 3")
    print(f"fresh run: {fresh_wall:.2f} s a run, of which the kernel {kernel:.2f} s (imports and computation); "
          f"the command's own overhead {fresh_wall - kernel:.2f} s")
    print(f"sweep of {n} points on one warm worker: {sweeps[n]:.1f} s; of {2 * n} points: {sweeps[2 * n]:.1f} s")
    print(f"a point's marginal cost: {marginal:.2f} s, of which its recorded computation {warm_compute:.2f} s; "
          f"beyond it {marginal - warm_compute:.2f} s")
    print(f"ratio, fresh run to warm point: {fresh_wall / marginal:.2f}x")


if __name__ == "__main__":
    main()
