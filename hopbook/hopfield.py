"""The modern (continuous) Hopfield network: energy, update rule, its Jacobian, the energy's Hessian and fixed points.

Ramsauer et al. (2021); Takeda, Oizumi, Karakida (2026). Memories are the rows of X (shape
(..., N, d)); states x have shape (..., n, d), so many states and many memory sets run as one
batched call, on any device. Use float64 on the CPU where identities are checked exactly.
"""

import torch
from torch import Tensor


def energy(x: Tensor, X: Tensor, beta: float, tile: int | None = None) -> Tensor:
    """E(x | X) = ||x||^2 / 2 - beta^{-1} log sum_mu exp(beta xi_mu^T x), shape (..., n).

    Ramsauer et al. add the constants beta^{-1} log N + M^2 / 2; they are left out here because
    they change when memories are added, and the replay identities are stated without them.
    With `tile`, one memory set X of shape (N, d) is streamed in blocks of `tile` states by `tile`
    memories, so memory stays bounded for tens of thousands of images (see `_logsumexp_tiled`).
    """
    if tile is None:
        lse = torch.logsumexp(beta * x @ X.mT, dim=-1)
    else:
        lse = _logsumexp_tiled(beta * x.reshape(-1, x.shape[-1]), X, tile).view(x.shape[:-1])
    return 0.5 * (x * x).sum(dim=-1) - lse / beta


def _logsumexp_tiled(q: Tensor, X: Tensor, tile: int) -> Tensor:
    """log sum_mu exp(q_i^T xi_mu) for each row q_i, one (tile x tile) block of scores at a time.

    The online form: keep the running maximum m and the sum s of exp(score - m); a new block with
    larger maximum m' rescales s by exp(m - m'). Nothing overflows and no score matrix is kept.
    """
    out = []
    for rows in q.split(tile):
        m = torch.full((rows.shape[0],), -torch.inf, dtype=q.dtype, device=q.device)
        s = torch.zeros_like(m)
        for block in X.split(tile):
            scores = rows @ block.T
            m_new = torch.maximum(m, scores.amax(dim=1))
            s = s * torch.exp(m - m_new) + torch.exp(scores - m_new[:, None]).sum(dim=1)
            m = m_new
        out.append(m + torch.log(s))
    return torch.cat(out)


def softmax_weights(x: Tensor, X: Tensor, beta: float) -> Tensor:
    """p = softmax(beta X x): how much each memory contributes at state x, shape (..., n, N)."""
    return torch.softmax(beta * x @ X.mT, dim=-1)


def update(x: Tensor, X: Tensor, beta: float) -> Tensor:
    """One Hopfield update x <- X^T softmax(beta X x): one step of attention with keys = values = X."""
    return softmax_weights(x, X, beta) @ X


def jacobian(x: Tensor, X: Tensor, beta: float) -> Tensor:
    """Jacobian of the update at x: beta X^T (diag(p) - p p^T) X, shape (..., n, d, d)."""
    p = softmax_weights(x, X, beta)
    cov = torch.diag_embed(p) - p[..., :, None] * p[..., None, :]
    Xb = X.unsqueeze(-3)
    return beta * Xb.mT @ cov @ Xb


def energy_hessian(x: Tensor, X: Tensor, beta: float) -> Tensor:
    """Hessian of the energy at x: I - beta Cov_p(xi), p = softmax(beta X x), i.e. I minus the update's
    Jacobian. Shape (..., n, d, d)."""
    return torch.eye(x.shape[-1], dtype=x.dtype, device=x.device) - jacobian(x, X, beta)


def hessian_trace(x: Tensor, X: Tensor, beta: float) -> Tensor:
    """tr H = d - beta tr Cov_p(xi) without forming H, with tr Cov_p = sum_mu p_mu ||xi_mu||^2 - ||T(x)||^2
    and T(x) = X^T p the Hopfield update. Shape (..., n)."""
    p = softmax_weights(x, X, beta)
    spread = p @ (X * X).sum(-1) - ((p @ X) ** 2).sum(-1)
    return x.shape[-1] - beta * spread


def fixed_point(
    x: Tensor, X: Tensor, beta: float, tol: float = 1e-12, max_iter: int = 10_000
) -> tuple[Tensor, Tensor]:
    """Iterate the update from x until every state moves less than tol (max norm).

    Returns the fixed points and, per state, whether it converged within max_iter steps. The
    energy never increases along the way (Ramsauer et al., Theorem 1).
    """
    for _ in range(max_iter):
        x_next = update(x, X, beta)
        step = (x_next - x).abs().amax(dim=-1)
        x = x_next
        if bool((step < tol).all()):
            break
    return x, step < tol
