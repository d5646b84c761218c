"""Intrinsic forgetting and replay: the constructions, identities and formulas on small cases."""


import numpy as np
import pytest
import scipy.linalg
import torch

from hopbook import boltzmann, rotations
from hopbook.rotations import Rotations, antisymmetric_generators, expm_apply
from hopbook.forgetting import (
    canonical_replays, cluster_outlier_memories, duplicate_baseline,
    energy_rise, equal_angular_memories, finite_difference_sharpness, latent_gaussian_memories,
    replay_gain, replay_identity, replay_ordering_steps, second_order_rise, task1_fixed_points,
)
from hopbook.hopfield import energy, energy_hessian

torch.set_default_dtype(torch.float64)


@pytest.mark.parametrize("cosine", [-0.1, 0.0, 0.35, 0.8])
def test_equal_angular_memories_have_the_exact_geometry(cosine):
    X = equal_angular_memories(6, 9, cosine)
    expected = (1 - cosine) * torch.eye(6) + cosine
    G = X @ X.T
    assert torch.allclose(G[:6, :6], expected, atol=1e-12)
    assert torch.allclose(G[6], torch.eye(7)[6], atol=1e-12)  # unit outlier, orthogonal to the cluster


def test_equal_angular_memories_refuse_impossible_geometry():
    with pytest.raises(ValueError, match="cosine"):
        equal_angular_memories(6, 9, -0.3)
    with pytest.raises(ValueError, match="dim"):
        equal_angular_memories(6, 6, 0.3)


def test_latent_gaussian_memories_concentrate_at_the_cosine():
    X = latent_gaussian_memories(5, 4000, 0.35, generator=torch.Generator().manual_seed(0))
    G = X @ X.T
    assert torch.allclose(G.diagonal(), torch.ones(6))
    assert (G[:5, :5] - 0.35 - 0.65 * torch.eye(5)).abs().max() < 0.05
    assert G[5, :5].abs().max() < 1e-12


def test_rotations_are_orthogonal_and_give_the_rotation_identity():
    gen = torch.Generator().manual_seed(1)
    A = antisymmetric_generators(20, 7, gen)
    assert torch.equal(A, -A.mT)
    R = Rotations(A, 0.3)
    M = R.matrices()
    assert torch.allclose(M @ M.mT, torch.eye(7).expand(20, 7, 7), atol=1e-12)
    assert torch.allclose(torch.linalg.det(M), torch.ones(20))
    X = equal_angular_memories(4, 7, 0.3)
    x = task1_fixed_points(X, beta=6.0)
    explicit = energy(x.expand(20, -1, -1), X @ M.mT, 6.0) - energy(x, X, 6.0)
    assert torch.allclose(energy_rise(x, X, R, 6.0), explicit, atol=1e-13)


def test_generators_have_the_law_of_w_minus_w_transpose_over_two():
    A = antisymmetric_generators(4000, 6, torch.Generator().manual_seed(7))
    assert torch.equal(A, -A.mT) and torch.equal(torch.diagonal(A, dim1=-2, dim2=-1), torch.zeros(4000, 6))
    upper = A[:, *torch.triu_indices(6, 6, offset=1)]
    assert upper.var().item() == pytest.approx(0.5, rel=0.03)
    assert upper.mean().abs() < 0.01
    assert torch.corrcoef(upper.T).fill_diagonal_(0).abs().max() < 0.06  # independent entries


@pytest.mark.parametrize(("dim", "eps"), [(7, 0.3), (50, 0.05), (50, 1.0), (120, 0.5)])
def test_rotations_of_vectors_match_scipy_expm(dim, eps):
    gen = torch.Generator().manual_seed(dim)
    R = Rotations(antisymmetric_generators(8, dim, gen), eps)
    x = torch.randn(3, dim, generator=gen)
    expm = np.stack([scipy.linalg.expm(eps * a) for a in R.generators.numpy()])
    assert np.abs(R.transpose_apply(x).numpy() - x.numpy() @ expm).max() < 1e-12
    assert np.abs(R.apply(x).numpy() - x.numpy() @ expm.transpose(0, 2, 1)).max() < 1e-12
    assert np.abs(R.matrices().numpy() - expm).max() < 1e-12
    assert torch.allclose(R.apply(R.transpose_apply(x)), x.expand(8, 3, dim), atol=1e-12)  # R R^T = I


def test_rotations_broadcast_over_memory_sets_and_select_by_index():
    gen = torch.Generator().manual_seed(8)
    R = Rotations(antisymmetric_generators(5, 6, gen), 0.2)
    x = torch.randn(4, 3, 6, generator=gen)  # 4 memory sets' states
    batched = R[:, None].transpose_apply(x)
    assert batched.shape == (5, 4, 3, 6)
    assert torch.allclose(batched[2, 1], x[1] @ R.matrices()[2], atol=1e-13)
    assert len(R[:2]) == 2 and torch.equal(R[:2].generators, R.generators[:2])


def test_expm_apply_in_chunks_equals_one_batch(monkeypatch):
    gen = torch.Generator().manual_seed(9)
    A = antisymmetric_generators(10, 6, gen)
    cases = [(torch.randn(3, 6, generator=gen), A),  # shared states
             (torch.randn(10, 3, 6, generator=gen), A),  # one batch of states per matrix
             (torch.randn(4, 3, 6, generator=gen), A[:, None])]  # broadcast over 4 memory sets
    whole = [expm_apply(x, a, 0.3) for x, a in cases]
    chunks = []
    one_chunk = rotations._expm_apply
    monkeypatch.setattr(rotations, "_expm_apply", lambda *args: chunks.append(len(args[1])) or one_chunk(*args))
    monkeypatch.setattr(rotations, "_CHUNK_BYTES", 3 * A[0].nbytes)
    for (x, a), expected in zip(cases, whole):
        chunks.clear()
        result = expm_apply(x, a, 0.3)
        assert chunks == [3, 3, 3, 1]
        assert result.shape == expected.shape and torch.allclose(result, expected, rtol=0, atol=1e-14)


def test_expm_apply_refuses_what_cannot_converge():
    with pytest.raises(ValueError, match="finite"):
        expm_apply(torch.ones(1, 3), torch.full((1, 3, 3), float("nan")), 0.1)
    with pytest.raises(RuntimeError, match="did not reach"):
        expm_apply(torch.full((1, 3), float("nan")), torch.eye(3)[None], 0.1)


def test_hessian_matches_autograd_and_finite_differences_approach_its_trace():
    X = equal_angular_memories(4, 7, 0.3)
    x = task1_fixed_points(X, beta=5.0)
    auto = torch.autograd.functional.hessian(lambda v: energy(v, X, 5.0), x[0])
    assert torch.allclose(energy_hessian(x, X, 5.0)[0], auto, atol=1e-10)
    fd = finite_difference_sharpness(x, X, 5.0, sigma=1e-4, n_directions=20000, generator=torch.Generator().manual_seed(2))
    trace = torch.diagonal(energy_hessian(x, X, 5.0), dim1=-2, dim2=-1).sum(-1)
    assert torch.allclose(fd, trace, rtol=0.03)


def test_second_order_formula_matches_monte_carlo_at_small_rotation():
    X = equal_angular_memories(4, 7, 0.3)
    x = task1_fixed_points(X, beta=6.0)
    R = Rotations(antisymmetric_generators(20000, 7, torch.Generator().manual_seed(3)), 0.01)
    mc = energy_rise(x, X, R, 6.0).mean(0)
    assert torch.allclose(mc, second_order_rise(x, X, 6.0, 0.01), rtol=0.05)


def test_replay_gain_identity_and_duplicate_baseline():
    X = equal_angular_memories(4, 7, 0.3)
    x = task1_fixed_points(X, beta=6.0)
    R = Rotations(antisymmetric_generators(10, 7, torch.Generator().manual_seed(4)), 0.1)
    raw = replay_gain(x, X, R, 6.0, X)
    assert torch.allclose(raw, replay_identity(x, X, R, 6.0, torch.arange(5)), atol=1e-13)
    unrotated = replay_gain(x, X, Rotations(torch.zeros(1, 7, 7), 0.1), 6.0, X)[0]
    assert torch.allclose(unrotated, duplicate_baseline(x, X, 6.0, torch.arange(5)), atol=1e-13)


def test_boltzmann_likelihood_is_the_gaussian_mixture_with_weights_tied_to_the_norms():
    gen = torch.Generator().manual_seed(5)
    W = torch.randn(3, 4, generator=gen)
    x = torch.randn(50, 4, generator=gen)
    beta = 2.5
    weights = torch.softmax(0.5 * beta * (W * W).sum(-1), dim=0)
    mixture = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(weights),
        torch.distributions.MultivariateNormal(W, torch.eye(4) / beta),
    )
    assert torch.allclose(boltzmann.negative_log_likelihood(x, W, beta), -mixture.log_prob(x).mean())
    data = boltzmann.mixture_samples(W, 30, 0.1, gen)
    assert data.shape == (3, 30, 4) and torch.allclose(data.mean(1), W, atol=0.1)


def test_boltzmann_fit_reaches_a_stationary_point_or_says_it_did_not():
    gen = torch.Generator().manual_seed(5)
    W = torch.randn(3, 4, generator=gen)
    data = boltzmann.mixture_samples(W, 200, 2.5**-0.5, gen).flatten(0, 1)
    fitted, gradient_norm = boltzmann.fit(W + 0.3, data, 2.5)
    assert gradient_norm < 1e-5
    W_ = fitted.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(boltzmann.negative_log_likelihood(data, W_, 2.5), W_)
    assert grad.norm() == pytest.approx(gradient_norm)
    assert boltzmann.negative_log_likelihood(data, fitted, 2.5) < boltzmann.negative_log_likelihood(data, W + 0.3, 2.5)
    with pytest.raises(RuntimeError, match="did not converge"):
        boltzmann.fit(W + 0.3, data, 2.5, max_iter=1)


def test_boltzmann_likelihood_is_rotation_invariant():
    gen = torch.Generator().manual_seed(6)
    W, x = torch.randn(4, 6, generator=gen), torch.randn(40, 6, generator=gen)
    R = Rotations(antisymmetric_generators(3, 6, gen), 0.7).matrices()  # (3, 6, 6); rows rotate as x R^T
    rotated = boltzmann.negative_log_likelihood(x @ R.mT, W @ R.mT, 1.7)
    assert torch.allclose(rotated, boltzmann.negative_log_likelihood(x, W, 1.7).expand(3), rtol=0, atol=1e-12)


def test_a_task2_fit_on_rotated_data_is_the_rotated_task1_fit():
    X = equal_angular_memories(3, 6, 0.3)
    samples, W1, _ = boltzmann.fit_task1(X, 1.0, 300, 1.0, 8.0, seed=0)
    R = Rotations(antisymmetric_generators(2, 6, torch.Generator().manual_seed(1)), 0.05).matrices()
    W2, _ = boltzmann.fit(W1.expand(2, -1, -1), samples.flatten(0, 1) @ R.mT, 8.0)  # two fits as one batch
    assert (W2 - W1 @ R.mT).abs().max() < 1e-6
    assert (W2 - W1).abs().max() > 1e-2  # the rotation moved the memories: the check is not vacuous


def test_cluster_outlier_memories_dispatch_on_the_construction():
    assert torch.equal(cluster_outlier_memories(4, 7, 0.3, "exact", 0), equal_angular_memories(4, 7, 0.3))
    latent = cluster_outlier_memories(4, 7, 0.3, "latent-gaussian", 0)
    assert torch.equal(latent, latent_gaussian_memories(4, 7, 0.3, generator=torch.Generator().manual_seed(0)))
    with pytest.raises(ValueError, match="unknown construction"):
        cluster_outlier_memories(4, 7, 0.3, "spherical", 0)


def test_replay_ordering_steps_are_the_three_steps_of_theorem_5_1():
    pairs = canonical_replays(12)
    assert pairs["oo"] == (12, 12) and pairs["c2c"] == (1, 0) and pairs["oc"] == (0, 12)
    gains = {"oo": torch.tensor([5.0]), "cc": torch.tensor([4.0]), "c2c": torch.tensor([2.0]),
             "co": torch.tensor([0.5]), "oc": torch.tensor([1.5])}
    steps = replay_ordering_steps(gains)
    assert [s.item() for s in steps] == [1.0, 2.0, 0.5]  # the last step is against the larger cross-type gain


def test_boltzmann_task1_fit_sits_near_the_memories_at_the_models_own_noise():
    X = equal_angular_memories(3, 6, 0.3)
    samples, W, gradient_norm = boltzmann.fit_task1(X, 1.0, 2000, 1.0, 8.0, seed=0)
    assert samples.shape == (4, 2000, 6) and gradient_norm < 1e-5
    assert torch.allclose(samples.mean(1), X, atol=0.05)  # samples around each memory, in order
    assert (W - X).norm(dim=-1).max() < 0.1
    colder = boltzmann.fit_task1(X, 1.5, 2000, 0.5, 8.0, seed=0)[0]  # one noise draw for every scale and noise
    assert torch.allclose(colder - 1.5 * X[:, None], 0.5 * (samples - X[:, None]), atol=1e-12)
