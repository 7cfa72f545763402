"""VGG16/19 convolutional features for the perceptual loss, loaded from a user-given weights file.

The layer layout matches torchvision's ``features`` module (indices 0..N), so its state dicts load as they
are; the network stops after the deepest requested layer and is frozen.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from gir.data.errors import ConfigError

_CFG = {
    "vgg16": [2, 2, 3, 3, 3],
    "vgg19": [2, 2, 4, 4, 4],
}
_WIDTH = [64, 128, 256, 512, 512]
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


def layer_names(arch: str) -> list[str]:
    """Names of the ``features`` entries in order: conv1_1, relu1_1, conv1_2, ..., pool1, ..."""
    names = []
    for b, n in enumerate(_CFG[arch], start=1):
        for i in range(1, n + 1):
            names += [f"conv{b}_{i}", f"relu{b}_{i}"]
        names.append(f"pool{b}")
    return names


def _load_state(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise ConfigError(f"loss perceptual.weights: {path} does not exist")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any decoding failure is a bad weights file
        raise ConfigError(f"loss perceptual.weights: cannot read {path}: {e}".splitlines()[0]) from None
    if not isinstance(state, dict):
        raise ConfigError(f"loss perceptual.weights: {path} does not hold a state dict")
    # torchvision keys are features.N.weight; accept a bare N.weight layout too.
    return {k[len("features."):] if k.startswith("features.") else k: v for k, v in state.items()
            if not k.startswith("classifier.")}


class VGGFeatures(nn.Module):
    """Frozen VGG ``features`` up to the deepest of ``layers``; ``forward`` returns {layer: feature map}."""

    def __init__(self, arch: str, layers: list[str], weights: Path, normalize: bool = True):
        super().__init__()
        if arch not in _CFG:
            raise ConfigError(f"loss perceptual.arch: expected one of {', '.join(_CFG)}, got {arch!r}")
        names = layer_names(arch)
        bad = [n for n in layers if n not in names]
        if bad:
            raise ConfigError(f"loss perceptual.layers: unknown layer {bad[0]!r} for {arch} "
                              f"(names like conv3_4, relu5_4)")
        last = max(names.index(n) for n in layers)
        mods: list[nn.Module] = []
        cin = 3
        for name in names[: last + 1]:
            if name.startswith("conv"):
                cout = _WIDTH[int(name[4]) - 1]
                mods.append(nn.Conv2d(cin, cout, 3, padding=1))
                cin = cout
            elif name.startswith("relu"):
                mods.append(nn.ReLU(inplace=False))
            else:
                mods.append(nn.MaxPool2d(2, 2))
        self.body = nn.Sequential(*mods)
        self.names = names[: last + 1]
        self.wanted = set(layers)
        state = _load_state(weights)
        own = self.body.state_dict()
        missing = [k for k in own if k not in state]
        if missing:
            raise ConfigError(f"loss perceptual.weights: {weights} lacks {missing[0]} (expected {arch} "
                              f"'features' weights)")
        try:
            self.body.load_state_dict({k: state[k] for k in own})
        except RuntimeError as e:
            raise ConfigError(f"loss perceptual.weights: {weights} does not fit {arch}: "
                              f"{str(e).splitlines()[-1].strip()}") from None
        self.requires_grad_(False)
        self.eval()
        self.normalize = normalize
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True):
        return super().train(False)  # always frozen

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.normalize:
            x = (x - self.mean) / self.std
        out = {}
        for name, mod in zip(self.names, self.body):
            x = mod(x)
            if name in self.wanted:
                out[name] = x
        return out
