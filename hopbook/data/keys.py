"""Random key matrices for synthetic attention heads."""

import math

import torch
from torch import Tensor

KEY_DISTRIBUTIONS = ("gaussian", "sphere", "rademacher", "anisotropic")


def sample_keys(
    *shape: int, dist: str, generator: torch.Generator, dtype: torch.dtype = torch.float64
) -> Tensor:
    """Keys of shape (*batch, p, d) with entries of unit variance on average.

    gaussian: i.i.d. N(0, 1) entries.  sphere: uniform on the sphere of radius sqrt(d).
    rademacher: i.i.d. +-1 entries.  anisotropic: N(0, s_i^2) with s_i decaying as 1 / sqrt(i),
    rescaled to mean variance 1, like the uneven spectra of trained heads.
    """
    if dist not in KEY_DISTRIBUTIONS:
        raise ValueError(f"unknown key distribution {dist!r}; choose one of {KEY_DISTRIBUTIONS}")
    d = shape[-1]
    if dist == "rademacher":
        return torch.randint(0, 2, shape, generator=generator).to(dtype) * 2 - 1
    z = torch.randn(shape, generator=generator, dtype=dtype)
    if dist == "sphere":
        return z / torch.linalg.vector_norm(z, dim=-1, keepdim=True) * math.sqrt(d)
    if dist == "anisotropic":
        scale = torch.arange(1, d + 1, dtype=dtype).rsqrt()
        return z * scale / scale.square().mean().sqrt()
    return z
