"""Storage capacity: the most random patterns a network retrieves in one step, as the dimension grows.

Patterns are random +-1 vectors in dimension d, so they lie on the sphere of radius M = sqrt(d). A
network stores N of them when one update started at each checked pattern ends within relative
distance `tol` of it. Three networks, all measured this way:

- the modern Hopfield network (Ramsauer et al. 2021), x <- X^T softmax(beta X x), whose capacity
  grows exponentially with d;
- the dense associative memory of Krotov and Hopfield (2016) with energy -sum_mu F(xi_mu^T s),
  F(x) = x^n, updated synchronously: s_i <- sign(sum_mu F(a_mu + xi_mu,i) - F(a_mu - xi_mu,i)) with
  a_mu = sum_{j != i} xi_mu,j s_j. Its error-free capacity grows like d^(n-1) / (2 (2n-3)!! ln d);
- n = 2 of it, which is the classical Hebb network (couplings sum_mu xi_mu xi_mu^T, zero diagonal).

A binary state that keeps every bit is at distance 0; one flipped bit is at relative distance
2 / sqrt(d), so for tol < 2 / sqrt(d) the binary networks must retrieve every bit.
"""

import math
from collections.abc import Callable

import torch
from torch import Tensor

from hopbook.hopfield import update

BLOCK = 1024  # patterns are drawn in blocks of this many, so the first N never depend on how many are drawn
CAP = 2**20  # the most patterns a capacity search stores


class CapacityCapReached(RuntimeError):
    """The capacity search stored `cap` patterns without a failure."""


class PatternPool:
    """Random +-1 patterns in dimension d, drawn block by block from one seed: the first N are fixed."""

    def __init__(self, d: int, seed: int) -> None:
        self.d, self.gen = d, torch.Generator().manual_seed(seed)
        self.patterns = torch.empty(0, d, dtype=torch.float64)

    def first(self, n: int) -> Tensor:
        while len(self.patterns) < n:
            block = torch.randint(0, 2, (BLOCK, self.d), generator=self.gen).double() * 2 - 1
            self.patterns = torch.cat([self.patterns, block])
        return self.patterns[:n]


def modern_step(beta: float) -> Callable[[Tensor, Tensor], Tensor]:
    """One modern Hopfield update at inverse temperature beta, as a function of (states, patterns)."""
    return lambda s, X: update(s, X, beta)


def dense_step(n: int, chunk: int = 4096) -> Callable[[Tensor, Tensor], Tensor]:
    """One synchronous update of Krotov and Hopfield's dense associative memory with F(x) = x^n.

    Every term is an integer, so the field is exact in float64 while N (d + 1)^n stays below 2^53
    (for n = 4, d = 64 up to N = 5e8 patterns).
    """
    def step(s: Tensor, X: Tensor) -> Tensor:
        field = torch.zeros_like(s)
        for block in X.split(chunk):
            rest = (s @ block.T)[:, :, None] - block[None] * s[:, None, :]  # a_mu for each bit i: (states, mu, d)
            field += ((rest + block[None]) ** n - (rest - block[None]) ** n).sum(dim=1)
        return torch.where(field >= 0, 1.0, -1.0).to(s.dtype)
    return step


def retrieved(step: Callable[[Tensor, Tensor], Tensor], X: Tensor, n_check: int, tol: float) -> bool:
    """Whether one step from each of the first n_check patterns ends within relative distance tol of it."""
    checked = X[:n_check]
    distance = torch.linalg.vector_norm(step(checked, X) - checked, dim=-1) / math.sqrt(X.shape[1])
    return bool((distance <= tol).all())


def capacity(step: Callable[[Tensor, Tensor], Tensor], d: int, seed: int, n_check: int, tol: float,
             cap: int = CAP) -> int:
    """N_max: where the network of the first N patterns of the pool (d, seed) stops retrieving every checked
    pattern (the first min(N, n_check)) in one step.

    Doubles N until a failure, then bisects between the last success and that failure, so N_max retrieves
    and N_max + 1 does not (retrieval need not be monotone in N: a larger N may retrieve again). Raises
    CapacityCapReached when `cap` patterns are all retrieved.
    """
    pool = PatternPool(d, seed)

    def ok(N: int) -> bool:
        return retrieved(step, pool.first(N), n_check, tol)

    good = 1
    while ok(2 * good):
        good *= 2
        if good >= cap:
            raise CapacityCapReached(f"{cap} patterns in dimension {d} are all retrieved; lower the dimension or beta")
    bad = 2 * good
    while bad - good > 1:
        middle = (good + bad) // 2
        good, bad = (middle, bad) if ok(middle) else (good, middle)
    return good


def modern_rate(beta: float) -> float:
    """beta - log cosh beta: the growth of log N_max per dimension of the modern network on +-1 patterns.

    One update from pattern i misses it by about sum_{j != i} p_j with p_j ~ exp(beta (x_i^T x_j - d)), and
    E exp(beta x_i^T x_j) = cosh(beta)^d for independent signs; so log N_max ~ d (beta - log cosh beta) + log tol
    wherever typical overlaps, not the largest one, dominate the sum (derived for this book).
    """
    return beta - math.log(math.cosh(beta))


def check_reachable(d: int, beta: float, tol: float, cap: int = CAP) -> None:
    """Raise ValueError, before any search, if the modern network's estimated N_max in dimension d (see
    modern_rate) is within a factor 4 of the search's cap."""
    estimate = math.exp(d * modern_rate(beta)) * tol
    if 4 * estimate > cap:
        raise ValueError(f"the modern network at beta = {beta} stores about {estimate:.2g} patterns in dimension {d}, "
                         f"near the search's cap of {cap}: lower the largest dimension or beta")


def krotov_hopfield_no_errors(d: int, n: int) -> float:
    """Krotov and Hopfield's (2016) estimate of the error-free capacity with F(x) = x^n: d^(n-1) / (2 (2n-3)!! ln d)."""
    double_factorial = math.prod(range(2 * n - 3, 0, -2))
    return d ** (n - 1) / (2 * double_factorial * math.log(d))


def log_fits(d, capacities) -> dict[str, float]:
    """Least squares of log N_max against d (exponential growth) and against log d (a power of d), for
    sequences or arrays of dimensions and capacities.

    Returns the slopes (rate per dimension, exponent) and the residual sums of squares of each fit.
    """
    y = torch.log(torch.as_tensor(capacities, dtype=torch.float64))
    out = {}
    for name, x in (("exponential", torch.as_tensor(d, dtype=torch.float64)),
                    ("power", torch.log(torch.as_tensor(d, dtype=torch.float64)))):
        design = torch.stack([torch.ones_like(x), x], dim=1)
        coef = torch.linalg.lstsq(design, y[:, None]).solution[:, 0]
        out[f"slope_{name}"] = float(coef[1])
        out[f"rss_{name}"] = float(((design @ coef - y) ** 2).sum())
    return out
