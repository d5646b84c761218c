"""Random rotations R = expm(eps A) of many states at once, without forming R.

A is a random antisymmetric generator (so R is orthogonal with det 1). Chapters on intrinsic forgetting
need R mostly through R^T x for a few states x, which the Taylor series of the matrix exponential applied
to the vectors gives, batched over thousands of generators, with a checked truncation bound
(`expm_apply`, after Al-Mohy and Higham's expmv).
"""

import math
from dataclasses import dataclass

import torch
from torch import Tensor


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
