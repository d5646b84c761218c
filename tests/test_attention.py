"""Self-attention, Modern Hopfield Attention, the rank-collapse metric and the small models."""

import math

import numpy as np
import pytest
import torch

from hopbook.attention import AttentionConfig, Block, SelfAttention, Transformer, variant
from hopbook.rank_collapse import composite_norm, curves_at_init, decay_fits, residual_ratio, token_cosines
from hopbook.models.tiny_transformers import CharGPT, VisionTransformer, minibatches, patches, perplexity, text_windows


def stack(config: AttentionConfig, depth: int = 3, seed: int = 0) -> Transformer:
    torch.manual_seed(seed)
    return Transformer(config, depth).double()


def tokens(seed: int = 1, batch: int = 2, n: int = 7, width: int = 8) -> torch.Tensor:
    return torch.randn(batch, n, width, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("skip", ["residual", "convex", "none"])
def test_mha_with_a_prime_zero_is_standard_attention_exactly(causal, skip):
    standard = AttentionConfig(8, 2, skip=skip, causal=causal, mlp=True, layer_norm=True)
    mha = AttentionConfig(8, 2, skip=skip, causal=causal, mlp=True, layer_norm=True, hidden_state=True, alpha_prime=0.0)
    x = tokens()
    for a, b in zip(stack(standard)(x), stack(mha)(x)):
        assert torch.equal(a, b)


def test_the_hidden_state_is_the_moving_average_of_the_scores():
    config = AttentionConfig(8, 2, hidden_state=True, alpha_prime=0.3)
    torch.manual_seed(0)
    first, second = SelfAttention(config).double(), SelfAttention(config).double()
    x = tokens()
    _, h1 = first(x)
    _, h2 = second(x, h1)

    def scores(layer):
        q, k, _ = layer.qkv(x).view(2, 7, 3, 2, 4).permute(2, 0, 3, 1, 4)
        return q @ k.mT / math.sqrt(4)

    assert torch.allclose(h1, scores(first))  # h starts as the first layer's scores
    assert torch.allclose(h2, 0.3 * h1 + 0.7 * scores(second))
    zeros = SelfAttention(AttentionConfig(8, 2, hidden_state=True, alpha_prime=0.3, start="zeros")).double()
    zeros.load_state_dict(first.state_dict())
    assert torch.allclose(zeros(x)[1], 0.7 * h1)  # from h_0 = 0


def test_the_hidden_state_changes_a_deeper_stack_and_the_skips_are_what_they_say():
    x = tokens()
    plain = stack(AttentionConfig(8, 2, skip="convex", alpha=0.4))(x)
    mha = stack(AttentionConfig(8, 2, skip="convex", alpha=0.4, hidden_state=True))(x)
    assert torch.equal(plain[1], mha[1]) and not torch.allclose(plain[2], mha[2])  # one layer: the same network
    torch.manual_seed(0)
    block = Block(AttentionConfig(8, 2, skip="convex", alpha=0.4)).double()
    z, _ = block.attention(x)
    assert torch.allclose(block(x)[0], 0.4 * x + 0.6 * z)
    block = Block(AttentionConfig(8, 2, skip="none", mlp=True)).double()
    assert torch.allclose(block(x)[0], block.mlp(block.attention(x)[0]))  # SAN + MLP: no skip anywhere
    block = Block(AttentionConfig(8, 2, skip="convex", alpha=0.4, mlp=True)).double()
    y = 0.4 * x + 0.6 * block.attention(x)[0]
    assert torch.allclose(block(x)[0], y + block.mlp(y))  # MHA changes the attention's skip only
    block = Block(AttentionConfig(8, 2, skip="convex", alpha=0.4, mlp=True, mlp_skip="none")).double()
    assert torch.allclose(block(x)[0], block.mlp(0.4 * x + 0.6 * block.attention(x)[0]))


def test_causal_attention_leaks_nothing_from_the_future():
    config = AttentionConfig(8, 2, causal=True, hidden_state=True, mlp=True, layer_norm=True)
    model = stack(config, depth=4)
    x = tokens(n=9)
    changed = x.clone()
    changed[:, 5:] += 10 * torch.randn(2, 4, 8, dtype=torch.float64)
    for a, b in zip(model(x), model(changed)):
        assert torch.equal(a[:, :5], b[:, :5])
        assert not torch.allclose(a[:, 5:], b[:, 5:])


def test_bad_configurations_are_refused():
    with pytest.raises(ValueError, match="multiple of heads"):
        AttentionConfig(10, 3)
    with pytest.raises(ValueError, match="unknown skip"):
        AttentionConfig(8, 2, skip="highway")
    with pytest.raises(ValueError, match="unknown variant"):
        variant("transformer", AttentionConfig(8, 2))
    assert variant("mha_mlp", AttentionConfig(8, 2)).hidden_state and variant("mha_mlp", AttentionConfig(8, 2)).mlp


def test_residual_ratio_on_a_hand_computed_case():
    X = torch.tensor([[1.0, 2.0], [3.0, 0.0]])
    # |X|: column sums 4, 2; row sums 3, 3 -> ||X||_{1,inf} = sqrt(4 * 3)
    assert composite_norm(X).item() == pytest.approx(math.sqrt(12))
    # X - mean = [[-1, 1], [1, -1]]: column sums 2, 2; row sums 2, 2 -> sqrt(4)
    assert residual_ratio(X).item() == pytest.approx(2 / math.sqrt(12))
    assert residual_ratio(torch.ones(5, 3)).item() == 0.0


def test_token_cosines_take_each_pair_once_and_skip_padding():
    X = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [5.0, 5.0]]])
    cos = token_cosines(X)
    assert cos.shape == (6,) and cos.max().item() == pytest.approx(1.0)
    kept = token_cosines(X, torch.tensor([[True, True, True, False]]))
    assert sorted(kept.tolist()) == pytest.approx([0.0, 1 / math.sqrt(2), 1 / math.sqrt(2)])


def test_decay_fits_tell_single_from_double_exponential():
    l = np.arange(6)
    single = decay_fits(l, np.exp(-2.0 * l), floor=1e-300)
    double = decay_fits(l[:4], np.exp(-0.5 * 3.0 ** l[:4]), floor=1e-300)
    assert single["rss_single"] < 1e-20 < single["rss_double"]
    assert double["rss_double"] < 1e-20 < double["rss_single"]
    assert decay_fits(l, np.array([1, 0.1, 1e-3, 1e-20, 1e-20, 1e-20]), floor=1e-13)["n_depths"] == 3
    with pytest.raises(ValueError, match="too few"):
        decay_fits(l, np.array([1, 0.1, 1e-20, 1e-20, 1e-20, 1e-20]), floor=1e-13)


def test_curves_at_init_are_seeded_and_pure_attention_collapses():
    base = AttentionConfig(16, 2)
    a = curves_at_init(base, ["san", "residual"], depth=4, tokens=8, seeds=range(2))
    b = curves_at_init(base, ["san", "residual"], depth=4, tokens=8, seeds=range(2))
    assert all(np.array_equal(a[k], b[k]) for k in a) and a["san"].shape == (2, 5)
    assert (a["san"][:, -1] < 1e-6).all() and (a["residual"][:, -1] > 0.1).all()


def test_patches_and_models_have_the_right_shapes():
    images = torch.arange(2 * 16.0).view(2, 1, 4, 4)  # the default dtype, as the models
    p = patches(images, 2)
    assert p.shape == (2, 4, 4) and p[0, 1].tolist() == [2.0, 3.0, 6.0, 7.0]
    vit = VisionTransformer(AttentionConfig(8, 2, layer_norm=True), 2, n_patches=4, patch_dim=4, n_classes=3)
    assert vit(p).shape == (2, 3) and len(vit.states(p)) == 3
    with pytest.raises(ValueError, match="causal"):
        CharGPT(AttentionConfig(8, 2), 1, vocabulary=5, context=4)
    gpt = CharGPT(AttentionConfig(8, 2, causal=True), 1, vocabulary=5, context=4)
    with torch.no_grad():
        gpt.head.weight.zero_()
        gpt.head.bias.zero_()
    assert perplexity(gpt, torch.arange(13) % 5, 4) == pytest.approx(5.0)  # uniform over 5 symbols


def test_a_zero_start_changes_a_deeper_stack_and_a_vit_carries_the_hidden_state():
    x = tokens()
    scores = stack(AttentionConfig(8, 2, hidden_state=True, alpha_prime=0.5))(x)
    zeros = stack(AttentionConfig(8, 2, hidden_state=True, alpha_prime=0.5, start="zeros"))(x)
    assert not torch.allclose(scores[1], zeros[1])  # h_1 = S_1 against h_1 = S_1 / 2
    torch.manual_seed(0)
    vit = VisionTransformer(AttentionConfig(8, 2, hidden_state=True, skip="convex"), 3, n_patches=4, patch_dim=4, n_classes=3)
    torch.manual_seed(0)
    control = VisionTransformer(AttentionConfig(8, 2, skip="convex"), 3, n_patches=4, patch_dim=4, n_classes=3)
    p = torch.randn(2, 4, 4)
    assert not torch.allclose(vit(p), control(p))


def test_minibatches_cover_every_example_once_per_epoch_and_windows_are_seeded():
    inputs, targets = torch.arange(10), torch.arange(10) * 2
    batches = minibatches(inputs, targets, 3, seed=4)  # three batches of 3 per epoch, one example left out
    epoch = torch.cat([batches(step)[0] for step in range(3)])
    assert len(set(epoch.tolist())) == 9 and torch.equal(batches(0)[1], 2 * batches(0)[0])
    assert torch.equal(minibatches(inputs, targets, 3, seed=4)(5)[0], batches(5)[0])
    ids = torch.arange(50)
    x, y = text_windows(ids, 8, 4, seed=1)(7)
    assert x.shape == (4, 8) and torch.equal(y, x + 1)  # the next token
    assert torch.equal(text_windows(ids, 8, 4, seed=1)(7)[0], x)
