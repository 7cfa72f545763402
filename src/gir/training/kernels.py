"""The ``blur_kernel`` objective: the blind kernel predictor (``kernel_net``, :mod:`gir.models.kernelnet`)
trained on blur drawn on the fly over clean patches.

Per patch, one of :data:`gir.models.kernelnet.KINDS` (weights ``mix``):

* ``none``: the patch as it is;
* ``gaussian``: sigma log-uniform in ``sigma_range``, slightly elongated (axis ratio up to ``max_ratio``, any
  direction: real defocus and lens blur are not perfectly round);
* ``motion``: a straight line of length uniform in ``length_range`` at an angle uniform in 0-180 degrees
  (:func:`gir.degradations.kernels.motion_kernel`);
* ``resample``: shrunk by a factor uniform in ``scale_range`` (area, antialiased bicubic or plain bilinear)
  and enlarged back (bicubic or bilinear).

The blur is applied by FFT on the reflect-padded batch (a convolution with reflected borders, as
``cv2.filter2D`` with ``BORDER_REFLECT_101`` does for these point-symmetric kernels). Then sensor noise
(sigma uniform in 0-``noise`` on the 0-255 scale, on ``noisy`` of the patches), rounding to 8 bits, and
Pillow JPEG at quality 60-95 on ``jpeg`` of them: the residue of what the pipeline's earlier steps leave.
On ``denoised`` of the patches the noise is heavier (sigma 5-30) and the shipped denoiser (``gir-denoiser``,
told that sigma times a factor in ``told``, as an estimate would be) removes it, as the pipeline's denoising
step does before deblurring: its smoothing must not be read as blur, nor hide the blur there was. On
``dejpeg`` of them the noise is light (0-10), the JPEG heavy (quality 20-60) and the shipped JPEG expert
(``gir-expert-jpeg``, told the quality) removes it, as the pipeline's JPEG step does first.
A batch's draws come from a numpy generator seeded by torch's per-iteration generator, so a run seed
gives the same batches. The network's maps are mirrored at random (left-right, and x/y swapped) with their
targets, which makes the answer independent of the direction a photo was taken.

Validation: each validation image under a fixed list of blurs (:data:`VAL_BLURS`), scored by the share of
kinds told right (the score), the median relative error of sigma, and the median length and angle errors
of motion.
"""
from __future__ import annotations

import io
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from gir.models.kernelnet import KINDS, decode, encode_targets, flip_maps, loss_terms
from gir.training.objectives import OBJECTIVES, Objective, StepResult, eval_mode, val_ground_truths

PAD = 16  # kernels up to 33 x 33
VAL_BLURS = (("none", 0.0, 0.0, 0.0, 0.0), ("gaussian", 1.0, 0.0, 0.0, 0.0), ("gaussian", 1.6, 0.0, 0.0, 0.0),
             ("gaussian", 2.4, 0.0, 0.0, 0.0), ("motion", 0.0, 7.0, 30.0, 0.0),
             ("motion", 0.0, 11.0, 100.0, 0.0), ("motion", 0.0, 17.0, 155.0, 0.0),
             ("resample", 0.0, 0.0, 0.0, 2.0), ("resample", 0.0, 0.0, 0.0, 3.0))
"""(kind, sigma, length, angle, scale) of the validation blurs."""


def blur_kernel_array(kind: str, sigma: float, length: float, angle: float, ratio: float = 1.0,
                      theta: float = 0.0) -> np.ndarray | None:
    """The kernel of one draw (float32, odd, sums to 1, at most 2 PAD + 1 a side), None for no kernel."""
    from gir.degradations.kernels import gaussian_kernel, motion_kernel

    if kind == "gaussian":
        s1, s2 = sigma * ratio ** 0.5, sigma / ratio ** 0.5
        size = min(2 * PAD + 1, 2 * int(np.ceil(3 * max(s1, s2))) + 1)
        return gaussian_kernel(size, s1, s2, theta)
    if kind == "motion":
        return motion_kernel(length, angle)
    return None


def convolve_batch(x: torch.Tensor, kernels: list[np.ndarray | None]) -> torch.Tensor:
    """Each image of ``x`` (B x C x H x W) convolved with its kernel (None: unchanged), reflected borders."""
    b, _, h, w = x.shape
    canvas = torch.zeros(b, 1, 2 * PAD + 1, 2 * PAD + 1, dtype=torch.float32)
    for i, k in enumerate(kernels):
        if k is None:
            canvas[i, 0, PAD, PAD] = 1.0
            continue
        r = k.shape[0] // 2
        canvas[i, 0, PAD - r:PAD + r + 1, PAD - r:PAD + r + 1] = torch.from_numpy(np.asarray(k, np.float32))
    xp = F.pad(x.float(), (PAD, PAD, PAD, PAD), mode="reflect")
    size = xp.shape[-2:]
    y = torch.fft.irfft2(torch.fft.rfft2(xp) * torch.fft.rfft2(canvas.to(xp.device), s=size), s=size)
    return y[..., 2 * PAD:2 * PAD + h, 2 * PAD:2 * PAD + w]


def resample(x: torch.Tensor, scale: float, down: str, up: str) -> torch.Tensor:
    """One image (1 x C x H x W) shrunk by ``scale`` with mode ``down`` and enlarged back with ``up``."""
    h, w = x.shape[-2:]
    small = (max(4, round(h / scale)), max(4, round(w / scale)))
    if down == "area":
        s = F.interpolate(x, size=small, mode="area")
    else:
        s = F.interpolate(x, size=small, mode=down, align_corners=False, antialias=down == "bicubic")
    return F.interpolate(s, size=(h, w), mode=up, align_corners=False)


def jpeg_roundtrip(img8: np.ndarray, quality: int) -> np.ndarray:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img8).save(buf, "JPEG", quality=int(quality))
    return np.asarray(Image.open(buf).convert("RGB"))


class BlurDraw:
    """The random draw of one patch (see the module docstring)."""

    def __init__(self, mix=(0.2, 0.35, 0.35, 0.1), sigma_range=(0.5, 3.2), max_ratio: float = 1.25,
                 length_range=(3.0, 25.0), scale_range=(1.5, 4.0), noise: float = 3.0, noisy: float = 0.7,
                 jpeg: float = 0.25, denoised: float = 0.0, dejpeg: float = 0.0, told=(1.0, 1.0)):
        mix = np.asarray(mix, dtype=np.float64)
        if mix.shape != (len(KINDS),) or (mix < 0).any() or mix.sum() <= 0:
            raise ValueError(f"mix needs {len(KINDS)} non-negative weights ({', '.join(KINDS)}), got {list(mix)}")
        if not 0 < sigma_range[0] < sigma_range[1] or not 2 <= length_range[0] < length_range[1] <= 2 * PAD - 2:
            raise ValueError(f"sigma_range must be increasing and > 0, length_range within 2-{2 * PAD - 2}")
        self.mix = mix / mix.sum()
        self.sigma_range, self.max_ratio = tuple(map(float, sigma_range)), float(max_ratio)
        self.length_range, self.scale_range = tuple(map(float, length_range)), tuple(map(float, scale_range))
        self.noise, self.noisy, self.jpeg, self.denoised = float(noise), float(noisy), float(jpeg), float(denoised)
        self.dejpeg, self.told = float(dejpeg), tuple(map(float, told))
        if self.denoised + self.dejpeg > 1 or not 0 < self.told[0] <= self.told[1]:
            raise ValueError("denoised + dejpeg must be at most 1, told an increasing range of factors > 0")

    def draw(self, rng: np.random.Generator) -> dict:
        kind = KINDS[int(rng.choice(len(KINDS), p=self.mix))]
        d = {"kind": kind, "sigma": 0.0, "length": 0.0, "angle": 0.0, "kernel": None, "resample": None}
        if kind == "gaussian":
            lo, hi = np.log(self.sigma_range)
            d["sigma"] = float(np.exp(rng.uniform(lo, hi)))
            d["kernel"] = blur_kernel_array("gaussian", d["sigma"], 0, 0, float(rng.uniform(1.0, self.max_ratio)),
                                            float(rng.uniform(0, np.pi)))
        elif kind == "motion":
            d["length"], d["angle"] = float(rng.uniform(*self.length_range)), float(rng.uniform(0.0, 180.0))
            d["kernel"] = blur_kernel_array("motion", 0, d["length"], d["angle"])
        elif kind == "resample":
            d["resample"] = (float(rng.uniform(*self.scale_range)), ("area", "bicubic", "bilinear")[rng.integers(3)],
                             ("bicubic", "bilinear")[rng.integers(2)])
        d["noise"] = float(rng.uniform(0.0, self.noise)) if rng.random() < self.noisy else 0.0
        d["jpeg"] = int(rng.integers(60, 96)) if rng.random() < self.jpeg else 0
        u = rng.random()
        d["denoise"], d["dejpeg"] = u < self.denoised, self.denoised <= u < self.denoised + self.dejpeg
        if d["denoise"]:
            d["noise"], d["jpeg"] = float(rng.uniform(5.0, 30.0)), 0
            d["told"] = d["noise"] * float(rng.uniform(*self.told))
        if d["dejpeg"]:
            d["noise"], d["jpeg"] = float(rng.uniform(0.0, 10.0)), int(rng.integers(20, 61))
        return d


def degrade_batch(gt: torch.Tensor, draws: list[dict], seed: int, prior=None, dejpeg=None) -> torch.Tensor:
    """The clean batch (B x 3 x H x W, 0-1) degraded by each patch's draw: blur, noise (a torch generator
    seeded by ``seed``), 8 bits, JPEG; ``prior(image, sigma)`` denoises the draws that ask for it,
    ``dejpeg(image, quality)`` removes the JPEG of those that ask for that (HxWx3 float32 0-1 -> same)."""
    clean = gt.detach().float().cpu()
    x = convolve_batch(clean, [d["kernel"] for d in draws])
    for i, d in enumerate(draws):
        if d["resample"] is not None:
            x[i:i + 1] = resample(clean[i:i + 1], *d["resample"])
    sigma = torch.tensor([d["noise"] for d in draws], dtype=torch.float32).view(-1, 1, 1, 1) / 255.0
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(int(seed)))
    x = torch.round((x + sigma * noise).clamp(0.0, 1.0) * 255.0)
    for i, d in enumerate(draws):
        if d["jpeg"]:
            a8 = x[i].permute(1, 2, 0).numpy().astype(np.uint8)
            x[i] = torch.from_numpy(jpeg_roundtrip(a8, d["jpeg"]).astype(np.float32)).permute(2, 0, 1)
    x = x / 255.0
    for i, d in enumerate(draws):
        if d.get("denoise") and prior is not None:
            out = prior(np.ascontiguousarray(x[i].permute(1, 2, 0).numpy()), d.get("told", d["noise"]))
        elif d.get("dejpeg") and dejpeg is not None:
            out = dejpeg(np.ascontiguousarray(x[i].permute(1, 2, 0).numpy()), d["jpeg"])
        else:
            continue
        x[i] = torch.round(torch.from_numpy(np.asarray(out, np.float32)).permute(2, 0, 1) * 255.0) / 255.0
    return x.to(gt.device)


def draw_targets(draws: list[dict], device) -> tuple[torch.Tensor, torch.Tensor]:
    kind = torch.tensor([KINDS.index(d["kind"]) for d in draws], device=device)
    t = encode_targets(kind, *(torch.tensor([d[k] for d in draws], device=device)
                               for k in ("sigma", "length", "angle")))
    return kind, t


@OBJECTIVES.register("blur_kernel")
class BlurKernel(Objective):
    """See the module docstring; the keyword arguments are :class:`BlurDraw`'s, and ``val_seed``."""

    def __init__(self, val_seed: int = 0, denoiser: str = "gir-denoiser", jpeg_expert: str = "gir-expert-jpeg",
                 **draw):
        try:
            self.draw = BlurDraw(**draw)
        except TypeError as e:
            raise ValueError(str(e)) from None
        self.val_seed, self.denoiser, self._prior = int(val_seed), str(denoiser), None
        self.jpeg_expert, self._dejpeg = str(jpeg_expert), None

    def prior(self):
        """The denoiser of the ``denoised`` draws (loaded on first use; None when none are drawn)."""
        if self._prior is None and self.draw.denoised > 0:
            from gir.restore.pnp import denoiser_prior

            self._prior = denoiser_prior(self.denoiser)
        return self._prior

    def dejpeg(self):
        """The JPEG expert of the ``dejpeg`` draws, as ``(image, quality) -> image`` (None when none are
        drawn)."""
        if self._dejpeg is None and self.draw.dejpeg > 0:
            from gir.restore.experts import NetworkExpert

            expert = NetworkExpert("jpeg", ("jpeg",), "network", self.jpeg_expert, model=self.jpeg_expert)
            self._dejpeg = lambda img, q: expert(img, strengths={"jpeg.quality": float(q)})
        return self._dejpeg

    def bind(self, model, loss, device, cfg):
        super().bind(model, loss, device, cfg)
        from gir.data.errors import ConfigError

        if not hasattr(model, "features") or not hasattr(model, "read"):
            raise ConfigError("config: objective blur_kernel needs a kernel predictor (model type kernel_net)")

    def step(self, net, batch, lq, gt, t, phase=0):
        rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,))))
        draws = [self.draw.draw(rng) for _ in range(gt.shape[0])]
        x = degrade_batch(gt, draws, int(rng.integers(2**62)), self.prior(), self.dejpeg())
        kind, targets = draw_targets(draws, gt.device)
        maps = net.features(x)
        for transpose in (False, True):
            if torch.rand(()) < 0.5:
                maps, targets = flip_maps(maps, targets, transpose)
        terms = loss_terms(net.read(maps), kind, targets)
        total = terms["ce"] + terms["sigma"] + terms["motion"]
        return StepResult(total, {k: v.detach() for k, v in terms.items()}, total.detach().expand(gt.shape[0]), None)

    @torch.no_grad()
    def validate(self, model, val_set, device, vcfg) -> dict[str, Any]:
        right, sig_err, len_err, ang_err = [], [], [], []
        images = val_ground_truths(val_set)
        with eval_mode(model):
            for k, (name, gt) in enumerate(images):
                g = torch.from_numpy(np.ascontiguousarray(np.asarray(gt, np.float32).transpose(2, 0, 1)))[None]
                draws = []
                for kind, sigma, length, angle, scale in VAL_BLURS:
                    draws.append({"kind": kind, "sigma": sigma, "length": length, "angle": angle,
                                  "kernel": blur_kernel_array(kind, sigma, length, angle),
                                  "resample": (scale, "bicubic", "bicubic") if kind == "resample" else None,
                                  "noise": 1.0, "jpeg": 0})
                x = degrade_batch(g.expand(len(draws), -1, -1, -1), draws, self.val_seed * 1000 + k)
                for d, guess in zip(draws, decode(model(x.to(device)))):
                    right.append(guess.kind == d["kind"])
                    if d["kind"] == "gaussian":
                        sig_err.append(abs(guess.sigma - d["sigma"]) / d["sigma"])
                    if d["kind"] == "motion":
                        len_err.append(abs(guess.length - d["length"]))
                        da = abs(guess.angle - d["angle"]) % 180.0
                        ang_err.append(min(da, 180.0 - da))
        med = lambda v: float(np.median(v)) if v else float("nan")  # noqa: E731
        acc = float(np.mean(right)) if right else float("nan")
        return {"score": acc, "score_name": "kind accuracy", "accuracy": acc, "sigma_rel_error": med(sig_err),
                "length_error": med(len_err), "angle_error": med(ang_err), "n": len(images)}

    def describe_score(self, res):
        return (f"val kinds right {100 * res['accuracy']:.1f}%, sigma error {100 * res['sigma_rel_error']:.1f}%, "
                f"motion length error {res['length_error']:.2f} px, angle error {res['angle_error']:.1f} deg")
