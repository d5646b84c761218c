"""Pixel-space denoising diffusion (DDPM) with diffusers, trained on two tasks in sequence.

The pieces of the paper's diffusion experiments (Takeda, Oizumi, Karakida 2026, Sections 4.3, 5.3,
Appendices F-H): a `UNet2DModel` and the linear-schedule `DDPMScheduler`; continual training (Task 1
from scratch, then Task 2 from the Task-1 weights, optionally with a replay buffer mixed into every
batch), with an EMA of the weights; safetensors checkpoints cached by a hash of everything that
determines them; the per-image Hopfield energy against the Task-1 training set; and the
reconstruction forgetting score: noise an image to timestep t0, run the reverse process back to 0,
and take the MSE to the original.
"""

import copy
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler, UNet2DModel
from diffusers.optimization import get_scheduler
from diffusers.training_utils import EMAModel
from safetensors.torch import load_file, save_file
from torch import Tensor, nn
from tqdm.auto import trange

from hopbook.forgetting import hessian_trace
from hopbook.hopfield import energy

_CODE = Path(__file__).read_bytes()  # the training code, part of every checkpoint's key
CHECKPOINTS = Path(os.environ.get("HOPBOOK_CHECKPOINTS", Path(__file__).resolve().parent.parent / "runs" / "checkpoints"))
POLICIES = ("none", "top", "random", "bottom")
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


def _autocast(device: str, precision: str):
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
        with _autocast(recipe.device, recipe.precision):
            predicted = model(xt.to(recipe.device), t.to(recipe.device)).sample
        loss = F.mse_loss(predicted.float(), noise.to(recipe.device))
        loss.backward()
        optimizer.step()
        lr_schedule.step()
        optimizer.zero_grad(set_to_none=True)
        ema.step(trainable)
    ema.copy_to(trainable)
    return model.eval()


def trained(
    architecture: dict, data: Tensor, recipe: Recipe, seed: int, *, start: tuple[nn.Module, str] | None = None,
    replay: Tensor | None = None, desc: str = "training", folder: Path | None = None,
    schedule: DDPMScheduler | None = None,
) -> tuple[nn.Module, str]:
    """A model trained on data, from scratch (a `unet(**architecture)`) or from a copy of `start` =
    (model, its key), loaded from the checkpoint cache when it was trained before. Returns the
    model and its key."""
    key = fingerprint(
        architecture=architecture, data=data, recipe=asdict(recipe), seed=seed,
        start=start[1] if start else "scratch", replay=replay if replay is not None else "none",
        schedule=dict(schedule.config) if schedule else "default",
    )
    template = start[0] if start else unet(**architecture, seed=seed)

    def make() -> nn.Module:
        return train(copy.deepcopy(template), data, recipe, seed, replay, desc, schedule)

    return cached(key, make, template, folder or CHECKPOINTS), key


def fingerprint(**parts) -> str:
    """Hash of a checkpoint's determinants: tensors by their bytes, other values as JSON, plus the
    training code of this module and the torch and diffusers versions."""
    h = hashlib.sha256(_CODE)
    h.update(f"torch {torch.__version__} diffusers {metadata.version('diffusers')}".encode())
    for name, value in sorted(parts.items()):
        h.update(name.encode())
        if isinstance(value, Tensor):
            h.update(str((value.dtype, tuple(value.shape))).encode())
            h.update(value.detach().cpu().contiguous().numpy().tobytes())
        else:
            h.update(json.dumps(value, sort_keys=True, default=str).encode())
    return h.hexdigest()[:24]


def cached(key: str, make: Callable[[], nn.Module], template: nn.Module, folder: Path) -> nn.Module:
    """The weights saved under `key` in folder, loaded into a copy of `template`; or `make()`,
    saved there first.

    The file is written under a temporary name and renamed into place, so a killed run leaves no
    file that looks finished; the temporary files of killed runs are removed by the next save.
    """
    path = folder / f"{key}.safetensors"
    if path.exists():
        model = copy.deepcopy(template)
        model.load_state_dict(load_file(path))
        return model.eval()
    model = make()
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob(f"{key}.safetensors.partial-*"):
        stale.unlink(missing_ok=True)
    partial = folder / f"{key}.safetensors.partial-{os.getpid()}"
    save_file({name: t.detach().cpu().contiguous() for name, t in model.state_dict().items()}, partial)
    partial.replace(path)
    return model


def continual(
    architecture: dict, task1: Tensor, task2: dict[str, Tensor], buffers: dict[str, Tensor | None],
    recipes: tuple[Recipe, Recipe], seed: int, score: Callable[[nn.Module], Tensor], *,
    start: tuple[nn.Module, str] | None = None, schedule: DDPMScheduler | None = None, folder: Path | None = None,
) -> dict:
    """Task 1, then each Task 2 from the Task-1 model with each replay buffer (indices into task1,
    or None); `score` every model. Returns {"after Task 1": scores, (setting, policy): scores}."""
    common = {"folder": folder, "schedule": schedule}
    model1, key1 = trained(architecture, task1, recipes[0], seed, start=start, desc="Task 1", **common)
    scores = {"after Task 1": score(model1)}
    for setting, data in task2.items():
        for policy, idx in buffers.items():
            model2, _ = trained(
                architecture, data, recipes[1], seed + 1, start=(model1, key1),
                replay=None if idx is None else task1[idx], desc=f"Task 2, {setting}, replay {policy}", **common,
            )
            scores[setting, policy] = score(model2)
    return scores


def flatten_normalised(images: Tensor) -> Tensor:
    """Images as unit-norm float32 vectors, the memories and states of the Hopfield energy."""
    x = images.reshape(len(images), -1).float()
    return x / x.norm(dim=1, keepdim=True)


def image_energy(images: Tensor, memories: Tensor, beta: float, tile: int = 2048, device: str = "cpu") -> Tensor:
    """Hopfield energy of each image against all memory images (flattened, unit norm), streamed in
    tiles: at CIFAR scale (25,000 x 25,000 images) no score matrix is ever held whole."""
    x = flatten_normalised(images).to(device)
    return energy(x, flatten_normalised(memories).to(device), beta, tile=tile).cpu()


def image_sharpness(images: Tensor, memories: Tensor, beta: float, tile: int = 2048, device: str = "cpu") -> Tensor:
    """The trace of the energy's Hessian at each image (flattened, unit norm), exact (see
    forgetting.hessian_trace), a tile of images at a time: memory stays at tile x n_memories."""
    X = flatten_normalised(memories).to(device)
    rows = flatten_normalised(images).to(device).split(tile)
    return torch.cat([hessian_trace(x, X, beta) for x in rows]).cpu()


def replay_buffer(energies: Tensor, k: int, policy: str, seed: int) -> Tensor | None:
    """Indices of the K Task-1 images to replay: highest energy ("top"), lowest ("bottom"), a
    uniform draw ("random"), or None for no replay."""
    if policy not in POLICIES:
        raise ValueError(f"unknown replay policy {policy!r}; choose one of {', '.join(POLICIES)}")
    if policy == "none":
        return None
    if policy == "random":
        return torch.randperm(len(energies), generator=torch.Generator().manual_seed(seed))[:k]
    return torch.topk(energies, k, largest=policy == "top").indices


@torch.inference_mode()
def reconstruction_mse(
    model: Callable, images: Tensor, *, t0: int, n_steps: int, generations: int, batch_size: int,
    seed: int, device: str = "cpu", precision: str = "fp32", schedule: DDPMScheduler | None = None,
    encode: Callable[[Tensor], Tensor] | None = None, decode: Callable[[Tensor], Tensor] | None = None,
) -> Tensor:
    """Per-image reconstruction forgetting score, shape (n,).

    Each image is noised to timestep t0, then DDPM's reverse process runs from t0 to 0 over n_steps
    timesteps evenly spaced (each step the exact posterior between its two timesteps), and the MSE
    to the original is averaged over `generations` independent noisings. The same seed gives every
    model the same noise, so differences between models are not noise. A latent model passes its
    VAE's `encode` and `decode`: the noise is added to the latent, the error measured in pixels.
    """
    schedule = copy.deepcopy(schedule or noise_scheduler())
    timesteps = torch.linspace(t0, 0, n_steps).round().long().unique_consecutive().tolist()
    schedule.set_timesteps(timesteps=timesteps)
    gen = torch.Generator().manual_seed(seed)
    total = torch.zeros(len(images), dtype=torch.float32)
    for start in range(0, len(images), batch_size):
        x0 = images[start:start + batch_size].to(device)
        z0 = encode(x0) if encode else x0
        for _ in range(generations):
            noise = torch.randn(z0.shape, generator=gen, dtype=z0.dtype).to(device)
            z = schedule.add_noise(z0, noise, torch.tensor([t0], device=device))
            for t in schedule.timesteps:
                with _autocast(device, precision):
                    eps = model(z, t.to(device)).sample.float()
                z = schedule.step(eps, t, z, generator=gen).prev_sample
            x = decode(z) if decode else z
            total[start:start + batch_size] += ((x - x0) ** 2).flatten(1).mean(1).cpu()
    return total / generations
