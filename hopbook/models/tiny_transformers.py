"""A vision transformer and a character-level GPT on `hopbook.attention`, and their training loops.

Both take any `AttentionConfig`, so the same model runs with standard attention, Modern Hopfield
Attention or the convex-skip control; at the chapter's default sizes each trains on a laptop CPU
in seconds.
Training is AdamW on shuffled minibatches with a cosine schedule, seeded: the same seed gives the
same model on CPU, where it trains on one thread. Data move to the model's device batch by batch.
`train_together` trains several models of one architecture and attention config (seeds, say) as one
vmapped ensemble, for a GPU: on one CPU thread at the rank-collapse chapter's sizes it was no faster
than training them in turn, so `train_many` uses it on a GPU only.
"""

import copy
import math
from collections.abc import Callable
from contextlib import nullcontext

import torch
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap
from tqdm import tqdm

from hopbook.attention import AttentionConfig, Transformer
from hopbook.book.devices import threads

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


def _optimiser(parameters: list[Tensor], lr: float, steps: int) -> tuple[torch.optim.AdamW, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW (weight decay 0.01) and its cosine schedule from lr to 0 over `steps`."""
    optimiser = torch.optim.AdamW(parameters, lr=lr, weight_decay=0.01)
    return optimiser, torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: 0.5 * (1 + math.cos(math.pi * step / steps)))


def _loss(logits: Tensor, targets: Tensor) -> Tensor:
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def train(model: nn.Module, batches: Batches, steps: int, lr: float, desc: str) -> nn.Module:
    """AdamW on (inputs, targets) batches drawn by `batches(step)`, cross-entropy over the last dim;
    on one thread on a CPU, where a model this small gains little from a second and loses much on a
    busy machine (hopbook.book.devices.threads)."""
    device = next(model.parameters()).device
    optimiser, schedule = _optimiser(list(model.parameters()), lr, steps)
    model.train()
    with threads(1) if device.type == "cpu" else nullcontext():
        for step in tqdm(range(steps), desc=desc, leave=False):
            inputs, targets = (t.to(device) for t in batches(step))
            loss = _loss(model(inputs), targets)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
    return model.eval()


def train_together(models: list[nn.Module], batches: list[Batches], steps: int, lr: float, desc: str) -> list[nn.Module]:
    """`train` for several models of one architecture and attention config at once, each on its own
    batches: the same as one `train` call per model, up to rounding.

    The models are stacked (torch.func.stack_module_state) and each step is one vmapped forward and
    backward pass over all of them. AdamW acts on each weight separately, so one optimiser over the
    stacked weights is one optimiser per model. Configs are not parameters (they choose the code that
    runs), so models whose configs differ cannot be stacked. Returns the models, trained in place, in eval mode.
    """
    if len({(type(m), *(getattr(sub, "config", None) for sub in m.modules())) for m in models}) > 1:
        raise ValueError("train_together needs models of one class and attention config")
    device = next(models[0].parameters()).device
    params, buffers = stack_module_state([m.train() for m in models])
    base = copy.deepcopy(models[0]).to("meta")
    optimiser, schedule = _optimiser(list(params.values()), lr, steps)

    def loss(p: dict[str, Tensor], b: dict[str, Tensor], inputs: Tensor, targets: Tensor) -> Tensor:
        return _loss(functional_call(base, (p, b), (inputs,)), targets)

    for step in tqdm(range(steps), desc=desc, leave=False):
        inputs, targets = (torch.stack(part).to(device) for part in zip(*(draw(step) for draw in batches)))
        optimiser.zero_grad()
        vmap(loss)(params, buffers, inputs, targets).sum().backward()  # the sum's gradient is each model's own
        optimiser.step()
        schedule.step()
    for i, model in enumerate(models):
        model.load_state_dict({name: value[i] for name, value in (params | buffers).items()})
    return [model.eval() for model in models]


def train_many(models: list[nn.Module], batches: list[Batches], steps: int, lr: float, desc: str) -> list[nn.Module]:
    """`train` for models of one architecture and attention config, each on its own batches: as one
    ensemble (`train_together`) on a GPU, where a tiny model's step is bound by launches, and one
    after another on a CPU, where stacking them did not pay (see the module's docstring)."""
    if next(models[0].parameters()).device.type == "cuda":
        return train_together(models, batches, steps, lr, desc)
    return [train(model, b, steps, lr, desc) for model, b in zip(models, batches)]


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
