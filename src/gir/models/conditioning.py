"""Conditioning inputs: a strength that a network is told besides the image (FFDNet's noise level, FBCNN's JPEG
quality; issue 21, step 3).

A conditioned network names its inputs in its descriptor (``ModelDescriptor.conditioning``, e.g.
``("jpeg.quality",)``); whoever runs it gives one number per name, in the units of the degradation library
and of `gir analyze`'s strengths (the analyzer and a JPEG file's tables give ``jpeg.quality`` 1-100). Training
reads the same numbers from each sample's recipe (:func:`from_recipe`), so a network learns with the value that
made its input and runs with the value that the analysis measures.

:data:`CONDITIONS` says, per name, how a recipe gives the value, what it is when the recipe has no such step
(a photo that was never compressed is quality 100), and the scale that brings it near [0, 1] for the network.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from gir.errors import GirError


@dataclass(frozen=True)
class Condition:
    """``op.param``: the value of the *last* ``op`` step (or step of one of the ``also`` ops, which have a
    parameter of the same name and meaning) of a recipe (the one whose traces an expert undoes first);
    ``absent``: the value without such a step; the network sees ``value / scale``, clipped to ``[low, high]``
    first."""

    op: str
    param: str
    absent: float
    scale: float
    low: float
    high: float
    also: tuple[str, ...] = ()


CONDITIONS: dict[str, Condition] = {
    "jpeg.quality": Condition("jpeg", "quality", absent=100.0, scale=100.0, low=1.0, high=100.0),
    # FFDNet's noise level: the std of the noise on the 0-255 scale (0 = clean); a noise-map network
    # (wavelet_unet ``noise_map``) also takes it per pixel, as a B x 1 x H x W map in the same encoding.
    # camera_noise's sigma is its std at mid grey, the level the analyzer reads for it (gir.analysis.families)
    "noise.sigma": Condition("noise", "sigma", absent=0.0, scale=75.0, low=0.0, high=75.0, also=("camera_noise",)),
}


class ConditioningError(GirError, ValueError):
    """A conditioned network was run without (or with unknown) conditioning values."""


def check_names(names: Sequence[str], where: str = "conditions") -> tuple[str, ...]:
    """``names`` as a tuple, each one of :data:`CONDITIONS` (else :class:`ConditioningError`)."""
    unknown = [n for n in names if n not in CONDITIONS]
    if unknown:
        raise ConditioningError(f"{where}: unknown conditioning input(s) {', '.join(map(repr, unknown))}; "
                                f"known: {', '.join(CONDITIONS)}")
    return tuple(names)


def from_recipe(recipe, names: Sequence[str]) -> dict[str, float]:
    """The conditioning values that a recipe (a :class:`~gir.degradations.Recipe` or its text; empty: a clean
    or paired sample) implies, by name."""
    from gir.degradations import Recipe

    if isinstance(recipe, str):
        recipe = Recipe.parse(recipe) if recipe.strip() else Recipe(())
    values = {}
    for name in names:
        c = CONDITIONS[name]
        found = [s.params[c.param] for s in recipe.steps if s.op in (c.op, *c.also) and c.param in s.params]
        values[name] = float(found[-1]) if found else c.absent
    return values


def encode(names: Sequence[str], values: Mapping[str, float], where: str = "conditions") -> np.ndarray:
    """The network's input for ``names``: float32 vector, ``value / scale`` of each (clipped to its range).
    A missing name is a :class:`ConditioningError` that says what to give."""
    missing = [n for n in names if n not in values or values[n] is None]
    if missing:
        raise ConditioningError(f"{where}: the network needs {', '.join(missing)} (e.g. "
                                f"{missing[0]}={CONDITIONS[missing[0]].absent:g})")
    out = [np.clip(float(values[n]), CONDITIONS[n].low, CONDITIONS[n].high) / CONDITIONS[n].scale for n in names]
    return np.asarray(out, dtype=np.float32)


def encode_recipes(recipes: Sequence, names: Sequence[str]) -> np.ndarray:
    """B x len(names) float32: :func:`encode` of :func:`from_recipe` for each recipe of a batch."""
    return np.stack([encode(names, from_recipe(r, names)) for r in recipes]).astype(np.float32)


def parse_values(items: Sequence[str] | None, option: str = "--condition") -> dict[str, float]:
    """``["jpeg.quality=30"]`` -> ``{"jpeg.quality": 30.0}`` (each name checked)."""
    values: dict[str, float] = {}
    for item in items or ():
        name, sep, text = str(item).partition("=")
        name = name.strip()
        try:
            if not sep:
                raise ValueError
            values[name] = float(text)
        except ValueError:
            raise ConditioningError(f"{option}: expected NAME=NUMBER such as jpeg.quality=30, got {item!r}") from None
        check_names([name], option)
    return values
