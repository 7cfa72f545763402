"""Optimisers and learning-rate schedules, built from the config's ``optim`` and ``schedule`` sections.

Schedules are pure functions of the iteration (1-based), so a resumed run needs only the iteration number
to be on the same learning rate; the engine writes the rate into the optimiser before every step.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

import torch

from gir.data.errors import ConfigError
from gir.registry import Registry
from gir.training.values import number

OPTIMIZERS: Registry = Registry("optimiser")
SCHEDULERS: Registry = Registry("schedule")


def _betas(betas: Any, key: str) -> tuple[float, float]:
    if not isinstance(betas, (list, tuple)) or len(betas) != 2:
        raise ConfigError(f"config: {key} must be [beta1, beta2], got {betas!r}")
    b = tuple(number(x, key) for x in betas)
    if not all(0.0 <= x < 1.0 for x in b):
        raise ConfigError(f"config: {key} must lie in [0, 1), got {betas!r}")
    return b  # type: ignore[return-value]


def _lr(lr: Any) -> float:
    v = number(lr, "optim.lr")
    if not v > 0:
        raise ConfigError(f"config: optim.lr must be > 0, got {lr!r}")
    return v


@OPTIMIZERS.register("adamw")
def adamw(params: Iterable, lr: float = 2e-4, betas=(0.9, 0.999), weight_decay: float = 1e-4,
          eps: float = 1e-8) -> torch.optim.Optimizer:
    """AdamW (decoupled weight decay)."""
    return torch.optim.AdamW(params, lr=_lr(lr), betas=_betas(betas, "optim.betas"),
                             weight_decay=number(weight_decay, "optim.weight_decay"), eps=number(eps, "optim.eps"))


@OPTIMIZERS.register("adam")
def adam(params: Iterable, lr: float = 2e-4, betas=(0.9, 0.999), weight_decay: float = 0.0,
         eps: float = 1e-8) -> torch.optim.Optimizer:
    """Adam (L2 penalty in the gradient when weight_decay > 0), as the GIR paper trains."""
    return torch.optim.Adam(params, lr=_lr(lr), betas=_betas(betas, "optim.betas"),
                            weight_decay=number(weight_decay, "optim.weight_decay"), eps=number(eps, "optim.eps"))


def build_optimizer(cfg: dict, params: Iterable, lr: float | None = None) -> torch.optim.Optimizer:
    """The optimiser of an ``optim`` section (``lr`` overrides the section's rate)."""
    kwargs = {k: v for k, v in cfg.items() if k != "type"}
    if lr is not None:
        kwargs["lr"] = lr
    kind = cfg["type"]
    if kind not in OPTIMIZERS:
        raise ConfigError(f"config: optim.type: unknown optimiser {kind!r}; known: {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS.call(kind, params, where="config: optim", **kwargs)


class Schedule:
    """Learning-rate factor of iteration t (1-based): ``lr(t) = base_lr * factor(t)``.

    Not ``torch.optim.lr_scheduler``: a closed-form factor of the iteration needs nothing saved to resume
    (the run's state holds only ``t``), gives the same rate to every optimiser of a multi-phase objective
    (DCPT's two, a GAN's discriminator) without one scheduler each stepping in lock-step, and stays right when
    a resumed run changes ``train.iterations`` (``LambdaLR`` would need its ``last_epoch`` and each group's
    ``initial_lr`` restored and kept aligned with ``t``)."""

    def factor(self, t: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError


@SCHEDULERS.register("cosine")
class WarmupCosine(Schedule):
    """Linear warm-up from base/warmup to base over ``warmup`` iterations, then a half cosine from base to
    ``min_lr`` at the last iteration (a warm-up longer than the run just ramps up all the way)."""

    def __init__(self, iterations: int, base_lr: float, warmup: int = 0, min_lr: float = 1e-7):
        self.iterations, self.base = int(iterations), float(base_lr)
        self.warmup = int(number(warmup, "schedule.warmup"))
        self.min_lr = number(min_lr, "schedule.min_lr")
        if self.warmup < 0:
            raise ConfigError(f"config: schedule.warmup must be >= 0, got {warmup!r}")
        if not 0 <= self.min_lr <= self.base:
            raise ConfigError(f"config: schedule.min_lr must be in [0, optim.lr], got {min_lr!r}")

    def factor(self, t: int) -> float:
        if t <= self.warmup:
            return t / self.warmup
        if self.iterations <= self.warmup:
            return 1.0
        span = max(1, self.iterations - self.warmup)
        p = min(1.0, (t - self.warmup) / span)
        lr = self.min_lr + (self.base - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * p))
        return lr / self.base


@SCHEDULERS.register("constant")
class WarmupConstant(Schedule):
    """Linear warm-up over ``warmup`` iterations, then the base rate."""

    def __init__(self, iterations: int, base_lr: float, warmup: int = 0):
        self.warmup = int(number(warmup, "schedule.warmup"))
        if self.warmup < 0:
            raise ConfigError(f"config: schedule.warmup must be >= 0, got {warmup!r}")

    def factor(self, t: int) -> float:
        return t / self.warmup if t <= self.warmup else 1.0


def build_schedule(cfg: dict, iterations: int, base_lr: float) -> Schedule:
    kind = cfg["type"]
    if kind not in SCHEDULERS:
        raise ConfigError(f"config: schedule.type: unknown schedule {kind!r}; known: {', '.join(SCHEDULERS)}")
    return SCHEDULERS.build(cfg, iterations, base_lr, where="config: schedule")
