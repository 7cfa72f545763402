"""Validation: PSNR/SSIM of a network on a fixed :class:`gir.data.ValSet`, per task and averaged."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import torch
from torch import nn


@torch.no_grad()
def evaluate(model: nn.Module, val_set, device: torch.device, crop_border: int = 0,
             y_channel: bool = False) -> dict[str, Any]:
    """Run ``model`` (in eval mode, float32, one image at a time) on every item of ``val_set``; a conditioned
    network is told the values of the item's recipe (:func:`gir.training.objectives.batch_conditions`).

    Outputs are clipped to [0, 1] and rounded to 8-bit levels, as saved images would be, before
    :func:`gir.metrics.psnr` / :func:`gir.metrics.ssim` against the GT. Returns ``{"psnr", "ssim"}`` (the
    mean over tasks of each task's mean) and ``"tasks": {name: {"psnr", "ssim", "psnr_in", "n"}}`` where
    ``psnr_in`` is the degraded input's PSNR (the baseline the network should beat).
    """
    from gir.metrics import psnr, score_restored
    from gir.models.descriptor import describe_model
    from gir.training.objectives import batch_conditions, run_net

    conditioned = bool(describe_model(model).conditioning)
    was_training = model.training
    model.eval()
    scores: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    try:
        for item in val_set:
            x = torch.from_numpy(np.ascontiguousarray(item.lq.transpose(2, 0, 1)))[None].to(device)
            cond = batch_conditions(model, [item.recipe], device) if conditioned else None
            y = run_net(model, x, cond=cond).float()
            y = y[0].permute(1, 2, 0).cpu().numpy()
            kw = dict(crop_border=crop_border, y_channel=y_channel)
            scores[item.task].append((*score_restored(y, item.gt, **kw), float(psnr(item.lq, item.gt, **kw))))
    finally:
        model.train(was_training)
    tasks = {t: {"psnr": float(np.mean([s[0] for s in v])), "ssim": float(np.mean([s[1] for s in v])),
                 "psnr_in": float(np.mean([s[2] for s in v])), "n": len(v)} for t, v in scores.items()}
    return {"psnr": float(np.mean([v["psnr"] for v in tasks.values()])) if tasks else float("nan"),
            "ssim": float(np.mean([v["ssim"] for v in tasks.values()])) if tasks else float("nan"),
            "tasks": tasks}
