"""Pixel-space denoising diffusion (DDPM) with diffusers: the model, its noise schedule, its training.

The model of the paper's diffusion experiments (Takeda, Oizumi, Karakida 2026, Sections 4.3, 5.3,
Appendices F-H): a `UNet2DModel` trained to predict the noise of the linear-schedule
`DDPMScheduler`, with AdamW after a warmup and an EMA of the weights, optionally with a replay
buffer mixed into every batch.
"""

import copy
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler, UNet2DModel
from diffusers.models.attention_processor import Attention, AttnProcessor
from diffusers.optimization import get_scheduler
from diffusers.training_utils import EMAModel
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap
from torch.optim.lr_scheduler import LambdaLR
from tqdm.auto import trange

TRAIN_TIMESTEPS = 1000


def unet(channels: int, size: int, width: int, levels: int, layers: int = 1, seed: int = 0) -> UNet2DModel:
    """A convolutional UNet: `levels` resolutions with widths width, 2 width, 2 width, ..., its
    weights initialised from `seed` (the global random state is left as it was).

    Convolutional blocks only: the paper's CIFAR model is a "PixelCNN-UNet" whose blocks its text does
    not give, and plain blocks keep the CPU default fast.
    """
    widths = tuple(width * min(2**i, 2) for i in range(levels))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = UNet2DModel(
            sample_size=size, in_channels=channels, out_channels=channels, block_out_channels=widths,
            layers_per_block=layers, down_block_types=("DownBlock2D",) * levels,
            up_block_types=("UpBlock2D",) * levels, norm_num_groups=min(32, width // 4),
        )
    return model.float()  # float32 whatever torch's default dtype


def noise_scheduler() -> DDPMScheduler:
    """A linear schedule, as the paper's Appendix H states; its endpoints are lost from the text, so
    these are DDPM's: beta from 1e-4 to 0.02 over 1000 steps."""
    return DDPMScheduler(num_train_timesteps=TRAIN_TIMESTEPS, beta_schedule="linear", beta_start=1e-4, beta_end=0.02)


def autocast(device: str, precision: str) -> torch.autocast:
    """bf16 autocast on `device` when precision is "bf16"; a no-op for "fp32"."""
    return torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=precision == "bf16")


@dataclass(frozen=True)
class Recipe:
    """How a task is trained: AdamW at `lr` after a linear warmup, diffusers' EMA of the weights
    (its decay ramps up to `ema_decay`), on `device` in fp32 or with bf16 autocast."""

    steps: int
    batch_size: int
    lr: float
    warmup: int = 100
    ema_decay: float = 0.999
    device: str = "cpu"
    precision: str = "fp32"


def train(model: nn.Module, data: Tensor, recipe: Recipe, seed: int, replay: Tensor | None = None,
          desc: str = "training", schedule: DDPMScheduler | None = None) -> nn.Module:
    """Train `model` in place to predict the noise added to `data`; return it holding the EMA weights.

    With a replay buffer, each batch mixes buffer images in the proportion they would have in the
    union of data and buffer (at least one), drawn with replacement like the rest. Randomness is
    drawn from one generator seeded with `seed` on the training device, so a run is reproducible
    there; on the CPU it is the same on every machine.
    """
    schedule = schedule or noise_scheduler()
    model.to(recipe.device).train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer, lr_schedule, ema = _optimiser(trainable, recipe)
    batches = _noised_batches(data, replay, recipe, seed, schedule)
    for _ in trange(recipe.steps, desc=desc, mininterval=2):
        xt, t, noise = next(batches)
        with autocast(recipe.device, recipe.precision):
            predicted = model(xt, t).sample
        F.mse_loss(predicted.float(), noise).backward()
        _step(optimizer, lr_schedule, ema, trainable)
    ema.copy_to(trainable)
    return model.eval()


def train_together(models: list[nn.Module], datasets: list[Tensor], recipe: Recipe, seeds: list[int],
                   replays: list[Tensor | None], desc: str = "training", schedule: DDPMScheduler | None = None,
                   ) -> list[nn.Module]:
    """`train` for several models of one architecture at once: the same models, data, seeds and
    replay buffers give the same training, up to rounding, as one `train` call each.

    The models are stacked into one ensemble (torch.func.stack_module_state) and each step runs all
    of them as one vmapped forward and backward pass, so the device sees one large batch instead of
    many small launches. AdamW and the EMA act on each weight separately, so one optimiser over the
    stacked weights is one optimiser per model. Each model keeps its own batches, drawn as `train`
    draws them. Returns the models, in place, holding their EMA weights.
    """
    schedule = schedule or noise_scheduler()
    params, buffers = stack_module_state([m.to(recipe.device).train() for m in models])
    base = copy.deepcopy(models[0]).to("meta")
    for layer in base.modules():
        if isinstance(layer, Attention):
            layer.set_processor(AttnProcessor())  # attention by bmm and softmax, which vmap batches
    trainable = list(params.values())
    optimizer, lr_schedule, ema = _optimiser(trainable, recipe)
    streams = [_noised_batches(d, r, recipe, s, schedule) for d, r, s in zip(datasets, replays, seeds)]

    def loss(p: dict, b: dict, xt: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        with autocast(recipe.device, recipe.precision):
            predicted = functional_call(base, (p, b), (xt, t)).sample
        return F.mse_loss(predicted.float(), noise)

    for _ in trange(recipe.steps, desc=desc, mininterval=2):
        xt, t, noise = (torch.stack(part) for part in zip(*(next(s) for s in streams)))
        vmap(loss)(params, buffers, xt, t, noise).sum().backward()  # the sum's gradient is each model's own
        _step(optimizer, lr_schedule, ema, trainable)
    ema.copy_to(trainable)
    for i, model in enumerate(models):
        model.load_state_dict({name: value[i] for name, value in (params | buffers).items()})
    return [model.eval() for model in models]


def _optimiser(trainable: list[Tensor], recipe: Recipe) -> tuple[torch.optim.AdamW, LambdaLR, EMAModel]:
    """AdamW (fused on a GPU), its warmup schedule and the EMA of the weights."""
    fused = True if recipe.device == "cuda" else None  # one kernel for all weights on a GPU; torch's default elsewhere
    optimizer = torch.optim.AdamW(trainable, lr=recipe.lr, weight_decay=0.0, fused=fused)
    lr_schedule = get_scheduler("constant_with_warmup", optimizer, num_warmup_steps=recipe.warmup)
    return optimizer, lr_schedule, EMAModel(trainable, decay=recipe.ema_decay, foreach=True)


def _step(optimizer: torch.optim.AdamW, lr_schedule: LambdaLR, ema: EMAModel, trainable: list[Tensor]) -> None:
    optimizer.step()
    lr_schedule.step()
    optimizer.zero_grad(set_to_none=True)
    ema.step(trainable)


def _noised_batches(data: Tensor, replay: Tensor | None, recipe: Recipe, seed: int,
                    schedule: DDPMScheduler) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
    """Endless training batches (noised images x_t, timesteps t, the noise), on the training device."""
    device, batch = recipe.device, recipe.batch_size
    gen = torch.Generator(device).manual_seed(seed)
    data = data.to(device)
    n_replay = 0 if replay is None else max(1, round(batch * len(replay) / (len(data) + len(replay))))
    replay = None if replay is None else replay.to(device)
    while True:
        x0 = data[torch.randint(len(data), (batch - n_replay,), generator=gen, device=device)]
        if n_replay:
            x0 = torch.cat([x0, replay[torch.randint(len(replay), (n_replay,), generator=gen, device=device)]])
        noise = torch.randn(x0.shape, generator=gen, dtype=x0.dtype, device=device)
        t = torch.randint(schedule.config.num_train_timesteps, (batch,), generator=gen, device=device)
        yield schedule.add_noise(x0, noise, t), t, noise
