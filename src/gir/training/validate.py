"""Validation: PSNR/SSIM of a network on a fixed :class:`gir.data.ValSet`, per task and averaged, through the
one evaluation loop of the benchmarks (:func:`gir.bench.evaluate.score_pairs`)."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from gir.bench.evaluate import mean_table, score_pairs
from gir.data.pairs import Pair
from gir.models.descriptor import describe_model
from gir.training.network import batch_conditions, run_net


def network_method(model: nn.Module, device: torch.device) -> Callable[[np.ndarray, str], np.ndarray]:
    """``model`` as an evaluation method ``(lq HxWx3, recipe text) -> HxWx3``: one image at a time, float32;
    a conditioned network is told the values of the recipe (:func:`gir.training.network.batch_conditions`)."""
    conditioned = bool(describe_model(model).conditioning)

    def method(lq: np.ndarray, recipe: str) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(lq.transpose(2, 0, 1)))[None].to(device)
        cond = batch_conditions(model, [recipe], device) if conditioned else None
        return run_net(model, x, cond=cond).float()[0].permute(1, 2, 0).cpu().numpy()

    return method


@torch.no_grad()
def validate_network(model: nn.Module, val_set, device: torch.device, crop_border: int = 0,
             y_channel: bool = False) -> dict[str, Any]:
    """Run ``model`` (in eval mode) on every item of ``val_set`` (:func:`network_method`).

    Outputs are scored as saved images would be (clipped, rounded to 8-bit levels) against the GT. Returns
    ``{"psnr", "ssim"}`` (the mean over tasks of each task's mean) and ``"tasks": {name: {"psnr", "ssim",
    "psnr_in", "ssim_in", "n"}}`` where ``psnr_in`` / ``ssim_in`` score the degraded input itself (the
    baseline the network should beat).
    """
    pairs = (Pair(item.task, "", getattr(item, "name", ""), item.lq, item.gt, getattr(item, "recipe", ""))
             for item in val_set)
    was_training = model.training
    model.eval()
    try:
        scores = score_pairs({"net": network_method(model, device)}, pairs, crop_border=crop_border,
                             y_channel=y_channel)
    finally:
        model.train(was_training)
    return task_summary(scores)


def task_summary(scores) -> dict[str, Any]:
    """``{"psnr", "ssim", "tasks"}`` of a validation's scores (method ``net`` against the ``input`` row, per
    task; the overall values are the mean over tasks), as :func:`validate_network` returns them."""
    means = mean_table(scores, by=("method", "task"))
    tasks = {task: {"psnr": m["psnr"], "ssim": m["ssim"], "psnr_in": means[("input", task)]["psnr"],
                    "ssim_in": means[("input", task)]["ssim"], "n": m["n"]}
             for (method, task), m in means.items() if method == "net"}
    return {"psnr": float(np.mean([v["psnr"] for v in tasks.values()])) if tasks else float("nan"),
            "ssim": float(np.mean([v["ssim"] for v in tasks.values()])) if tasks else float("nan"),
            "tasks": tasks}
