"""Intrinsic forgetting and replay in modern Hopfield networks (Takeda, Oizumi, Karakida 2026).

Task 1 stores memories X (rows); Task 2 stores the same memories rotated, R X with
R = expm(eps A) and A a random antisymmetric generator. The intrinsic forgetting at a state x is
the energy rise E(x | R X) - E(x | X) = E(R^T x | X) - E(x | X) (the rotation identity), averaged
over rotations. Replaying one Task-1 memory r adds it to the Task-2 memories. Everything is
batched over rotations, so thousands of them run as one call, on any device.
"""

import math

import torch
from torch import Tensor

from hopbook.hopfield import energy, energy_hessian, fixed_point, softmax_weights
from hopbook.rotations import GENERATOR_VARIANCE, Rotations


def equal_angular_memories(n_cluster: int, dim: int, cosine: float, dtype: torch.dtype = torch.float64) -> Tensor:
    """n_cluster unit memories with pairwise cosine `cosine`, then one unit outlier orthogonal to all.

    Exact construction from the Gram matrix (1 - c) I + c 1 1^T, valid for -1/(n-1) < c < 1; for
    c >= 0 it equals xi_i = sqrt(c) e_0 + sqrt(1 - c) e_i up to a rotation. Shape (n_cluster + 1, dim).
    """
    if not -1 / (n_cluster - 1) < cosine < 1:
        raise ValueError(f"an equal-angular cluster of {n_cluster} needs -1/{n_cluster - 1} < cosine < 1")
    if dim < n_cluster + 1:
        raise ValueError(f"dim must be at least n_cluster + 1 = {n_cluster + 1}")
    gram = (1 - cosine) * torch.eye(n_cluster, dtype=dtype) + cosine
    lam, V = torch.linalg.eigh(gram)
    memories = torch.zeros(n_cluster + 1, dim, dtype=dtype)
    memories[:n_cluster, :n_cluster] = V * lam.clamp_min(0).sqrt()
    memories[n_cluster, n_cluster] = 1.0
    return memories


def latent_gaussian_memories(
    n_cluster: int, dim: int, cosine: float, generator: torch.Generator, dtype: torch.dtype = torch.float64
) -> Tensor:
    """The latent-Gaussian realisation: xi_i = normalise(sqrt(c) mu + sqrt((1 - c) / dim) z_i), plus an
    outlier orthogonal to the centroid and the cluster. Cosines concentrate at c as dim grows."""
    mu = torch.zeros(dim, dtype=dtype)
    mu[0] = 1.0
    z = torch.randn(n_cluster, dim, generator=generator, dtype=dtype)
    z[:, 0] = 0.0
    cluster = math.sqrt(cosine) * mu + math.sqrt((1 - cosine) / dim) * z
    cluster = cluster / cluster.norm(dim=-1, keepdim=True)
    outlier = torch.randn(dim, generator=generator, dtype=dtype)
    basis, _ = torch.linalg.qr(cluster.T)  # orthonormal basis of the cluster's span
    outlier = outlier - basis @ (basis.T @ outlier)
    return torch.cat([cluster, (outlier / outlier.norm())[None]])


def cluster_outlier_memories(n_cluster: int, dim: int, cosine: float, construction: str, seed: int) -> Tensor:
    """The memories of either construction: "exact" or "latent-gaussian" (drawn with the given seed)."""
    if construction == "exact":
        return equal_angular_memories(n_cluster, dim, cosine)
    if construction == "latent-gaussian":
        return latent_gaussian_memories(n_cluster, dim, cosine, generator=torch.Generator().manual_seed(seed))
    raise ValueError(f"unknown construction {construction!r}; choose exact or latent-gaussian")


def energy_rise(x: Tensor, memories: Tensor, R: Rotations, beta: float) -> Tensor:
    """E(x | R X) - E(x | X) for each rotation R and each state x: shape (n_rotations, ..., n_states).

    Uses the rotation identity E(x | R X) = E(R^T x | X), so the memories are never rotated. Batches
    of memory sets (..., N, d) with states (..., n, d) take rotations indexed as R[:, None, ...].
    """
    rotated_states = R.transpose_apply(x)
    return energy(rotated_states, memories, beta) - energy(x, memories, beta)


def second_order_rise(x: Tensor, memories: Tensor, beta: float, eps: float, variance: float = GENERATOR_VARIANCE) -> Tensor:
    """Rotation-averaged rise to second order in eps at fixed points x (derived, not the paper's eq.):

    (eps^2 s^2 / 2) (||x||^2 tr H - x^T H x), H = I - beta Cov_p(xi), the energy's Hessian at x.
    """
    H = energy_hessian(x, memories, beta)
    trace = torch.diagonal(H, dim1=-2, dim2=-1).sum(-1)
    xHx = torch.einsum("...i,...ij,...j->...", x, H, x)
    return 0.5 * eps**2 * variance * ((x * x).sum(-1) * trace - xHx)


def finite_difference_sharpness(
    x: Tensor, memories: Tensor, beta: float, sigma: float, n_directions: int, generator: torch.Generator
) -> Tensor:
    """Mean energy increase 2 (E(x + sigma u) - E(x)) / sigma^2 over random unit-variance directions u;
    tends to tr H as sigma -> 0 (the perturbation sharpness of Appendix C.4)."""
    u = torch.randn(n_directions, *x.shape, generator=generator, dtype=x.dtype)
    rise = energy(x + sigma * u, memories, beta) - energy(x, memories, beta)
    return 2 * rise.mean(0) / sigma**2


def replay_gain(x: Tensor, memories: Tensor, R: Rotations, beta: float, replayed: Tensor) -> Tensor:
    """Raw replay gain E(x | R X) - E(x | R X + {xi_r}) for each rotation, state and replayed memory.

    Shape (n_rotations, n_states, n_replayed). Computed directly from the two log-sum-exps. Batches
    of memory sets work as in energy_rise.
    """
    rotated_states = R.transpose_apply(x)  # (n_rot, n_states, d); E(x | R X) = E(R^T x | X)
    task2 = torch.logsumexp(beta * rotated_states @ memories.mT, dim=-1)  # beta * lse over rotated memories
    replay = beta * x @ replayed.mT  # (n_states, n_replayed): the replayed memory is not rotated
    with_replay = torch.logaddexp(task2[..., None], replay)
    return (with_replay - task2[..., None]) / beta


def replay_identity(x: Tensor, memories: Tensor, R: Rotations, beta: float, replayed_index: Tensor) -> Tensor:
    """The same gain from the identity beta^{-1} log(1 + p_r e^{beta dE}), with p_r the Task-1 softmax
    weight of the replayed memory at x and dE the energy rise."""
    p = softmax_weights(x, memories, beta)[..., replayed_index]  # (n_states, n_replayed)
    rise = energy_rise(x, memories, R, beta)  # (n_rot, n_states)
    return torch.log1p(p * torch.exp(beta * rise)[..., None]) / beta


def duplicate_baseline(x: Tensor, memories: Tensor, beta: float, replayed_index: Tensor) -> Tensor:
    """The gain of replaying without any rotation: beta^{-1} log(1 + p_r), a duplicate memory."""
    return torch.log1p(softmax_weights(x, memories, beta)[..., replayed_index]) / beta


def canonical_replays(n_cluster: int) -> dict[str, tuple[int, int]]:
    """The five (target fixed point, replayed memory) pairs of Theorem 5.1, by name: outlier self
    (oo), cluster self (cc), within-cluster cross (c2c), cross-type at the outlier (co) and at a
    cluster point (oc). Memory n_cluster is the outlier; 0 and 1 are two cluster members."""
    outlier, member, other = n_cluster, 0, 1
    return {"oo": (outlier, outlier), "cc": (member, member), "c2c": (other, member),
            "co": (outlier, member), "oc": (member, outlier)}


def replay_ordering_steps(gains: dict[str, Tensor]) -> list[Tensor]:
    """The three steps of Theorem 5.1's ordering, per rotation, each positive when it holds:
    oo - cc, cc - c2c and c2c - max(co, oc)."""
    cross_type = torch.maximum(gains["co"], gains["oc"])
    return [gains["oo"] - gains["cc"], gains["cc"] - gains["c2c"], gains["c2c"] - cross_type]


def task1_fixed_points(memories: Tensor, beta: float) -> Tensor:
    """The Task-1 fixed point near each memory, found by iterating the update from the memory."""
    x, converged = fixed_point(memories.clone(), memories, beta)
    if not converged.all():
        raise RuntimeError(f"a Task-1 fixed point did not converge at beta = {beta}")
    return x


def distinct_states(x: Tensor, decimals: int = 6) -> int:
    """How many different states the rows of x are, to `decimals` places: fewer than the memories
    when several fixed points have merged into one."""
    return len({tuple(v) for v in x.round(decimals=decimals).tolist()})
