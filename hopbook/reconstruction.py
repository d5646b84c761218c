"""Reconstruction forgetting: how well a diffusion model brings a noised image back.

The score of the paper's Appendix G: noise an image to timestep t0, run the model's reverse process
back to 0 and take the mean squared error to the original, averaged over several noisings.
"""

import copy
from collections.abc import Callable

import torch
from diffusers import DDPMScheduler
from torch import Tensor

from hopbook.models.ddpm import autocast, noise_scheduler


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
                with autocast(device, precision):
                    eps = model(z, t.to(device)).sample.float()
                z = schedule.step(eps, t, z, generator=gen).prev_sample
            x = decode(z) if decode else z
            total[start:start + batch_size] += ((x - x0) ** 2).flatten(1).mean(1).cpu()
    return total / generations
