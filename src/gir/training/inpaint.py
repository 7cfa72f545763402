"""The ``inpaint`` objective: the fill network of the inpainting expert (``fill_unet``) trained on damage drawn
on the fly over clean patches, with the library's ops after it (:func:`gir.degradations.scratches.
synthesize_fill_pair`).

The network reads the damaged photo and a mask like the detector's: what the damage covers, grown by 0-2 px at
random (as the expert grows the detector's mask), and often more (:func:`overmark`: a wider halo, strokes over
undamaged content; the shipped detector marked twice the damaged area on the GIR suite's scratched crops); or,
in a share ``detected`` of the pairs, the shipped detector's own mask of the damaged patch. In a share
``before`` the patch is softened by library ops before the damage is drawn (:func:`gir.degradations.scratches.
synthesize_fill_pair`). It
returns the photo with the marked pixels restored; the target is the same photo through the same ops without
the damage, so on marked pixels that were not damaged the network learns to keep the photo. Loss: L1 over the
mask's pixels only (what the network may change), per sample, divided by the mask's area. Each patch draws from a numpy generator seeded by torch's
global generator (the same run seed gives the same batches). Validation draws each validation image's pair from
a fixed seed and reports the PSNR over the mask's pixels of the network's fill and of the biharmonic fill
(:func:`gir.restore.classical.inpaint`, the expert's fill before this network), so the log says whether the
network beats it.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from gir.analysis.scratches import fill_mask
from gir.degradations.scratches import synthesize_fill_pair
from gir.training.objectives import OBJECTIVES, Objective, StepResult, eval_mode, val_ground_truths

MAX_GROW = 2  # the training mask is the covered pixels grown by 0..MAX_GROW px


def overmark(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``mask`` (bool HxW) with what a detector adds to it: with probability 0.5 a halo 1-4 px wider, with
    probability 0.5 one to six strokes 3-9 px wide across the image (false marks on undamaged content)."""
    from gir.degradations.ops_gir import line_mask, scratch_lines

    h, w = mask.shape
    out = mask
    if rng.random() < 0.5:
        out = fill_mask(out, int(rng.integers(1, 5)))
    if rng.random() < 0.5:
        for x0, y0, x1, y1 in scratch_lines(h, w, rng, int(rng.integers(1, 7))):
            out = out | (line_mask(h, w, (x0, y0), (x1, y1), float(rng.integers(3, 10))) > 0.5)
    return out


def fill_pair(gt: np.ndarray, rng: np.random.Generator, after: float, before: float = 0.0, detected: float = 0.0,
              detector: str = "gir-scratch-mask") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(damaged HxWx3, target HxWx3, mask HxW float32) for one clean patch. With probability ``detected`` the
    mask is the scratch detector's (``detector``, shipped name or file) on the damaged patch, grown as the
    expert grows it (what the network is given in use, over-marks included); otherwise the covered pixels,
    grown and over-marked (:func:`overmark`). ``detected=0`` draws nothing for it."""
    s = synthesize_fill_pair(gt, rng, after, before)
    if detected > 0 and rng.random() < detected:
        return s.image, s.target, detector_hole(s.image, detector).astype(np.float32)
    hole = overmark(fill_mask(s.mask, int(rng.integers(0, MAX_GROW + 1))), rng)
    return s.image, s.target, hole.astype(np.float32)


def detector_hole(image: np.ndarray, detector: str = "gir-scratch-mask") -> np.ndarray:
    """The inpainting expert's mask of HxWx3 ``image``: the detector's (:func:`gir.analysis.scratches.detect`),
    grown by :data:`gir.analysis.scratches.DILATE`."""
    from gir.analysis.scratches import DILATE, detect

    return fill_mask(detect(image, detector).mask, DILATE)


def fill_batch(gt: torch.Tensor, after: float, before: float = 0.0, detected: float = 0.0,
               detector: str = "gir-scratch-mask") -> tuple[torch.Tensor, torch.Tensor]:
    """(network input B x 4 x H x W, target B x 3 x H x W) for a clean batch, one generator per patch drawn
    from torch's global generator."""
    xs, ys = [], []
    for hr in gt.detach().float().cpu().permute(0, 2, 3, 1).numpy():
        rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,))))
        image, target, hole = fill_pair(np.ascontiguousarray(hr), rng, after, before, detected, detector)
        xs.append(np.concatenate([image, hole[..., None]], axis=2))
        ys.append(target)
    x = torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2)
    y = torch.from_numpy(np.stack(ys)).permute(0, 3, 1, 2)
    return x.to(gt.device, gt.dtype), y.to(gt.device, gt.dtype)


def hole_l1(pred: torch.Tensor, target: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """Per-sample (B) mean absolute error over the pixels of ``hole`` (B x 1 x H x W; 0 where it is empty)."""
    err = ((pred.float() - target.float()).abs() * hole).flatten(1).sum(1)
    return err / (3.0 * hole.flatten(1).sum(1)).clamp_min(1.0)


def hole_psnr(a: np.ndarray, b: np.ndarray, hole: np.ndarray) -> float:
    """PSNR (dB, peak 1) between HxWx3 ``a`` and ``b`` over the pixels of bool HxW ``hole``."""
    mse = float(((a - b)[hole] ** 2).mean()) if hole.any() else 0.0
    return 10.0 * np.log10(1.0 / max(mse, 1e-10))


@OBJECTIVES.register("inpaint")
class Inpaint(Objective):
    """See the module docstring. ``after`` / ``before``: the share of pairs with library ops after / before
    the damage; ``detected``: the share whose mask is the shipped scratch detector's (``detector``)."""

    def __init__(self, after: float = 0.6, before: float = 0.0, detected: float = 0.0,
                 detector: str = "gir-scratch-mask", val_seed: int = 0):
        for name, v in (("after", after), ("before", before), ("detected", detected)):
            if not 0 <= float(v) <= 1:
                raise ValueError(f"{name} must be a probability in [0, 1], got {v}")
        self.after, self.before, self.detected = float(after), float(before), float(detected)
        self.detector, self.val_seed = str(detector), int(val_seed)

    def bind(self, model, loss, device, cfg):
        super().bind(model, loss, device, cfg)
        from gir.data.errors import ConfigError

        from gir.models.masknet import FillUNet

        if not isinstance(model, FillUNet):
            raise ConfigError("config: objective inpaint needs the fill network (model type fill_unet)")
        if self.detected > 0:  # load it now (cached for the pairs), so a missing detector fails at the start
            from gir.analysis.scratches import detector

            detector(self.detector, "cpu")

    def _pair_options(self) -> dict[str, Any]:
        return {"after": self.after, "before": self.before, "detected": self.detected, "detector": self.detector}

    def step(self, net, batch, lq, gt, t, phase=0):
        x, target = fill_batch(gt, **self._pair_options())
        per = hole_l1(net(x), target, x[:, 3:4])
        return StepResult(per.mean(), {"hole_l1": per.mean().detach()}, per.detach(), None)

    @torch.no_grad()
    def validate(self, model, val_set, device, vcfg) -> dict[str, Any]:
        from gir.restore.classical import inpaint

        net_db, classic_db = [], []
        with eval_mode(model):
            for k, (name, gt) in enumerate(val_ground_truths(val_set)):
                rng = np.random.default_rng([self.val_seed, k])
                image, target, hole = fill_pair(np.ascontiguousarray(gt, np.float32), rng, **self._pair_options())
                x = torch.from_numpy(np.concatenate([image, hole[..., None]], axis=2).transpose(2, 0, 1))
                out = model(x[None].to(device)).float()[0].permute(1, 2, 0).cpu().numpy()
                h = hole > 0.5
                net_db.append(hole_psnr(out, target, h))
                classic_db.append(hole_psnr(inpaint(image, h), target, h))
        score = float(np.mean(net_db))
        return {"score": score, "score_name": "hole_psnr", "hole_psnr": score,
                "biharmonic_psnr": float(np.mean(classic_db)), "n": len(net_db)}

    def describe_score(self, res):
        return (f"val PSNR over the holes {res['hole_psnr']:.2f} dB (biharmonic fill "
                f"{res['biharmonic_psnr']:.2f})")
