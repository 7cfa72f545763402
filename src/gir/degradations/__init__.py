"""The degradation library: registered ops, recipes (the task language) and the random chain sampler.

>>> from gir.degradations import OPS, Recipe
>>> Recipe.parse("noise(sigma=20) > jpeg(quality=50)").apply(img, seed=0)   # doctest: +SKIP
"""
from __future__ import annotations

from gir.degradations.base import OPS, OpSpec, Param, register_op
# Importing the op modules registers the ops (order here is the order `gir degrade --list` shows).
from gir.degradations import ops_gir as _ops_gir  # noqa: F401  (GIR's ten, paper 000)
from gir.degradations import ops_extra as _ops_extra  # noqa: F401  (papers 001-004)
from gir.degradations import ops_real as _ops_real  # noqa: F401  (real captures, issue 32)
from gir.degradations.recipe import Recipe, Step
from gir.degradations.sampler import sample_recipe


def degrade(img, recipe: "Recipe | str", seed: int | None = None, depth=None):
    """Apply a recipe (object, text or JSON) to float32 HxWx3 ``img``."""
    if not isinstance(recipe, Recipe):
        recipe = Recipe.parse(recipe)
    return recipe.apply(img, seed=seed, depth=depth)


__all__ = ["OPS", "OpSpec", "Param", "register_op", "Recipe", "Step", "sample_recipe", "degrade"]
