"""SwinIR (Liang et al. 2021) for same-resolution restoration (its denoising / JPEG configuration).

Shallow 3x3 conv; residual Swin transformer blocks (RSTB: ``depth`` Swin layers + 3x3 conv + skip); layer
norm; 3x3 conv with a long skip; 3x3 output conv; output = input + correction (the output conv starts at
zero, so a fresh model is the identity). A Swin layer runs multi-head self-attention inside non-overlapping
``window`` x ``window`` windows with a learned relative position bias, every second layer on windows
shifted by window/2 (cyclic roll + mask so that pixels that were not neighbours do not attend to each
other), then an MLP; both pre-norm with residuals. Inputs are padded to a multiple of the window.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gir.models import MODELS
from gir.models.base import ModelConfigError, RestorationNet, latter_blocks, resolve_preset
from gir.models.layers import conv3x3, zero_init_

# "paper": SwinIR's colour denoising / JPEG model.
PRESETS = {
    "paper": dict(embed_dim=180, depths=(6, 6, 6, 6, 6, 6), heads=(6, 6, 6, 6, 6, 6), window=8, mlp_ratio=2.0),
    "small": dict(embed_dim=24, depths=(2, 2), heads=(2, 2), window=8, mlp_ratio=2.0),
}


def window_partition(x: torch.Tensor, ws: int) -> torch.Tensor:
    """B x H x W x C -> (B * nW) x ws*ws x C, windows in row-major order."""
    b, h, w, c = x.shape
    x = x.view(b, h // ws, ws, w // ws, ws, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, ws * ws, c)


def window_merge(windows: torch.Tensor, ws: int, b: int, h: int, w: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`."""
    c = windows.shape[-1]
    x = windows.view(b, h // ws, w // ws, ws, ws, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h, w, c)


def relative_position_index(ws: int) -> torch.Tensor:
    """ws*ws x ws*ws index into a (2ws-1)^2 table of relative offsets (dy, dx) between window positions."""
    yy, xx = torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing="ij")
    coords = torch.stack([yy.flatten(), xx.flatten()])  # 2 x N
    rel = coords[:, :, None] - coords[:, None, :] + (ws - 1)  # 2 x N x N, each in [0, 2ws-2]
    return rel[0] * (2 * ws - 1) + rel[1]


def shifted_window_mask(h: int, w: int, ws: int, shift: int, device=None,
                        dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """nW x N x N additive mask (0 or -inf) for attention on the image rolled by -shift: positions that come
    from different regions of the unrolled image must not attend to each other."""
    region = torch.zeros(h, w, device=device)
    label = 0
    for rows in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
        for cols in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
            region[rows, cols] = label
            label += 1
    win = window_partition(region.view(1, h, w, 1), ws).squeeze(-1)  # nW x N
    different = win[:, :, None] != win[:, None, :]
    return torch.zeros(different.shape, device=device, dtype=dtype).masked_fill(different, float("-inf"))


class WindowAttention(nn.Module):
    def __init__(self, dim: int, heads: int, ws: int):
        super().__init__()
        if dim % heads:
            raise ModelConfigError(f"swinir: {dim} channels cannot be split into {heads} heads")
        self.heads, self.ws = heads, ws
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.bias_table = nn.Parameter(torch.zeros((2 * ws - 1) ** 2, heads))
        nn.init.trunc_normal_(self.bias_table, std=0.02)
        self.register_buffer("bias_index", relative_position_index(ws), persistent=False)

    def forward(self, x: torch.Tensor, batch: int, mask: torch.Tensor | None) -> torch.Tensor:
        """x: (batch * nW) x N x C windows; mask: nW x N x N or None."""
        bw, n, c = x.shape
        nw, hd = bw // batch, c // self.heads
        qkv = self.qkv(x).view(bw, n, 3, self.heads, hd).permute(2, 0, 3, 1, 4)  # 3 x bw x heads x N x hd
        q, k, v = qkv.unbind(0)
        bias = self.bias_table[self.bias_index.view(-1)].view(n, n, self.heads).permute(2, 0, 1)  # heads x N x N
        if mask is None:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.unsqueeze(0))
        else:
            # Fold windows into the head axis so the per-window mask broadcasts over the batch only.
            fold = lambda t: t.reshape(batch, nw * self.heads, n, hd)
            attn_bias = (bias.unsqueeze(0) + mask.unsqueeze(1)).reshape(1, nw * self.heads, n, n)
            out = F.scaled_dot_product_attention(fold(q), fold(k), fold(v), attn_mask=attn_bias)
        out = out.reshape(bw, self.heads, n, hd).transpose(1, 2).reshape(bw, n, c)
        return self.proj(out)


class SwinLayer(nn.Module):
    def __init__(self, dim: int, heads: int, ws: int, shift: int, mlp_ratio: float):
        super().__init__()
        self.ws, self.shift = ws, shift
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, heads, ws)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self._masks: dict[tuple, torch.Tensor] = {}

    def _mask(self, h: int, w: int, like: torch.Tensor) -> torch.Tensor:
        key = (h, w, str(like.device), like.dtype)
        if key not in self._masks:
            if len(self._masks) > 8:
                self._masks.clear()
            self._masks[key] = shifted_window_mask(h, w, self.ws, self.shift, like.device, like.dtype)
        return self._masks[key]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: B x H x W x C with H, W multiples of the window."""
        b, h, w, c = x.shape
        y = self.norm1(x)
        mask = None
        if self.shift:
            y = torch.roll(y, (-self.shift, -self.shift), dims=(1, 2))
            mask = self._mask(h, w, x)
        y = window_merge(self.attn(window_partition(y, self.ws), b, mask), self.ws, b, h, w)
        if self.shift:
            y = torch.roll(y, (self.shift, self.shift), dims=(1, 2))
        x = x + y
        return x + self.mlp(self.norm2(x))


class RSTB(nn.Module):
    """Residual Swin transformer block: Swin layers (alternating unshifted / shifted), 3x3 conv, skip."""

    def __init__(self, dim: int, depth: int, heads: int, ws: int, mlp_ratio: float):
        super().__init__()
        self.layers = nn.ModuleList(
            SwinLayer(dim, heads, ws, 0 if i % 2 == 0 else ws // 2, mlp_ratio) for i in range(depth))
        self.conv = conv3x3(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: B x H x W x C."""
        y = x
        for layer in self.layers:
            y = layer(y)
        y = self.conv(y.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return x + y


@MODELS.register("swinir")
class SwinIR(RestorationNet):
    feature_layout = "nhwc"  # an RSTB group maps B x H x W x C tokens to B x H x W x C

    def __init__(self, preset: str = "small", in_ch: int = 3, **overrides):
        super().__init__()
        p = self.hparams = resolve_preset("swinir", PRESETS, preset, overrides)
        dim, depths, heads, ws = p["embed_dim"], list(p["depths"]), list(p["heads"]), int(p["window"])
        if len(depths) != len(heads):
            raise ModelConfigError(f"swinir: depths and heads need the same length, got {depths} / {heads}")
        if ws < 2 or ws % 2:
            raise ModelConfigError(f"swinir: window must be an even number >= 2, got {ws}")
        self.window = self.size_multiple = ws
        self.conv_first = conv3x3(in_ch, dim)
        self.embed_norm = nn.LayerNorm(dim)
        self.groups = nn.ModuleList(RSTB(dim, d, h, ws, p["mlp_ratio"]) for d, h in zip(depths, heads))
        self.norm = nn.LayerNorm(dim)
        self.conv_after_body = conv3x3(dim, dim)
        self.conv_last = zero_init_(conv3x3(dim, in_ch))
        self.apply(_init_transformer)

    @property
    def feature_levels(self) -> tuple[str, ...]:
        """Encoder features: up to 4 evenly spaced RSTB groups of the body's latter half, ending with the last."""
        return latter_blocks("groups", len(self.groups))

    def body(self, x: torch.Tensor) -> torch.Tensor:
        shallow = self.conv_first(x)
        f = self.embed_norm(shallow.permute(0, 2, 3, 1))
        for group in self.groups:
            f = group(f)
        f = self.norm(f).permute(0, 3, 1, 2)
        f = shallow + self.conv_after_body(f)
        return x + self.conv_last(f)


def _init_transformer(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)
