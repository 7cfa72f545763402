"""The residual-diffusion process, kept under its paper-001 name: it lives in the models layer
(:mod:`gir.models.diffusion_process`), since the ``diffusion_unet`` architecture samples with it."""
from __future__ import annotations

from gir.models.diffusion_process import (DEFAULT_GAMMA_T, DEFAULT_NOISE, DEFAULT_STEPS, DEFAULT_TIMESTEPS,  # noqa: F401
                                          Predictor, Schedule, forward_step, implied_noise, q_sample, sample,
                                          start_state, state)
