"""A blind blur-kernel predictor: B x 3 x H x W photo -> what blurred it (``kernel_net``).

What it reads is not the photo but a fixed summary of it, :func:`gradient_autocorrelation`: the
autocorrelation of the luma's horizontal and vertical differences over lags -R..R, normalised by lag 0. A
natural photo's differences are nearly uncorrelated beyond a pixel or two, so for a photo blurred by k the
maps approach k's own autocorrelation (k correlated with itself) seen through a derivative: a Gaussian gives
a round blob as wide as sqrt(2) sigma, a motion of length L along theta a ridge along theta with a negative
dip at lag L (Yitzhaky & Kopeika's statistic, here in 2-D and read by a network instead of a threshold),
resampling a band limit. The summary is the same size whatever the photo's, and the same for a photo and its
crops up to sampling noise, so the network is tiny and the answer costs one FFT of the photo.

A small CNN (three stride-2 levels) reads the two (2R+1)^2 maps and returns, per photo, 8 numbers:
4 logits over :data:`KINDS` and 4 parameters (log sigma of a Gaussian, motion length / 10, cos 2 theta and
sin 2 theta of the motion angle; a line's direction is defined modulo 180 degrees, hence 2 theta).
:func:`decode` turns them into :class:`KernelGuess` records. Trained by the ``blur_kernel`` objective
(:mod:`gir.training.kernels`); used by :func:`gir.analysis.kernel.estimate_kernel`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gir.models import MODELS
from gir.models.base import resolve_preset

KINDS = ("none", "gaussian", "motion", "resample")
"""What the network tells apart: sharp, a Gaussian (defocus-like) blur, linear motion, and resampling (a
photo enlarged from fewer pixels: blurred, but by a band limit that deconvolution must not sharpen)."""
N_PARAMS = 4
LUMA = (0.299, 0.587, 0.114)

PRESETS = {
    # No published network. "small": 1.1 M parameters, the cost is the FFT of the photo, not the network.
    "small": dict(lags=20, width=24, hidden=256),
    "paper": dict(lags=20, width=48, hidden=512),
}


def gradient_autocorrelation(x: torch.Tensor, lags: int) -> torch.Tensor:
    """B x 3 (or 1) x H x W in [0, 1] -> B x 2 x (2 lags + 1) x (2 lags + 1): the autocorrelation of the luma's
    horizontal and vertical differences (mean removed, zero-padded, so no wrap-around), divided by its value
    at lag 0. Computed in float32 whatever the input dtype."""
    x = x.float()
    g = x if x.shape[1] == 1 else (x[:, :3] * x.new_tensor(LUMA).view(1, 3, 1, 1)).sum(1, keepdim=True)
    dx = g[..., :-1, 1:] - g[..., :-1, :-1]
    dy = g[..., 1:, :-1] - g[..., :-1, :-1]
    d = torch.cat([dx, dy], 1)
    d = d - d.mean(dim=(-2, -1), keepdim=True)
    h, w = d.shape[-2:]
    size = tuple(-(-(n + lags + 1) // 64) * 64 for n in (h, w))  # >= n + lags + 1 (no wrap), FFT-friendly
    f = torch.fft.rfft2(d, s=size)
    ac = torch.fft.irfft2(f * f.conj(), s=size)
    ac = torch.roll(ac, shifts=(lags, lags), dims=(-2, -1))[..., :2 * lags + 1, :2 * lags + 1]
    return ac / ac[..., lags:lags + 1, lags:lags + 1].clamp_min(1e-12)


@MODELS.register("kernel_net")
class KernelNet(nn.Module):
    """See the module docstring. ``forward(image)`` -> B x 8 (4 kind logits, 4 parameters)."""

    size_multiple = 1  # any size: the maps are the same size whatever the photo's

    def __init__(self, preset: str = "small", **overrides):
        super().__init__()
        p = self.hparams = resolve_preset("kernel_net", PRESETS, preset, overrides)
        self.lags, c, hidden = int(p["lags"]), int(p["width"]), int(p["hidden"])
        side = 2 * self.lags + 1
        for _ in range(3):
            side = (side + 1) // 2
        act = nn.GELU
        self.body = nn.Sequential(
            nn.Conv2d(2, c, 3, padding=1), act(), nn.Conv2d(c, c, 3, padding=1), act(),
            nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), act(), nn.Conv2d(2 * c, 2 * c, 3, padding=1), act(),
            nn.Conv2d(2 * c, 4 * c, 3, stride=2, padding=1), act(), nn.Conv2d(4 * c, 4 * c, 3, padding=1), act(),
            nn.Conv2d(4 * c, 4 * c, 3, stride=2, padding=1), act())
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(4 * c * side * side, hidden), act(),
                                  nn.Linear(hidden, len(KINDS) + N_PARAMS))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return gradient_autocorrelation(x, self.lags)

    def read(self, maps: torch.Tensor) -> torch.Tensor:
        """The network on precomputed :meth:`features` (training augments the maps by flips)."""
        return self.head(self.body(maps))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.read(self.features(x))


@dataclass
class KernelGuess:
    """One photo's answer: ``kind`` (the most probable of :data:`KINDS`), ``probs`` (by kind), ``sigma`` (px),
    ``length`` (px) and ``angle`` (degrees, counter-clockwise from +x as displayed, 0-180)."""

    kind: str
    probs: dict[str, float]
    sigma: float
    length: float
    angle: float


def decode(out: torch.Tensor) -> list[KernelGuess]:
    """B x 8 network outputs -> one :class:`KernelGuess` per photo."""
    out = out.detach().float().cpu()
    probs = torch.softmax(out[:, :len(KINDS)], dim=1).numpy()
    p = out[:, len(KINDS):].numpy()
    guesses = []
    for pr, (log_sigma, length10, c2, s2) in zip(probs, p):
        guesses.append(KernelGuess(
            kind=KINDS[int(np.argmax(pr))], probs={k: float(v) for k, v in zip(KINDS, pr)},
            sigma=float(np.exp(log_sigma)), length=float(10.0 * length10),
            angle=float(np.rad2deg(np.arctan2(s2, c2)) / 2.0 % 180.0)))
    return guesses


def encode_targets(kind: torch.Tensor, sigma: torch.Tensor, length: torch.Tensor, angle: torch.Tensor
                   ) -> torch.Tensor:
    """The 4 parameter targets (B x 4) of :func:`decode`'s form, from true sigma / length / angle (degrees)."""
    a = torch.deg2rad(angle.float()) * 2.0
    return torch.stack([torch.log(sigma.float().clamp_min(0.3)), length.float() / 10.0, torch.cos(a),
                        torch.sin(a)], dim=1)


def flip_maps(maps: torch.Tensor, targets: torch.Tensor, transpose: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """A mirror of the photo, applied to its maps and targets: left-right (theta -> -theta; the maps are
    point-symmetric, so up-down is the same), or with ``transpose`` the swap of x and y (theta -> 90 - theta,
    the two maps exchanged)."""
    t = targets.clone()
    if transpose:
        t[:, 2] = -t[:, 2]
        return maps.transpose(-1, -2).flip(1), t
    t[:, 3] = -t[:, 3]
    return maps.flip(-1), t


def loss_terms(out: torch.Tensor, kind: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
    """Cross-entropy over the kinds; L1 on log sigma where the truth is a Gaussian, on the length and the
    doubled angle's (cos, sin) where it is a motion."""
    out = out.float()
    n = len(KINDS)
    terms = {"ce": F.cross_entropy(out[:, :n], kind)}
    zero = out.new_zeros(())
    g, m = kind == KINDS.index("gaussian"), kind == KINDS.index("motion")
    terms["sigma"] = F.l1_loss(out[g, n], targets[g, 0]) if g.any() else zero
    terms["motion"] = (F.l1_loss(out[m, n + 1], targets[m, 1]) + F.l1_loss(out[m, n + 2:], targets[m, 2:])
                       if m.any() else zero)
    return terms
