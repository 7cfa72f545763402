"""Evaluation pairs: a degraded input and its ground truth, one per (task, image), and the one seed key that
makes every pair reproducible.

Training validation (:class:`gir.data.datasets.ValSet`), ``gir bench run`` and lines
(:mod:`gir.bench.protocol`) and the benchmark scripts (:func:`gir.bench.evaluate.evaluate`) degrade pair
(task, image) with the seed :func:`pair_seed` ``(seed, task, data set, image)``: stable across runs, platforms,
method lists and image order, and different for every image, so images get different noise realisations.
The pairs are scored by the one loop :func:`gir.bench.evaluate.score_pairs`.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np


def pair_seed(seed: int, task: str, dataset: str, image: str) -> int:
    """A 63-bit seed for one (task, image) pair, stable across runs, platforms and method lists."""
    digest = hashlib.sha256(f"{seed}|{task}|{dataset}|{image}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


@dataclass(frozen=True)
class Pair:
    """One (task, image) to score: ``lq`` and ``gt`` float32 HxWx3 in [0, 1]; ``task`` groups the scores;
    ``told`` is what a method gets besides ``lq`` (the recipe, a suite task: blind methods ignore it)."""

    task: Any
    dataset: str
    image: str
    lq: np.ndarray
    gt: np.ndarray
    told: Any = None
    group: str = ""
