"""Intrinsic forgetting and replay in modern Hopfield networks (Takeda, Oizumi, Karakida 2026).

Task 1 stores memories X (rows); Task 2 stores the same memories rotated, R X with
R = expm(eps A) and A a random antisymmetric generator. The intrinsic forgetting at a state x is
the energy rise E(x | R X) - E(x | X) = E(R^T x | X) - E(x | X) (the rotation identity), averaged
over rotations. Replaying one Task-1 memory r adds it to the Task-2 memories. Everything is
batched over rotations, so thousands of them run as one call, on any device.
"""

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from hopbook.hopfield import energy, energy_hessian, fixed_point, softmax_weights


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


def antisymmetric_generators(n: int, dim: int, generator: torch.Generator, dtype: torch.dtype = torch.float64) -> Tensor:
    """n random antisymmetric generators A with independent N(0, 1/2) entries above the diagonal: the law
    of (W - W^T) / 2 with W_ij ~ N(0, 1), from dim (dim - 1) / 2 normals per generator instead of dim^2.

    The normals are drawn in float32 by torch's vectorised sampler (float64 sampling is six times slower)
    and widened; A is assembled a block of generators at a time, so no temporary is as large as A.
    """
    upper = torch.ones(dim, dim, dtype=torch.bool).triu_(1)
    normals = torch.randn(n, dim * (dim - 1) // 2, generator=generator).to(dtype)
    normals.mul_(math.sqrt(GENERATOR_VARIANCE))
    A = torch.empty(n, dim, dim, dtype=dtype)
    for block, rows in zip(A.split(_BLOCK), normals.split(_BLOCK)):
        triangle = torch.zeros_like(block).masked_scatter_(upper, rows)
        torch.sub(triangle, triangle.mT, out=block)
    return A


_BLOCK = 256  # generators assembled at a time: blocks of a few MB reuse memory instead of faulting in fresh pages


GENERATOR_VARIANCE = 0.5  # variance s^2 of each off-diagonal entry of A, for the second-order formula


def expm_apply(x: Tensor, A: Tensor, t: float, rtol: float = 2.0**-53) -> Tensor:
    """x expm(t A) for row vectors x (..., n, d), batched over matrices A (..., d, d), without forming expm(t A).

    The Taylor series applied to vectors, in s substeps of size h = t / s with h ||A|| <= 2 (||A|| bounded by
    the Frobenius norm, the largest of the batch), as in Al-Mohy and Higham's expmv. A substep from y stops
    after the term y_k = y_{k-1} (h A) / k once the tail it leaves, at most ||y_k|| r / (1 - r) with
    r = h ||A|| / (k + 1), is below rtol ||y|| for every vector of the batch: a checked bound, not a fixed
    number of terms. A long batch runs a chunk of matrices at a time (along A's first dimension, when it
    leads the result's), so each chunk stays in cache through all its terms.
    """
    if A.dim() < 3 or A.dim() < x.dim():  # no leading batch of matrices to split
        return _expm_apply(x, A, t, rtol)
    chunk = max(1, _CHUNK_BYTES // (A[0].numel() * A.element_size()))
    paired = x.dim() == A.dim() and len(x) == len(A)  # x holds one batch of states per A[i]
    parts = [_expm_apply(x[i:i + chunk] if paired else x, A[i:i + chunk], t, rtol) for i in range(0, len(A), chunk)]
    return torch.cat(parts) if len(parts) > 1 else parts[0]


_CHUNK_BYTES = 2**22  # matrices per chunk of expm_apply, in bytes: fastest on the 2-core CPU (2 MB of L2 per core)


def _expm_apply(x: Tensor, A: Tensor, t: float, rtol: float) -> Tensor:
    """expm_apply for one chunk."""
    norm = torch.linalg.matrix_norm(A).amax().item()  # Frobenius >= spectral norm, bounds ||y A|| / ||y||
    if not math.isfinite(norm * t):
        raise ValueError(f"expm_apply needs finite matrices and t; got ||A|| = {norm}, t = {t}")
    steps = max(1, math.ceil(abs(t) * norm / 2))
    h = t / steps
    y = x
    for _ in range(steps):
        tolerance = rtol * y.norm(dim=-1)
        term = y
        for k in range(1, MAX_TERMS + 1):
            term = torch.matmul(term, A).mul_(h / k)
            y = y + term if k == 1 else y.add_(term)
            r = abs(h) * norm / (k + 1)
            if r < 1 and bool((term.norm(dim=-1) * (r / (1 - r)) <= tolerance).all()):
                break
        else:
            raise RuntimeError(f"the series of expm(t A) x did not reach rtol {rtol} in {MAX_TERMS} terms "
                               "(is x finite?)")
    return y


MAX_TERMS = 60  # with h ||A|| <= 2 the tail is below 2^-53 after about 25 terms


@dataclass(frozen=True)
class Rotations:
    """A batch of rotations R = expm(eps A), one per antisymmetric generator A (shape (n, d, d)): orthogonal, det 1.

    The chapters need R mostly through R^T x for a few states x (E(x | R X) = E(R^T x | X)), which
    `transpose_apply` computes on the vectors (expm_apply) without forming R; `matrices` forms R where a
    chapter rotates data. Indexing selects rotations: R[:k], or R[:, None] to broadcast over memory sets.
    """

    generators: Tensor
    eps: float

    def __len__(self) -> int:
        return len(self.generators)

    def __getitem__(self, index) -> "Rotations":
        return Rotations(self.generators[index], self.eps)

    def transpose_apply(self, x: Tensor) -> Tensor:
        """R^T x for row states x (..., n, d), as rows x R: shape (n_rotations, ..., n, d)."""
        return expm_apply(x, self.generators, self.eps)

    def apply(self, x: Tensor) -> Tensor:
        """R x for row states x (..., n, d), as rows x R^T = x expm(-eps A): shape (n_rotations, ..., n, d)."""
        return expm_apply(x, self.generators, -self.eps)

    def matrices(self) -> Tensor:
        """The rotation matrices themselves, torch.linalg.matrix_exp(eps A): shape (n_rotations, d, d)."""
        return torch.linalg.matrix_exp(self.eps * self.generators)


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
