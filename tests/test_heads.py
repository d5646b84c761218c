"""Head diagnostics on the shipped model: windows, logits against the model's own weights, recall probes."""

import pytest
import torch

from hopbook.data.corpus import hamlet_sentences
from hopbook.data.text_windows import rare_tokens, recall_probes, text_ids, windows
from hopbook.heads import attention_logits, bootstrap_kbar, model_attention, recalls_first, scaled_layers
from hopbook.models.transformer import load_pretrained


@pytest.fixture(scope="module")
def minilm():
    model, tokenizer = load_pretrained()
    return model, tokenizer, text_ids(tokenizer, hamlet_sentences()[:200])


def test_windows_are_disjoint_stretches_of_exactly_n_tokens(minilm):
    _, tokenizer, ids = minilm
    batch = windows(tokenizer, ids, 16, 5, seed=0)
    assert batch["input_ids"].shape == (5, 16) and batch["attention_mask"].all()
    assert (batch["input_ids"][:, 0] == tokenizer.cls_token_id).all() and (batch["input_ids"][:, -1] == tokenizer.sep_token_id).all()
    bodies = [tuple(row) for row in batch["input_ids"][:, 1:-1].tolist()]
    chunks = {tuple(ids[i:i + 14]) for i in range(0, len(ids) - 13, 14)}
    assert len(set(bodies)) == 5 and set(bodies) <= chunks
    assert torch.equal(batch["input_ids"], windows(tokenizer, ids, 16, 5, seed=0)["input_ids"])
    with pytest.raises(ValueError, match="disjoint windows"):
        windows(tokenizer, ids, 16, len(ids), seed=0)


def test_rebuilt_logits_give_the_models_own_attention_weights(minilm):
    model, tokenizer, ids = minilm
    batch = windows(tokenizer, ids, 20, 3, seed=1)
    logits = attention_logits(model, batch)
    assert logits.shape == (6, 12, 3, 20, 20)
    assert torch.allclose(logits.softmax(-1), model_attention(model, batch), atol=1e-5)


def test_recall_probes_place_a_rare_word_twice_and_the_control_once(minilm):
    _, tokenizer, ids = minilm
    batch = windows(tokenizer, ids, 32, 4, seed=0)
    rare = rare_tokens(tokenizer, ids, 6, seed=0)
    assert not set(rare) & set(ids) and all(tokenizer.convert_ids_to_tokens(r).isalpha() for r in rare)
    probes, controls, first, second = recall_probes(batch, rare, seed=0)
    rows = torch.arange(6)
    assert ((first >= 1) & (first < 16) & (second >= 16) & (second < 31)).all()
    assert (probes["input_ids"][rows, first] == torch.tensor(rare)).all()
    assert (probes["input_ids"][rows, second] == torch.tensor(rare)).all()
    assert (controls["input_ids"][rows, second] == torch.tensor(rare)).all()
    assert (controls["input_ids"][rows, first] == batch["input_ids"][rows % 4, first]).all()


def test_rows_at_one_query_per_window_are_those_rows_of_the_full_logits(minilm):
    model, tokenizer, ids = minilm
    batch = windows(tokenizer, ids, 20, 5, seed=2)
    at = torch.tensor([3, 0, 19, 7, 7])
    full = attention_logits(model, batch, chunk=2)
    rows = attention_logits(model, batch, at=at, chunk=3)  # float32 through other chunk sizes: rounding differs
    assert torch.allclose(rows, full[:, :, torch.arange(5), at], rtol=1e-5, atol=1e-5)


def test_recall_is_the_first_occurrence_weighted_most_apart_from_the_query_itself():
    w = torch.tensor([[[[0.1, 0.3, 0.0, 0.6],  # probe 0, query 3: itself most, then key 1
                        [0.5, 0.2, 0.3, 0.0]]]])  # probe 1, query 2: key 0 most
    assert recalls_first(w, first=torch.tensor([1, 1]), second=torch.tensor([3, 2])).tolist() == [[[True, False]]]


def test_bert_base_layers_map_onto_a_model_by_depth_centre_each_layer_to_one_group():
    groups = {"I": (1,), "II": (3, 4, 5), "IV": (6, 7, 8), "III": (9, 10, 11, 12)}
    six = {c: scaled_layers(layers, 6) for c, layers in groups.items()}
    assert six == {"I": [1], "II": [2, 3], "IV": [4], "III": [5, 6]}  # depth centres at bert-base layers 1, 3, 5, 7, 9, 11
    assert {c: scaled_layers(layers, 12) for c, layers in groups.items()} == {c: list(v) for c, v in groups.items()}
    assert scaled_layers((1,), 24) == [1, 2]


def test_bootstrap_kbar_resamples_windows_and_is_seeded():
    k = torch.tensor([1.0, 2.0, 9.0]).view(1, 1, 3, 1).repeat(2, 3, 1, 4)  # (layers, heads, windows, queries)
    boot = bootstrap_kbar(k, n_boot=50, seed=0)
    assert boot.shape == (50, 2, 3) and set(boot.unique().tolist()) <= {1.0, 1.5, 2.0, 5.0, 5.5, 9.0}
    assert len(boot.unique()) > 1  # the windows differ, so the resamples do
    assert torch.equal(boot, bootstrap_kbar(k, n_boot=50, seed=0))
