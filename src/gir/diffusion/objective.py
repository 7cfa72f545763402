"""The ``residual_diffusion`` training objective (paper 001, sec. 4.1): for each sample a timestep t drawn
uniformly from 1..T and noise eps, the state I_t in closed form (:func:`gir.models.diffusion_process.q_sample`),
and an L1 loss between the network's predicted residual and the true one, R = LQ - HQ.

Config: ``objective: {type: residual_diffusion}`` with a ``model`` of type ``diffusion_unet`` (its
``timesteps``, ``gamma_T`` and ``noise`` define the process). Randomness comes from torch's generator,
which the engine re-seeds from (seed, rank, iteration) before every iteration, so runs resume exactly.
Validation samples with the model's own few-step sampler and scores PSNR / SSIM like ``restore``.
"""
from __future__ import annotations

import torch

from gir.data.errors import ConfigError
from gir.models.diffusion_process import q_sample
from gir.models.diffusion_unet import DiffusionUNet
from gir.training.objectives import OBJECTIVES, Restore, StepResult


@OBJECTIVES.register("residual_diffusion")
class ResidualDiffusionObjective(Restore):
    """L1 on the predicted residual at a random timestep (see the module docstring)."""

    def bind(self, model, loss, device, cfg):
        if not isinstance(model, DiffusionUNet):
            raise ConfigError("config: objective residual_diffusion needs model.type: diffusion_unet, "
                              f"got {type(model).__name__}")
        super().bind(model, loss, device, cfg)

    def step(self, net, batch, lq, gt, t, phase=0):
        schedule = self.model.schedule
        b = lq.shape[0]
        times = torch.randint(1, schedule.timesteps + 1, (b,)).to(lq.device)
        eps = torch.randn(lq.shape).to(lq.device, lq.dtype)
        residual = lq - gt
        x_t = q_sample(lq, gt, times, eps, schedule)
        pred = net(lq, x_t, times)
        per_sample = (pred.float() - residual).abs().flatten(1).mean(1)
        total = per_sample.mean()
        return StepResult(total, {"l1_residual": total.detach()}, per_sample.detach(), (lq - pred).detach())
