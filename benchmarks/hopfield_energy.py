"""Benchmark: the Hopfield energy of every image against all images, streamed, against the GEMM of that shape.

E(x) = ||x||^2 / 2 - beta^{-1} log sum_mu exp(beta xi_mu^T x) for n images against N memories of d
pixels costs one n x d by d x N matrix product plus elementwise work on its n x N scores. Three
methods over the same unit-norm float32 images, in one process, alternating, each warmed up and timed
over windows of at least --seconds:

- GEMM: torch.mm of the images by the memories into an n x N score matrix allocated once: the roofline;
- naive: hopfield.energy without tiles, torch.logsumexp over that whole matrix;
- streamed: image_energy.image_energy, tiles of scores with a running log-sum-exp.

Peak memory of each is measured in a fresh subprocess (the growth of its peak resident set on Linux, or on a
GPU torch.cuda.max_memory_allocated, beyond the images themselves). Prints the ratio of each
method's throughput (2 n N d flops per second) to the GEMM's and its peak memory against the naive
one's. The default is CIFAR-10's Task 1: 25,000 images of 3 x 32 x 32.

    python benchmarks/hopfield_energy.py [--n 25000] [--dim 3072] [--device cpu|cuda] [--seconds 10]
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

from hopbook.hopfield import energy
from hopbook.image_energy import image_energy

BETA = 20.0


def images(n: int, dim: int, device: str) -> torch.Tensor:
    """n random unit-norm float32 images of dim pixels, the same on every call."""
    x = torch.randn(n, dim, generator=torch.Generator().manual_seed(0)).to(device)
    return x / x.norm(dim=1, keepdim=True)


METHODS = ("GEMM (scores only)", "naive energy", "streamed energy")


def method(name: str, x: torch.Tensor):
    """The call that one method times. The GEMM writes into an output allocated once, so its time is its
    arithmetic, not the page faults of 2.5 GB of fresh memory: the roofline."""
    if name == "GEMM (scores only)":
        scores = torch.empty(len(x), len(x), device=x.device)
        return lambda: torch.mm(x, x.T, out=scores)
    if name == "naive energy":
        return lambda: energy(x, x, BETA)
    return lambda: image_energy(x, x, BETA, device=str(x.device))


def seconds_per_call(run, seconds: float, device: str) -> float:
    """Mean seconds of run(), over repeated calls filling at least `seconds`, after a warm-up."""
    run()
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds or calls == 0:
        run()
        if device == "cuda":
            torch.cuda.synchronize()
        calls += 1
    return elapsed / calls


def peak_memory(name: str, n: int, dim: int, device: str) -> float:
    """Peak bytes one call of the method adds beyond its input, measured in a fresh process."""
    code = f"import sys; sys.argv = ['', '--probe', {name!r}, '--n', '{n}', '--dim', '{dim}', '--device', '{device}']; " \
           "import runpy; runpy.run_path(" + repr(__file__) + ", run_name='__main__')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])["bytes"]


def probe(name: str, n: int, dim: int, device: str) -> None:
    """In this process: load the images, then run the method once and print its peak extra memory."""
    x = images(n, dim, device)
    run = method(name, x)
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        run()
        torch.cuda.synchronize()
        extra = torch.cuda.max_memory_allocated() - before
    else:  # Linux: reset the peak resident set (VmHWM) to the current one, run, read the peak
        Path("/proc/self/clear_refs").write_text("5")
        before = _status_kib("VmRSS")
        run()
        extra = (_status_kib("VmHWM") - before) * 1024
    print(json.dumps({"bytes": extra}))


def _status_kib(field: str) -> int:
    """A memory field of /proc/self/status, in KiB."""
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith(field + ":"))
    return int(line.split()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=25_000, help="images, each also a memory")
    parser.add_argument("--dim", type=int, default=3072, help="pixels per image")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seconds", type=float, default=10.0, help="timing window per method and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--probe", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        return probe(args.probe, args.n, args.dim, args.device)

    x = images(args.n, args.dim, args.device)
    check = slice(0, 512)  # against a direct float64 computation, on 512 images (a float64 GEMM of all is slow)
    streamed = image_energy(x, x, BETA, device=args.device)[check].double()
    error = (streamed - energy(x[check].double(), x.double(), BETA)).abs().max()
    times = {name: [] for name in METHODS}
    for _ in range(args.rounds):
        for name in METHODS:
            times[name].append(seconds_per_call(method(name, x), args.seconds, args.device))
    del x
    memory = {name: peak_memory(name, args.n, args.dim, args.device) for name in times}

    where = torch.cuda.get_device_name() if args.device == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    flops = 2 * args.n * args.n * args.dim
    print(f"energy of {args.n:,} images of {args.dim:,} pixels against themselves, float32, on {where}; "
          f"streamed vs float64 direct on 512 images: max error {error:.1e}")
    gemm = min(times["GEMM (scores only)"])
    for name, t in times.items():
        print(f"{name:20s} {flops / min(t) / 1e9:8.1f} GFLOP/s (rounds: {', '.join(f'{v:.2f} s' for v in t)}), "
              f"ratio to GEMM {gemm / min(t):5.2f}; peak extra memory {memory[name] / 2**30:6.2f} GiB, "
              f"{memory[name] / memory['naive energy']:5.2f} of the naive")


if __name__ == "__main__":
    main()
