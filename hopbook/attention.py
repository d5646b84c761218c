"""Self-attention and Modern Hopfield Attention (Masumura and Taki 2025) in a transformer stack.

Standard multi-head self-attention takes, per head, the scaled scores S_n = c q_n K_n^T (c = 1/sqrt(d_head)
by default) and returns Z_n = softmax(S_n) V_n. Modern Hopfield Attention (MHA) keeps the scores as a
hidden state per head and passes it from layer to layer:

    h_n     = a' h_{n-1} + (1 - a') S_n
    x_{n+1} = a x_n + (1 - a) softmax(h_n) V_n

With a' = 0 it is standard attention. Its update also replaces the residual x + Z by the convex mix
a x + (1 - a) Z, so the matched control for MHA is standard attention with the same convex skip.

Choices the paper leaves open are options of `AttentionConfig`:
- `start`: h begins as the first layer's scores, h_1 = S_1 ("scores", default), or from h_0 = 0,
  so h_1 = (1 - a') S_1 ("zeros").
- the causal mask is applied to the softmax input, after the moving average. Masking the scores
  before the average gives the same weights for 0 < a' < 1 (masked entries are -inf either way) and
  0 * inf at the ends, so it is not an option.
- `score_scale`: the factor c on q K^T.
- `skip`: "residual" (x + Z), "convex" (a x + (1 - a) Z) or "none" (Z: pure attention).
- `mlp_skip`: the MLP's own skip. By default "residual" (MHA changes the attention sublayer only),
  and "none" when the attention has no skip either (Dong et al.'s SAN + MLP).
"""

import math
from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn

SKIPS = ("residual", "convex", "none")
STARTS = ("scores", "zeros")

# The attention variants of the rank-collapse chapter; each also exists with an MLP as NAME_mlp.
VARIANTS = {
    "san": {"skip": "none", "hidden_state": False},  # pure attention (Dong et al.)
    "mha_noskip": {"skip": "none", "hidden_state": True},  # MHA with a = 0
    "convex_skip": {"skip": "convex", "hidden_state": False},  # the matched control: MHA's skip, no hidden state
    "mha": {"skip": "convex", "hidden_state": True},
    "residual": {"skip": "residual", "hidden_state": False},  # the standard block
}


@dataclass(frozen=True)
class AttentionConfig:
    """One transformer block's shape and attention rule (see the module docstring)."""

    width: int
    heads: int
    hidden_state: bool = False  # MHA: carry h between layers
    alpha: float = 0.5  # a, the convex skip's weight on x
    alpha_prime: float = 0.5  # a', the hidden state's weight on h_{n-1}
    skip: str = "residual"
    mlp: bool = False
    layer_norm: bool = False  # pre-norm before attention and MLP
    causal: bool = False
    mlp_skip: str | None = None  # None: "none" if skip is "none", else "residual"
    start: str = "scores"
    score_scale: float | None = None  # None: 1 / sqrt(width / heads)

    def __post_init__(self) -> None:
        if self.width % self.heads:
            raise ValueError(f"width {self.width} is not a multiple of heads {self.heads}")
        for kind in (self.skip, self.mlp_skip or "none"):
            if kind not in SKIPS:
                raise ValueError(f"unknown skip {kind!r}; choose one of {', '.join(SKIPS)}")
        if self.start not in STARTS:
            raise ValueError(f"unknown start {self.start!r}; choose one of {', '.join(STARTS)}")
        if not (0 <= self.alpha <= 1 and 0 <= self.alpha_prime <= 1):
            raise ValueError("alpha and alpha_prime must lie in [0, 1]")

    @property
    def scale(self) -> float:
        return self.score_scale if self.score_scale is not None else 1 / math.sqrt(self.width // self.heads)

    @property
    def mlp_skip_kind(self) -> str:
        if self.mlp_skip is not None:
            return self.mlp_skip
        return "none" if self.skip == "none" else "residual"


def variant(name: str, base: AttentionConfig) -> AttentionConfig:
    """The config of a named variant ("san", "mha", ..., or NAME_mlp) on top of `base`."""
    core = name.removesuffix("_mlp")
    mlp = core != name
    if core not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}; choose one of {', '.join(VARIANTS)} (or NAME_mlp)")
    return replace(base, mlp=mlp, **VARIANTS[core])


class SelfAttention(nn.Module):
    """Multi-head self-attention; with config.hidden_state, Modern Hopfield Attention."""

    def __init__(self, config: AttentionConfig) -> None:
        super().__init__()
        self.config = config
        self.qkv = nn.Linear(config.width, 3 * config.width, bias=False)
        self.out = nn.Linear(config.width, config.width, bias=False)

    def forward(self, x: Tensor, h: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """Z for tokens x (batch, tokens, width) and the new hidden state (batch, heads, tokens, tokens),
        None without one. h is the previous layer's hidden state, None at the first layer."""
        c = self.config
        B, T, _ = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, c.heads, c.width // c.heads).permute(2, 0, 3, 1, 4)
        scores = c.scale * q @ k.mT
        if c.hidden_state:
            if h is None:
                h = scores if c.start == "scores" else (1 - c.alpha_prime) * scores
            else:
                h = c.alpha_prime * h + (1 - c.alpha_prime) * scores
            logits = h
        else:
            logits = scores
        if c.causal:
            future = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
            logits = logits.masked_fill(future, -torch.inf)
        z = (torch.softmax(logits, dim=-1) @ v).transpose(1, 2).reshape(B, T, c.width)
        return self.out(z), h


def apply_skip(x: Tensor, z: Tensor, kind: str, alpha: float) -> Tensor:
    """x + z, a x + (1 - a) z, or z alone."""
    if kind == "residual":
        return x + z
    if kind == "convex":
        return alpha * x + (1 - alpha) * z
    return z


class Block(nn.Module):
    """Attention with its skip, then an optional MLP with its own."""

    def __init__(self, config: AttentionConfig) -> None:
        super().__init__()
        self.config = config
        self.norm1 = nn.LayerNorm(config.width) if config.layer_norm else nn.Identity()
        self.attention = SelfAttention(config)
        self.norm2 = nn.LayerNorm(config.width) if config.layer_norm else nn.Identity()
        self.mlp = (
            nn.Sequential(nn.Linear(config.width, 4 * config.width), nn.GELU(), nn.Linear(4 * config.width, config.width))
            if config.mlp else None
        )

    def forward(self, x: Tensor, h: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        z, h = self.attention(self.norm1(x), h)
        x = apply_skip(x, z, self.config.skip, self.config.alpha)
        if self.mlp is not None:
            x = apply_skip(x, self.mlp(self.norm2(x)), self.config.mlp_skip_kind, self.config.alpha)
        return x, h


class Transformer(nn.Module):
    """`depth` blocks, the hidden state passed from each to the next."""

    def __init__(self, config: AttentionConfig, depth: int) -> None:
        super().__init__()
        self.config = config
        self.blocks = nn.ModuleList(Block(config) for _ in range(depth))

    def forward(self, x: Tensor) -> list[Tensor]:
        """The token representations at every depth, the input included: depth + 1 tensors."""
        states, h = [x], None
        for block in self.blocks:
            x, h = block(x, h)
            states.append(x)
        return states
