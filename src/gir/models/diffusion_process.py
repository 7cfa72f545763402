"""Residual diffusion with a condition term (paper 001, sec. 4.1; after residual denoising diffusion, its
ref. 30): the forward process, its closed form and the deterministic few-step sampler of
:class:`gir.models.diffusion_unet.DiffusionUNet` (trained by :mod:`gir.diffusion.objective`).

Images are float tensors B x 3 x H x W in [0, 1]. With LQ the degraded image, HQ the clean one and the
residual R = LQ - HQ, one forward step is (paper 001, Eq. 1)

    I_t = I_{t-1} + (alpha_t - beta_t) LQ - alpha_t HQ + delta_t eps_{t-1},      I_0 = HQ,

and summing the steps gives the closed form

    I_t = (abar_t - bbar_t) LQ + (1 - abar_t) HQ + dbar_t eps
        = (1 - bbar_t) LQ - (1 - abar_t) R + dbar_t eps,

with abar_t = sum alpha_i, bbar_t = sum beta_i and dbar_t^2 = sum delta_i^2. At t = T, abar_T = 1 and
I_T = gamma_T LQ + dbar_T eps, gamma_T = 1 - bbar_T: the condition coefficient that says how much of the
degraded input survives into the starting state (paper 001 sets 0.3; "none" is no condition term,
bbar = 0, i.e. gamma_T = 1: plain residual diffusion, where the state keeps the whole degraded input).

Schedules (:class:`Schedule`): uniform steps, alpha_t = 1 / T, beta_t = (1 - gamma_T) / T and
delta_t^2 = noise^2 / T, so abar_t = t / T, bbar_t = (1 - gamma_T) t / T, dbar_t = noise sqrt(t / T).

Sampling (:func:`sample`) is deterministic (DDIM-like, no fresh noise per step): the network predicts R from
(I_t, LQ, t); the noise it implies is eps = (I_t - (1 - bbar_t) LQ + (1 - abar_t) R) / dbar_t, and the state
moves to an earlier s with the closed form at s. At s = 0 this is LQ - R. A network that predicts the true
residual therefore returns HQ exactly, in any number of steps.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

DEFAULT_GAMMA_T = 0.3
DEFAULT_TIMESTEPS = 1000
DEFAULT_STEPS = 4
DEFAULT_NOISE = 1.0

Predictor = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
"""(I_t, LQ, t as a B-vector of integer timesteps) -> predicted residual R, all B x 3 x H x W."""


@dataclass(frozen=True)
class Schedule:
    """Coefficients of the forward process over ``timesteps`` uniform steps (see the module docstring).

    gamma_T: condition coefficient at t = T in [0, 1], or None for no condition term (gamma_T = 1).
    noise: dbar_T, the noise level of the starting state (0: no noise term; sampling is then a chain of
    deterministic refinements of the residual)."""

    timesteps: int = DEFAULT_TIMESTEPS
    gamma_T: float | None = DEFAULT_GAMMA_T
    noise: float = DEFAULT_NOISE

    def __post_init__(self):
        if int(self.timesteps) < 1:
            raise ValueError(f"timesteps must be >= 1, got {self.timesteps}")
        if self.gamma_T is not None and not 0.0 <= float(self.gamma_T) <= 1.0:
            raise ValueError(f"gamma_T must be in [0, 1] or null, got {self.gamma_T}")
        if not float(self.noise) >= 0.0:
            raise ValueError(f"noise must be >= 0, got {self.noise}")

    @property
    def gamma(self) -> float:
        """gamma_T as a number (1 when there is no condition term)."""
        return 1.0 if self.gamma_T is None else float(self.gamma_T)

    # per-step coefficients
    def alpha(self, t) -> torch.Tensor:
        return torch.full_like(torch.as_tensor(t, dtype=torch.float64), 1.0 / self.timesteps)

    def beta(self, t) -> torch.Tensor:
        return torch.full_like(torch.as_tensor(t, dtype=torch.float64), (1.0 - self.gamma) / self.timesteps)

    def delta(self, t) -> torch.Tensor:
        return torch.full_like(torch.as_tensor(t, dtype=torch.float64), float(self.noise) / self.timesteps ** 0.5)

    # cumulative coefficients
    def abar(self, t) -> torch.Tensor:
        return torch.as_tensor(t, dtype=torch.float64) / self.timesteps

    def bbar(self, t) -> torch.Tensor:
        return (1.0 - self.gamma) * torch.as_tensor(t, dtype=torch.float64) / self.timesteps

    def dbar(self, t) -> torch.Tensor:
        return float(self.noise) * torch.sqrt(torch.as_tensor(t, dtype=torch.float64) / self.timesteps)

    def sampling_times(self, steps: int) -> list[int]:
        """``steps`` + 1 integer timesteps from T down to 0, evenly spaced (T = ``timesteps``)."""
        steps = int(steps)
        if not 1 <= steps <= self.timesteps:
            raise ValueError(f"steps must be in 1..{self.timesteps}, got {steps}")
        return [round(self.timesteps * (steps - k) / steps) for k in range(steps + 1)]


def _bcast(c: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A scalar or B-vector of coefficients as B x 1 x 1 x 1 in ``like``'s dtype and device."""
    c = c.to(device=like.device, dtype=like.dtype)
    return c.reshape(-1, *([1] * (like.dim() - 1))) if c.dim() else c


def forward_step(prev: torch.Tensor, lq: torch.Tensor, hq: torch.Tensor, t, eps: torch.Tensor,
                 schedule: Schedule) -> torch.Tensor:
    """One step of Eq. 1: I_t from I_{t-1} (``prev``) with the step's noise ``eps``."""
    a, b, d = (_bcast(f(t), prev) for f in (schedule.alpha, schedule.beta, schedule.delta))
    return prev + (a - b) * lq - a * hq + d * eps


def q_sample(lq: torch.Tensor, hq: torch.Tensor, t, eps: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    """The closed form: I_t = (abar_t - bbar_t) LQ + (1 - abar_t) HQ + dbar_t eps (``t``: int or B-vector)."""
    a, b, d = (_bcast(f(t), lq) for f in (schedule.abar, schedule.bbar, schedule.dbar))
    return (a - b) * lq + (1.0 - a) * hq + d * eps


def state(lq: torch.Tensor, residual: torch.Tensor, t, eps: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    """The closed form written with the residual: (1 - bbar_t) LQ - (1 - abar_t) R + dbar_t eps."""
    a, b, d = (_bcast(f(t), lq) for f in (schedule.abar, schedule.bbar, schedule.dbar))
    return (1.0 - b) * lq - (1.0 - a) * residual + d * eps


def implied_noise(x_t: torch.Tensor, lq: torch.Tensor, residual: torch.Tensor, t: int,
                  schedule: Schedule) -> torch.Tensor:
    """The eps that makes ``x_t`` the state at ``t`` for ``residual`` (zeros where dbar_t = 0)."""
    d = float(schedule.dbar(t))
    if d == 0.0:
        return torch.zeros_like(x_t)
    a, b = float(schedule.abar(t)), float(schedule.bbar(t))
    return (x_t - (1.0 - b) * lq + (1.0 - a) * residual) / d


def start_state(lq: torch.Tensor, schedule: Schedule, eps: torch.Tensor) -> torch.Tensor:
    """I_T = gamma_T LQ + dbar_T eps."""
    return schedule.gamma * lq + float(schedule.noise) * eps


def sample(predict: Predictor, lq: torch.Tensor, schedule: Schedule, steps: int = DEFAULT_STEPS,
           eps: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """Deterministic few-step sampling from I_T to the restored image LQ - R (see the module docstring).

    eps: the starting noise (default: drawn with ``generator``, so a fixed seed gives the same bytes).
    Autograd is as the caller has it: inference wraps the call in ``torch.no_grad()``."""
    if eps is None:
        eps = torch.randn(lq.shape, generator=generator, dtype=lq.dtype, device="cpu").to(lq.device)
    times = schedule.sampling_times(steps)
    x = start_state(lq, schedule, eps)
    residual = torch.zeros_like(lq)
    for t, s in zip(times[:-1], times[1:]):
        tt = torch.full((lq.shape[0],), t, dtype=torch.long, device=lq.device)
        residual = predict(x, lq, tt)
        x = state(lq, residual, s, implied_noise(x, lq, residual, t, schedule), schedule)
    return lq - residual
