"""The modern (continuous) Hopfield network: energy, update rule, its Jacobian, the energy's Hessian, fixed points,
the separation of the memories and the retrieval-error bound, and the update as an attention layer.

Ramsauer et al. (2021); Takeda, Oizumi, Karakida (2026). Memories are the rows of X (shape
(..., N, d)); states x have shape (..., n, d), so many states and many memory sets run as one
batched call, on any device. Use float64 on the CPU where identities are checked exactly.
"""

import math

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
        lse = _logsumexp_tiled(x.reshape(-1, x.shape[-1]), X, beta, tile).view(x.shape[:-1])
    return 0.5 * (x * x).sum(dim=-1) - lse / beta


def ramsauer_energy(x: Tensor, X: Tensor, beta: float) -> Tensor:
    """Ramsauer et al.'s energy E(x) = -lse(beta, X x) + x^T x / 2 + beta^{-1} log N + M^2 / 2, M = max_mu ||xi_mu||.

    The constants make it bounded: E >= 0 everywhere, and E <= 2 M^2 wherever ||x|| <= M, in particular after
    one update.
    """
    M = torch.linalg.vector_norm(X, dim=-1).amax(dim=-1, keepdim=True)
    return energy(x, X, beta) + math.log(X.shape[-2]) / beta + 0.5 * M**2


def _logsumexp_tiled(x: Tensor, X: Tensor, beta: float, tile: int) -> Tensor:
    """log sum_mu exp(beta x_i^T xi_mu) for each row x_i, one (tile x tile) block of scores at a time.

    The online form: keep the running maximum m and the sum s of exp(score - m); a new block with
    larger maximum m' rescales s by exp(m - m'). Nothing overflows and no score matrix is kept; the
    block is exponentiated in place, so its GEMM is most of the work.
    """
    out = []
    for rows in x.split(tile):
        q = beta * rows
        m = torch.full((rows.shape[0],), -torch.inf, dtype=x.dtype, device=x.device)
        s = torch.zeros_like(m)
        for block in X.split(tile):
            scores = q @ block.T
            m_new = torch.maximum(m, scores.amax(dim=1))
            s = s * torch.exp(m - m_new) + scores.sub_(m_new[:, None]).exp_().sum(dim=1)
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


def separation(X: Tensor) -> Tensor:
    """Delta_i = xi_i^T xi_i - max_{j != i} xi_i^T xi_j: how far memory i stands out from the others, shape (..., N)."""
    overlaps = X @ X.mT
    self_overlap = torch.diagonal(overlaps, dim1=-2, dim2=-1)
    others = overlaps.masked_fill(torch.eye(X.shape[-2], dtype=torch.bool, device=X.device), -torch.inf)
    return self_overlap - others.amax(dim=-1)


def retrieval_error(x: Tensor, X: Tensor, i: Tensor, beta: float) -> Tensor:
    """||update(x) - xi_i|| for states x near memory i (index i per state), shape (n,).

    Written as ||sum_{j != i} p_j (xi_j - xi_i)||, the same number without subtracting xi_i from an update
    that is almost xi_i, so an error of 1e-30 is computed to relative rounding rather than lost below 1e-16.
    """
    p = softmax_weights(x, X, beta).index_put((torch.arange(len(i), device=x.device), i),
                                              torch.zeros((), dtype=x.dtype, device=x.device))
    return torch.linalg.vector_norm(p @ X - p.sum(dim=-1, keepdim=True) * X[i], dim=-1)


def sphere_radius(X: Tensor, beta: float) -> float:
    """1 / (beta N M): the radius of the sphere S_i around each well-separated memory in which Theorem 4 puts
    its fixed point and which one update maps into itself."""
    return 1 / (beta * X.shape[-2] * torch.linalg.vector_norm(X, dim=-1).max().item())


def retrieval_error_bound(x: Tensor, fixed: Tensor, X: Tensor, i: Tensor, beta: float) -> Tensor:
    """Ramsauer et al.'s bound (Theorem 5) on the one-step retrieval error ||update(x) - xi_i||:

    2 (N - 1) exp(-beta (Delta_i - 2 max(||x - xi_i||, ||xi_i* - xi_i||) M)) M,

    for states x near memory i (index i per state) and xi_i* the fixed point near it (`fixed`, one per
    state). X has shape (N, d); x and fixed (n, d); i (n,). Shape (n,).
    """
    N, M = X.shape[0], torch.linalg.vector_norm(X, dim=-1).max()
    target = X[i]
    radius = torch.maximum(torch.linalg.vector_norm(x - target, dim=-1), torch.linalg.vector_norm(fixed - target, dim=-1))
    return 2 * (N - 1) * torch.exp(-beta * (separation(X)[i] - 2 * radius * M)) * M


def multihead_attention_of_update(d: int, heads: int, dtype: torch.dtype = torch.float64) -> torch.nn.MultiheadAttention:
    """torch.nn.MultiheadAttention with identity query, key, value and output projections and no biases.

    With one head, attention(x, X, X) is update(x, X, 1/sqrt(d)); with h heads, each head runs that update
    on its own d/h coordinates at beta = 1/sqrt(d/h), and the outputs are concatenated.
    """
    layer = torch.nn.MultiheadAttention(d, heads, bias=False, batch_first=True, dtype=dtype)
    eye = torch.eye(d, dtype=dtype)
    with torch.no_grad():
        layer.in_proj_weight.copy_(torch.cat([eye, eye, eye]))
        layer.out_proj.weight.copy_(eye)
    return layer.eval()
