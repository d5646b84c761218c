"""Benchmark: batched rotations expm(eps A) in torch against a per-rotation scipy.linalg.expm loop.

Both run side by side in one process on the same generators; each is warmed up, then timed over
windows of at least --seconds seconds. Prints rotations per second of each and their ratio.

    python benchmarks/rotations.py [--n 2000] [--dim 50] [--seconds 10]
"""

import argparse
import time

import numpy as np
import scipy.linalg
import torch

from hopbook.forgetting import antisymmetric_generators, rotations


def rate(run, n: int, seconds: float) -> float:
    """Rotations per second of run(), over repeated calls filling at least `seconds`."""
    run()  # warm-up
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds or calls == 0:
        run()
        calls += 1
    return calls * n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="rotations per batch")
    parser.add_argument("--dim", type=int, default=50)
    parser.add_argument("--eps", type=float, default=0.05)
    parser.add_argument("--seconds", type=float, default=10.0, help="timing window per method")
    args = parser.parse_args()

    A = antisymmetric_generators(args.n, args.dim, torch.Generator().manual_seed(0))
    A_np = A.numpy()
    batched = rotations(A, args.eps)
    looped = np.stack([scipy.linalg.expm(args.eps * a) for a in A_np])
    assert np.abs(batched.numpy() - looped).max() < 1e-12, "the two methods disagree"

    torch_rate = rate(lambda: rotations(A, args.eps), args.n, args.seconds)
    scipy_rate = rate(lambda: [scipy.linalg.expm(args.eps * a) for a in A_np], args.n, args.seconds)
    print(f"{args.n} rotations of dimension {args.dim}, float64, {torch.get_num_threads()} threads")
    print(f"torch.linalg.matrix_exp, batched: {torch_rate:10.0f} rotations/s")
    print(f"scipy.linalg.expm, loop:          {scipy_rate:10.0f} rotations/s")
    print(f"ratio batched / loop:             {torch_rate / scipy_rate:10.2f}")


if __name__ == "__main__":
    main()
