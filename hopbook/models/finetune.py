"""Teaching a pretrained model a new concept with a LoRA fine-tune of its key projections (peft)."""

import copy

import torch
from peft import LoraConfig, get_peft_model
from tqdm import tqdm
from transformers import BatchEncoding, PreTrainedModel

from hopbook.models.transformer import sentence_embedding


def teach_concept(
    model: PreTrainedModel, sentences: BatchEncoding, targets: BatchEncoding, rank: int, steps: int,
    lr: float, seed: int, target_modules: tuple[str, ...] = ("key",),
) -> PreTrainedModel:
    """A copy of model whose key projections learned, by LoRA of the given rank, that each
    sentence means what its target sentence means to the original model.

    Loss: 1 - cosine between the sentence embedding of each sentence (model being tuned) and that
    of its target (original model, fixed). Adam, no dropout, a fixed seed. Returns the tuned
    model with the LoRA update merged into the weights, so W_K' = W_K + (alpha / r) B A.
    """
    torch.manual_seed(seed)
    with torch.no_grad():
        wanted = sentence_embedding(model, targets)
    config = LoraConfig(r=rank, lora_alpha=rank, lora_dropout=0.0, target_modules=list(target_modules))
    tuned = get_peft_model(copy.deepcopy(model), config).to(model.dtype)
    tuned.eval()  # no dropout: the run is deterministic
    optimiser = torch.optim.Adam([p for p in tuned.parameters() if p.requires_grad], lr=lr)
    for _ in tqdm(range(steps), desc=f"LoRA rank {rank}", leave=False):
        optimiser.zero_grad()
        loss = 1 - (sentence_embedding(tuned, sentences) * wanted).sum(-1).mean()
        loss.backward()
        optimiser.step()
    return tuned.merge_and_unload()
