"""FoundIR's degradation-aware specialists (paper 001, sec. 4.3): an expert pool, the ``refine`` training
objective (a specialist learns to refine a frozen generalist's results), the chains that paper 001's
Table 3b compares, and the choice of a specialist from the analyzer's diagnosis.

* Pool (:data:`POOL`): ``weather`` (rain, snow, haze, raindrop), ``illumination`` (low light) and
  ``structure`` (scratches, holes: the analyzer's ``damage`` family).
* Training (``objective: {type: refine, generalist: PATH}``, model ``guided_refiner``): the generalist runs
  frozen, without gradients, on each degraded batch, and the specialist is trained (L1 and the config's
  ``loss`` terms) to turn that result into the clean target with the degraded input as guidance. Without
  ``generalist`` the specialist refines the degraded input itself ("S alone"). Validation scores the chain.
* Chains (:class:`Chain`): G alone, S alone, S1 -> S2, S -> G and G -> S are stages run in order, each a
  plain restorer (``x -> f(x)``, also a specialist wrapped in :class:`Alone`) or a refiner
  (``(lq, current) -> refined``).
* Choice (:func:`choose_specialist`): the pool group whose families the analyzer finds most probable, at or
  above a threshold; none (generalist alone) when nothing in the pool is detected.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import torch
from torch import nn

from gir.data.errors import ConfigError
from gir.models.checkpoint import load_model
from gir.models.descriptor import describe_model
from gir.models.refiner import GuidedRefiner
from gir.training.objectives import OBJECTIVES, Restore, StepResult

POOL: dict[str, tuple[str, ...]] = {
    "weather": ("rain", "snow", "haze", "raindrop"),
    "illumination": ("low_light",),
    "structure": ("damage",),
}
"""Specialist groups of paper 001's expert pool, by the analyzer families they cover."""

CHOICE_THRESHOLD = 0.5


def frozen(model: nn.Module) -> nn.Module:
    """``model`` in eval mode with gradients off (a generalist a specialist trains against)."""
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def is_refiner(module: nn.Module) -> bool:
    return isinstance(module, GuidedRefiner)


class Alone(nn.Module):
    """A specialist used on its own input: ``Alone(s)(x) = s(x, x)``, i.e. a plain restorer stage of a chain
    (the second specialist of S1 -> S2 restores the first one's output, as it was trained to restore a
    degraded image)."""

    def __init__(self, refiner: nn.Module):
        super().__init__()
        self.refiner = refiner
        self.size_multiple = getattr(refiner, "size_multiple", 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.refiner(x)


class Chain(nn.Module):
    """Stages run in order on one degraded batch: a refiner stage gets (degraded input, current result), any
    other stage the current result. ``Chain([G, S])`` is G -> S; ``Chain([S, G])`` is S -> G (S alone on the
    input, then the generalist on its output); ``Chain([S1, Alone(S2)])`` is S1 -> S2."""

    def __init__(self, stages: Sequence[nn.Module]):
        super().__init__()
        if not stages:
            raise ValueError("a chain needs at least one stage")
        self.stages = nn.ModuleList(stages)

        self.size_multiple = math.lcm(*(describe_model(s).size_multiple for s in stages))

    def forward(self, lq: torch.Tensor) -> torch.Tensor:
        x = lq
        for s in self.stages:
            x = s(lq, x) if is_refiner(s) else s(x)
        return x


@OBJECTIVES.register("refine")
class RefineObjective(Restore):
    """Trains a ``guided_refiner`` on a frozen generalist's results (see the module docstring)."""

    def __init__(self, generalist: str | None = None):
        self.generalist_path = generalist
        self.generalist: nn.Module | None = None

    def bind(self, model, loss, device, cfg):
        if not is_refiner(model):
            raise ConfigError(f"config: objective refine needs model.type: guided_refiner, got {type(model).__name__}")
        super().bind(model, loss, device, cfg)
        if self.generalist_path:
            self.generalist = frozen(load_model(self.generalist_path)).to(device)

    def guide(self, lq: torch.Tensor) -> torch.Tensor:
        if self.generalist is None:
            return lq
        with torch.no_grad():
            return self.generalist(lq).clamp(0, 1)

    def step(self, net, batch, lq, gt, t, phase=0):
        pred = net(lq, self.guide(lq))
        total, terms = self.loss(pred, gt)
        with torch.no_grad():
            per_sample = (pred.detach().float() - gt).abs().flatten(1).mean(1)
        return StepResult(total, terms, per_sample, pred)

    def validate(self, model, val_set, device, vcfg):
        chain = Chain([self.generalist, model]) if self.generalist is not None else model
        return super().validate(chain, val_set, device, vcfg)


def choose_specialist(diagnosis, specialists: Mapping[str, object] | Sequence[str],
                      threshold: float = CHOICE_THRESHOLD, pool: Mapping[str, Sequence[str]] = POOL) -> str | None:
    """The pool group to refine with: among the groups that have a specialist, the one holding the most
    probable detected family (p >= ``threshold``, from a :class:`gir.analysis.Diagnosis`); None when no
    family of those groups is detected."""
    best, best_p = None, threshold
    for group in specialists:
        if group not in pool:
            raise ValueError(f"unknown specialist group {group!r}; known: {', '.join(pool)}")
        for fam in pool[group]:
            f = diagnosis.findings.get(fam)
            if f is not None and f.p >= best_p:
                best, best_p = group, f.p
    return best
