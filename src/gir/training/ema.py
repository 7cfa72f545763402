"""Exponential moving average of a network's weights (validated and saved as ``params_ema``)."""
from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """``ema <- d * ema + (1 - d) * w`` after every step, with ``d = min(decay, (1 + n) / (10 + n))`` at
    update ``n`` so early averages are not dominated by the random initialisation. Buffers are copied.

    Not ``torch.optim.swa_utils.AveragedModel``: its EMA helper has a fixed decay (the warm-up above would be a
    custom ``multi_avg_fn`` anyway), it keeps an ``n_averaged`` buffer and a ``module.`` prefix in its state
    dict, so the shipped ``params_ema`` (loaded by name into a plain network) would need renaming on every
    save and load; this class is the same fused ``torch._foreach_lerp_`` update with plain parameter names."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay = float(decay)
        self.updates = 0
        self.module = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        ema_p = [p for p in self.module.parameters()]
        cur_p = [p.detach() for p in model.parameters()]
        torch._foreach_lerp_(ema_p, cur_p, 1.0 - d)
        for b_ema, b in zip(self.module.buffers(), model.buffers()):
            b_ema.copy_(b)

    def state_dict(self) -> dict:
        """Bookkeeping only; the averaged weights are saved in the weights file."""
        return {"decay": self.decay, "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.updates = int(state["updates"])
