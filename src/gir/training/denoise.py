"""The ``denoise`` objective: a noise-level-conditioned denoiser (FFDNet's noise map; the prior of the
plug-and-play solver, :mod:`gir.restore.pnp`) trained on noise drawn on the fly.

Each clean patch of the batch gets its own noise, drawn in torch from the engine's per-iteration seed (the
same seed gives the same noise):

* Gaussian (weight ``1 - poisson``): sigma uniform in ``sigma`` (0-255 scale; 0 = a clean patch, which the
  network must leave alone), or, in a share ``low[0]`` of the patches, uniform in 0-``low[1]`` (where the
  network must come close to the identity); i.i.d. per pixel and channel, or one field shared by R, G, B
  (``gray``);
* Poisson-Gaussian (weight ``poisson``): photon shot noise Poisson(x * peak) / peak with ``peak``
  log-uniform in ``peak``, plus Gaussian read noise uniform in ``read`` (the signal-dependent noise of a
  sensor). The map the network is told is the true per-pixel std sqrt(x / peak + read^2) in half of these
  samples and its root-mean-square (one number, what a global estimate gives) in the other half;
* camera noise (a share ``correlated[0]`` of the Gaussian patches): the library's ``camera_noise`` in torch,
  a luma field shared by R, G, B plus 0.1-1 of colour noise, blurred by a Gaussian of ``correlated[1]``-
  ``correlated[2]`` px (demosaicking, in-camera processing) and rescaled to unit variance, its variance
  growing with the signal by a share 0-1 (shot noise); the network is told sigma at mid grey, one number
  (what the analyzer measures: :func:`gir.analysis.families` labels ``camera_noise`` by it).

With probability ``clip`` the noisy patch is clipped to [0, 1] and then, with probability ``quantize``,
rounded to 8 bits (photos as users have them); otherwise it stays float and unclipped (the published
protocol of the denoising benchmarks). The network gets ``cond``: the encoded map, sigma / 75 per pixel
(:data:`gir.models.conditioning.CONDITIONS` ``noise.sigma``).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from gir.training.objectives import OBJECTIVES, Restore, StepResult

SIGMA_SCALE = 75.0  # the encoding of noise.sigma (value / scale)


def _uniform(n: int, lo: float, hi: float) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n)


def _pair(value, name: str) -> tuple[float, float]:
    lo, hi = (float(v) for v in value)
    if not 0 <= lo <= hi:
        raise ValueError(f"{name} must be [low, high] with 0 <= low <= high, got {list(value)}")
    return lo, hi


def _gaussian_blur(x: torch.Tensor, std: float) -> torch.Tensor:
    """``x`` (1 x C x H x W) blurred per channel by a Gaussian of ``std`` px (reflected borders)."""
    r = max(1, math.ceil(3 * std))
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (t / std) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    x = torch.nn.functional.pad(x, (r, r, r, r), mode="reflect")
    x = torch.nn.functional.conv2d(x, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return torch.nn.functional.conv2d(x, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def camera_field(gt: torch.Tensor, correlation: float, chroma: float, shot: float) -> torch.Tensor:
    """A camera-noise field (1 x 3 x H x W) for one clean patch ``gt`` (1 x 3 x H x W), scaled so that its
    std at mid grey is 1: luma noise shared by the channels plus ``chroma`` of colour noise, blurred by
    ``correlation`` px and rescaled to unit variance, times sqrt(shot * 2 * luma + 1 - shot)."""
    _, c, h, w = gt.shape
    field = (torch.randn(1, 1, h, w) + chroma * torch.randn(1, c, h, w)) / math.sqrt(1.0 + chroma * chroma)
    if correlation > 0:
        field = _gaussian_blur(field, correlation)
        field = field / field.std().clamp_min(1e-6)
    luma = gt.mean(1, keepdim=True).clamp(0, 1)
    return field * (shot * 2.0 * luma + 1.0 - shot).sqrt()


def synthesize_noise(gt: torch.Tensor, sigma=(0.0, 75.0), poisson: float = 0.25, peak=(4.0, 300.0),
                     read=(0.0, 15.0), gray: float = 0.1, clip: float = 0.5, quantize: float = 0.8,
                     low: tuple[float, float] = (0.0, 0.0),
                     correlated: tuple[float, float, float] = (0.0, 0.3, 1.5)) -> tuple[torch.Tensor, torch.Tensor]:
    """(noisy B x C x H x W, encoded noise map B x 1 x H x W) for a clean float batch ``gt`` in [0, 1], drawn
    from torch's global generator (see the module docstring for the distribution)."""
    b, c, h, w = gt.shape
    gt = gt.float()
    is_poisson = torch.rand(b) < poisson
    shared = torch.rand(b) < gray
    sig = _uniform(b, *sigma) / 255.0
    if low[0] > 0:  # a share of the Gaussian samples drawn in [0, low[1]] instead (the identity near 0)
        sig = torch.where(torch.rand(b) < low[0], _uniform(b, 0.0, low[1]) / 255.0, sig)
    lo, hi = peak
    pk = torch.exp(_uniform(b, math.log(lo), math.log(hi)))
    rd = _uniform(b, *read) / 255.0
    field = torch.randn(b, c, h, w)
    field = torch.where(shared[:, None, None, None], field[:, :1].expand(b, c, h, w), field)
    if correlated[0] > 0:  # camera noise in a share of the Gaussian samples
        for i in (torch.rand(b) < correlated[0]).nonzero()[:, 0].tolist():
            corr, chroma, shot = (float(v) for v in torch.rand(3))
            field[i] = camera_field(gt[i:i + 1], correlated[1] + corr * (correlated[2] - correlated[1]),
                                    0.1 + 0.9 * chroma, shot)[0]
    gauss = gt + sig[:, None, None, None] * field
    std_map = sig[:, None, None, None].expand(b, 1, h, w).clone()
    if is_poisson.any():
        idx = is_poisson.nonzero()[:, 0]
        x = gt[idx].clamp_min(0)
        p = pk[idx][:, None, None, None]
        r = rd[idx][:, None, None, None]
        shot = torch.poisson(x * p) / p
        gauss[idx] = shot + r * torch.randn_like(x)
        local = (x.mean(1, keepdim=True) / p + r * r).sqrt()
        rms = local.pow(2).mean((1, 2, 3), keepdim=True).sqrt().expand_as(local)
        per_pixel = torch.rand(len(idx))[:, None, None, None] < 0.5
        std_map[idx] = torch.where(per_pixel, local, rms)
    clipped = torch.rand(b) < clip
    rounded = clipped & (torch.rand(b) < quantize)
    noisy = torch.where(clipped[:, None, None, None], gauss.clamp(0, 1), gauss)
    noisy = torch.where(rounded[:, None, None, None], torch.round(noisy * 255.0) / 255.0, noisy)
    return noisy, std_map * (255.0 / SIGMA_SCALE)


@OBJECTIVES.register("denoise")
class Denoise(Restore):
    """GT -> (noise drawn here) -> network with the noise map -> L over GT with the config's ``loss`` terms.
    The data section supplies clean patches (a mix whose task leaves them clean); validation is
    :class:`Restore`'s (the recipes' ``noise.sigma`` told to the network)."""

    def __init__(self, sigma=(0.0, 75.0), poisson: float = 0.25, peak=(4.0, 300.0), read=(0.0, 15.0),
                 gray: float = 0.1, clip: float = 0.5, quantize: float = 0.8, low=(0.0, 0.0),
                 correlated=(0.0, 0.3, 1.5)):
        for name, v in (("poisson", poisson), ("gray", gray), ("clip", clip), ("quantize", quantize)):
            if not 0 <= float(v) <= 1:
                raise ValueError(f"{name} must be a probability in [0, 1], got {v}")
        lo, hi = _pair(peak, "peak")
        if lo <= 0:
            raise ValueError(f"peak must be > 0, got {list(peak)}")
        share, top = (float(v) for v in low)
        if not 0 <= share <= 1 or top < 0:
            raise ValueError(f"low must be [share in 0-1, sigma max >= 0], got {list(low)}")
        if len(correlated) != 3 or not 0 <= float(correlated[0]) <= 1:
            raise ValueError(f"correlated must be [share in 0-1, px low, px high], got {list(correlated)}")
        corr = (float(correlated[0]), *_pair(correlated[1:], "correlated px"))
        self.kw = dict(sigma=_pair(sigma, "sigma"), poisson=float(poisson), peak=(lo, hi),
                       read=_pair(read, "read"), gray=float(gray), clip=float(clip), quantize=float(quantize),
                       low=(share, top), correlated=corr)

    def bind(self, model: nn.Module, loss, device, cfg):
        super().bind(model, loss, device, cfg)
        from gir.data.errors import ConfigError

        if not getattr(model, "noise_map", False):
            raise ConfigError("config: objective denoise needs a noise-map network (e.g. wavelet_unet with "
                              "noise_map: true, conditions: [noise.sigma])")

    def step(self, net, batch, lq, gt, t, phase=0):
        noisy, noise_map = synthesize_noise(gt.cpu(), **self.kw)
        noisy, noise_map = noisy.to(self.device), noise_map.to(self.device)
        pred = net(noisy, cond=noise_map)
        total, terms = self.loss(pred, gt)
        with torch.no_grad():
            per_sample = (pred.detach().float() - gt).abs().flatten(1).mean(1)
        return StepResult(total, terms, per_sample, pred)
