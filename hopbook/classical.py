"""The classical Hopfield network: binary patterns, Hebb and pseudoinverse couplings, sign dynamics.

Hopfield (1982); Personnaz, Guyon and Dreyfus (1985); Leonhardt's blog post, Sections 2-3. Patterns
are the rows of X, shape (p, N), entries +-1; states are rows too, shape (q, N), so many queries run
as one batched call. A state s is updated by s_i <- sign(sum_j W_ij s_j), a bit whose field is exactly
zero keeping its value.
"""

import numpy as np
import torch
from torch import Tensor

DYNAMICS = ("asynchronous", "synchronous")


def hebb(X: Tensor) -> Tensor:
    """W = (1/N) sum_mu xi_mu xi_mu^T with zero diagonal, shape (N, N)."""
    W = X.T @ X / X.shape[1]
    return W.fill_diagonal_(0.0)


def pseudoinverse(X: Tensor) -> Tensor:
    """W = X^T (X X^T)^+ X, the projection onto the span of the patterns (the blog's X (X^T X)^{-1} X^T with
    patterns as columns): W xi_mu = xi_mu for every stored pattern, also when they are linearly dependent."""
    return torch.linalg.pinv(X) @ X


def flip(states: Tensor, fraction: float, gen: torch.Generator) -> Tensor:
    """Copies of the states with round(fraction N) bits of each flipped, at random positions."""
    n_flip = round(fraction * states.shape[1])
    positions = torch.rand(states.shape, generator=gen).argsort(dim=1)[:, :n_flip]
    flipped = states.clone()
    flipped.scatter_(1, positions, -flipped.gather(1, positions))
    return flipped


def _sign(field: Tensor, current: Tensor) -> Tensor:
    return torch.where(field > 0, 1.0, torch.where(field < 0, -1.0, current)).to(current.dtype)


def recall(W: Tensor, states: Tensor, dynamics: str, gen: torch.Generator, max_sweeps: int = 100) -> Tensor:
    """Run the sign dynamics from each state until none changes in a whole sweep (or max_sweeps sweeps).

    asynchronous: one bit at a time, in a random order drawn per sweep (shared by the batch); it converges
    for symmetric W with a non-negative diagonal. synchronous: every bit at once; it may end in a 2-cycle,
    and then stops at max_sweeps.
    """
    if dynamics not in DYNAMICS:
        raise ValueError(f"unknown dynamics {dynamics!r}; choose one of {', '.join(DYNAMICS)}")
    s = states.clone()
    for _ in range(max_sweeps):
        before = s.clone()
        if dynamics == "synchronous":
            s = _sign(s @ W, s)
        else:
            for i in torch.randperm(s.shape[1], generator=gen).tolist():
                s[:, i] = _sign(s @ W[:, i], s[:, i])
        if torch.equal(s, before):
            break
    return s


def magnetisation(states: Tensor, patterns: Tensor) -> Tensor:
    """m = xi . s / N for each state and its pattern (rows paired), shape (q,)."""
    return (states * patterns).sum(dim=1) / states.shape[1]


def falls_below(x: list[float], y: list[float], level: float) -> float:
    """The x at which the curve y(x) first falls below `level`, linear between the two grid points around
    the fall; x[0] if it starts below, infinity if it never falls on the grid."""
    if y[0] < level:
        return float(x[0])
    for i in range(1, len(y)):
        if y[i] < level:
            return float(np.interp(level, [y[i], y[i - 1]], [x[i], x[i - 1]]))
    return float("inf")
