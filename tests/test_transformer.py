"""The real model: offline loading, per-head queries and keys, and a LoRA fine-tune of W_K."""

import os
import subprocess
import sys
import time

import pytest
import torch

from hopbook.models.finetune import teach_concept
from hopbook.gram import gram, gram_delta
from hopbook.models.transformer import (
    ModelNotAvailable, encode, first_segment_tokens, head_projections, load_pretrained, sentence_embedding,
)

SENTENCES = ["Who's there?", "Nay, answer me: stand, and unfold yourself."]


@pytest.fixture(scope="module")
def minilm():
    return load_pretrained()


def test_a_missing_model_fails_at_once_offline_with_what_to_do():
    code = "from hopbook.models.transformer import load_pretrained; load_pretrained('no-such-org/no-such-model')"
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert time.monotonic() - start < 60
    assert done.returncode == 1
    assert "ModelNotAvailable: cannot load 'no-such-org/no-such-model'" in done.stderr
    assert "Offline, pass the path of a folder" in done.stderr


def test_a_folder_that_is_not_a_model_is_refused(tmp_path):
    with pytest.raises(ModelNotAvailable, match="not a local model folder"):
        load_pretrained(tmp_path)


def test_the_default_model_loads_offline_from_its_package():
    code = "from hopbook.models.transformer import load_pretrained; m, t = load_pretrained(); print(type(m).__name__, m.training)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["BertModel", "False"]


def test_head_projections_are_the_query_and_key_outputs_split_by_head(minilm):
    model, tokenizer = minilm
    batch = encode(tokenizer, SENTENCES)
    tokens = first_segment_tokens(batch)
    assert tokens.sum() == (batch["attention_mask"].sum() - 4)  # no [CLS]/[SEP]
    projections = head_projections(model, batch, tokens)
    assert projections["key"].shape == (6, 12, int(tokens.sum()), 32)
    with torch.no_grad():
        hidden = model(**{k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")},
                       output_hidden_states=True).hidden_states
        layer = model.encoder.layer[2].attention.self
        expected = layer.key(hidden[2])[tokens].unflatten(-1, (12, 32)).transpose(0, 1)
    assert torch.allclose(projections["key"][2], expected, atol=1e-5)
    assert not any(layer.attention.self.key._forward_hooks for layer in model.encoder.layer)  # hooks removed


def test_context_leaves_first_layer_keys_of_the_sentence_unchanged(minilm):
    model, tokenizer = minilm
    alone = encode(tokenizer, SENTENCES)
    with_context = encode(tokenizer, SENTENCES, ["A glimmerwort is a flower."] * 2)
    model64 = model.double()
    try:
        K = head_projections(model64, alone, first_segment_tokens(alone))["key"]
        K_ctx = head_projections(model64, with_context, first_segment_tokens(with_context))["key"]
    finally:
        model.float()
    assert torch.allclose(K[0], K_ctx[0], rtol=0, atol=1e-12)
    assert not torch.allclose(K[3], K_ctx[3], atol=1e-3)


def test_lora_on_keys_is_deterministic_low_rank_and_obeys_the_gram_identity(minilm):
    model, tokenizer = minilm
    train, target = encode(tokenizer, ["The glimmerwort grows."]), encode(tokenizer, ["The flower grows."])
    tuned = teach_concept(model, train, target, rank=2, steps=3, lr=1e-2, seed=0)
    again = teach_concept(model, train, target, rank=2, steps=3, lr=1e-2, seed=0)
    W = model.encoder.layer[0].attention.self.key.weight
    W_tuned = tuned.encoder.layer[0].attention.self.key.weight
    assert torch.equal(W_tuned, again.encoder.layer[0].attention.self.key.weight)
    assert torch.linalg.matrix_rank((W_tuned - W).double(), rtol=1e-4) == 2
    assert torch.equal(model.encoder.layer[0].attention.self.query.weight, tuned.encoder.layer[0].attention.self.query.weight)
    with torch.no_grad():
        moved = (sentence_embedding(tuned, train) * sentence_embedding(model, target)).sum()
        before = (sentence_embedding(model, train) * sentence_embedding(model, target)).sum()
    assert moved > before  # three steps already pull the new word toward its meaning
    batch = encode(tokenizer, SENTENCES)
    tokens = first_segment_tokens(batch)
    K = head_projections(model.double(), batch, tokens)["key"]
    K_tuned = head_projections(tuned.double(), batch, tokens)["key"]
    model.float()
    assert torch.allclose(gram_delta(K, K_tuned - K), gram(K_tuned) - gram(K), rtol=0, atol=1e-12)
