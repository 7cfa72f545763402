"""The ``upscale`` objective: super-resolution of MATLAB-bicubic low-resolution inputs (the fidelity
protocol of :mod:`gir.bench.superres`), one network for several scales.

The data section supplies clean HR patches (``mode: clean``; the patch size a multiple of every scale). Each
iteration uses one scale, ``scales[t % len(scales)]`` (so a run is deterministic and every scale gets the
same share); the batch is shrunk with :func:`gir.degradations.matlab_resize.imresize_torch` and stored as
8-bit levels, exactly as the benchmark's LR files are made, and the network (``scale`` passed to its forward)
is trained against the HR patch with the config's ``loss`` terms.

``degradation: realesrgan`` trains the blind network for real photos instead: each HR patch gets its own
second-order degradation (Real-ESRGAN's: blur, resize, noise, JPEG, twice, then a final sinc and JPEG in random
order; :func:`gir.degradations.ops_extra.realesrgan_low_resolution`) down to 1/scale, with ``strength`` drawn
uniformly in the given range per patch (the fraction of the published ranges used), stored as 8 bits. The
numpy generator of each patch is seeded from torch's (the engine seeds torch per iteration), so a run is
deterministic.

Validation: the images of ``data.val`` (their ground truth; the tasks' degraded inputs are not used) at each
scale, scored by the one evaluation loop with the protocol's Y-channel PSNR, border shaved, bicubic as the
baseline; ``score`` is the mean PSNR over scales.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from gir.bench.evaluate import score_pairs
from gir.bench.superres import bicubic, rgb_only, sr_pairs
from gir.data.errors import ConfigError
from gir.degradations.matlab_resize import imresize_torch
from gir.training.objectives import OBJECTIVES, Objective, StepResult, eval_mode, val_ground_truths
from gir.training.validate import task_summary


def _eight_bit(x: torch.Tensor) -> torch.Tensor:
    """Clipped to [0, 1] and rounded to 8-bit levels, as the LR files are stored."""
    return torch.round(x.clamp(0, 1) * 255.0) / 255.0


def network_upscaler(model, device: torch.device):
    """``model`` as an evaluation method ``(lr HxWx3, scale) -> HR HxWx3``, one image at a time, float32."""

    def method(lr: np.ndarray, scale: int) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(lr.transpose(2, 0, 1)))
        return model(x[None].to(device), scale=int(scale)).float()[0].permute(1, 2, 0).cpu().numpy()

    return rgb_only(method)


@torch.no_grad()
def validate_upscaler(model, images, scales, device: torch.device) -> dict[str, Any]:
    """Protocol scores of ``model`` on ``images`` ((data set, name, HxWx3) triples) at each scale:
    ``{"psnr", "ssim", "tasks": {"x2": {"psnr", "ssim", "psnr_in" (bicubic), "ssim_in", "n"}, ...}}``."""
    with eval_mode(model):
        scores = [s for scale in scales
                  for s in score_pairs({"net": network_upscaler(model, device)}, sr_pairs(images, [scale]),
                                       crop_border=scale, y_channel=True, baseline=bicubic)]
    return task_summary(scores)


@OBJECTIVES.register("upscale")
class Upscale(Objective):
    """See the module docstring. ``scales``: the scales trained (each must be one of the network's)."""

    def __init__(self, scales=(2, 3, 4), degradation: str = "bicubic", strength=(0.25, 1.0)):
        self.scales = tuple(int(s) for s in scales)
        if not self.scales or any(s < 2 for s in self.scales):
            raise ValueError(f"scales must be integers >= 2, got {list(scales)}")
        if degradation not in ("bicubic", "realesrgan"):
            raise ValueError(f"degradation must be bicubic or realesrgan, got {degradation!r}")
        lo, hi = (float(v) for v in strength)
        if not 0.0 <= lo <= hi <= 1.0:
            raise ValueError(f"strength must be [low, high] within [0, 1], got {list(strength)}")
        self.degradation, self.strength = degradation, (lo, hi)

    def bind(self, model, loss, device, cfg):
        super().bind(model, loss, device, cfg)
        have = tuple(getattr(model, "scales", ()))
        missing = [s for s in self.scales if s not in have]
        if missing:
            raise ConfigError(f"config: objective upscale: the model has no x{missing[0]} output "
                              f"(an upscaling network, e.g. rlfn, with scales {list(self.scales)})")
        patch = int(cfg["train"]["patch_size"])
        bad = [s for s in self.scales if patch % s]
        if bad:
            raise ConfigError(f"config: train.patch_size {patch} must be a multiple of every scale; "
                              f"not of {bad[0]}")

    def scale_at(self, t: int) -> int:
        return self.scales[t % len(self.scales)]

    def low_resolution(self, gt: torch.Tensor, s: int) -> torch.Tensor:
        """The LR batch of HR batch ``gt`` (B x 3 x H x W) at scale ``s``, 8-bit levels."""
        if self.degradation == "bicubic":
            return _eight_bit(imresize_torch(gt, 1.0 / s)).to(gt.dtype)
        from gir.degradations.ops_extra import realesrgan_low_resolution

        out = []
        for hr in gt.detach().float().cpu().permute(0, 2, 3, 1).numpy():
            rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,))))
            strength = float(rng.uniform(*self.strength))
            out.append(realesrgan_low_resolution(np.ascontiguousarray(hr), rng, float(s), strength))
        lr = torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2)
        return _eight_bit(lr).to(gt.device, gt.dtype)

    def step(self, net, batch, lq, gt, t, phase=0):
        s = self.scale_at(t)
        lr = self.low_resolution(gt, s)
        pred = net(lr, scale=s)
        total, terms = self.loss(pred, gt)
        with torch.no_grad():
            per_sample = (pred.detach().float() - gt).abs().flatten(1).mean(1)
        return StepResult(total, terms, per_sample, pred)

    def validate(self, model, val_set, device, vcfg):
        res = validate_upscaler(model, [("val", n, g) for n, g in val_ground_truths(val_set)], self.scales, device)
        return {"score": res["psnr"], "score_name": "psnr", **res}

    def describe_score(self, res):
        per = ", ".join(f"{k} {v['psnr']:.2f} (bicubic {v['psnr_in']:.2f})" for k, v in res["tasks"].items())
        return f"val PSNR-Y {per}"
