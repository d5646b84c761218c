"""Pixel-space denoising diffusion (DDPM) with diffusers: the model, its noise schedule, its training.

The model of the paper's diffusion experiments (Takeda, Oizumi, Karakida 2026, Sections 4.3, 5.3,
Appendices F-H): a `UNet2DModel` trained to predict the noise of the linear-schedule
`DDPMScheduler`, with AdamW after a warmup and an EMA of the weights, optionally with a replay
buffer mixed into every batch.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler, UNet2DModel
from diffusers.optimization import get_scheduler
from diffusers.training_utils import EMAModel
from torch import Tensor, nn
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
    drawn on the CPU from one seeded generator, so a run is reproducible on any device.
    """
    gen = torch.Generator().manual_seed(seed)
    schedule = schedule or noise_scheduler()
    batch = recipe.batch_size
    n_replay = 0 if replay is None else max(1, round(batch * len(replay) / (len(data) + len(replay))))
    model.to(recipe.device).train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=recipe.lr, weight_decay=0.0)
    lr_schedule = get_scheduler("constant_with_warmup", optimizer, num_warmup_steps=recipe.warmup)
    ema = EMAModel(trainable, decay=recipe.ema_decay, foreach=True)
    for _ in trange(recipe.steps, desc=desc, mininterval=2):
        x0 = data[torch.randint(len(data), (batch - n_replay,), generator=gen)]
        if n_replay:
            x0 = torch.cat([x0, replay[torch.randint(len(replay), (n_replay,), generator=gen)]])
        noise = torch.randn(x0.shape, generator=gen, dtype=x0.dtype)
        t = torch.randint(schedule.config.num_train_timesteps, (batch,), generator=gen)
        xt = schedule.add_noise(x0, noise, t)
        with autocast(recipe.device, recipe.precision):
            predicted = model(xt.to(recipe.device), t.to(recipe.device)).sample
        loss = F.mse_loss(predicted.float(), noise.to(recipe.device))
        loss.backward()
        optimizer.step()
        lr_schedule.step()
        optimizer.zero_grad(set_to_none=True)
        ema.step(trainable)
    ema.copy_to(trainable)
    return model.eval()
