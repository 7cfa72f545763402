"""Model descriptors: every registered architecture says what running it needs."""
from __future__ import annotations

import pytest
from torch import nn

from gir.models import build_model, list_models
from gir.models.descriptor import ModelDescriptor, describe_model


@pytest.mark.parametrize("arch", sorted(n for n in list_models() if n not in ("analyzer", "kernel_net", "fill_unet")))
def test_every_architecture_has_a_descriptor(arch):
    net = build_model({"type": arch, "preset": "small"})
    d = describe_model(net)
    assert d.size_multiple == net.size_multiple and d.context == "none" and d.conditioning == ()
    assert d.tiling in ("local", "global")


def test_descriptor_follows_the_wavelet_unet_options():
    assert describe_model(build_model({"type": "wavelet_unet", "preset": "cpu"})).tiling == "local"
    assert describe_model(build_model({"type": "wavelet_unet", "preset": "small"})).tiling == "global"
    d = describe_model(build_model({"type": "wavelet_unet", "preset": "cpu", "context": 8, "context_view": 256}))
    assert (d.context, d.context_view, d.size_multiple) == ("code", 256, 16)
    d = describe_model(build_model({"type": "wavelet_unet", "preset": "cpu", "context": 8, "context_window": 64}))
    assert (d.context, d.context_cell, d.context_halo) == ("map", 16, 1)
    assert describe_model(build_model({"type": "restormer", "preset": "small"})).tiling == "global"


def test_plain_modules_and_explicit_descriptors():
    class Plain(nn.Module):
        size_multiple = 8

        def forward(self, x):
            return x

    assert describe_model(Plain()) == ModelDescriptor(size_multiple=8)
    given = ModelDescriptor(context="code")
    assert describe_model(Plain(), given) is given
    with pytest.raises(ValueError, match="context map needs context_cell"):
        ModelDescriptor(context="map")
    with pytest.raises(ValueError, match="tiling"):
        ModelDescriptor(tiling="sometimes")
