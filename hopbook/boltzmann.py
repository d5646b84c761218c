"""The MHN Boltzmann machine: the modern Hopfield energy as a trainable Gaussian mixture.

p(x | W) = exp(-beta E(x | W)) / Z(W) = sum_mu pi_mu N(x; w_mu, I / beta), pi_mu proportional to
exp(beta ||w_mu||^2 / 2), with log Z(W) = (d/2) log(2 pi / beta) + logsumexp(beta ||w_mu||^2 / 2)
(Takeda, Oizumi, Karakida 2026, Section 3.2). The memories W are fitted by maximum likelihood.

The mixing weights are tied to the memory norms, so this is not the equal-weight mixture that EM
fits: at a maximum of this likelihood w_mu is not the responsibility-weighted mean of the data.
Two symmetries carry the chapter's analysis:
- rotation: p(R x | R W) = p(x | W), so a fit to rotated data is the rotated fit;
- scale: E(s y | s W, beta) = s^2 E(y | W, beta s^2), so data at scale s behave like unit-scale
  data at inverse temperature beta s^2.
"""

import math

import torch
from torch import Tensor

from hopbook.hopfield import energy


def negative_log_likelihood(x: Tensor, W: Tensor, beta: float) -> Tensor:
    """Mean of -log p(x | W) over the rows of x; batches of memory sets W (..., N, d) take data
    (..., M, d) and give shape (...)."""
    d = W.shape[-1]
    log_z = 0.5 * d * math.log(2 * math.pi / beta) + torch.logsumexp(0.5 * beta * (W * W).sum(-1), dim=-1)
    return beta * energy(x, W, beta).mean(-1) + log_z


def mixture_samples(centres: Tensor, per_centre: int, noise: float, generator: torch.Generator) -> Tensor:
    """per_centre samples of N(c, noise^2 I) around each centre c (rows): shape (N, per_centre, d)."""
    z = torch.randn(centres.shape[0], per_centre, centres.shape[1], generator=generator, dtype=centres.dtype)
    return centres[:, None, :] + noise * z


def fit(W: Tensor, x: Tensor, beta: float, tolerance: float = 1e-5, max_iter: int = 10_000) -> tuple[Tensor, float]:
    """Maximum likelihood from the memories W by L-BFGS with a strong-Wolfe line search, run until the
    line search can make no more progress. Returns the fitted memories and the final gradient norm
    of the mean negative log-likelihood; raises if that norm exceeds `tolerance` (not converged).
    Batches of independent fits (W of shape (..., N, d), x of shape (..., M, d)) run as one."""
    W = W.clone().requires_grad_(True)
    optimiser = torch.optim.LBFGS(
        [W], max_iter=max_iter, tolerance_grad=1e-12, tolerance_change=0.0, history_size=50,
        line_search_fn="strong_wolfe",
    )

    def loss() -> Tensor:
        optimiser.zero_grad()
        value = negative_log_likelihood(x, W, beta).sum()
        value.backward()
        return value

    optimiser.step(loss)
    loss()
    gradient_norm = W.grad.flatten(-2).norm(dim=-1).max().item()
    if not gradient_norm < tolerance:
        raise RuntimeError(f"maximum likelihood did not converge: gradient norm {gradient_norm:.2e}")
    return W.detach(), gradient_norm


def fit_task1(
    memories: Tensor, scale: float, per_memory: int, noise_ratio: float, beta: float, seed: int
) -> tuple[Tensor, Tensor, float]:
    """Task 1 of the paper's Figs. 3(a) and 4: per_memory samples scale * xi_mu + sigma z around each
    memory, sigma = noise_ratio / sqrt(beta) (at 1, the model's own noise), and the machine fitted to
    all of them from each memory's sample mean. The same seed draws the same z at every scale and
    noise. Returns (samples of shape (N, per_memory, d), fitted memories, final gradient norm)."""
    generator = torch.Generator().manual_seed(seed)
    samples = mixture_samples(scale * memories, per_memory, noise_ratio / math.sqrt(beta), generator)
    W, gradient_norm = fit(samples.mean(1), samples.flatten(0, 1), beta)
    return samples, W, gradient_norm
