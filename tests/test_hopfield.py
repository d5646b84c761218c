"""The modern Hopfield network helpers."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from hopbook.forgetting import cluster_outlier_memories
from hopbook.hopfield import (
    energy, energy_hessian, fixed_point, hessian_trace, jacobian, multihead_attention_of_update, ramsauer_energy,
    retrieval_error, retrieval_error_bound, separation, sphere_radius, update,
)

torch.set_default_dtype(torch.float64)


def memories(seed, N=6, d=4):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(N, d, generator=gen), torch.randn(5, d, generator=gen)


def test_energy_of_a_single_memory_is_a_shifted_quadratic():
    xi = torch.tensor([[1.0, 2.0]])
    x = torch.tensor([[0.5, -1.0], [1.0, 2.0]])
    assert torch.allclose(energy(x, xi, beta=3.0), 0.5 * (x - xi).square().sum(-1) - 0.5 * xi.square().sum())


@given(st.integers(0, 10_000), st.floats(0.5, 2.0), st.floats(0.5, 20.0))
@settings(max_examples=40, deadline=None)
def test_a_data_scale_is_an_inverse_temperature(seed, s, beta):
    """E(s y | s X, beta) = s^2 E(y | X, beta s^2): scaling the memories and the state by s is the
    same network at inverse temperature beta s^2, its energy scaled by s^2."""
    X, y = memories(seed)
    assert torch.allclose(energy(s * y, s * X, beta), s**2 * energy(y, X, beta * s**2), rtol=1e-12, atol=1e-12)
    assert torch.allclose(fixed_point(s * y, s * X, beta)[0], s * fixed_point(y, X, beta * s**2)[0], atol=1e-9)


@given(st.integers(0, 10_000), st.floats(0.1, 20.0))
@settings(max_examples=40, deadline=None)
def test_update_never_increases_the_energy(seed, beta):
    X, x = memories(seed)
    for _ in range(5):
        x_next = update(x, X, beta)
        assert (energy(x_next, X, beta) <= energy(x, X, beta) + 1e-10).all()
        x = x_next


def test_fixed_point_is_a_fixed_point_and_batched_equals_looped():
    X, x = memories(1)
    fixed, converged = fixed_point(x, X, beta=4.0)
    assert converged.all()
    assert torch.allclose(update(fixed, X, 4.0), fixed, atol=1e-11)
    looped = torch.cat([fixed_point(row[None], X, beta=4.0)[0] for row in x])
    assert torch.allclose(looped, fixed, atol=1e-11)
    batched = fixed_point(torch.stack([x, -x]), torch.stack([X, X]), beta=4.0)[0]
    assert torch.allclose(batched[0], fixed, atol=1e-11)


def test_fixed_point_reports_no_convergence_when_out_of_steps():
    X, x = memories(2)
    _, converged = fixed_point(x, X, beta=0.5, max_iter=1)
    assert not converged.any()


def test_jacobian_matches_autograd():
    X, x = memories(3)
    auto = torch.stack([torch.autograd.functional.jacobian(lambda v: update(v, X, 2.0), row) for row in x])
    assert torch.allclose(jacobian(x, X, 2.0), auto, atol=1e-12)


def test_hessian_trace_is_the_trace_of_the_hessian():
    X = cluster_outlier_memories(6, 12, 0.4, "latent-gaussian", seed=3) * 1.3  # norms other than 1 too
    x = torch.randn(2, 5, 12, generator=torch.Generator().manual_seed(0))
    for beta in (0.5, 8.0):
        full = torch.diagonal(energy_hessian(x, X, beta), dim1=-2, dim2=-1).sum(-1)
        assert torch.allclose(hessian_trace(x, X, beta), full, atol=1e-10)


def test_scaled_dot_product_attention_is_the_update_batched():
    X, x = memories(4, N=7, d=9)
    X, x = torch.stack([X, 2 * X]), torch.stack([x, -x])
    assert torch.allclose(F.scaled_dot_product_attention(x, X, X), update(x, X, 1 / math.sqrt(9)), atol=1e-14, rtol=0)


def test_multihead_attention_with_identity_projections_is_one_update_per_block_of_coordinates():
    X, x = memories(5, N=7, d=8)
    with torch.no_grad():
        one = multihead_attention_of_update(8, 1)(x[None], X[None], X[None], need_weights=False)[0][0]
        two = multihead_attention_of_update(8, 2)(x[None], X[None], X[None], need_weights=False)[0][0]
    assert torch.allclose(one, update(x, X, 1 / math.sqrt(8)), atol=1e-14, rtol=0)
    blocks = torch.cat([update(x[:, :4], X[:, :4], 0.5), update(x[:, 4:], X[:, 4:], 0.5)], dim=-1)
    assert torch.allclose(two, blocks, atol=1e-14, rtol=0)
    assert not torch.allclose(two, one)


@given(st.integers(0, 10_000), st.floats(0.01, 100.0))
@settings(max_examples=40, deadline=None)
def test_ramsauer_energy_descends_and_lies_in_0_to_2M2_after_an_update(seed, beta):
    X, x = memories(seed)
    M2 = torch.linalg.vector_norm(X, dim=-1).max() ** 2
    E = ramsauer_energy(x, X, beta)
    for _ in range(5):
        x = update(x, X, beta)
        E_next = ramsauer_energy(x, X, beta)
        assert (E_next <= E + 1e-10 * (1 + E.abs())).all()
        assert (E_next >= -1e-12).all() and (E_next <= 2 * M2 + 1e-12).all()
        E = E_next


def test_ramsauer_energy_adds_the_constants_to_the_energy():
    X = torch.tensor([[3.0, 4.0], [1.0, 0.0]])  # M = 5
    x = torch.tensor([[0.5, -1.0]])
    assert torch.allclose(ramsauer_energy(x, X, 2.0), energy(x, X, 2.0) + math.log(2) / 2 + 12.5)


def test_separation_on_a_hand_case():
    X = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    # x0: 1 - 0.6; x1: 1 - 0.8; x2: 1 - 0.8
    assert torch.allclose(separation(X), torch.tensor([0.4, 0.2, 0.2]))


def test_the_retrieval_error_stays_below_ramsauers_bound():
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(20, 32, generator=gen)
    X = X / torch.linalg.vector_norm(X, dim=-1, keepdim=True)
    beta = 40.0
    fixed, _ = fixed_point(X, X, beta)
    i = torch.arange(20).repeat(5)
    xi = X[i] + 0.01 * torch.randn(100, 32, generator=gen)
    error = torch.linalg.vector_norm(update(xi, X, beta) - X[i], dim=-1)
    bound = retrieval_error_bound(xi, fixed[i], X, i, beta)
    assert (error <= bound).all() and (bound < 1).all()
    # and on a hand case with two orthogonal unit patterns at the pattern itself: error = sqrt(2) p_2
    X2 = torch.eye(2)
    p2 = 1 / (1 + math.exp(beta))
    at = torch.tensor([0])
    exact = torch.linalg.vector_norm(update(X2[at], X2, beta) - X2[at], dim=-1)
    assert torch.allclose(exact, torch.tensor([math.sqrt(2) * p2]))
    assert torch.allclose(retrieval_error_bound(X2[at], fixed_point(X2[at], X2, beta)[0], X2, at, beta),
                          2 * torch.exp(torch.tensor(-beta * (1 - 2 * math.sqrt(2) * p2))), rtol=1e-9)


def test_the_retrieval_error_is_the_distance_of_the_update_computed_without_cancellation():
    X, x = memories(6)
    i = torch.tensor([0, 1, 2, 3, 4])
    direct = torch.linalg.vector_norm(update(x, X, 0.7) - X[i], dim=-1)
    assert torch.allclose(retrieval_error(x, X, i, 0.7), direct, rtol=1e-10)
    X2 = torch.eye(2)  # at x_0 with beta = 60 the error sqrt(2) / (1 + e^60) is far below rounding of the update
    assert torch.allclose(retrieval_error(X2[:1], X2, torch.tensor([0]), 60.0),
                          torch.tensor([math.sqrt(2) / (1 + math.exp(60))]), rtol=1e-12)


def test_a_well_separated_pattern_keeps_its_fixed_point_and_its_sphere():
    """Theorem 4: separation puts the fixed point in S_i, radius 1/(beta N M), and one update maps S_i into S_i."""
    X = torch.eye(4) * 2.0  # Delta_i = 4, M = 2
    beta = 5.0
    radius = sphere_radius(X, beta)
    assert radius == pytest.approx(1 / (5 * 4 * 2))
    assert 4.0 >= 2 / (beta * 4) + math.log(2 * 3 * 4 * beta * 4) / beta  # the separation condition holds
    fixed, _ = fixed_point(X, X, beta)
    assert (torch.linalg.vector_norm(fixed - X, dim=-1) <= radius).all()
    direction = torch.randn(4, 4, generator=torch.Generator().manual_seed(0))
    xi = X + radius * direction / torch.linalg.vector_norm(direction, dim=-1, keepdim=True)
    assert (torch.linalg.vector_norm(update(xi, X, beta) - X, dim=-1) <= radius).all()
