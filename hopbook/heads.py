"""What the attention heads of a pretrained encoder retrieve, read as modern Hopfield updates.

At each query a head computes p = softmax(q K^T / sqrt(d_head)) over the keys of its window: one
Hopfield update with beta = 1/sqrt(d_head) on its projected queries and keys (Ramsauer et al. 2021,
Section 4). Here the logits are rebuilt from the queries and keys of `hopbook.transformer`, so they can be
checked against the model's own attention weights and summarised (`hopbook.regimes`): k per query, k_bar
and the class per head, the logit spread as an effective inverse temperature.

Inputs are windows of a shipped text cut to exactly N tokens, [CLS] and [SEP] included, so no window
has padding. A recall probe puts one rare token (a vocabulary word the text never uses) at a position
in the first half of a window and again in the second half, and asks which heads' queries at the second
occurrence weight the first one most.
"""

import math

import torch
from torch import Tensor
from transformers import BatchEncoding, PreTrainedModel, PreTrainedTokenizerBase

from hopbook.transformer import head_projections

# Ramsauer et al. (Appendix A.5, Fig. A.3) on pretrained bert-base-cased, 12 layers: the class each group of
# layers shows most, as reported.
BERT_BASE_REPORT = {"I": (1,), "II": (3, 4, 5), "IV": (6, 7, 8), "III": (9, 10, 11, 12)}


def text_ids(tokenizer: PreTrainedTokenizerBase, sentences: list[str]) -> list[int]:
    """The token ids of the sentences one after the other, without special tokens."""
    return [i for ids in tokenizer(sentences, add_special_tokens=False)["input_ids"] for i in ids]


def windows(tokenizer: PreTrainedTokenizerBase, ids: list[int], seq_len: int, n_windows: int, seed: int) -> BatchEncoding:
    """n_windows disjoint stretches of the text, chosen at random (seeded), each as [CLS] + seq_len - 2 tokens + [SEP]."""
    body = seq_len - 2
    available = len(ids) // body
    if n_windows > available:
        raise ValueError(f"the text has {available} disjoint windows of {seq_len} tokens; asked for {n_windows}")
    chosen = torch.randperm(available, generator=torch.Generator().manual_seed(seed))[:n_windows].sort().values
    rows = [[tokenizer.cls_token_id, *ids[c * body:(c + 1) * body], tokenizer.sep_token_id] for c in chosen.tolist()]
    input_ids = torch.tensor(rows)
    return BatchEncoding({"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids),
                          "token_type_ids": torch.zeros_like(input_ids)})


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


def rare_tokens(tokenizer: PreTrainedTokenizerBase, text: list[int], n: int, seed: int, min_length: int = 5) -> list[int]:
    """n vocabulary words (alphabetic, whole words, at least min_length letters) that the text never uses, at random."""
    used = set(text)
    candidates = sorted(i for word, i in tokenizer.get_vocab().items()
                        if word.isalpha() and word.isascii() and len(word) >= min_length and i not in used)
    if len(candidates) < n:
        raise ValueError(f"only {len(candidates)} rare words in the vocabulary; asked for {n}")
    order = torch.randperm(len(candidates), generator=torch.Generator().manual_seed(seed))[:n]
    return [candidates[i] for i in order.tolist()]


def recall_probes(batch: BatchEncoding, rare: list[int], seed: int) -> tuple[BatchEncoding, BatchEncoding, Tensor, Tensor]:
    """One probe per rare token, on the windows in turn: the token at a position `first` in the window's first
    half and at `second` in its second half ([CLS] and [SEP] kept). Returns the probes, the controls (the same
    windows with the token at `second` only) and the two positions."""
    gen = torch.Generator().manual_seed(seed)
    n = batch["input_ids"].shape[1]
    rows = torch.arange(len(rare)) % batch["input_ids"].shape[0]
    first = torch.randint(1, n // 2, (len(rare),), generator=gen)
    second = torch.randint(n // 2, n - 1, (len(rare),), generator=gen)
    control = batch["input_ids"][rows].clone()
    control[torch.arange(len(rare)), second] = torch.tensor(rare)
    probe = control.clone()
    probe[torch.arange(len(rare)), first] = torch.tensor(rare)

    def encoding(ids: Tensor) -> BatchEncoding:
        return BatchEncoding({"input_ids": ids, "attention_mask": torch.ones_like(ids), "token_type_ids": torch.zeros_like(ids)})

    return encoding(probe), encoding(control), first, second


def recalls_first(weights: Tensor, first: Tensor, second: Tensor) -> Tensor:
    """Whether, at each probe's second occurrence, the first occurrence is the key weighted most among all keys
    but the query's own position. weights: the second occurrence's weights, (layers, heads, probes, N)."""
    probes = torch.arange(len(first))
    others = weights.clone()
    others[:, :, probes, second] = -1.0
    return others.argmax(dim=-1) == first


def scaled_layers(bert_layers: tuple[int, ...], n_layers: int, bert_depth: int = 12) -> list[int]:
    """The layers (1-based) of an n_layers model at the relative depths of the given bert-base layers."""
    return sorted({math.ceil(layer * n_layers / bert_depth) for layer in bert_layers})
