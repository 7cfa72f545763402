"""Random degradation chains x = (D_k o ... o D_1)(y) (paper 000, eq. 4).

The order k is drawn uniformly from ``order``; ops are distinct within a chain; acquisition-time ops
(weather, low light, lens droplets) may only be D_1, the first op applied. Strengths come from each op's
random range (``strength="random"``) or are its representative values (``strength="representative"``).
The returned recipe carries every drawn parameter and a seed for the ops' own randomness.
"""
from __future__ import annotations

import re
from typing import Iterable

import numpy as np

from gir.degradations.base import OPS
from gir.degradations.recipe import Recipe, Step


def default_pool() -> list[str]:
    """Every registered op, in registration order, except the realistic captures of
    :mod:`gir.degradations.ops_real` (added later: a config names them in its pool, so that the chains of
    configs written before them stay the same)."""
    from gir.degradations.ops_real import REAL

    return [n for n in OPS.names() if OPS.get(n).source != REAL]


def parse_order(order: str | int | tuple[int, int]) -> tuple[int, int]:
    """``3`` -> (3, 3); ``"1-5"`` -> (1, 5); validates 1 <= lo <= hi."""
    if isinstance(order, str):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", order)
        if not m:
            raise ValueError(f"order {order!r}: expected N or LO-HI, e.g. 1-5")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
    elif isinstance(order, int):
        lo = hi = order
    else:
        lo, hi = order
    if not 1 <= lo <= hi:
        raise ValueError(f"order {lo}-{hi}: need 1 <= LO <= HI")
    return lo, hi


def sample_recipe(rng: np.random.Generator, order: str | int | tuple[int, int] = (1, 5),
                  pool: Iterable[str] | None = None, strength: str = "random") -> Recipe:
    """Draw a random chain from ``pool`` (default: all ops). Raises ValueError if the pool is too small."""
    lo, hi = parse_order(order)
    names = list(pool) if pool is not None else default_pool()
    specs = [OPS.get(n) for n in names]
    later = [s for s in specs if not s.acquisition]
    if hi > len(later) + 1 or (not later and hi > 1):
        raise ValueError(f"order up to {hi} needs more ops than the pool has ({len(specs)})")
    k = int(rng.integers(lo, hi + 1))
    first = specs[int(rng.integers(len(specs)))]
    chain = [first]
    rest = [s for s in later if s.name != first.name]
    if k - 1 > len(rest):
        raise ValueError(f"order {k} needs more non-acquisition ops than the pool has")
    idx = rng.permutation(len(rest))[: k - 1]
    chain += [rest[i] for i in idx]
    if strength not in ("random", "representative"):
        raise ValueError(f"strength must be 'random' or 'representative', got {strength!r}")
    steps = tuple(Step(s.name, s.sample_params(rng) if strength == "random" else s.representative())
                  for s in chain)
    return Recipe(steps, seed=int(rng.integers(2**31 - 1)))
