"""Summaries of quantities that rest on random draws: every such claim reports its spread."""

import numpy as np


def mean_se(values) -> dict[str, float]:
    """Mean, standard error of the mean and number of draws."""
    x = np.asarray(values, dtype=float).ravel()
    se = x.std(ddof=1) / np.sqrt(x.size) if x.size > 1 else float("nan")
    return {"mean": float(x.mean()), "se": float(se), "n": int(x.size)}


def bootstrap_interval(values, level: float = 0.95, n_boot: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean; values must be independent draws.

    Resamples in chunks, so memory stays bounded for millions of values.
    """
    x = np.asarray(values, dtype=float).ravel()
    rng = np.random.default_rng(seed)
    chunk = max(1, 2**22 // x.size)
    means = np.concatenate([
        x[rng.integers(0, x.size, size=(min(chunk, n_boot - start), x.size))].mean(axis=1)
        for start in range(0, n_boot, chunk)
    ])
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)
