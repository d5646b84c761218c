"""The key-Gram helpers against identities that hold exactly."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hopbook.gram import (
    append_keys, eigenvector_residuals, fixed_direction_search, gram, gram_delta, interlacing_excess,
    linear_retrieval, relational_shift, relational_similarity, retrieval_growth, spectrum, surviving_eigenvalues,
)
from hopbook.data.keys import KEY_DISTRIBUTIONS, sample_keys

torch.set_default_dtype(torch.float64)
heads = st.tuples(st.integers(0, 10_000), st.integers(2, 12), st.integers(1, 30), st.sampled_from(KEY_DISTRIBUTIONS))


def draw(seed, p, d, dist, batch=4):
    gen = torch.Generator().manual_seed(seed)
    return sample_keys(batch, p, d, dist=dist, generator=gen), sample_keys(batch, 1, d, dist=dist, generator=gen)


@given(heads)
@settings(max_examples=40, deadline=None)
def test_gram_is_symmetric_psd_and_matches_definition(head):
    seed, d, p, dist = head
    K, _ = draw(seed, p, d, dist)
    G = gram(K)
    assert torch.allclose(G, G.mT, atol=1e-12)
    assert spectrum(G)[0].min() > -1e-10
    mu, nu = 0, p - 1
    overlap = torch.einsum("bi,bij,bj->b", K[:, mu], G, K[:, nu])
    assert torch.allclose(overlap, (K @ K.mT @ K @ K.mT)[:, mu, nu] / d)


@given(heads, st.integers(1, 5))
@settings(max_examples=40, deadline=None)
def test_gram_delta_is_the_exact_change_for_moved_and_appended_keys(head, s):
    seed, d, p, dist = head
    K, _ = draw(seed, p, d, dist)
    dK = torch.randn(K.shape, generator=torch.Generator().manual_seed(seed + 1))
    assert torch.allclose(gram_delta(K, dK), gram(K + dK) - gram(K), atol=1e-10)
    K_new = torch.randn(4, s, d, generator=torch.Generator().manual_seed(seed + 2))
    assert torch.allclose(gram(append_keys(K, K_new)) - gram(K), K_new.mT @ K_new / d, atol=1e-10)


@given(heads)
@settings(max_examples=40, deadline=None)
def test_rank_one_update_interlaces_and_adds_its_trace(head):
    seed, d, p, dist = head
    K, k = draw(seed, p, d, dist)
    lam, lam_new = spectrum(gram(K))[0], spectrum(gram(append_keys(K, k)))[0]
    assert (interlacing_excess(lam, lam_new) < 1e-9 * lam_new[:, -1]).all()
    assert torch.allclose((lam_new - lam).sum(-1), k.square().sum((-2, -1)) / d, atol=1e-9)
    # Proposition 4.2 of the next chapter: the pair overlaps change by exactly <k_mu,k><k,k_nu>/d
    change = K @ (gram(append_keys(K, k)) - gram(K)) @ K.mT
    assert torch.allclose(change, (K @ k.mT) @ (k @ K.mT) / d, atol=1e-9)


def test_interlacing_excess_detects_a_violation_and_strictness():
    lam = torch.tensor([1.0, 2.0, 3.0])
    assert interlacing_excess(lam, torch.tensor([1.5, 2.5, 3.5])) < 0  # strict
    assert interlacing_excess(lam, torch.tensor([1.0, 2.5, 3.5])) == 0  # touches
    assert interlacing_excess(lam, torch.tensor([0.5, 2.5, 3.5])) == 0.5  # below lambda_1
    assert interlacing_excess(lam, torch.tensor([2.5, 2.6, 3.5])) == 0.5  # above lambda_2


def test_eigenvector_residuals_vanish_exactly_on_eigenvectors():
    G = torch.diag(torch.tensor([1.0, 2.0, 4.0]))
    E = torch.eye(3)
    assert eigenvector_residuals(G, E).abs().max() == 0
    v = torch.tensor([[1.0], [1.0], [0.0]]) / 2**0.5
    # G v = (1, 2, 0)/sqrt2, Rayleigh 1.5: residual (-0.5, 0.5, 0)/sqrt2, norm 0.5
    assert torch.allclose(eigenvector_residuals(G, v), torch.tensor([0.5]))


def test_surviving_eigenvalues_compares_spectra_as_sets():
    lam = torch.tensor([1.0, 2.0, 3.0])
    # lambda_1 moved from 1 to 2.5, past lambda_2: sorted orders no longer line up
    assert surviving_eigenvalues(lam, torch.tensor([2.0, 2.5, 3.0])).tolist() == [False, True, True]


def test_relational_similarity_is_a_cosine_in_the_g_metric():
    K, _ = draw(0, 7, 5, "gaussian", batch=1)
    rho = relational_similarity(gram(K), K)[0]
    assert torch.allclose(rho, rho.T) and torch.allclose(rho.diagonal(), torch.ones(7))
    assert rho.abs().max() <= 1 + 1e-12
    cosine = torch.nn.functional.normalize(K[0], dim=-1)
    assert torch.allclose(relational_similarity(torch.eye(5), K[0]), cosine @ cosine.T)


def test_linear_retrieval_fixes_eigenvectors_and_converges_to_the_top_one():
    G = torch.diag(torch.tensor([0.5, 1.0, 2.0]))
    assert torch.allclose(linear_retrieval(G, torch.eye(3), steps=5), torch.eye(3))
    x = linear_retrieval(G, torch.tensor([[1.0, 1.0, 1.0]]), steps=200)
    assert torch.allclose(x, torch.tensor([[0.0, 0.0, 1.0]]), atol=1e-12)
    # growth of the worst perturbation at e_j: lambda_max / lambda_j, and lambda_2 / lambda_1 at the top
    assert torch.allclose(retrieval_growth(torch.tensor([0.5, 1.0, 2.0])), torch.tensor([4.0, 2.0, 0.5]))


def test_fixed_direction_search_ends_on_a_single_eigenvector():
    K, _ = draw(3, 20, 6, "gaussian", batch=3)
    G = gram(K)
    lam, E = spectrum(G)
    radius = (2 * 6 * lam[:, -1]).sqrt()[:, None, None]
    u = torch.randn(3, 1, 6, generator=torch.Generator().manual_seed(4))
    k = fixed_direction_search(G, radius, u, steps=300)
    assert torch.allclose(k.norm(dim=-1, keepdim=True), radius)
    alignment = ((k / radius) @ E).abs().amax(-1)
    assert (alignment > 1 - 1e-8).all()


def test_key_distributions_have_unit_variance_on_average():
    gen = torch.Generator().manual_seed(0)
    for dist in KEY_DISTRIBUTIONS:
        K = sample_keys(200, 50, 8, dist=dist, generator=gen)
        assert abs(K.square().mean().item() - 1) < 0.05, dist


def test_relational_shift_is_zero_without_change_and_matches_rho_directly():
    K, k = draw(5, 9, 4, "gaussian", batch=2)
    means, moved = relational_shift(K, K)
    assert (means == 0).all() and (moved == 0).all()
    K_after = K + 0.1 * torch.randn(K.shape, generator=torch.Generator().manual_seed(6))
    means, moved = relational_shift(K, K_after, tol=1e-9)
    direct = (relational_similarity(gram(K_after[1]), K[1]) - relational_similarity(gram(K[1]), K[1])).abs()
    assert torch.allclose(means[1], direct[~torch.eye(9, dtype=torch.bool)].mean())
    assert moved[1] == 1.0
