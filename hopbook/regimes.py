"""How sharply a modern Hopfield network, or an attention head, weights its memories.

Ramsauer et al. (2021), Sections 2-4. A state's softmax weights p over N memories are summarised by
k, the fewest weights that sum to 0.90. A fixed point is the global average when k > N/2, a single
pattern when k = 1, and a metastable state (an average over a subset of k memories) in between.
An attention head is classed by k_bar, the median k over its queries: I k_bar > N/2, II N/8 < k_bar <= N/2,
III N/32 < k_bar <= N/8, IV k_bar <= N/32.

Memories here are images flattened, centred on the data's mean image and scaled to unit norm, so
beta x_mu^T xi is beta times a cosine; queries are stored images with part of them masked or noised.
"""

import math

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from hopbook.hopfield import fixed_point, softmax_weights, update

MASS = 0.9
CLASSES = ("I", "II", "III", "IV")
REGIMES = ("global", "metastable", "single")
CORRUPTIONS = ("mask", "noise")


def weights_to_cover(p: Tensor, mass: float = MASS) -> Tensor:
    """k: the fewest of the weights p (last dimension) whose sum reaches `mass`, shape p.shape[:-1]."""
    running = p.sort(dim=-1, descending=True).values.cumsum(dim=-1)
    return ((running < mass).sum(dim=-1) + 1).clamp_max(p.shape[-1])


def class_bounds(n: int) -> dict[str, tuple[float, float]]:
    """Ramsauer et al.'s classes of heads over N = n tokens: k_bar in (low, high]."""
    return {"I": (n / 2, math.inf), "II": (n / 8, n / 2), "III": (n / 32, n / 8), "IV": (0.0, n / 32)}


def head_class(kbar: float, n: int) -> str:
    """Ramsauer et al.'s class of a head with median k_bar over N = n tokens."""
    return next(c for c, (low, high) in class_bounds(n).items() if low < kbar <= high)


def in_class(kbar: Tensor, n: int, c: str) -> Tensor:
    """Whether each k_bar (any shape) over N = n tokens is of class c."""
    low, high = class_bounds(n)[c]
    return (kbar > low) & (kbar <= high)


def regime(k, n: int) -> np.ndarray:
    """The kind of fixed point each k (a tensor, array or number) describes: global (k > N/2), single (k = 1) or
    metastable."""
    k = np.asarray(k)
    return np.where(k > n / 2, "global", np.where(k == 1, "single", "metastable"))


def median(values: Tensor) -> Tensor:
    """The median over the last dimension, the mean of the two middle values for an even count (as numpy's)."""
    return values.double().quantile(0.5, dim=-1)


def logit_spread(logits: Tensor) -> Tensor:
    """The standard deviation of the logits over the memories (last dimension): an effective inverse
    temperature. For a Hopfield network with unit memories the logits are beta x_mu^T xi, so this is beta
    times the spread of the cosines: a number that heads and Hopfield networks of any memories share."""
    return logits.std(dim=-1)


def as_memories(images: Tensor, mean: Tensor) -> Tensor:
    """Images (n, ...) flattened, centred on `mean` (the data's mean image, flattened) and scaled to unit norm."""
    x = images.flatten(1).double() - mean
    return x / torch.linalg.vector_norm(x, dim=-1, keepdim=True)


def corrupt(images: Tensor, kind: str, level: float, gen: torch.Generator) -> Tensor:
    """Queries from images in [-1, 1]: `mask` sets a random share `level` of the pixels to background (-1),
    `noise` adds Gaussian noise of standard deviation `level`."""
    if kind not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {kind!r}; choose one of {', '.join(CORRUPTIONS)}")
    if kind == "mask":
        hidden = torch.rand(images.shape, generator=gen) < level
        return images.masked_fill(hidden, -1.0)
    return images + level * torch.randn(images.shape, generator=gen, dtype=images.dtype)


def subset_purity(p: Tensor, k: Tensor, labels: Tensor) -> Tensor:
    """For each state, the share of the k most weighted memories that belong to their most common class."""
    order = p.argsort(dim=-1, descending=True)
    in_subset = (torch.arange(p.shape[-1], device=p.device) < k[:, None]).double()
    counts = torch.zeros(p.shape[0], int(labels.max()) + 1, dtype=torch.float64, device=p.device)
    counts.scatter_add_(1, labels.to(p.device)[order], in_subset)
    return counts.amax(dim=1) / k


def random_subset_purity(k: Tensor, labels: Tensor, gen: torch.Generator) -> Tensor:
    """The purity of a random subset of k memories, one draw per entry of k: what subset_purity gives by chance."""
    shuffled = torch.rand(len(k), len(labels), generator=gen, dtype=torch.float64)  # a random order per draw
    return subset_purity(shuffled, k, labels)


def regime_sweep(X: Tensor, labels: Tensor, queries: Tensor, targets: Tensor, betas: list[float],
                 tol: float = 1e-8, max_iter: int = 2000) -> pd.DataFrame:
    """One row per (beta, query): what one update and the fixed point do with a corrupted stored pattern.

    X (N, d) are unit memories with class `labels`; queries (n, d) are corrupted copies of the memories
    `targets` (indices). Columns: beta, query, spread (the logit spread at the query), k_step (k of the
    weights at the query: one attention step), k (at the fixed point), regime, purity (of the k memories at
    the fixed point), converged, step_correct (the update's nearest memory is the target), nn_correct
    (the query's nearest memory is the target: 1-nearest-neighbour) and agrees_with_nn. Runs on the device of X.
    """
    queries, targets = queries.to(X.device), targets.to(X.device)
    nearest_to_query = (queries @ X.T).argmax(dim=1)
    rows = []
    for beta in betas:
        p_step = softmax_weights(queries, X, beta)
        step_answer = (update(queries, X, beta) @ X.T).argmax(dim=1)  # unit memories: nearest = largest overlap
        fixed, converged = fixed_point(queries, X, beta, tol=tol, max_iter=max_iter)
        p = softmax_weights(fixed, X, beta)
        k = weights_to_cover(p)
        columns = {
            "spread": logit_spread(beta * queries @ X.T), "k_step": weights_to_cover(p_step), "k": k,
            "purity": subset_purity(p, k, labels), "converged": converged, "step_correct": step_answer == targets,
            "nn_correct": nearest_to_query == targets, "agrees_with_nn": step_answer == nearest_to_query,
        }
        frame = pd.DataFrame({name: column.cpu().numpy() for name, column in columns.items()})
        rows.append(frame.assign(beta=beta, query=np.arange(len(queries)), regime=regime(frame["k"], X.shape[0])))
    return pd.concat(rows, ignore_index=True)


def step_map(X: Tensor, queries: Tensor, betas: list[float]) -> pd.DataFrame:
    """Per beta, the median logit spread of one update at the queries and the median k / N of its weights:
    where a state of a given effective inverse temperature falls on the regime map."""
    rows = [{"beta": beta, "spread": median(logit_spread(beta * queries @ X.T)).item(),
             "k_share": median(weights_to_cover(softmax_weights(queries, X, beta))).item() / X.shape[0]}
            for beta in betas]
    return pd.DataFrame(rows)
