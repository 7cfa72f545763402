"""Paper 000's deep degradation representation (DDR) analysis: how strongly a network's features cluster by
degradation. Each degraded image gives one point (:func:`gir.interpret.features.ddr_features`); the
Calinski-Harabasz index measures how well the points of each degradation separate (higher = stronger
clustering, which paper 000 reads as a network that treats degradations separately and generalises worse),
and a 2-D t-SNE embedding shows the clusters.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from gir.errors import GirError
from gir.interpret.knn import _check


def calinski_harabasz(features: np.ndarray, labels: Sequence[str]) -> float:
    """Calinski-Harabasz index of ``features`` (N x D) grouped by ``labels`` (scikit-learn's
    ``calinski_harabasz_score``): between-group over within-group dispersion, each per degree of freedom.
    Needs 2 <= number of labels < N."""
    from sklearn.metrics import calinski_harabasz_score

    x, y = _check(features, labels)
    n_labels = len(np.unique(y))
    if not 2 <= n_labels < len(y):
        raise GirError(f"the Calinski-Harabasz index needs 2 to N-1 groups, got {n_labels} for N={len(y)}")
    return float(calinski_harabasz_score(x, y))


def tsne_perplexity(n: int) -> float:
    """The t-SNE perplexity used for ``n`` points: min(30, (n - 1) / 3) (it must stay below n)."""
    return float(min(30.0, (n - 1) / 3.0))


def tsne_embedding(features: np.ndarray, seed: int = 0) -> np.ndarray:
    """N x 2 t-SNE embedding (scikit-learn, PCA initialisation, seeded) of N x D ``features``, N >= 4,
    with the perplexity of :func:`tsne_perplexity`."""
    from sklearn.manifold import TSNE

    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 4:
        raise GirError(f"t-SNE needs an N x D array with N >= 4, got shape {x.shape}")
    tsne = TSNE(n_components=2, perplexity=tsne_perplexity(x.shape[0]), init="pca", random_state=seed)
    return tsne.fit_transform(x).astype(np.float32)


@dataclass
class DDRResult:
    """The DDR analysis of one model: per-sample features and labels, CH index and t-SNE embedding."""

    label: str
    layer: str
    features: np.ndarray
    labels: list[str]
    calinski_harabasz: float
    embedding: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """JSON-ready: everything but the arrays (the feature width instead)."""
        return {"model": self.label, "layer": self.layer, "dim": int(self.features.shape[1]),
                "n": int(self.features.shape[0]), "calinski_harabasz": self.calinski_harabasz, **self.extra}


def ddr_analysis(model, samples: Sequence[tuple[str, np.ndarray]], layer: str | None = None, seed: int = 0,
                 label: str = "", embed: bool = True, progress: bool = False) -> DDRResult:
    """The whole DDR analysis of ``model`` on ``samples`` (``[(degradation label, float32 H x W x 3 image)]``,
    e.g. from :func:`gir.interpret.features.degraded_set`): DDR features of ``layer`` (default: the deepest
    declared encoder level), their Calinski-Harabasz index and (``embed``) a seeded t-SNE embedding."""
    from gir.interpret.features import ddr_features, default_ddr_layer

    layer = default_ddr_layer(model) if layer is None else layer
    labels = [lab for lab, _ in samples]
    feats = ddr_features(model, [img for _, img in samples], layer=layer, progress=progress)
    ch = calinski_harabasz(feats, labels)
    emb = tsne_embedding(feats, seed) if embed else None
    return DDRResult(label or type(model).__name__, layer, feats, labels, ch, emb)
