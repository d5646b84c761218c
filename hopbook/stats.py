"""Summaries of quantities that rest on random draws: every such claim reports its spread."""

import numpy as np
import pandas as pd
from scipy import stats


def mean_se(values) -> dict[str, float]:
    """Mean, standard error of the mean and number of draws."""
    x = np.asarray(values, dtype=float).ravel()
    se = x.std(ddof=1) / np.sqrt(x.size) if x.size > 1 else float("nan")
    return {"mean": float(x.mean()), "se": float(se), "n": int(x.size)}


def paired_interval(a, b, level: float = 0.95) -> dict[str, float]:
    """The per-draw differences a - b (paired, draw by draw): mean, standard error, number of draws
    and a Student-t interval (low, high) of the mean at `level`."""
    d = mean_se(np.asarray(a, dtype=float) - np.asarray(b, dtype=float))
    half = stats.t.ppf(0.5 + level / 2, d["n"] - 1) * d["se"]
    return {**d, "low": d["mean"] - half, "high": d["mean"] + half}


def paired_sign(differences, tolerance: float = 0.0, n_se: float = 3.0) -> int:
    """Which way paired differences (a - b, draw by draw) point: +1 if their mean exceeds both n_se
    standard errors and `tolerance` (the size of rounding, say), -1 if it lies as far below 0, 0 if
    undecided."""
    d = mean_se(differences)
    margin = max(n_se * d["se"], tolerance)
    return 1 if d["mean"] > margin else -1 if d["mean"] < -margin else 0


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


def spearman_interval(x, y, level: float = 0.95, n_boot: int = 2000, seed: int = 0) -> dict[str, float]:
    """Spearman's rank correlation of paired draws with a percentile bootstrap interval (pairs
    resampled together)."""
    x, y = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
    rng = np.random.default_rng(seed)
    boot = [stats.spearmanr(x[i], y[i]).statistic for i in rng.integers(0, x.size, size=(n_boot, x.size))]
    tail = (1 - level) / 2
    low, high = np.quantile(boot, [tail, 1 - tail])
    return {"rho": float(stats.spearmanr(x, y).statistic), "low": float(low), "high": float(high)}


def bins_by(key, values, n_bins: int) -> pd.DataFrame:
    """Equal-count bins of `key` (quantiles) with the mean, standard error and sum of `values` in
    each: columns bin, key (the bin's mean key), mean, se, sum, n."""
    frame = pd.DataFrame({"key": np.asarray(key, dtype=float), "value": np.asarray(values, dtype=float)})
    frame["bin"] = pd.qcut(frame["key"].rank(method="first"), n_bins, labels=False)
    grouped = frame.groupby("bin")
    return pd.DataFrame({
        "key": grouped["key"].mean(), "mean": grouped["value"].mean(), "se": grouped["value"].sem(),
        "sum": grouped["value"].sum(), "n": grouped["value"].size(),
    }).reset_index()


def participation_ratio(weights) -> float:
    """(sum w)^2 / sum w^2 over the positive weights: how many bins effectively share a total,
    from 1 (all in one bin) to the number of bins (spread evenly)."""
    w = np.clip(np.asarray(weights, dtype=float), 0, None)
    return float(w.sum() ** 2 / (w**2).sum()) if w.any() else 0.0
