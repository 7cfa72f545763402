"""The metric registry: config (``{"type": "psnr", "crop_border": 4}``) -> callable ``(img, ref) -> float``."""
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
    options: keyword arguments passed to ``fn`` on every call.
    """

    name: str
    fn: Callable[..., float]
    options: dict[str, Any] = field(default_factory=dict)
    higher_is_better: bool = True

    def __call__(self, img: np.ndarray, ref: np.ndarray) -> float:
        return float(self.fn(img, ref, **self.options))
