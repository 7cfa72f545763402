"""Focal losses for degradation classification (Lin et al. 2017; paper 004 uses the softmax focal loss against
the long tail of degradation data sets).

For a sample whose true class has probability p_t, the focal loss is -(1 - p_t)^gamma * log(p_t): the cross
entropy, down-weighted on samples the classifier already gets right. gamma = 0 is the cross entropy exactly
(same operations, bit for bit), and for gamma > 0 every sample's loss is at most its cross entropy.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from gir.errors import GirError

_REDUCTIONS = ("mean", "sum", "none")


class LossArgumentError(GirError, ValueError):
    """A focal loss was called with a negative gamma or an unknown reduction."""


def _check(gamma: float, reduction: str) -> None:
    if gamma < 0:
        raise LossArgumentError(f"focal loss: gamma must be >= 0, got {gamma}")
    if reduction not in _REDUCTIONS:
        raise LossArgumentError(f"focal loss: unknown reduction {reduction!r}; known: {', '.join(_REDUCTIONS)}")


def _modulation(log_p: torch.Tensor, gamma: float) -> torch.Tensor:
    """(1 - p)^gamma from log p, with 1 - p = -expm1(log p) (accurate near p = 1) floored at the smallest
    normal float, so that 0 < gamma < 1 has a finite gradient where p rounds to 1. gamma = 0 gives exact 1s."""
    one_minus_p = (-torch.expm1(log_p)).clamp_min(torch.finfo(log_p.dtype).tiny)
    return one_minus_p.pow(gamma)


def focal_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0, weight: torch.Tensor | None = None,
               reduction: str = "mean") -> torch.Tensor:
    """Multi-class softmax focal loss.

    ``logits``: B x K (or B x K x d1 x ... like F.cross_entropy); ``target``: class indices, B (or B x d1 x
    ...), int64; ``weight``: optional K per-class weights. Per sample: -w[t] * (1 - p_t)^gamma * log p_t;
    "mean" divides the sum by the sum of the samples' w[t] (by B without weights), as F.cross_entropy does,
    "sum" sums, "none" returns the per-sample losses. With gamma = 0 it equals F.cross_entropy exactly."""
    _check(gamma, reduction)
    log_p = F.log_softmax(logits, dim=1)
    if gamma != 0:
        log_p = _modulation(log_p, gamma) * log_p
    return F.nll_loss(log_p, target, weight=weight, reduction=reduction)


def binary_focal_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0,
                      reduction: str = "mean") -> torch.Tensor:
    """Multi-label sigmoid focal loss: every logit is an independent yes / no (e.g. which degradations are
    present in a mixture).

    ``logits`` and ``target`` (floats in [0, 1], usually 0 or 1) have the same shape. Per element:
    (1 - p_t)^gamma * BCE, where BCE = F.binary_cross_entropy_with_logits and p_t = exp(-BCE) (p for a
    target 1, 1 - p for a target 0). "mean" averages over all elements, "sum" sums, "none" keeps the shape.
    With gamma = 0 it equals F.binary_cross_entropy_with_logits exactly."""
    _check(gamma, reduction)
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    loss = _modulation(-bce, gamma) * bce if gamma != 0 else bce
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss
