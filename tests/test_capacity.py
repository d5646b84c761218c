"""Capacity: the dense associative memory's update, the pattern pool and the search."""

import math

import pytest
import torch

from hopbook.capacity import (
    CapacityCapReached, PatternPool, capacity, check_reachable, dense_step, krotov_hopfield_no_errors, log_fits, modern_rate,
    modern_step, retrieved,
)


def test_the_dense_memory_of_degree_two_is_the_hebb_network():
    X = PatternPool(16, 0).first(5)
    s = PatternPool(16, 1).first(7)
    W = X.T @ X
    W.fill_diagonal_(0)
    hebb = torch.where(s @ W >= 0, 1.0, -1.0).double()
    assert torch.equal(dense_step(2)(s, X), hebb)
    assert torch.equal(dense_step(2, chunk=2)(s, X), hebb)  # streamed over patterns


def test_the_dense_memory_flips_a_bit_toward_a_single_pattern():
    xi = torch.tensor([[1.0, -1.0, 1.0, 1.0, -1.0]])
    s = xi.clone()
    s[0, 1] = 1.0
    for n in (2, 3, 4):
        assert torch.equal(dense_step(n)(s, xi), xi)


def test_the_pool_gives_the_same_first_patterns_however_many_are_drawn():
    a, b = PatternPool(8, 3), PatternPool(8, 3)
    a.first(5)
    assert torch.equal(a.first(3000)[:5], b.first(5))
    assert set(b.first(10).unique().tolist()) == {-1.0, 1.0}


def test_capacity_search_finds_the_largest_size_that_retrieves():
    step = modern_step(0.25)
    found = capacity(step, 24, seed=0, n_check=64, tol=0.1)
    pool = PatternPool(24, 0)
    assert retrieved(step, pool.first(found), 64, 0.1)
    assert not retrieved(step, pool.first(found + 1), 64, 0.1)
    with pytest.raises(CapacityCapReached, match="lower the dimension or beta"):
        capacity(step, 64, seed=0, n_check=8, tol=0.1, cap=64)


def test_krotov_hopfield_estimate_and_log_fits():
    assert krotov_hopfield_no_errors(100, 2) == pytest.approx(100 / (2 * math.log(100)))
    assert krotov_hopfield_no_errors(100, 4) == pytest.approx(100**3 / (2 * 15 * math.log(100)))
    d = torch.tensor([10.0, 20.0, 40.0])
    power = log_fits(d, 3 * d**2)
    assert power["slope_power"] == pytest.approx(2) and power["rss_power"] < 1e-20 < power["rss_exponential"]
    exponential = log_fits(d, torch.exp(0.3 * d))
    assert exponential["slope_exponential"] == pytest.approx(0.3) and exponential["rss_exponential"] < 1e-20


@pytest.mark.parametrize("n", [2, 3, 4])
def test_the_dense_update_sets_each_bit_to_the_lower_energy_of_its_two_values(n):
    """Krotov and Hopfield's rule, against brute force on E(s) = -sum_mu (xi_mu . s)^n with many patterns."""
    X, states = PatternPool(9, 4).first(12), PatternPool(9, 5).first(6)
    energy = lambda s: -((s @ X.T) ** n).sum(-1)
    expected = torch.empty_like(states)
    for i in range(9):
        up, down = states.clone(), states.clone()
        up[:, i], down[:, i] = 1.0, -1.0
        expected[:, i] = torch.where(energy(up) <= energy(down), 1.0, -1.0)
    assert torch.equal(dense_step(n)(states, X), expected)


def test_the_modern_rate_and_the_reachability_check():
    assert modern_rate(0.25) == pytest.approx(0.25 - math.log(math.cosh(0.25)))
    check_reachable(48, 0.25, 0.1)  # about 3,600 patterns
    with pytest.raises(ValueError, match="lower the largest dimension or beta"):
        check_reachable(96, 0.25, 0.1)
