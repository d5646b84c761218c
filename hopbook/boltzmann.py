"""The MHN Boltzmann machine: the modern Hopfield energy as a trainable Gaussian mixture.

p(x | W) = exp(-beta E(x | W)) / Z(W) = sum_mu pi_mu N(x; w_mu, I / beta), pi_mu proportional to
exp(beta ||w_mu||^2 / 2), with log Z(W) = (d/2) log(2 pi / beta) + logsumexp(beta ||w_mu||^2 / 2)
(Takeda, Oizumi, Karakida 2026, Section 3.2). The memories W are fitted by maximum likelihood.
"""

import math

import torch
from torch import Tensor
from tqdm import tqdm

from hopbook.hopfield import energy


def negative_log_likelihood(x: Tensor, W: Tensor, beta: float) -> Tensor:
    """Mean of -log p(x | W) over the rows of x."""
    d = W.shape[-1]
    log_z = 0.5 * d * math.log(2 * math.pi / beta) + torch.logsumexp(0.5 * beta * (W * W).sum(-1), dim=-1)
    return (beta * energy(x, W, beta) + log_z).mean()


def mixture_samples(centres: Tensor, per_centre: int, noise: float, generator: torch.Generator) -> Tensor:
    """per_centre samples of N(c, noise^2 I) around each centre c (rows), centre by centre."""
    z = torch.randn(centres.shape[0], per_centre, centres.shape[1], generator=generator, dtype=centres.dtype)
    return (centres[:, None, :] + noise * z).reshape(-1, centres.shape[1])


def fit(W: Tensor, x: Tensor, beta: float, steps: int, lr: float, desc: str = "fit") -> Tensor:
    """Maximum likelihood by full-batch Adam from the memories W; returns the fitted memories."""
    W = W.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([W], lr=lr)
    for _ in tqdm(range(steps), desc=desc, leave=False):
        optimiser.zero_grad()
        negative_log_likelihood(x, W, beta).backward()
        optimiser.step()
    return W.detach()


def fit_task1(
    memories: Tensor, scale: float, per_memory: int, noise: float, beta: float, steps: int, lr: float,
    generator: torch.Generator,
) -> tuple[Tensor, Tensor]:
    """Task 1 of the paper's Figs. 3(a) and 4: per_memory samples scale * xi_mu + noise * z around
    each memory, in memory order, and the machine fitted to them from one sample of each memory.
    Returns (samples, fitted memories)."""
    samples = mixture_samples(scale * memories, per_memory, noise, generator)
    return samples, fit(samples[::per_memory], samples, beta, steps, lr, desc="Task 1")
