"""Spread of quantities that rest on random draws."""

import numpy as np
import pytest

from hopbook.stats import bootstrap_interval, mean_se, paired_interval, paired_sign


def test_mean_se_matches_the_textbook_formula():
    x = np.array([1.0, 2.0, 4.0, 7.0])
    summary = mean_se(x)
    assert summary == {"mean": 3.5, "se": float(np.std(x, ddof=1) / 2), "n": 4}


def test_bootstrap_interval_brackets_the_mean_and_shrinks_with_more_draws():
    rng = np.random.default_rng(0)
    small, large = rng.normal(1.0, 1.0, 100), rng.normal(1.0, 1.0, 10_000)
    low, high = bootstrap_interval(small)
    assert low < small.mean() < high
    assert abs((high - low) - 2 * 1.96 * small.std(ddof=1) / 10) < 0.1  # about the normal interval
    low_l, high_l = bootstrap_interval(large)
    assert high_l - low_l < (high - low) / 5
    assert bootstrap_interval(small, seed=3) == bootstrap_interval(small, seed=3)


def test_bootstrap_interval_stays_bounded_in_memory_for_many_draws():
    x = np.random.default_rng(1).normal(size=3_000_000)  # one resample at a time: 24 MB, not 48 GB
    low, high = bootstrap_interval(x, n_boot=20)
    assert low < x.mean() < high


def test_paired_sign_needs_three_standard_errors_and_more_than_rounding():
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(400)
    assert paired_sign(1.0 + noise) == 1  # mean 1, standard error 0.05
    assert paired_sign(-1.0 + noise) == -1
    assert paired_sign(0.1 * noise) == 0
    tiny = np.full(10, 1e-17)  # equal up to rounding: no spread, so only the tolerance can call it a tie
    assert paired_sign(tiny) == 1 and paired_sign(tiny, tolerance=1e-12) == 0


def test_paired_interval_is_the_t_interval_of_the_differences():
    a, b = [3.0, 5.0, 4.0], [1.0, 2.0, 2.0]  # differences 2, 3, 2
    d = paired_interval(a, b)
    half = 4.302652729911275 * np.std([2, 3, 2], ddof=1) / np.sqrt(3)  # t(0.975, 2 degrees of freedom)
    assert d["mean"] == pytest.approx(7 / 3) and d["n"] == 3
    assert (d["low"], d["high"]) == pytest.approx((7 / 3 - half, 7 / 3 + half))
