"""Full-reference evaluation of restoration methods on degraded copies of clean images.

A *task* is a named degradation recipe; every (task, image) pair gets its own seed, so all methods see the
same degraded input in a run and the same seed gives the same inputs in every run. Degraded inputs are
quantised to 8 bits, as a saved photo would be. PSNR and SSIM follow :mod:`gir.metrics`: RGB, all
three channels, no border crop; outputs are scored as saved (clipped, rounded to 8 bits:
:func:`gir.metrics.score_restored`, the same path as training validation and `gir bench run`).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from gir.data.patches import quantize
from gir.degradations.recipe import Recipe
from gir.metrics import score_restored

Method = Callable[[np.ndarray, Recipe], np.ndarray]
"""A restoration method: (degraded float32 HxWx3 in [0, 1], the recipe that made it) -> restored image.
Blind methods ignore the recipe; classical baselines use it to pick their per-op method."""


@dataclass(frozen=True)
class EvalTask:
    name: str
    recipe: Recipe
    group: str = ""


@dataclass(frozen=True)
class Score:
    task: str
    group: str
    dataset: str
    image: str
    method: str
    psnr: float
    ssim: float


def pair_seed(seed: int, task: str, dataset: str, image: str) -> int:
    """A 63-bit seed for one (task, image) pair, stable across runs, platforms and method lists."""
    digest = hashlib.sha256(f"{seed}|{task}|{dataset}|{image}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def degrade(gt: np.ndarray, task: EvalTask, seed: int) -> np.ndarray:
    """The task's recipe applied to ``gt`` with ``seed``, quantised to 8-bit levels (float32 HxWx3)."""
    return quantize(task.recipe.apply(gt, seed=seed))


def evaluate(methods: dict[str, Method], tasks: Sequence[EvalTask],
             images: Iterable[tuple[str, str, np.ndarray]], seed: int = 0,
             on_pair: Callable[[], None] | None = None) -> list[Score]:
    """Score every method on every (task, image); ``images`` yields (dataset, image name, clean HxWx3).

    The degraded input itself is scored as method "input". ``on_pair`` is called after each pair
    (for a progress bar).
    """
    scores: list[Score] = []
    for dataset, name, gt in images:
        for task in tasks:
            lq = degrade(gt, task, pair_seed(seed, task.name, dataset, name))
            outputs = {"input": lq, **{m: fn(lq, task.recipe) for m, fn in methods.items()}}
            for method, out in outputs.items():
                scores.append(Score(task.name, task.group, dataset, name, method, *score_restored(out, gt)))
            if on_pair is not None:
                on_pair()
    return scores


def mean_table(scores: Sequence[Score], by: Sequence[str] = ("task", "method")) -> dict[tuple, dict[str, float]]:
    """Average PSNR / SSIM (and the count) per distinct value of the ``by`` fields, in first-seen order."""
    groups: dict[tuple, list[Score]] = {}
    for s in scores:
        groups.setdefault(tuple(getattr(s, f) for f in by), []).append(s)
    return {k: {"psnr": float(np.mean([s.psnr for s in v])), "ssim": float(np.mean([s.ssim for s in v])),
                "n": len(v)} for k, v in groups.items()}


def load_images(folder: str | Path, max_images: int | None = None) -> Iterable[tuple[str, str, np.ndarray]]:
    """(folder name, file name, RGB float32) for the images of ``folder``, sorted by name."""
    from gir.data.folders import list_images
    from gir.io import read_rgb

    folder = Path(folder)
    for path in list_images([folder], key=str(folder), max_images=max_images):
        yield folder.name, Path(path).name, read_rgb(path)
