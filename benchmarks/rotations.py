"""Benchmark: rotated states R^T x for a batch of random rotations, hopbook against a scipy loop.

What the forgetting chapters compute: for n random rotations R = expm(eps A) of dimension d, the
states x (the chapter's 13 fixed points) rotated by each, R^T x. Both sides are timed whole, the
drawing of A included:

- the loop: per rotation, W ~ N(0, 1) (numpy), A = (W - W^T) / 2, R = scipy.linalg.expm(eps A), x R;
- hopbook: antisymmetric_generators (d (d - 1) / 2 draws per rotation) and Rotations.transpose_apply,
  the Taylor series of expm(eps A) applied to the states, batched over rotations, R never formed;
- for reference, the batched matrix route: torch.linalg.matrix_exp of every A, then x R.

Each is warmed up and timed over windows of at least --seconds, alternating, in one process.
Prints rotations per second, the ratio to the loop and where hopbook's time goes.

    python benchmarks/rotations.py [--n 2000] [--dim 50] [--states 13] [--eps 0.05] [--seconds 10]
"""

import argparse
import time

import numpy as np
import scipy.linalg
import torch

from hopbook.rotations import Rotations, antisymmetric_generators


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
    parser.add_argument("--n", type=int, default=2000, help="rotations per batch (the chapters' default)")
    parser.add_argument("--dim", type=int, default=50)
    parser.add_argument("--states", type=int, default=13, help="states rotated by each rotation")
    parser.add_argument("--eps", type=float, default=0.05)
    parser.add_argument("--seconds", type=float, default=10.0, help="timing window per method and round")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    n, d, eps = args.n, args.dim, args.eps
    x = torch.randn(args.states, d, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    x_np, rng, gen = x.numpy(), np.random.default_rng(0), torch.Generator().manual_seed(0)

    def scipy_loop() -> np.ndarray:
        out = np.empty((n, *x_np.shape))
        for r in range(n):
            W = rng.standard_normal((d, d))
            out[r] = x_np @ scipy.linalg.expm(eps * (W - W.T) / 2)
        return out

    def hopbook() -> torch.Tensor:
        return Rotations(antisymmetric_generators(n, d, gen), eps).transpose_apply(x)

    def matrix_exp() -> torch.Tensor:
        return x @ Rotations(antisymmetric_generators(n, d, gen), eps).matrices()

    A = antisymmetric_generators(n, d, gen)
    expm = np.stack([scipy.linalg.expm(eps * a) for a in A.numpy()])
    error = np.abs(Rotations(A, eps).transpose_apply(x).numpy() - x_np @ expm).max()
    assert error < 1e-12, f"hopbook and scipy disagree by {error:.1e}"

    methods = {"scipy.linalg.expm, loop": scipy_loop, "hopbook Rotations.transpose_apply": hopbook,
               "torch.linalg.matrix_exp, batched": matrix_exp}
    rates = {name: [] for name in methods}
    for _ in range(args.rounds):
        for name, run in methods.items():
            rates[name].append(rate(run, n, args.seconds))
    draw = rate(lambda: antisymmetric_generators(n, d, gen), n, args.seconds)
    apply = rate(lambda: Rotations(A, eps).transpose_apply(x), n, args.seconds)

    print(f"{n} rotations of dimension {d} applied to {args.states} states, eps {eps}, float64, "
          f"{torch.get_num_threads()} threads; max |hopbook - scipy| = {error:.1e}")
    baseline = max(rates["scipy.linalg.expm, loop"])
    for name, r in rates.items():
        print(f"{name:36s} {max(r):10.0f} rotations/s (rounds: {', '.join(f'{v:.0f}' for v in r)}), "
              f"ratio to the loop {max(r) / baseline:6.2f}")
    print(f"hopbook's time per rotation: drawing A {1e6 / draw:.1f} us, applying the series {1e6 / apply:.1f} us")


if __name__ == "__main__":
    main()
