"""Training several small models as one vmapped ensemble equals training them one at a time."""

import copy

import pytest
import torch

from hopbook.attention import AttentionConfig, variant
from hopbook.models.tiny_transformers import CharGPT, VisionTransformer, minibatches, text_windows, train, train_together

SEEDS = [0, 1, 2]
# Stacked, the linear layers run as batched GEMMs that sum in another order than one model's GEMM, so
# the two ways round differently (float32 eps 1.2e-7); AdamW, which divides by the gradient's running
# scale, turns that into weight differences of up to about 1e-6 after 5 to 30 steps at lr 1e-2.
TOLERANCE = 1e-5


def both_ways(models: list[torch.nn.Module], batches: list, probe: torch.Tensor) -> list[torch.Tensor]:
    """Train copies of the models one at a time and together; assert they agree; return the logits."""
    alone = [train(copy.deepcopy(m), b, 5, 1e-2, "alone") for m, b in zip(models, batches)]
    together = train_together(models, batches, 5, 1e-2, "together")
    for a, t in zip(alone, together):
        assert not t.training
        for (name, p), q in zip(a.named_parameters(), t.parameters()):
            torch.testing.assert_close(q, p, atol=TOLERANCE, rtol=0, msg=name)
    logits = [m(probe).detach() for m in alone]
    for a, t in zip(logits, together):
        torch.testing.assert_close(t(probe).detach(), a, atol=TOLERANCE, rtol=0)
    for i, a in enumerate(logits):  # the models really differ: no single model passes for all
        assert all((a - b).abs().max() > 0.1 for b in logits[i + 1:])
    return logits


@pytest.mark.parametrize("name", ["residual_mlp", "mha_mlp"])
def test_gpts_trained_together_equal_gpts_trained_alone(name):
    config = variant(name, AttentionConfig(16, 2, layer_norm=True, causal=True))
    ids = torch.randint(0, 11, (500,), generator=torch.Generator().manual_seed(0))
    models = []
    for s in SEEDS:
        torch.manual_seed(s)
        models.append(CharGPT(config, 2, vocabulary=11, context=8))
    both_ways(models, [text_windows(ids, 8, 4, s) for s in SEEDS], ids[:64].view(8, 8))


@pytest.mark.parametrize("name", ["san_mlp", "mha_mlp"])
def test_vits_trained_together_equal_vits_trained_alone(name):
    config = variant(name, AttentionConfig(16, 2, layer_norm=True, mlp_skip="none"))
    x, y = torch.randn(100, 16, 12, generator=torch.Generator().manual_seed(0)), torch.arange(100) % 10
    models = []
    for s in SEEDS[:2]:
        torch.manual_seed(s)
        models.append(VisionTransformer(config, 2, n_patches=16, patch_dim=12, n_classes=10))
    both_ways(models, [minibatches(x, y, 8, s) for s in SEEDS[:2]], x[:20])


def test_models_of_different_attention_configs_are_refused():
    base = AttentionConfig(16, 2, layer_norm=True, causal=True)
    models = [CharGPT(variant(name, base), 1, vocabulary=11, context=8) for name in ("residual_mlp", "mha_mlp")]
    with pytest.raises(ValueError, match="one class and attention config"):
        train_together(models, [text_windows(torch.arange(50) % 11, 8, 4, 0)] * 2, 1, 1e-2, "refused")
