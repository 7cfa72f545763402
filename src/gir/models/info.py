"""Model size and cost: parameter counts, FLOPs per megapixel, and a summary table over the registry."""
from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

aten = torch.ops.aten


def count_params(model: nn.Module) -> int:
    """Number of parameters (trainable or not; buffers excluded)."""
    return sum(p.numel() for p in model.parameters())


def _cpu_sdpa_flops(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query_shape, key_shape, value_shape)


# torch's counter knows the CUDA attention kernels but not the CPU flash kernel SDPA dispatches to here.
_CUSTOM_FLOPS = {aten._scaled_dot_product_flash_attention_for_cpu: _cpu_sdpa_flops}


def _count_flops(model: nn.Module, x: torch.Tensor, tensors: dict[str, torch.Tensor] | None) -> int:
    with torch.no_grad(), FlopCounterMode(display=False, custom_mapping=_CUSTOM_FLOPS) as counter:
        if tensors is None:
            model(x)
        else:
            functional_call(model, tensors, (x,))
    return counter.get_total_flops()


def gflops_per_megapixel(model: nn.Module, size: int = 256, in_ch: int = 3) -> float:
    """Forward-pass cost in GFLOP per megapixel, counted with ``torch.utils.flop_counter.FlopCounterMode`` on
    one 1 x in_ch x size x size input (convolutions, matrix products and attention; element-wise ops, norms
    and activations are not counted). Convention: FLOPs = 2 x multiply-accumulates (MACs).

    The forward runs on the meta device (shapes only, no arithmetic), so it is fast even for large models;
    the model is switched to eval mode for the count and restored afterwards.
    """
    was_training = model.training
    model.eval()
    try:
        meta = {name: torch.empty_like(t, device="meta")
                for name, t in [*model.named_parameters(), *model.named_buffers()]}
        try:
            flops = _count_flops(model, torch.empty(1, in_ch, size, size, device="meta"), meta)
        except (NotImplementedError, RuntimeError):
            # An op without a meta implementation: count on a real input instead.
            dev = next(model.parameters()).device
            gen = torch.Generator().manual_seed(0)
            flops = _count_flops(model, torch.rand(1, in_ch, size, size, generator=gen).to(dev), None)
    finally:
        model.train(was_training)
    return flops / 1e9 / (size * size / 1e6)


def model_table(presets=("small", "paper"), size: int = 256) -> list[dict]:
    """One row per registered architecture and preset: ``{"name", "preset", "params", "gflops_per_mp",
    "size_multiple"}``. Models are built on the meta device (no weight memory, no arithmetic)."""
    from gir.models import build_model, list_models

    rows = []
    for name in list_models():
        for preset in presets:
            with torch.device("meta"):
                model = build_model({"type": name, "preset": preset})
            rows.append(dict(name=name, preset=preset, params=count_params(model),
                             gflops_per_mp=gflops_per_megapixel(model, size, getattr(model, "channels_in", 3)),
                             size_multiple=model.size_multiple))
    return rows
