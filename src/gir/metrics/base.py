"""The metric registry: config (``{"type": "psnr", "crop_border": 4}``) -> callable ``(img, ref) -> float``.

No-reference metrics (``needs_reference=False``, e.g. ``niqe``) are called as ``metric(img)``; a ``ref``
passed to them is ignored, so one loop can score every metric on (output, ground truth) pairs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from gir.registry import Registry

METRICS: Registry[Callable[..., "Metric"]] = Registry("metric")


@dataclass(frozen=True)
class Metric:
    """A metric function with its options bound: ``metric(img, ref) -> float``.

    name: the registry name ("psnr", "ssim_y", ...); higher_is_better tells how to rank results;
    options: keyword arguments passed to ``fn`` on every call; needs_reference: ``fn(img, ref, **options)``
    when True, ``fn(img, **options)`` (``ref`` ignored, may be omitted) when False.
    """

    name: str
    fn: Callable[..., float]
    options: dict[str, Any] = field(default_factory=dict)
    higher_is_better: bool = True
    needs_reference: bool = True

    def __call__(self, img: np.ndarray, ref: np.ndarray | None = None) -> float:
        if not self.needs_reference:
            return float(self.fn(img, **self.options))
        if ref is None:
            raise TypeError(f"metric {self.name!r} compares against a reference image: "
                            f"call it as metric(img, ref)")
        return float(self.fn(img, ref, **self.options))
