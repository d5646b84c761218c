"""Windows of a shipped text and recall probes, the inputs of the head diagnostics (hopbook.heads).

A window is a stretch of the text cut to exactly N tokens, [CLS] and [SEP] included, so no window has
padding. A recall probe puts one rare token (a vocabulary word the text never uses) at a position in the
first half of a window and again in the second half.
"""

import torch
from torch import Tensor
from transformers import BatchEncoding, PreTrainedTokenizerBase


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
