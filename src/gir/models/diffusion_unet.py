"""Diffusion U-Net for FoundIR's residual-diffusion generalist (paper 001, sec. 4.1), registered as
``diffusion_unet``.

Two parts:

* :class:`ConditionalUNet`, the denoiser: input the diffusion state I_t and the degraded image LQ
  (concatenated, 6 channels) and the timestep t (a sinusoidal embedding through a small MLP, added as a
  per-channel bias inside every residual block); output the predicted residual R = LQ - HQ. Down- and
  up-sampling by the Haar wavelet transform (as the wavelet U-Net, :mod:`gir.models.wavelet_unet`), local
  layers only, no normalisation. Its last convolution starts at zero, so a fresh model predicts R = 0.
* :class:`DiffusionUNet`, the restoration network every tool runs: ``net(lq)`` is the deterministic
  few-step sampler of :mod:`gir.models.diffusion_process` (``steps``, default 4) with the starting noise drawn from
  a generator seeded with ``seed``, so the same input gives the same bytes; a fresh model returns its input.
  ``net(lq, state, t)`` is the training call: the denoiser's predicted residual for state I_t at integer
  timesteps t (B-vector), which the ``residual_diffusion`` objective (:mod:`gir.diffusion.objective`)
  compares with the true residual by L1.

Tiling: every layer is local, but each tile draws its own starting noise (same seed), so a tiled result is
reproducible for a given tiling, not equal to the untiled one; the descriptor says ``local`` because tiles
need no global statistics.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gir.models import MODELS
from gir.models.base import ModelConfigError, RestorationNet, resolve_preset
from gir.models.diffusion_process import Schedule, sample
from gir.models.layers import conv3x3, haar_dwt, haar_iwt, zero_init_

PRESETS = {
    # CPU size: three wavelet levels of 32 / 64 / 96 channels, one block each, two in the middle.
    "cpu": dict(channels=(32, 64, 96), blocks=1, mid_blocks=2, time_dim=64),
    "small": dict(channels=(32, 64, 96), blocks=1, mid_blocks=2, time_dim=64),
    # GPU size (paper 001 gives no widths for its U-Net): four levels, two blocks each.
    "paper": dict(channels=(64, 128, 256, 512), blocks=2, mid_blocks=4, time_dim=256),
}
for _p in PRESETS.values():
    _p.setdefault("timesteps", 1000)
    _p.setdefault("gamma_T", 0.3)
    _p.setdefault("noise", 1.0)
    _p.setdefault("steps", 4)
    _p.setdefault("seed", 0)


def timestep_embedding(t: torch.Tensor, dim: int, scale: float) -> torch.Tensor:
    """B integer timesteps -> B x dim sinusoidal features of t / scale * 1000 (half sines, half cosines)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    arg = (t.float() * (1000.0 / scale))[:, None] * freqs[None]
    emb = torch.cat([torch.sin(arg), torch.cos(arg)], dim=1)
    return F.pad(emb, (0, dim - 2 * half))


class TimeResBlock(nn.Module):
    """x + conv(relu(conv(relu(x)) + bias(t))): a residual block whose features are shifted per channel by the
    timestep embedding."""

    def __init__(self, c: int, time_dim: int):
        super().__init__()
        self.conv1, self.conv2 = conv3x3(c, c), conv3x3(c, c)
        self.time = nn.Linear(time_dim, c)

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.relu(x)) + self.time(temb)[:, :, None, None]
        return x + self.conv2(F.relu(h))


class ConditionalUNet(nn.Module):
    """(I_t, LQ, t) -> predicted residual, B x 3 x H x W each (H, W multiples of 2 ** levels)."""

    def __init__(self, channels, blocks: int, mid_blocks: int, time_dim: int, timesteps: int, in_ch: int = 6,
                 out_ch: int = 3):
        super().__init__()
        chans = list(channels)
        self.timesteps, self.time_dim = int(timesteps), int(time_dim)
        self.time_mlp = nn.Sequential(nn.Linear(time_dim, time_dim), nn.SiLU(), nn.Linear(time_dim, time_dim))
        ins = [in_ch, *chans[:-1]]
        self.enc_convs = nn.ModuleList(conv3x3(4 * cin, c) for cin, c in zip(ins, chans))
        self.encoders = nn.ModuleList(nn.ModuleList(TimeResBlock(c, time_dim) for _ in range(blocks)) for c in chans)
        self.middle = nn.ModuleList(TimeResBlock(chans[-1], time_dim) for _ in range(mid_blocks))
        self.decoders = nn.ModuleList(nn.ModuleList(TimeResBlock(c, time_dim) for _ in range(blocks)) for c in chans)
        outs = [out_ch, *chans[:-1]]  # channels each decoder level hands back after the inverse DWT
        self.dec_convs = nn.ModuleList(conv3x3(c, 4 * cout) for c, cout in zip(chans, outs))
        zero_init_(self.dec_convs[0])

    def forward(self, x_t: torch.Tensor, lq: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        temb = self.time_mlp(timestep_embedding(t, self.time_dim, self.timesteps))
        h, skips = torch.cat([x_t, lq], dim=1), []
        for conv, blocks in zip(self.enc_convs, self.encoders):
            h = conv(haar_dwt(h))
            for b in blocks:
                h = b(h, temb)
            skips.append(h)
        for b in self.middle:
            h = b(h, temb)
        for k in reversed(range(len(self.decoders))):
            h = h + skips[k]
            for b in self.decoders[k]:
                h = b(h, temb)
            h = F.relu(h) if k else h
            h = haar_iwt(self.dec_convs[k](h))
        return h


@MODELS.register("diffusion_unet")
class DiffusionUNet(RestorationNet):
    """Residual-diffusion restorer: ``net(lq)`` samples, ``net(lq, state, t)`` predicts the residual (see the
    module docstring). Hyper-parameters: the U-Net's (``channels``, ``blocks``, ``mid_blocks``,
    ``time_dim``) and the process's (``timesteps``, ``gamma_T`` in [0, 1] or null for no condition term,
    ``noise`` = dbar_T, sampling ``steps``, noise ``seed``)."""

    def __init__(self, preset: str = "cpu", **overrides):
        super().__init__()
        p = self.hparams = resolve_preset("diffusion_unet", PRESETS, preset, overrides)
        try:
            self.schedule = Schedule(int(p["timesteps"]), p["gamma_T"], float(p["noise"]))
            self.schedule.sampling_times(int(p["steps"]))
        except ValueError as e:
            raise ModelConfigError(f"diffusion_unet: {e}") from None
        self.steps, self.seed = int(p["steps"]), int(p["seed"])
        self.denoiser = ConditionalUNet(p["channels"], p["blocks"], p["mid_blocks"], p["time_dim"], p["timesteps"])
        self.size_multiple = 2 ** len(p["channels"])

    @property
    def feature_levels(self) -> tuple[str, ...]:
        """Encoder features: the last block of each encoder level, then the last middle block (the first
        denoiser call of a sampling pass, t = T, is the one the feature hooks keep)."""
        last, n, mid = self.hparams["blocks"] - 1, len(self.hparams["channels"]), self.hparams["mid_blocks"] - 1
        return (*(f"denoiser.encoders.{k}.{last}" for k in range(n)), f"denoiser.middle.{mid}")

    def predict(self, state: torch.Tensor, lq: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The predicted residual for state I_t of ``lq`` at timesteps ``t`` (H, W multiples of size_multiple)."""
        return self.denoiser(state, lq, t)

    def body(self, x: torch.Tensor) -> torch.Tensor:
        gen = torch.Generator().manual_seed(self.seed)
        # one noise field for every image of the batch, so an image's result does not depend on its batch
        eps = torch.randn((1, *x.shape[1:]), generator=gen, dtype=torch.float32).to(device=x.device, dtype=x.dtype)
        return sample(self.predict, x, self.schedule, self.steps, eps=eps.expand_as(x))

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None, t: torch.Tensor | None = None,
                ) -> torch.Tensor:
        if state is None:
            return super().forward(x)
        if t is None:
            raise ModelConfigError("diffusion_unet: a training call needs the timesteps t with the state")
        return self.predict(state, x, t)
