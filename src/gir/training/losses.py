"""Training losses, built from the config's ``loss`` list by the :data:`LOSSES` registry.

Each item is ``{type, weight, ...}``; the total is the weighted sum. ``l1``, ``mse``, ``charbonnier`` and
``psnr`` compare pixels. ``perceptual`` compares VGG features and needs a weights file (no weights ship
with gir and nothing is downloaded); ``features`` compares the encoder features of a network the project
trains and ships itself (the analyzer, by default), so it needs no download. ``gan`` adds an adversarial term with a patch discriminator the engine
trains alongside (:mod:`gir.training.discriminator`). All take B x 3 x H x W tensors in [0, 1].
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gir.data.errors import ConfigError
from gir.registry import Registry
from gir.training.values import number

LOSSES: Registry = Registry("loss")


class PixelLoss(nn.Module):
    """Mean over pixels of a per-element penalty; :meth:`per_sample` keeps the batch dimension."""

    def __init__(self):  # no options (said here, so that the config's keys are checked at load)
        super().__init__()

    def penalty(self, d: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def per_sample(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.penalty(pred.float() - target.float()).flatten(1).mean(1)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.penalty(pred.float() - target.float()).mean()


@LOSSES.register("l1")
class L1Loss(PixelLoss):
    def penalty(self, d):
        return d.abs()


@LOSSES.register("mse")
class MSELoss(PixelLoss):
    def penalty(self, d):
        return d * d


@LOSSES.register("charbonnier")
class CharbonnierLoss(PixelLoss):
    """sqrt(d^2 + eps^2): L1 that is smooth at zero."""

    def __init__(self, eps: float = 1e-3):
        super().__init__()
        self.eps = number(eps, "loss charbonnier.eps")

    def penalty(self, d):
        return torch.sqrt(d * d + self.eps * self.eps)


@LOSSES.register("psnr")
class PSNRLoss(PixelLoss):
    """-PSNR per image, 10 log10(MSE + eps) on [0, 1] data, averaged over the batch (NAFNet trains with it).

    The log makes each image's gradient inversely proportional to its own error, so in a batch that mixes
    easy degradations (mild JPEG) with hard ones (dense haze) every image counts in dB, as in an average PSNR
    over tasks; a plain L1 lets the large-error images dominate.
    """

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = number(eps, "loss psnr.eps")

    def penalty(self, d):
        return d * d

    def per_sample(self, pred, target):
        return 10.0 * torch.log10(super().per_sample(pred, target) + self.eps)

    def forward(self, pred, target):
        return self.per_sample(pred, target).mean()


@LOSSES.register("perceptual")
class PerceptualLoss(nn.Module):
    """Distance between VGG features of prediction and target (conv outputs before ReLU by default).

    weights: a VGG16/19 file (``.pth`` state dict as torchvision saves it, keys ``features.N.*``, or
        ``.safetensors``); required. layers: ``{name: weight}`` with names ``conv<b>_<i>`` or
        ``relu<b>_<i>``; the default {conv1_2: 0.1, conv2_2: 0.1, conv3_4: 1, conv4_4: 1, conv5_4: 1} is the
        Real-ESRGAN-style setting the RAIM teams report (paper 003). normalize: ImageNet mean/std input
        normalisation, as torchvision's VGG weights expect.
    """

    def __init__(self, weights: str | None = None, arch: str = "vgg19", layers: dict | None = None,
                 criterion: str = "l1", normalize: bool = True):
        super().__init__()
        from gir.training.vgg import VGGFeatures

        if not weights:
            raise ConfigError("loss perceptual: set `weights:` to a VGG16/19 weights file (e.g. torchvision's "
                              "vgg19 .pth); gir bundles no VGG weights and downloads nothing")
        layers = layers or {"conv1_2": 0.1, "conv2_2": 0.1, "conv3_4": 1.0, "conv4_4": 1.0, "conv5_4": 1.0}
        if not isinstance(layers, dict) or not layers:
            raise ConfigError("loss perceptual.layers: expected a mapping {layer name: weight}")
        if criterion not in ("l1", "mse"):
            raise ConfigError(f"loss perceptual.criterion: expected l1 or mse, got {criterion!r}")
        self.layer_weights = {str(k): number(v, f"loss perceptual.layers.{k}") for k, v in layers.items()}
        self.features = VGGFeatures(arch, list(self.layer_weights), Path(weights), normalize)
        self.criterion = F.l1_loss if criterion == "l1" else F.mse_loss

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        fp = self.features(pred.float())
        with torch.no_grad():
            ft = self.features(target.float())
        return sum(w * self.criterion(fp[k], ft[k]) for k, w in self.layer_weights.items())


@LOSSES.register("features")
class OwnFeatureLoss(nn.Module):
    """Perceptual distance on the encoder levels of the project's own analyzer (a DCPT-style degradation
    classifier, paper 004), as a VGG loss but with weights that ship with gir: mean absolute difference of
    each level's features of prediction and target, divided by the mean magnitude of the target's, averaged
    over ``levels`` (default: every level).

    analyzer: a shipped analyzer's name (default ``gir-analyzer``) or a checkpoint path. The network is frozen
    and kept out of the state dict (it is not trained and is re-read from ``analyzer``).
    """

    def __init__(self, analyzer: str = "gir-analyzer", levels: list[int] | None = None):
        super().__init__()
        from gir.analysis.analyze import resolve_analyzer
        from gir.analysis.network import build_analyzer
        from gir.models.checkpoint import load_state

        try:
            path = resolve_analyzer(analyzer)
        except Exception as e:  # noqa: BLE001 - a config error names the loss
            raise ConfigError(f"loss features.analyzer: {e}") from None
        state, info = load_state(path, "params_ema")
        net = build_analyzer(dict(info.get("model_cfg") or {}))
        net.load_state_dict(state)
        net.eval().requires_grad_(False)
        self.path = str(path)
        object.__setattr__(self, "_net", net)  # not a submodule: no parameters, no state dict entries
        count = len(net.levels)
        self.levels = list(range(count)) if levels is None else [int(i) for i in levels]
        if not self.levels or any(not 0 <= i < count for i in self.levels):
            raise ConfigError(f"loss features.levels: expected indices in 0..{count - 1}, got {levels!r}")

    def _apply(self, fn, *args, **kwargs):  # move the frozen network with the loss (.to(device))
        self._net._apply(fn, *args, **kwargs)
        return super()._apply(fn, *args, **kwargs)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        fp = self._net.features(pred.float())
        with torch.no_grad():
            ft = self._net.features(target.float())
        terms = [(fp[i] - ft[i]).abs().mean() / (ft[i].abs().mean() + 1e-6) for i in self.levels]
        return sum(terms) / len(terms)


@LOSSES.register("gan")
class AdversarialLoss(nn.Module):
    """Generator side of a GAN term; owns the discriminator the engine updates after each generator step.

    kind: ``vanilla`` (binary cross-entropy on logits), ``lsgan`` (least squares) or ``hinge``.
    arch: ``patch`` (:class:`~gir.training.discriminator.PatchDiscriminator`, channels / layers /
    spectral_norm) or ``unet`` (:class:`~gir.training.discriminator.UNetDiscriminator`, Real-ESRGAN's kind:
    a logit per pixel; channels / spectral_norm).
    lr: the discriminator's learning rate (default: the generator's, following its schedule).
    """

    def __init__(self, kind: str = "vanilla", channels: int = 64, layers: int = 3, spectral_norm: bool = True,
                 lr: float | None = None, arch: str = "patch"):
        super().__init__()
        from gir.training.discriminator import PatchDiscriminator, UNetDiscriminator

        if kind not in ("vanilla", "lsgan", "hinge"):
            raise ConfigError(f"loss gan.kind: expected vanilla, lsgan or hinge, got {kind!r}")
        if arch not in ("patch", "unet"):
            raise ConfigError(f"loss gan.arch: expected patch or unet, got {arch!r}")
        self.kind = kind
        self.lr = None if lr is None else number(lr, "loss gan.lr")
        self.discriminator = (PatchDiscriminator(3, int(channels), int(layers), bool(spectral_norm)) if arch == "patch"
                              else UNetDiscriminator(3, int(channels), bool(spectral_norm)))

    def _against(self, logits: torch.Tensor, real: bool) -> torch.Tensor:
        if self.kind == "vanilla":
            return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, float(real)))
        if self.kind == "lsgan":
            return F.mse_loss(logits, torch.full_like(logits, float(real)))
        return F.relu(1.0 - logits).mean() if real else F.relu(1.0 + logits).mean()

    def forward(self, pred: torch.Tensor, target: torch.Tensor | None = None,
                discriminator: nn.Module | None = None) -> torch.Tensor:
        """Generator loss: the discriminator should call ``pred`` real. Its parameters get no gradient."""
        d = discriminator or self.discriminator
        params = list(self.discriminator.parameters())
        flags = [p.requires_grad for p in params]
        for p in params:
            p.requires_grad_(False)
        try:
            logits = d(pred.float())
        finally:
            for p, f in zip(params, flags):
                p.requires_grad_(f)
        return -logits.mean() if self.kind == "hinge" else self._against(logits, True)

    def discriminator_loss(self, fake: torch.Tensor, real: torch.Tensor,
                           discriminator: nn.Module | None = None) -> torch.Tensor:
        """Discriminator loss on detached fakes and real targets, in one forward pass."""
        d = discriminator or self.discriminator
        logits = d(torch.cat([real.float(), fake.detach().float()]))
        lr, lf = logits.chunk(2)
        return 0.5 * (self._against(lr, True) + self._against(lf, False))


class LossSet(nn.Module):
    """The weighted terms of a config's ``loss`` list. ``forward`` returns (total, {name: value})."""

    def __init__(self, items: list[dict[str, Any]]):
        super().__init__()
        if not isinstance(items, list) or not items:
            raise ConfigError("config: loss must be a non-empty list of {type, weight, ...} terms")
        self.names: list[str] = []
        self.weights: list[float] = []
        terms = []
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("type"), str):
                raise ConfigError(f"config: loss[{i}] must be a mapping with a 'type' ({', '.join(LOSSES)})")
            kwargs = {k: v for k, v in item.items() if k not in ("type", "weight")}
            kind = item["type"]
            if kind not in LOSSES:
                raise ConfigError(f"config: loss[{i}]: unknown loss {kind!r}; known: {', '.join(LOSSES)}")
            terms.append(LOSSES.call(kind, where=f"config: loss[{i}]", **kwargs))
            self.weights.append(number(item.get("weight", 1.0), f"loss[{i}].weight"))
            name = kind if kind not in self.names else f"{kind}{i}"
            self.names.append(name)
        self.terms = nn.ModuleList(terms)

    def adversarial(self) -> tuple[int, AdversarialLoss] | None:
        """(index, term) of the GAN term, if any (at most one)."""
        found = [(i, t) for i, t in enumerate(self.terms) if isinstance(t, AdversarialLoss)]
        if len(found) > 1:
            raise ConfigError("config: loss: at most one gan term")
        return found[0] if found else None

    def forward(self, pred: torch.Tensor, target: torch.Tensor,
                discriminator: nn.Module | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        values = {}
        total = pred.new_zeros((), dtype=torch.float32)
        for name, w, term in zip(self.names, self.weights, self.terms):
            v = term(pred, target, discriminator) if isinstance(term, AdversarialLoss) else term(pred, target)
            values[name] = v.detach()
            total = total + w * v
        return total, values
