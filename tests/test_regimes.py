"""Regimes of the modern Hopfield network and Ramsauer's head classes, on hand cases."""

import numpy as np
import pytest
import torch

from hopbook.regimes import (
    corrupt, head_class, in_class, median, random_subset_purity, regime, regime_sweep, step_map, subset_purity, weights_to_cover,
)


def test_k_counts_the_fewest_weights_reaching_ninety_per_cent():
    p = torch.tensor([
        [0.95, 0.05, 0.0, 0.0],
        [0.5, 0.1, 0.4, 0.0],  # sorted 0.5, 0.4: exactly 0.9 with two
        [0.25, 0.25, 0.25, 0.25],  # 0.75 with three, 1.0 with four
        [0.6, 0.2, 0.15, 0.05],  # 0.8 with two, 0.95 with three
    ])
    assert weights_to_cover(p).tolist() == [1, 2, 4, 3]
    assert weights_to_cover(p, mass=0.5).tolist() == [1, 1, 2, 1]


@pytest.mark.parametrize(("kbar", "expected"), [
    (65, "I"), (64, "II"), (17, "II"), (16, "III"), (4.5, "III"), (4, "IV"), (1, "IV"),
])
def test_ramsauer_classes_at_their_boundaries_for_128_tokens(kbar, expected):
    assert head_class(kbar, 128) == expected  # N/2 = 64, N/8 = 16, N/32 = 4 belong to the sharper class


def test_in_class_agrees_with_head_class():
    kbar = torch.tensor([1.0, 4.0, 4.5, 16.0, 16.5, 64.0, 64.5, 128.0])
    for c in ("I", "II", "III", "IV"):
        assert in_class(kbar, 128, c).tolist() == [head_class(v, 128) == c for v in kbar.tolist()]


def test_regimes_of_fixed_points():
    assert regime(torch.tensor([1, 2, 50, 51, 100]), 100).tolist() == ["single", "metastable", "metastable", "global", "global"]


def test_subset_purity_counts_the_most_common_class_among_the_k_heaviest():
    p = torch.tensor([[0.4, 0.3, 0.2, 0.1], [0.1, 0.2, 0.3, 0.4]])
    labels = torch.tensor([0, 1, 1, 2])
    purity = subset_purity(p, torch.tensor([3, 2]), labels)
    assert torch.allclose(purity, torch.tensor([2 / 3, 0.5], dtype=torch.float64))


def test_corruptions_are_seeded_and_masking_sets_background():
    images = torch.ones(4, 1, 4, 4, dtype=torch.float64)
    masked = corrupt(images, "mask", 0.5, torch.Generator().manual_seed(0))
    assert set(masked.unique().tolist()) == {-1.0, 1.0}
    assert torch.equal(masked, corrupt(images, "mask", 0.5, torch.Generator().manual_seed(0)))
    with pytest.raises(ValueError, match="unknown corruption"):
        corrupt(images, "blur", 0.5, torch.Generator())


def test_the_sweep_goes_from_the_global_average_to_single_patterns():
    X = torch.eye(6, dtype=torch.float64)
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    queries = X[[0, 3]] + 0.1
    queries = queries / torch.linalg.vector_norm(queries, dim=-1, keepdim=True)
    sweep = regime_sweep(X, labels, queries, torch.tensor([0, 3]), [0.01, 100.0])
    low, high = sweep[sweep["beta"] == 0.01], sweep[sweep["beta"] == 100.0]
    assert (low["regime"] == "global").all() and (high["regime"] == "single").all()
    assert high["step_correct"].all() and high["agrees_with_nn"].all() and np.all(high["k"] == 1)


def test_the_step_map_runs_from_the_average_to_one_pattern_as_the_logits_spread():
    X = torch.eye(8, dtype=torch.float64)
    queries = (X[:3] + 0.05) / torch.linalg.vector_norm(X[:3] + 0.05, dim=-1, keepdim=True)
    curve = step_map(X, queries, [1e-3, 1e3])
    assert curve["spread"].is_monotonic_increasing
    assert curve["k_share"].tolist() == [1.0, 1 / 8]  # 90 % needs all 8 weights when uniform, one when sharp


def test_random_subsets_are_as_pure_as_chance():
    labels = torch.arange(1000) % 4
    purity = random_subset_purity(torch.full((2000,), 1000), labels, torch.Generator().manual_seed(0))
    assert torch.allclose(purity, torch.full((2000,), 0.25, dtype=torch.float64))  # all 1,000: the class shares
    single = random_subset_purity(torch.ones(50, dtype=torch.long), labels, torch.Generator().manual_seed(0))
    assert (single == 1).all()


def test_the_median_averages_the_two_middle_values():
    assert median(torch.tensor([[4.0, 1.0, 5.0, 3.0], [1.0, 2.0, 3.0, 9.0]])).tolist() == [3.5, 2.5]
