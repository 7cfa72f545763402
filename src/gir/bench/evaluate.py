"""Full-reference evaluation of restoration methods on degraded copies of clean images: the one loop.

:func:`score_pairs` scores every method on every :class:`~gir.data.pairs.Pair` (degraded input, ground truth,
what the method is told); training validation (:mod:`gir.training.validate`), ``gir bench run`` and the lines
(:func:`gir.bench.protocol.score_methods`) and the benchmark scripts (:func:`evaluate`) all go through it, so
they give one model the same numbers. Each (task, image) is degraded with its own seed,
:func:`~gir.data.pairs.pair_seed` ``(seed, task, data set, image)``, so all methods see the same degraded input
in a run and the same seed gives the same inputs in every run. Degraded inputs are quantised to 8 bits, as a
saved photo would be. PSNR and SSIM follow :mod:`gir.metrics`: RGB, all three channels, no border crop by
default; outputs are scored as saved (clipped, rounded to 8 bits: :func:`gir.metrics.score_restored`), the
input as it is.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from gir.data.folders import list_images
from gir.data.pairs import Pair, pair_seed
from gir.data.patches import quantize
from gir.degradations.recipe import Recipe
from gir.errors import GirError
from gir.io import read_rgb
from gir.metrics import psnr, score_restored, ssim

Method = Callable[[np.ndarray, Recipe], np.ndarray]
"""A restoration method: (degraded float32 HxWx3 in [0, 1], what it is told: here the recipe that made it)
-> restored image. Blind methods ignore the recipe; classical baselines use it to pick their per-op method."""

__all__ = ["EvalTask", "Method", "Pair", "Score", "degrade", "degraded_pairs", "evaluate", "load_images",
           "mean_table", "pair_seed", "score_pairs"]


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


def score_pairs(methods: Mapping[str, Callable], pairs: Iterable[Pair], *, crop_border: int = 0,
                y_channel: bool = False,
                on_pair: Callable[[Pair, dict[str, np.ndarray]], None] | None = None,
                baseline: Callable[[np.ndarray, object], np.ndarray] | None = None) -> list[Score]:
    """Score every ``method(pair.lq, pair.told)`` on every pair; the degraded input itself is scored as
    method ``"input"`` (first), or, where the input is smaller than the ground truth (super-resolution),
    ``baseline(pair.lq, pair.told)`` is (bicubic enlargement: :func:`gir.bench.superres.bicubic`), as saved. Outputs are clipped to [0, 1] (and must keep the ground truth's shape) and
    scored as saved; ``crop_border`` / ``y_channel`` as for :func:`gir.metrics.psnr`. ``on_pair(pair,
    outputs)`` is called after each pair with the clipped outputs by method name."""
    kw = dict(crop_border=crop_border, y_channel=y_channel)
    scores: list[Score] = []
    for pair in pairs:
        where = (pair.task, pair.group, pair.dataset, pair.image)
        if baseline is None:
            scores.append(Score(*where, "input", float(psnr(pair.lq, pair.gt, **kw)),
                                float(ssim(pair.lq, pair.gt, **kw))))
        else:
            base = np.clip(np.asarray(baseline(pair.lq, pair.told), dtype=np.float32), 0.0, 1.0)
            scores.append(Score(*where, "input", *score_restored(base, pair.gt, **kw)))
        outputs: dict[str, np.ndarray] = {}
        for name, method in methods.items():
            out = np.clip(np.asarray(method(pair.lq, pair.told), dtype=np.float32), 0.0, 1.0)
            if out.shape != pair.gt.shape:
                raise GirError(f"task {pair.task}, {pair.dataset}/{pair.image}: {name} returned {out.shape}, "
                               f"expected {pair.gt.shape}")
            outputs[name] = out
            scores.append(Score(*where, name, *score_restored(out, pair.gt, **kw)))
        if on_pair is not None:
            on_pair(pair, outputs)
    return scores


def degrade(gt: np.ndarray, task: EvalTask, seed: int) -> np.ndarray:
    """The task's recipe applied to ``gt`` with ``seed``, quantised to 8-bit levels (float32 HxWx3)."""
    return quantize(task.recipe.apply(gt, seed=seed))


def degraded_pairs(tasks: Sequence[EvalTask], images: Iterable[tuple[str, str, np.ndarray]],
                   seed: int = 0) -> Iterator[Pair]:
    """Every (image, task), images outer: ``images`` yields (data set, image name, clean HxWx3); each pair is
    degraded with ``pair_seed(seed, task name, data set, image name)``; methods are told the recipe."""
    for dataset, name, gt in images:
        for task in tasks:
            lq = degrade(gt, task, pair_seed(seed, task.name, dataset, name))
            yield Pair(task.name, dataset, name, lq, gt, task.recipe, task.group)


def evaluate(methods: dict[str, Method], tasks: Sequence[EvalTask],
             images: Iterable[tuple[str, str, np.ndarray]], seed: int = 0,
             on_pair: Callable[[], None] | None = None) -> list[Score]:
    """Score every method on every (task, image) (:func:`degraded_pairs`, :func:`score_pairs`); the degraded
    input itself is scored as method "input". ``on_pair`` is called after each pair (for a progress bar)."""
    return score_pairs(methods, degraded_pairs(tasks, images, seed),
                       on_pair=None if on_pair is None else lambda _pair, _outputs: on_pair())


def mean_table(scores: Sequence[Score], by: Sequence[str] = ("task", "method")) -> dict[tuple, dict[str, float]]:
    """Average PSNR / SSIM (and the count) per distinct value of the ``by`` fields, in first-seen order."""
    groups: dict[tuple, list[Score]] = {}
    for s in scores:
        groups.setdefault(tuple(getattr(s, f) for f in by), []).append(s)
    return {k: {"psnr": float(np.mean([s.psnr for s in v])), "ssim": float(np.mean([s.ssim for s in v])),
                "n": len(v)} for k, v in groups.items()}


def load_images(folder: str | Path, max_images: int | None = None) -> Iterable[tuple[str, str, np.ndarray]]:
    """(folder name, file name, RGB float32) for the images of ``folder``, sorted by name."""
    folder = Path(folder)
    for path in list_images([folder], key=str(folder), max_images=max_images):
        yield folder.name, Path(path).name, read_rgb(path)
