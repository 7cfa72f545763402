"""Common base for restoration networks: B x 3 x H x W in [0, 1] in, same size out, any H and W.

Convention for every architecture: output = input + predicted correction, and the last layer of the
correction is zero-initialised (:func:`gir.models.layers.zero_init_`), so a freshly built model returns its
input exactly and training learns only the correction.
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from gir.errors import GirError


CONTEXT_THUMBNAIL = 256  # long side of the view an image-level code is computed from


def thumbnail(image: torch.Tensor, side: int = CONTEXT_THUMBNAIL) -> torch.Tensor:
    """B x C x H x W -> area-downsampled (adaptive average pooling) so that the long side is at most ``side``
    (unchanged if it is). For tensors inside a network or training; `gir restore` makes the thumbnail of a
    per-image code with cv2's exact area resampling (the two differ by up to 0.23 dB per image with stage 2
    of the shipped model on low light)."""
    h, w = image.shape[-2:]
    scale = side / max(h, w)
    if scale >= 1.0:
        return image
    return F.interpolate(image, size=(max(1, round(h * scale)), max(1, round(w * scale))), mode="area")


def view_grid(h: int, w: int, side: int) -> list[tuple[int, int]]:
    """Top-left corners (y, x) of the ``side`` x ``side`` windows that cover an H x W image on a fixed grid:
    ceil(n / side) windows per axis, evenly spaced from 0 to n - side (one window of the whole axis when it is
    not longer than ``side``)."""
    def starts(n: int) -> list[int]:
        if n <= side:
            return [0]
        k = -(-n // side)
        return [round(i * (n - side) / (k - 1)) for i in range(k)]
    return [(y, x) for y in starts(h) for x in starts(w)]


class ModelConfigError(GirError, ValueError):
    """An architecture was asked for an unknown preset or an unknown / inconsistent hyper-parameter."""


def resolve_preset(arch: str, presets: Mapping[str, Mapping[str, Any]], preset: str,
                   overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``presets[preset]`` updated with ``overrides``; unknown presets or keys raise ModelConfigError.

    The keys of a preset are the architecture's complete list of hyper-parameters, so a typo in a config
    fails loudly instead of being ignored.
    """
    if preset not in presets:
        raise ModelConfigError(f"{arch}: unknown preset {preset!r}; known: {', '.join(presets)}")
    base = dict(presets[preset])
    unknown = sorted(set(overrides) - set(base))
    if unknown:
        raise ModelConfigError(f"{arch}: unknown parameter(s) {', '.join(unknown)}; known: {', '.join(base)}")
    base.update(overrides)
    return base


def latter_blocks(prefix: str, n: int, k: int = 4) -> tuple[str, ...]:
    """Names ``prefix.i`` of min(k, n) evenly spaced blocks among the ``n`` blocks of a straight body, taken
    from its latter half (from block n // 2, or earlier when the half has fewer than k blocks) and ending with
    the last block n - 1: n = 16 -> 8, 10, 13, 15; n = 2 -> 0, 1; n = 1 -> 0."""
    k = min(k, n)
    if k <= 1:
        return (f"{prefix}.{n - 1}",) if k == 1 else ()
    start = min(n // 2, n - k)
    step = (n - 1 - start) / (k - 1)  # >= 1, so the rounded indices are distinct
    return tuple(f"{prefix}.{round(start + i * step)}" for i in range(k))


class RestorationNet(nn.Module):
    """Subclasses implement :meth:`body` for inputs whose H and W are multiples of ``size_multiple``;
    :meth:`forward` pads the bottom / right border by repeating the edge pixels (replicate) and crops back.
    Not by reflection: that turns a thin border (a 4-px black frame) into a line twice as wide, away from
    the edge, which a restoration net takes for a scratch; a training patch's content stops at its edge.

    ``size_multiple`` may be set per instance (it depends on depth / window size for some designs).
    ``hparams`` holds the resolved preset of architectures built from presets.
    """

    size_multiple: int = 1
    context_cell: int | None = None  # px per cell when image_context returns a map (cropped per tile)
    context_view: int = 0  # px: a whole image's per-image code is the mean over full-resolution windows this size
    context_halo: int = 0  # cells of a context map a tile needs around its own
    hparams: dict[str, Any]
    # Encoder feature levels (paper 004, DCPT): dotted names, as in ``named_modules()``, of the modules whose
    # outputs are the network's multi-level encoder features, shallow to deep; the deepest is where an
    # encoder-only pass may stop (gir.dcpt.hooks). U-Nets list each encoder level and the bottleneck;
    # straight networks list up to 4 evenly spaced blocks of the latter part of the body, ending with the
    # last body block (:func:`latter_blocks`). A subclass whose levels depend on its preset overrides this
    # with a property. ``()`` = not declared: gir.dcpt.hooks refuses such a model.
    feature_levels: tuple[str, ...] = ()
    # Layout of those outputs: "nchw" (B x C x H x W) or "nhwc" (B x H x W x C, e.g. Swin groups).
    feature_layout: str = "nchw"
    # "local": only local layers, a tiled result equals the untiled one; "global": some layer sees the whole
    # input (global or channel attention), so a tile sees less than the image (gir.models.descriptor).
    tiling: str = "local"
    # Names of the conditioning inputs :meth:`forward` needs as ``cond`` (gir.models.conditioning); () = none.
    conditioning: tuple[str, ...] = ()

    @property
    def has_context(self) -> bool:
        """Whether :meth:`image_context` returns a code (a subclass with one says so)."""
        return False

    def descriptor(self):
        """What running this network needs: :class:`gir.models.descriptor.ModelDescriptor`."""
        from gir.models.descriptor import ModelDescriptor

        cell = self.context_cell if self.has_context else None
        context = "map" if cell else ("code" if self.has_context else "none")
        return ModelDescriptor(size_multiple=int(self.size_multiple), context=context,
                               context_view=int(self.context_view) if context == "code" else 0,
                               context_cell=cell, context_halo=int(self.context_halo) if cell else 0,
                               conditioning=tuple(self.conditioning), tiling=self.tiling)

    def body(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def image_context(self, image: torch.Tensor, whole: bool = True) -> torch.Tensor | None:
        """Image-level code for :meth:`forward`, from the whole image (1 x 3 x H x W, a thumbnail will do);
        None for networks without one. Tiled inference computes it once per image and gives it to every tile.
        ``whole=False``: ``image`` is a training region whose border cells only serve as context (no padding
        for a map's border windows)."""
        return None

    def patch_context(self, region: torch.Tensor, margin: int) -> torch.Tensor | None:
        """Training with ``data.train.context_margin``: the context of the central patch of B x 3 x H x W
        degraded regions (``margin`` px on every side), as tiled inference gives it to a tile: the code of the
        region's thumbnail, or the cells of the region's context map that lie under the patch."""
        cell = self.context_cell
        code = self.image_context(region, whole=False) if cell else self.image_context(thumbnail(region))
        if code is None or not cell:
            return code
        h, w = region.shape[-2:]
        if margin % cell or h % cell or w % cell:
            raise ModelConfigError(f"context_margin {margin} and the patch size must be multiples of the "
                                   f"context cell ({cell} px)")
        m = margin // cell
        return code[..., m:h // cell - m, m:w // cell - m]

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None, cond: torch.Tensor | None = None
                ) -> torch.Tensor:
        """``context``: the code of :meth:`image_context` (B or 1 x C, or a B or 1 x C x h x w map matching the
        padded input); None = the network's own input is the whole image (training patches). ``cond``: B or 1
        x len(:attr:`conditioning`) encoded values (:func:`gir.models.conditioning.encode`), for conditioned
        networks only; a noise-map network also takes a B or 1 x 1 x H x W map of them."""
        h, w = x.shape[-2:]
        m = self.size_multiple
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        if cond is not None and cond.dim() == 4:  # a per-pixel map: padded as the image
            if ph or pw:
                cond = F.pad(cond, (0, pw, 0, ph), mode="replicate")
            extra = {"cond": cond.expand(x.shape[0], -1, -1, -1)}
        else:
            extra = {} if cond is None else {"cond": cond.expand(x.shape[0], -1)}
        if context is None:
            return self.body(x, **extra)[..., :h, :w]
        return self.body(x, context.expand(x.shape[0], *context.shape[1:]), **extra)[..., :h, :w]
