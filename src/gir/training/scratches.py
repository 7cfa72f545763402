"""The ``scratch_mask`` objective: a per-pixel scratch and dust detector (``mask_unet``) trained on damage
drawn on the fly over clean patches (:func:`gir.degradations.scratches.synthesize_scratches`).

Each clean patch gets its own damage from a numpy generator seeded by torch's per-iteration generator (the
same run seed gives the same batches). Loss: binary cross-entropy on the mask (positives weighted by
``pos_weight``: damage covers a few percent of a photo) plus ``dice`` x the soft Dice loss of the batch.
Validation draws the damage of each validation image from a fixed seed and reports the F1 and IoU of the
thresholded mask over damaged images, and the fraction of pixels flagged on undamaged ones (false alarms).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from gir.analysis.scratches import THRESHOLD
from gir.degradations.scratches import synthesize_scratches
from gir.training.objectives import OBJECTIVES, Objective, StepResult, eval_mode, val_ground_truths


def damage_batch(gt: torch.Tensor, damaged: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(damaged B x 3 x H x W, mask B x 1 x H x W) for a clean batch, one generator per patch drawn from
    torch's global generator."""
    images, masks = [], []
    for hr in gt.detach().float().cpu().permute(0, 2, 3, 1).numpy():
        rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,))))
        s = synthesize_scratches(np.ascontiguousarray(hr), rng, damaged)
        images.append(s.image)
        masks.append(s.mask)
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2)
    m = torch.from_numpy(np.stack(masks))[:, None]
    return x.to(gt.device, gt.dtype), m.to(gt.device)


def mask_scores(prob: np.ndarray, mask: np.ndarray) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives) of ``prob`` > THRESHOLD (the analysis's) against
    ``mask`` > 0.5."""
    pred, true = prob > THRESHOLD, mask > 0.5
    return int((pred & true).sum()), int((pred & ~true).sum()), int((~pred & true).sum())


@OBJECTIVES.register("scratch_mask")
class ScratchMask(Objective):
    """See the module docstring. ``damaged``: the share of training patches that get damage."""

    def __init__(self, damaged: float = 0.75, pos_weight: float = 3.0, dice: float = 0.5, val_seed: int = 0):
        if not 0 <= float(damaged) <= 1:
            raise ValueError(f"damaged must be a probability in [0, 1], got {damaged}")
        if float(pos_weight) <= 0 or float(dice) < 0:
            raise ValueError("pos_weight must be > 0 and dice >= 0")
        self.damaged, self.pos_weight, self.dice, self.val_seed = float(damaged), float(pos_weight), float(dice), int(val_seed)

    def bind(self, model, loss, device, cfg):
        super().bind(model, loss, device, cfg)
        from gir.data.errors import ConfigError

        if getattr(model, "channels_out", 3) != 1:
            raise ConfigError("config: objective scratch_mask needs a one-channel detector (model type mask_unet)")

    def losses(self, logits: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-sample (B) weighted BCE and the batch's soft Dice loss."""
        logits = logits.float()
        w = torch.tensor(self.pos_weight, device=logits.device)
        bce = F.binary_cross_entropy_with_logits(logits, mask, pos_weight=w, reduction="none").flatten(1).mean(1)
        p = torch.sigmoid(logits)
        dice = 1 - (2 * (p * mask).sum() + 1) / (p.sum() + mask.sum() + 1)
        return bce, dice

    def step(self, net, batch, lq, gt, t, phase=0):
        x, mask = damage_batch(gt, self.damaged)
        bce, dice = self.losses(net(x), mask)
        total = bce.mean() + self.dice * dice
        return StepResult(total, {"bce": bce.mean().detach(), "dice": dice.detach()}, bce.detach(), None)

    @torch.no_grad()
    def validate(self, model, val_set, device, vcfg) -> dict[str, Any]:
        tp = fp = fn = 0
        alarms: list[float] = []
        images = val_ground_truths(val_set)
        with eval_mode(model):
            for k, (name, gt) in enumerate(images):
                for j in range(2):
                    rng = np.random.default_rng([self.val_seed, k, j])
                    s = synthesize_scratches(np.ascontiguousarray(gt, np.float32), rng, damaged=1.0 - j)
                    x = torch.from_numpy(np.ascontiguousarray(s.image.transpose(2, 0, 1)))[None].to(device)
                    prob = torch.sigmoid(model(x).float())[0, 0].cpu().numpy()
                    if j == 0:
                        a, b, c = mask_scores(prob, s.mask)
                        tp, fp, fn = tp + a, fp + b, fn + c
                    else:
                        alarms.append(float((prob > THRESHOLD).mean()))
        f1 = 2 * tp / max(1, 2 * tp + fp + fn)
        iou = tp / max(1, tp + fp + fn)
        return {"score": f1, "score_name": "f1", "f1": f1, "iou": iou,
                "false_alarm": float(np.mean(alarms)) if alarms else float("nan"), "n": len(images)}

    def describe_score(self, res):
        return f"val F1 {res['f1']:.3f}, IoU {res['iou']:.3f}, false alarms {100 * res['false_alarm']:.2f}% of pixels"
