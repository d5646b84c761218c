"""What the attention heads of a pretrained encoder retrieve, read as modern Hopfield updates.

At each query a head computes p = softmax(q K^T / sqrt(d_head)) over the keys of its window: one
Hopfield update with beta = 1/sqrt(d_head) on its projected queries and keys (Ramsauer et al. 2021,
Section 4). Here the logits are rebuilt from the queries and keys of `hopbook.models.transformer`, so they can be
checked against the model's own attention weights and summarised (`hopbook.regimes`): k per query, k_bar
and the class per head, the logit spread as an effective inverse temperature.

Inputs are windows of a shipped text and recall probes (hopbook.data.text_windows); `recalls_first`
asks which heads' queries at a rare token's second occurrence weight its first one most.
"""

import math

import torch
from torch import Tensor
from transformers import BatchEncoding, PreTrainedModel

from hopbook.models.transformer import head_projections
from hopbook.regimes import median

# Ramsauer et al. (Appendix A.5, Fig. A.3) on pretrained bert-base-cased, 12 layers: the class each group of
# layers shows most, as reported.
BERT_BASE_REPORT = {"I": (1,), "II": (3, 4, 5), "IV": (6, 7, 8), "III": (9, 10, 11, 12)}


@torch.no_grad()
def attention_logits(model: PreTrainedModel, batch: BatchEncoding, at: Tensor | None = None, chunk: int = 16) -> Tensor:
    """q K^T / sqrt(d_head) of every head, shape (layers, heads, windows, N, N); with `at` (one position per
    window), only the logits of the query at that position, shape (layers, heads, windows, N).

    Runs `chunk` windows at a time, so 512-token windows stay within memory.
    """
    if not batch["attention_mask"].bool().all():
        raise ValueError("attention_logits expects windows without padding")
    parts = []
    for rows in torch.arange(len(batch["input_ids"])).split(chunk):
        part = BatchEncoding({name: batch[name][rows] for name in ("input_ids", "attention_mask", "token_type_ids")})
        tokens = part["attention_mask"].bool()
        projected = head_projections(model, part, tokens)
        q, k = (projected[name].unflatten(2, tokens.shape) for name in ("query", "key"))
        if at is not None:
            q = q[:, :, torch.arange(len(rows)), at[rows]].unsqueeze(-2)  # the one query of each window
        logits = q @ k.mT / math.sqrt(q.shape[-1])
        parts.append(logits if at is None else logits.squeeze(-2))
    return torch.cat(parts, dim=2)


@torch.no_grad()
def model_attention(model: PreTrainedModel, batch: BatchEncoding) -> Tensor:
    """The model's own attention weights, shape (layers, heads, windows, N, N)."""
    inputs = {name: batch[name] for name in ("input_ids", "attention_mask", "token_type_ids")}
    return torch.stack(model(**inputs, output_attentions=True).attentions).transpose(1, 2)


def recalls_first(weights: Tensor, first: Tensor, second: Tensor) -> Tensor:
    """Whether, at each probe's second occurrence, the first occurrence is the key weighted most among all keys
    but the query's own position. weights: the second occurrence's weights, (layers, heads, probes, N)."""
    probes = torch.arange(len(first))
    others = weights.clone()
    others[:, :, probes, second] = -1.0
    return others.argmax(dim=-1) == first


def scaled_layers(bert_layers: tuple[int, ...], n_layers: int, bert_depth: int = 12) -> list[int]:
    """The layers (1-based) of an n_layers model whose depth centre, (m - 1/2) / n_layers, lies in one of the
    given bert-base layers (layer l spans depths ((l - 1) / 12, l / 12]): every layer maps to one bert-base layer."""
    return [m for m in range(1, n_layers + 1) if math.ceil((m - 0.5) * bert_depth / n_layers) in bert_layers]


def bootstrap_kbar(k: Tensor, n_boot: int, seed: int) -> Tensor:
    """k_bar of every head on n_boot resamples of the windows (drawn with replacement), shape (n_boot, layers,
    heads). k: each query's k, shape (layers, heads, windows, queries)."""
    gen = torch.Generator().manual_seed(seed)
    picks = torch.randint(k.shape[2], (n_boot, k.shape[2]), generator=gen)
    return torch.stack([median(k[:, :, rows].flatten(2)) for rows in picks])
