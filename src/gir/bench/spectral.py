"""Spectral clustering (Ng, Jordan & Weiss 2001; von Luxburg 2007) in numpy/scipy.

GIR (paper 000, A.1.2) clusters candidate degradation chains by a similarity matrix and keeps the chain at
each cluster centre as a representative test task. The steps here:

1. affinity ``W`` (n x n, symmetric, non-negative; the diagonal is ignored), e.g. from
   :func:`gaussian_affinity` of a distance matrix;
2. normalised affinity ``D^-1/2 W D^-1/2`` (``D`` = degrees); its ``k`` leading eigenvectors, each row scaled
   to unit length, embed the points in R^k (:func:`spectral_embedding`);
3. k-means with k-means++ seeding and several restarts in that embedding (:func:`kmeans`);
4. optionally, the member nearest each centre (:func:`nearest_to_centres`).

Everything random takes a ``numpy.random.Generator``; eigenvector signs are fixed so the result does not
depend on the LAPACK build's sign convention.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import eigh

_EPS = 1e-12


@dataclass(frozen=True)
class Clustering:
    """labels: (n,) ints in [0, k); embedding: (n, k) unit rows; centers: (k, k); inertia: k-means objective."""

    labels: np.ndarray
    embedding: np.ndarray
    centers: np.ndarray
    inertia: float


def check_affinity(affinity: np.ndarray) -> np.ndarray:
    """Return ``affinity`` as float64 with a zero diagonal; ValueError unless square, finite, >= 0, symmetric."""
    w = np.asarray(affinity, dtype=np.float64)
    if w.ndim != 2 or w.shape[0] != w.shape[1]:
        raise ValueError(f"affinity must be a square matrix, got shape {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("affinity must be finite and non-negative")
    if not np.allclose(w, w.T, rtol=1e-6, atol=1e-9):
        raise ValueError("affinity must be symmetric")
    w = 0.5 * (w + w.T)
    np.fill_diagonal(w, 0.0)
    return w


def gaussian_affinity(dist: np.ndarray, scale: float | None = None) -> np.ndarray:
    """Affinity ``exp(-d^2 / (2 s^2))`` from a symmetric (n, n) distance matrix ``dist`` (>= 0).

    ``scale`` s defaults to the median off-diagonal distance (the matrix's own typical spread), falling back
    to 1 when every distance is 0.
    """
    d = np.asarray(dist, dtype=np.float64)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise ValueError(f"distance matrix must be square, got shape {d.shape}")
    if scale is None:
        off = d[~np.eye(len(d), dtype=bool)]
        scale = float(np.median(off)) if off.size else 1.0
        scale = scale if scale > 0 else 1.0
    if scale <= 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    return np.exp(-(d * d) / (2.0 * scale * scale))


def spectral_embedding(affinity: np.ndarray, k: int) -> np.ndarray:
    """Rows of the ``k`` leading eigenvectors of ``D^-1/2 W D^-1/2``, normalised to unit length: (n, k)."""
    w = check_affinity(affinity)
    n = len(w)
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
    inv_sqrt = 1.0 / np.sqrt(np.maximum(w.sum(axis=1), _EPS))
    m = w * inv_sqrt[:, None] * inv_sqrt[None, :]
    _, vecs = eigh(m, subset_by_index=[n - k, n - 1])  # ascending: the k largest eigenvalues
    vecs = vecs[:, ::-1]
    # Fix each eigenvector's sign: its largest-magnitude entry (first on ties) is positive.
    pivots = vecs[np.argmax(np.abs(vecs), axis=0), np.arange(k)]
    vecs = vecs * np.where(pivots < 0, -1.0, 1.0)[None, :]
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    return vecs / np.maximum(norms, _EPS)


def kmeans_pp_init(points: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding (Arthur & Vassilvitskii 2007): (k, dim) initial centres drawn from ``points``."""
    n = len(points)
    centers = [points[int(rng.integers(n))]]
    d2 = np.sum((points - centers[0]) ** 2, axis=1)
    for _ in range(1, k):
        total = d2.sum()
        # All remaining points coincide with a centre: any choice is as good as another.
        idx = int(rng.integers(n)) if total <= 0 else int(rng.choice(n, p=d2 / total))
        centers.append(points[idx])
        d2 = np.minimum(d2, np.sum((points - points[idx]) ** 2, axis=1))
    return np.stack(centers)


def _sq_dists(points: np.ndarray, centers: np.ndarray) -> np.ndarray:
    return np.sum((points[:, None, :] - centers[None, :, :]) ** 2, axis=2)


def lloyd(points: np.ndarray, centers: np.ndarray, max_iter: int = 100) -> tuple[np.ndarray, np.ndarray, float]:
    """Lloyd iterations from ``centers``; returns (labels, centers, inertia). An emptied cluster takes the
    point farthest from its current centre, so every cluster keeps at least one member."""
    centers = centers.copy()
    labels = None
    k = len(centers)
    for _ in range(max_iter):
        d2 = _sq_dists(points, centers)
        new = np.argmin(d2, axis=1)
        own = d2[np.arange(len(points)), new]
        for j in range(k):
            if not np.any(new == j):
                counts = np.bincount(new, minlength=k)
                # Take the worst-fitting point from a cluster that keeps at least one member.
                far = int(np.argmax(np.where(counts[new] > 1, own, -1.0)))
                new[far] = j
                own[far] = 0.0
        if labels is not None and np.array_equal(new, labels):
            break
        labels = new
        centers = np.stack([points[labels == j].mean(axis=0) for j in range(k)])
    inertia = float(np.sum((points - centers[labels]) ** 2))
    return labels, centers, inertia


def kmeans(points: np.ndarray, k: int, rng: np.random.Generator, n_init: int = 10,
           max_iter: int = 100) -> tuple[np.ndarray, np.ndarray, float]:
    """Best of ``n_init`` k-means++-seeded Lloyd runs on (n, dim) ``points``: (labels, centers, inertia)."""
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or not 1 <= k <= len(points):
        raise ValueError(f"need (n, dim) points with 1 <= k <= n, got shape {points.shape}, k={k}")
    if n_init < 1:
        raise ValueError(f"n_init must be >= 1, got {n_init}")
    best = None
    for _ in range(n_init):
        run = lloyd(points, kmeans_pp_init(points, k, rng), max_iter)
        if best is None or run[2] < best[2] - 1e-12:
            best = run
    return best


def spectral_clustering(affinity: np.ndarray, k: int, rng: np.random.Generator, n_init: int = 10,
                        max_iter: int = 100) -> Clustering:
    """Cluster the n items of an (n, n) affinity matrix into ``k`` groups (NJW spectral clustering)."""
    emb = spectral_embedding(affinity, k)
    labels, centers, inertia = kmeans(emb, k, rng, n_init, max_iter)
    return Clustering(labels, emb, centers, inertia)


def nearest_to_centres(embedding: np.ndarray, labels: np.ndarray, centers: np.ndarray) -> list[int]:
    """For each cluster j, the index of its member nearest ``centers[j]`` (lowest index on ties)."""
    out = []
    for j in range(len(centers)):
        members = np.flatnonzero(labels == j)
        if members.size == 0:
            raise ValueError(f"cluster {j} has no members")
        d2 = np.sum((embedding[members] - centers[j]) ** 2, axis=1)
        out.append(int(members[int(np.argmin(d2))]))
    return out
