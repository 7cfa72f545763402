"""What a restoration network needs from whoever runs it, said once, as a :class:`ModelDescriptor`.

The restorer (:class:`gir.restore.engine.Restorer`) and the experts read the descriptor instead of probing a
module for attributes:

* ``size_multiple``: H and W of a tile must be multiples of it (the network pads other sizes itself);
* ``context``: ``none``; ``code`` (one image-level code per photo, from a thumbnail or, with ``context_view``,
  the mean over ``context_view``-px windows); or ``map`` (one code per ``context_cell``-px cell, cropped per
  tile with ``context_halo`` extra cells around it);
* ``conditioning``: names of the values besides the image that the network needs (``cond`` of its forward,
  :mod:`gir.models.conditioning`; e.g. ``("jpeg.quality",)``);
* ``tiling``: ``local`` (only local layers: a tiled result equals the untiled one up to the tile border
  blend) or ``global`` (global attention: tiles see less than the whole image, so tile only when memory
  says so).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

CONTEXTS = ("none", "code", "map")
TILINGS = ("local", "global")


@dataclass(frozen=True)
class ModelDescriptor:
    size_multiple: int = 1
    context: str = "none"
    context_view: int = 0
    context_cell: int | None = None
    context_halo: int = 0
    conditioning: tuple[str, ...] = ()
    tiling: str = "local"
    scale: int = 1
    scales: tuple[int, ...] = (1,)

    def __post_init__(self):
        if self.context not in CONTEXTS:
            raise ValueError(f"context must be one of {CONTEXTS}, got {self.context!r}")
        if self.tiling not in TILINGS:
            raise ValueError(f"tiling must be one of {TILINGS}, got {self.tiling!r}")
        if self.size_multiple < 1:
            raise ValueError(f"size_multiple must be >= 1, got {self.size_multiple}")
        if self.scale < 1 or self.scale not in self.scales:
            raise ValueError(f"scale must be >= 1 and one of scales {self.scales}, got {self.scale}")
        if (self.context == "map") != bool(self.context_cell):
            raise ValueError("a context map needs context_cell (px per cell), and only a map has one")

    def to_dict(self) -> dict:
        return asdict(self)


def describe_model(module, descriptor: ModelDescriptor | None = None) -> ModelDescriptor:
    """The descriptor of a network: ``descriptor`` when the caller gives one (for a plain ``nn.Module`` with an
    image-level code, say); else a :class:`~gir.models.base.RestorationNet` says it itself
    (:meth:`~gir.models.base.RestorationNet.descriptor`); any other ``nn.Module`` mapping B x 3 x H x W to the
    same size is taken as context-free and local, with its ``size_multiple`` attribute when it has one.
    (A network's own ``descriptor`` method is looked up on its class, so this module needs nothing of
    :mod:`gir.models.base`, which builds descriptors.)"""
    if descriptor is not None:
        return descriptor
    if callable(getattr(type(module), "descriptor", None)):
        return module.descriptor()
    return ModelDescriptor(size_multiple=max(1, int(getattr(module, "size_multiple", 1) or 1)))
