"""Random-features Hopfield networks: patterns that are sparse mixtures of hidden random features.

Negri, Lauditi, Perugini, Lucibello, Malatesta (PRL 2023, arXiv 2303.16880); Kalaj et al. (arXiv
2407.05658). D random features f^k in {+-1}^N; a pattern is xi = sign(sum_k c_k f^k) with c having
L nonzero entries +-1 (L odd, so the sum is never zero). The network stores P = alpha N such patterns
(alpha_D = D / N fixed); the features themselves are never stored, nor are the test mixtures, drawn
the same way.
"""

import torch
from torch import Tensor


def features(N: int, D: int, gen: torch.Generator) -> Tensor:
    """D random +-1 features in dimension N, as rows, shape (D, N)."""
    return torch.randint(0, 2, (D, N), generator=gen).double() * 2 - 1


def mixtures(F: Tensor, P: int, L: int, gen: torch.Generator) -> Tensor:
    """P patterns sign(sum_k c_k f^k), each c with L nonzero +-1 entries at random features, shape (P, N)."""
    if L % 2 == 0 or L > F.shape[0]:
        raise ValueError(f"L must be odd and at most the number of features ({F.shape[0]}); got {L}")
    chosen = torch.rand(P, F.shape[0], generator=gen).argsort(dim=1)[:, :L]
    signs = torch.randint(0, 2, (P, L), generator=gen).double() * 2 - 1
    c = torch.zeros(P, F.shape[0], dtype=torch.float64).scatter_(1, chosen, signs)
    return torch.sign(c @ F)
