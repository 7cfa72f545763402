"""The network of a run: built from the config's ``model`` section, and run on a batch with what it takes
(the image-level context, the conditioning values read from the samples' recipes). Shared by the engine,
the objectives and validation."""
from __future__ import annotations

import torch
from torch import nn

from typing import Callable

from gir.errors import ConfigError, GirError
from gir.models import build_model
from gir.models.conditioning import encode_recipes
from gir.models.descriptor import describe_model


def build_network(model_cfg: dict, build: Callable[..., nn.Module] = build_model) -> nn.Module:
    """``build`` (:func:`gir.models.build_model`, or another registry's builder taking ``where``) on the
    config's ``model`` section, every error reported as a config error naming the section."""
    try:
        return build(dict(model_cfg), where="config: model")
    except ConfigError:
        raise
    except GirError as e:
        raise ConfigError(f"config: model: {e}") from None
    except KeyError as e:
        raise ConfigError(f"config: model: {e.args[0] if e.args else e}") from None


def batch_conditions(model: nn.Module, recipes, device: torch.device) -> torch.Tensor | None:
    """B x n encoded conditioning values (:mod:`gir.models.conditioning`) that a conditioned network gets for
    a batch, read from the samples' recipes; None for a network without conditioning inputs."""
    names = describe_model(model).conditioning
    if not names:
        return None
    return torch.from_numpy(encode_recipes(list(recipes), names)).to(device)


def run_net(net: nn.Module, lq: torch.Tensor, context: torch.Tensor | None = None,
            cond: torch.Tensor | None = None) -> torch.Tensor:
    """``net`` on a batch with what it takes: the context code and the conditioning values where given (a
    plain ``nn.Module`` gets the batch only)."""
    args = (lq,) if context is None else (lq, context)
    return net(*args) if cond is None else net(*args, cond=cond)
