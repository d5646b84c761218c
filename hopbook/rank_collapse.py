"""Rank collapse and token uniformity (Dong, Cordonnier, Loukas 2021; Masumura and Taki 2025).

Token representations X have shape (..., tokens, width). Dong et al. measure how far X is from
rank one by its residual against the token mean, res(X) = X - 1 x_bar^T, in the composite norm
||M||_{1,inf} = sqrt(||M||_1 ||M||_inf) (the largest column sum of |M| times the largest row sum),
as their own plotting code does: the ratio ||res(X)||_{1,inf} / ||X||_{1,inf}. Token uniformity is
the distribution of pairwise cosines between the token representations of one sequence.
"""

import numpy as np
import torch
from torch import Tensor

from hopbook.attention import AttentionConfig, Transformer, variant

ROUNDING = 1e-13  # a residual ratio below this is float64 rounding: collapse is complete


def composite_norm(M: Tensor) -> Tensor:
    """||M||_{1,inf} = sqrt(max column sum of |M| * max row sum of |M|), over the last two dims."""
    columns = M.abs().sum(-2).amax(-1)
    rows = M.abs().sum(-1).amax(-1)
    return (columns * rows).sqrt()


def residual_ratio(X: Tensor) -> Tensor:
    """||X - 1 x_bar^T||_{1,inf} / ||X||_{1,inf}, x_bar the mean token: 0 when every token is the same."""
    return composite_norm(X - X.mean(-2, keepdim=True)) / composite_norm(X)


def token_cosines(X: Tensor, mask: Tensor | None = None) -> Tensor:
    """Cosines between every pair of distinct tokens of each sequence, flattened. `mask` (..., tokens)
    marks the tokens to keep (padding excluded); every sequence must keep at least two."""
    unit = X / X.norm(dim=-1, keepdim=True)
    cos = unit @ unit.mT
    pairs = torch.ones(X.shape[-2], X.shape[-2], dtype=torch.bool, device=X.device).triu(1)
    if mask is not None:
        pairs = pairs & mask[..., :, None] & mask[..., None, :]
    return cos[pairs.expand(cos.shape)]


def decay_fits(depths: np.ndarray, ratio: np.ndarray, floor: float = ROUNDING) -> dict[str, float]:
    """Least-squares fits of log ratio against depth l, on the depths where the ratio is above `floor`:
    single exponential, log r = A + B l, and double exponential, log r = A + B 3^l (the 3^l of Dong et
    al.'s bound). Both have two parameters, so their residual sums of squares compare directly.
    Returns both sums and the number of depths used; needs at least three."""
    keep = np.asarray(ratio) > floor
    if keep.sum() < 3:
        raise ValueError(f"only {keep.sum()} depths above {floor:g}: too few to tell the two decays apart")
    l, y = np.asarray(depths, dtype=float)[keep], np.log(np.asarray(ratio, dtype=float)[keep])

    def rss(feature: np.ndarray) -> float:
        design = np.stack([np.ones_like(feature), feature], axis=1)
        _, residuals, *_ = np.linalg.lstsq(design, y, rcond=None)
        return float(residuals[0]) if residuals.size else 0.0

    return {"rss_single": rss(l), "rss_double": rss(3.0**l), "n_depths": int(keep.sum())}


def curves_at_init(config: AttentionConfig, names: list[str], depth: int, tokens: int, seeds: range) -> dict[str, np.ndarray]:
    """residual_ratio at every depth 0..depth of randomly initialised stacks, float64, one row per seed
    in `seeds`. Seed s draws the same Gaussian input tokens for every variant, and the same weights
    for variants with the same parameters (all those with an MLP, or all those without), so those
    are compared pairwise. Seeds torch's global generator."""
    curves = {}
    for name in names:
        rows = []
        for s in seeds:
            torch.manual_seed(s)
            model = Transformer(variant(name, config), depth).double()
            x = torch.randn(1, tokens, config.width, dtype=torch.float64, generator=torch.Generator().manual_seed(s))
            with torch.no_grad():
                rows.append([residual_ratio(state)[0].item() for state in model(x)])
        curves[name] = np.array(rows)
    return curves
