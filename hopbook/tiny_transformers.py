"""A vision transformer and a character-level GPT on `hopbook.attention`, and their training loops.

Both take any `AttentionConfig`, so the same model runs with standard attention, Modern Hopfield
Attention or the convex-skip control; at the chapter's default sizes each trains on a laptop CPU
in seconds.
Training is AdamW on shuffled minibatches with a cosine schedule, seeded: the same seed gives the
same model on CPU. Data move to the model's device batch by batch.
"""

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn
from tqdm import tqdm

from hopbook.attention import AttentionConfig, Transformer

Batches = Callable[[int], tuple[Tensor, Tensor]]  # step -> (inputs, targets)


def patches(images: Tensor, size: int) -> Tensor:
    """Non-overlapping size x size patches of images (n, c, s, s), flattened: (n, (s/size)^2, c size^2)."""
    n, c, s, _ = images.shape
    if s % size:
        raise ValueError(f"patch size {size} does not divide the image size {s}")
    grid = images.unfold(2, size, size).unfold(3, size, size)  # (n, c, s/size, s/size, size, size)
    return grid.permute(0, 2, 3, 1, 4, 5).reshape(n, (s // size) ** 2, c * size * size)


class VisionTransformer(nn.Module):
    """Patch embedding, learned positions, a class token, the transformer, and a linear head on the
    class token. With no attention at all the class token never sees the image."""

    def __init__(self, config: AttentionConfig, depth: int, n_patches: int, patch_dim: int, n_classes: int) -> None:
        super().__init__()
        self.embed = nn.Linear(patch_dim, config.width)
        self.cls = nn.Parameter(torch.zeros(1, 1, config.width))
        self.position = nn.Parameter(0.02 * torch.randn(1, n_patches + 1, config.width))
        self.transformer = Transformer(config, depth)
        self.norm = nn.LayerNorm(config.width)
        self.head = nn.Linear(config.width, n_classes)

    def states(self, tokens: Tensor) -> list[Tensor]:
        """Token representations at every depth, class token first, for patches (n, n_patches, patch_dim)."""
        x = torch.cat([self.cls.expand(tokens.shape[0], -1, -1), self.embed(tokens)], dim=1) + self.position
        return self.transformer(x)

    def forward(self, tokens: Tensor) -> Tensor:
        return self.head(self.norm(self.states(tokens)[-1][:, 0]))


class CharGPT(nn.Module):
    """Token and position embeddings, a causal transformer, and a linear head on every position."""

    def __init__(self, config: AttentionConfig, depth: int, vocabulary: int, context: int) -> None:
        super().__init__()
        if not config.causal:
            raise ValueError("a language model needs causal attention")
        self.embed = nn.Embedding(vocabulary, config.width)
        self.position = nn.Parameter(0.02 * torch.randn(1, context, config.width))
        self.transformer = Transformer(config, depth)
        self.norm = nn.LayerNorm(config.width)
        self.head = nn.Linear(config.width, vocabulary)

    def forward(self, ids: Tensor) -> Tensor:
        x = self.embed(ids) + self.position[:, : ids.shape[1]]
        return self.head(self.norm(self.transformer(x)[-1]))


def train(model: nn.Module, batches: Batches, steps: int, lr: float, desc: str) -> nn.Module:
    """AdamW on (inputs, targets) batches drawn by `batches(step)`, cross-entropy over the last dim."""
    device = next(model.parameters()).device
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: 0.5 * (1 + math.cos(math.pi * step / steps)))
    model.train()
    for step in tqdm(range(steps), desc=desc, leave=False):
        inputs, targets = (t.to(device) for t in batches(step))
        logits = model(inputs)
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
    return model.eval()


def minibatches(inputs: Tensor, targets: Tensor, size: int, seed: int) -> Batches:
    """batches(step) for `train`: minibatches of (inputs, targets), in an order reshuffled every epoch."""
    per_epoch = max(1, len(inputs) // size)

    def batches(step: int) -> tuple[Tensor, Tensor]:
        epoch, i = divmod(step, per_epoch)
        order = torch.randperm(len(inputs), generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
        index = order[i * size:(i + 1) * size]
        return inputs[index], targets[index]

    return batches


def text_windows(ids: Tensor, context: int, size: int, seed: int) -> Batches:
    """batches(step) for `train`: `size` random windows of a token stream, each target the next token;
    the windows of a step depend on the seed and the step only."""

    def batches(step: int) -> tuple[Tensor, Tensor]:
        generator = torch.Generator().manual_seed(seed * 1_000_003 + step)
        start = torch.randint(0, len(ids) - context, (size,), generator=generator)
        window = torch.stack([ids[s:s + context + 1] for s in start.tolist()])
        return window[:, :-1], window[:, 1:]

    return batches


@torch.no_grad()
def accuracy(model: nn.Module, inputs: Tensor, labels: Tensor, batch: int = 1024) -> float:
    """Share of inputs classified correctly, `batch` at a time on the model's device."""
    device = next(model.parameters()).device
    right = sum((model(x.to(device)).argmax(-1).cpu() == y).sum().item() for x, y in zip(inputs.split(batch), labels.split(batch)))
    return right / len(labels)


@torch.no_grad()
def perplexity(model: nn.Module, ids: Tensor, context: int, batch: int = 256) -> float:
    """exp of the mean next-token cross-entropy over consecutive windows of a held-out stream,
    `batch` windows at a time on the model's device."""
    device = next(model.parameters()).device
    n = (len(ids) - 1) // context
    inputs, targets = ids[: n * context].view(n, context), ids[1 : n * context + 1].view(n, context)
    total = 0.0
    for x, y in zip(inputs.split(batch), targets.split(batch)):
        logits = model(x.to(device))
        total += nn.functional.cross_entropy(logits.flatten(0, 1), y.to(device).flatten(), reduction="sum").item()
    return math.exp(total / targets.numel())
