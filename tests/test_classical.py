"""Classical Hopfield networks: couplings, sign dynamics, magnetisation, random-feature mixtures."""

import pytest
import torch

from hopbook.data import images
from hopbook.classical import falls_below, flip, hebb, magnetisation, pseudoinverse, recall
from hopbook.random_features import features, mixtures

torch.set_default_dtype(torch.float64)


def random_patterns(p, N, seed):
    return torch.randint(0, 2, (p, N), generator=torch.Generator().manual_seed(seed)).double() * 2 - 1


def test_hebb_couplings_are_the_mean_outer_product_with_zero_diagonal():
    X = torch.tensor([[1.0, -1.0, 1.0], [1.0, 1.0, -1.0]])
    expected = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, -2.0], [0.0, -2.0, 0.0]]) / 3
    assert torch.allclose(hebb(X), expected)
    assert torch.all(torch.diagonal(hebb(random_patterns(5, 20, 0))) == 0)


def test_every_stored_pattern_is_an_exact_fixed_point_of_the_pseudoinverse_rule_even_when_dependent():
    X = random_patterns(12, 40, 1)
    X = torch.cat([X, -X[:2]])  # negations make the patterns linearly dependent
    W = pseudoinverse(X)
    assert torch.allclose(X @ W, X, atol=1e-12)
    assert torch.allclose(W, W.T, atol=1e-12) and torch.allclose(W @ W, W, atol=1e-12)  # a projection
    gen = torch.Generator().manual_seed(0)
    for dynamics in ("asynchronous", "synchronous"):
        assert torch.equal(recall(W, X, dynamics, gen), X)


def test_flip_changes_exactly_the_requested_share_of_bits():
    X = random_patterns(30, 50, 2)
    flipped = flip(X, 0.1, torch.Generator().manual_seed(0))
    assert ((flipped != X).sum(dim=1) == 5).all()


def test_a_hand_case_of_the_dynamics():
    """One stored pattern: Hebb's field is (N-1)/N xi_i (xi . s) minus the bit's own term, so any state closer
    to xi than to -xi recalls xi in one sweep, and a state with more than half the bits wrong recalls -xi."""
    xi = torch.tensor([[1.0, 1.0, -1.0, 1.0, -1.0]])
    W = hebb(xi)
    gen = torch.Generator().manual_seed(0)
    near = torch.tensor([[1.0, -1.0, -1.0, 1.0, -1.0]])  # one bit wrong
    far = -near
    for dynamics in ("asynchronous", "synchronous"):
        assert torch.equal(recall(W, near, dynamics, gen), xi)
        assert torch.equal(recall(W, far, dynamics, gen), -xi)
    with pytest.raises(ValueError, match="unknown dynamics"):
        recall(W, near, "parallel", gen)


def test_a_bit_with_zero_field_keeps_its_value():
    W = torch.zeros(3, 3)
    s = torch.tensor([[1.0, -1.0, 1.0]])
    assert torch.equal(recall(W, s, "synchronous", torch.Generator()), s)


def test_magnetisation():
    xi = torch.tensor([[1.0, 1.0, -1.0, -1.0]])
    assert magnetisation(xi, xi).item() == 1.0 and magnetisation(-xi, xi).item() == -1.0
    assert magnetisation(torch.tensor([[1.0, 1.0, 1.0, 1.0]]), xi).item() == 0.0


def test_mixtures_are_signs_of_sparse_feature_sums():
    gen = torch.Generator().manual_seed(0)
    F = features(101, 7, gen)
    X = mixtures(F, 50, 3, gen)
    assert set(X.unique().tolist()) == {-1.0, 1.0}
    # a pattern agrees with each of its three features on 3/4 of the bits on average (|m| = 1/2), with the others on 1/2
    overlaps = (X @ F.T / 101).abs().sort(dim=1, descending=True).values
    assert abs(overlaps[:, :3].mean().item() - 0.5) < 0.03 and overlaps[:, 3:].mean().item() < 0.15
    with pytest.raises(ValueError, match="L must be odd"):
        mixtures(F, 5, 2, gen)


def test_digits_binarise_to_64_pixels_of_ink_and_background():
    patterns, labels = images.binarised("digits", mean_pixel=-0.74)
    assert patterns.shape == (1797, 64) and labels.shape == (1797,)
    assert set(patterns.unique().tolist()) == {-1.0, 1.0} and (patterns == 1).double().mean() < 0.5  # more background


def test_binarised_cuts_at_the_intensity_that_gives_the_mean_pixel():
    from sklearn.datasets import load_digits

    scans = torch.tensor(load_digits().images).flatten(1)
    for mean_pixel, cut in ((-0.41, 8), (-0.74, 14)):  # ties: the mean lands at or just below the one asked for
        patterns, _ = images.binarised("digits", mean_pixel=mean_pixel)
        assert torch.equal(patterns, torch.where(scans > cut, 1.0, -1.0).double())
        assert mean_pixel - 0.01 < patterns.mean().item() <= mean_pixel
    with pytest.raises(ValueError, match="strictly between -1 and 1"):
        images.binarised("digits", mean_pixel=-1.0)


def test_falls_below_interpolates_the_first_fall_and_says_when_there_is_none():
    assert falls_below([0.1, 0.2, 0.3], [1.0, 0.8, 0.2], 0.5) == pytest.approx(0.25)
    assert falls_below([0.1, 0.2, 0.3], [1.0, 0.4, 0.9], 0.5) == pytest.approx(0.1 + 0.1 * 5 / 6)  # the first fall
    assert falls_below([0.1, 0.2], [0.3, 0.2], 0.5) == 0.1  # starts below
    assert falls_below([0.1, 0.2], [0.9, 0.6], 0.5) == float("inf")  # never falls on the grid
