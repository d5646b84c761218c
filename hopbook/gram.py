"""The key Gram matrix G = K^T K / d of an attention head and what linear attention does with it.

Bean (2026), Sections 2.2-4. Keys are the rows of K (shape (..., p, d)); every function accepts
leading batch dimensions, so thousands of random trials run as one batched call.
"""

import torch
from torch import Tensor


def gram(K: Tensor) -> Tensor:
    """Key Gram matrix G = K^T K / d, shape (..., d, d)."""
    return K.mT @ K / K.shape[-1]


def gram_delta(K: Tensor, dK: Tensor) -> Tensor:
    """Change of G when the keys move from K to K + dK (Lemma 3.1 and Section 5):

    dG = (dK^T K + K^T dK + dK^T dK) / d.

    Appending keys K_new is the case K -> [K; 0], dK = [0; K_new], where dG = K_new^T K_new / d.
    """
    return (dK.mT @ K + K.mT @ dK + dK.mT @ dK) / K.shape[-1]


def append_keys(K: Tensor, K_new: Tensor) -> Tensor:
    """The key matrix with the rows of K_new (shape (..., s, d)) appended below those of K."""
    return torch.cat([K, K_new], dim=-2)


def spectrum(G: Tensor) -> tuple[Tensor, Tensor]:
    """Eigenvalues in ascending order and the matching eigenvectors as columns."""
    return torch.linalg.eigh(G)


def eigenvector_residuals(G: Tensor, E: Tensor) -> Tensor:
    """How far each unit column e_j of E is from being an eigenvector of G:

    ||G e_j - (e_j^T G e_j) e_j||, shape (..., number of columns). Zero iff e_j is one.
    """
    GE = G @ E
    rayleigh = (E * GE).sum(dim=-2, keepdim=True)
    return torch.linalg.vector_norm(GE - rayleigh * E, dim=-2)


def interlacing_excess(lam: Tensor, lam_new: Tensor) -> Tensor:
    """Largest violation of the interlacing lam_j <= lam'_j <= lam_{j+1} (ascending order).

    For a positive semi-definite rank-one update this is <= 0 up to rounding; it is < 0 exactly
    when the interlacing is strict. Shape: the batch shape.
    """
    below = lam - lam_new
    above = lam_new[..., :-1] - lam[..., 1:]
    return torch.maximum(below.amax(dim=-1), above.amax(dim=-1))


def relational_similarity(G: Tensor, K: Tensor) -> Tensor:
    """rho_{mu nu}(G) = k_mu^T G k_nu / (||G^{1/2} k_mu|| ||G^{1/2} k_nu||) for all pairs of rows of K.

    Definition 4.1; uses ||G^{1/2} k||^2 = k^T G k, so no matrix square root is needed.
    """
    M = K @ G @ K.mT
    norms = torch.diagonal(M, dim1=-2, dim2=-1).clamp_min(0).sqrt()
    return M / (norms[..., :, None] * norms[..., None, :])


def linear_retrieval(G: Tensor, x: Tensor, steps: int) -> Tensor:
    """Run the linear-attention retrieval map x <- G x / ||G x|| for `steps` steps.

    x has shape (..., n, d): n queries per Gram matrix. Its fixed points are the eigenvectors of G
    (Section 2.3); only the top one attracts, at rate lam_2 / lam_1 per step.
    """
    for _ in range(steps):
        x = x @ G  # G is symmetric, so row-wise G x is x G
        x = x / torch.linalg.vector_norm(x, dim=-1, keepdim=True)
    return x


def retrieval_growth(lam: Tensor) -> Tensor:
    """Growth factor per step of the worst perturbation of the retrieval map at each eigenvector.

    Linearised at e_j, the map x <- G x / ||G x|| multiplies a perturbation along e_i (i != j) by
    lam_i / lam_j, so e_j attracts iff max_{i != j} |lam_i / lam_j| < 1, i.e. only for the top
    eigenvector. Returns that factor for every j (ascending order of lam); it is infinite, or huge,
    on G's null space, where the map is undefined.
    """
    lam = lam.abs()  # rounding makes null eigenvalues of a PSD matrix slightly negative
    top = lam[..., -1:]
    second = lam[..., -2:-1]
    others_max = torch.where(torch.arange(lam.shape[-1], device=lam.device) == lam.shape[-1] - 1, second, top)
    return others_max / lam


def surviving_eigenvalues(lam: Tensor, lam_new: Tensor, rtol: float = 1e-10) -> Tensor:
    """Which eigenvalues of G are still eigenvalues of G' (to rtol times G''s largest), shape of lam.

    Compares spectra as sets, so an eigenvalue that stays put is found even when another one moves
    past it and the sorted orders no longer line up.
    """
    tol = rtol * lam_new[..., -1:, None].abs()
    return ((lam_new[..., None, :] - lam[..., :, None]).abs() < tol).any(dim=-1)


def fixed_direction_search(G: Tensor, radius: Tensor, u: Tensor, steps: int, lr: float = 0.2) -> Tensor:
    """Try to append k_new = radius * u so that every old eigenvector survives and k_new is one too.

    Projected gradient descent on the unit sphere, batched over the rows of u (shape (..., n, d);
    radius broadcasts against u, e.g. shape (..., n, 1) for one radius per row),
    of the summed squared eigenvector residuals of G' = G + k k^T / d over G's eigenvectors and
    k_new itself, in units of radius^2 / d. Theorem 3.2 (ii) says the loss reaches zero only where
    k_new is parallel to a single eigenvector of G. Returns the final k_new, shape of u.
    """
    _, E = spectrum(G)
    E = E.unsqueeze(-3)
    d = G.shape[-1]
    u = (u / torch.linalg.vector_norm(u, dim=-1, keepdim=True)).detach()
    for _ in range(steps):
        u.requires_grad_(True)
        k = radius * u
        G_new = G.unsqueeze(-3) + k[..., :, None] * k[..., None, :] / d
        candidates = torch.cat([E, u[..., :, None]], dim=-1)
        loss = (eigenvector_residuals(G_new, candidates) / (radius**2 / d)).square().sum()
        (grad,) = torch.autograd.grad(loss, u)
        with torch.no_grad():
            u = u - lr * grad
            u = u / torch.linalg.vector_norm(u, dim=-1, keepdim=True)
    return radius * u.detach()


def relational_shift(K: Tensor, K_after: Tensor, tol: float = 1e-6) -> tuple[Tensor, Tensor]:
    """How much the relational geometry of the rows of K moves when the keys become K_after.

    With G from K and G' from K_after (the same tokens after a change), returns, per leading
    index (e.g. per layer and head), the mean of |rho(G') - rho(G)| over distinct pairs of rows of
    K and the fraction of pairs where it exceeds tol. Loops over leading indices so that only one
    n x n matrix of pairs is held at a time.
    """
    n = K.shape[-2]
    pairs = ~torch.eye(n, dtype=torch.bool, device=K.device)
    means, moved = [], []
    for keys, keys_after in zip(K.reshape(-1, *K.shape[-2:]), K_after.reshape(-1, *K.shape[-2:])):
        change = (relational_similarity(gram(keys_after), keys) - relational_similarity(gram(keys), keys)).abs()[pairs]
        means.append(change.mean())
        moved.append((change > tol).double().mean())
    return torch.stack(means).reshape(K.shape[:-2]), torch.stack(moved).reshape(K.shape[:-2])
