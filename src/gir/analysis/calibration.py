"""Calibrating the analyzer: Platt scaling per output, fitted on held-out whole photos, and the expected
calibration error (ECE) that shows whether it is needed.

The network is trained on 128-px patches, but a photo's verdict aggregates many windows
(:func:`gir.analysis.analyze.aggregate`), so its raw evidence is not a probability. :func:`fit` degrades
whole photos with the recipes of the analyzer's own training sampler (its run config), with seeds the
training never drew, computes the evidence, and fits ``p = sigmoid(a * z + b)`` per family and for
``clean`` (scikit-learn's logistic regression on the one evidence value). :func:`export_calibrated` writes the
shipped weights file with the fitted calibration in its metadata.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from gir.analysis.families import FAMILIES, recipe_targets
from gir.data.datasets import sample_rng
from gir.data.patches import quantize
from gir.data.tasks import build_task_sampler
from gir.degradations import OPS
from gir.degradations.depth import estimate_depth
from gir.models.checkpoint import export_weights

CALIBRATION_SEED = 7_000_000  # sample indices far beyond any training run's


def expected_calibration_error(p: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """ECE of binary probabilities ``p`` against 0/1 labels ``y``: sum over equal-width bins of
    (bin share) x |mean p - mean y|."""
    p, y = np.asarray(p, float).ravel(), np.asarray(y, float).ravel()
    if p.size == 0:
        return float("nan")
    idx = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += m.mean() * abs(p[m].mean() - y[m].mean())
    return float(total)


def fit_platt(z: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(a, b) of ``sigmoid(a * z + b)`` fitted to 0/1 labels by logistic regression (a weak L2 prior, so a
    perfectly separable output gets a finite slope). With one class only, the identity."""
    from sklearn.linear_model import LogisticRegression

    z, y = np.asarray(z, float).reshape(-1, 1), np.asarray(y, int).ravel()
    if len(set(y.tolist())) < 2:
        return 1.0, 0.0
    lr = LogisticRegression(C=10.0).fit(z, y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


@dataclass
class EvidenceSet:
    """Per sample: evidence logits (N x F+1), labels (N x F+1: families, then clean), strengths in their own
    units (N x S, NaN where unknown), recipe texts and image names."""

    z: np.ndarray
    y: np.ndarray
    strengths: np.ndarray
    units: np.ndarray
    recipes: list[str]
    names: list[str]


def collect(analyzer, images: Sequence[tuple[str, np.ndarray]], recipes: Callable[[int], object],
            progress: bool = True) -> EvidenceSet:
    """Evidence of ``analyzer`` on ``images`` (name, float32 HxWx3) each degraded by ``recipes(i)`` (a
    :class:`gir.degradations.Recipe` with its seed; an empty recipe leaves the photo clean), quantised to
    8 bits as a saved photo would be."""
    from tqdm.auto import tqdm

    zs, ys, ss, us, texts, names = [], [], [], [], [], []
    depths: dict[str, np.ndarray] = {}
    for i, (name, img) in enumerate(tqdm(images, disable=not progress, desc="analyzing", unit="img")):
        recipe = recipes(i)
        depth = None
        if any(OPS.get(s.op).needs_depth for s in recipe.steps):
            depth = depths.setdefault(name, estimate_depth(img))
        lq = quantize(recipe.apply(img, depth=depth)) if recipe.steps else img
        z, units = analyzer.evidence(lq)
        t = recipe_targets(recipe)
        zs.append(z)
        ys.append(np.append(t.families, t.clean))
        ss.append(t.strengths)
        us.append(units)
        texts.append(recipe.to_text())
        names.append(name)
    return EvidenceSet(np.array(zs), np.array(ys), np.array(ss), np.array(us), texts, names)


def fit(evidence: EvidenceSet, top: int) -> dict:
    """Calibration (the ``calibration`` metadata of a weights file) fitted to ``evidence``."""
    a, b = [], []
    for j in range(evidence.z.shape[1]):
        aj, bj = fit_platt(evidence.z[:, j], evidence.y[:, j])
        a.append(aj)
        b.append(bj)
    return {"a": a, "b": b, "top": int(top)}


def ece_table(evidence: EvidenceSet, calibration) -> list[tuple[str, float, float]]:
    """(output, ECE of the raw sigmoid, ECE calibrated) per family and clean."""
    raw = 1.0 / (1.0 + np.exp(-evidence.z))
    cal = calibration.apply(evidence.z)
    names = [*FAMILIES, "clean"]
    return [(n, expected_calibration_error(raw[:, j], evidence.y[:, j]),
             expected_calibration_error(cal[:, j], evidence.y[:, j])) for j, n in enumerate(names)]


def training_sampler(run_config: dict):
    """The task sampler of an analyzer run's ``data.train`` section (the recipes it was trained on)."""
    section = run_config["data"]["train"]
    return build_task_sampler(section["mode"], section.get(section["mode"]), "data.train")


def sampler_recipes(sampler, seed: int = CALIBRATION_SEED) -> Callable[[int], object]:
    """``i -> recipe`` drawn by ``sampler`` from the generator of sample ``seed + i``."""
    return lambda i: sampler.draw(sample_rng(0, seed + i)).recipe


def export_calibrated(src: str | Path, dst: str | Path, calibration: dict, meta: dict | None = None) -> dict:
    """Write the EMA weights of analyzer checkpoint ``src`` to ``dst`` with ``calibration`` in its metadata."""
    return export_weights(src, dst, meta={**(meta or {}), "calibration": calibration})
