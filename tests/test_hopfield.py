"""The modern Hopfield network helpers."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hopbook.forgetting import cluster_outlier_memories
from hopbook.hopfield import energy, energy_hessian, fixed_point, hessian_trace, jacobian, update

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
