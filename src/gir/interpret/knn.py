"""Paper 004's degradation-classification probe: a k-nearest-neighbour classifier on network features.

Settings from the paper's appendix A: uniform weights, neighbours found with a KD-tree, the samples split 2:1
into train and test with every class evenly represented in both. The paper reports one split; here the probe
is repeated over ``splits`` random stratified splits and the mean and standard deviation are reported, which
matters with the few images a CPU run uses. (The appendix also gives "2k iterations" for the kNN, which has
no counterpart in a k-NN classifier; nothing here reproduces it.)
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from gir.errors import GirError

TEST_FRACTION = 1 / 3  # train : test = 2 : 1


def _check(features: np.ndarray, labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray([str(l) for l in labels])
    if x.ndim != 2:
        raise GirError(f"features must be N x D, got shape {x.shape}")
    if x.shape[0] != y.shape[0]:
        raise GirError(f"{x.shape[0]} feature rows but {y.shape[0]} labels")
    if not np.isfinite(x).all():
        raise GirError("features contain NaN or infinite values")
    return x, y


def knn_probe(features: np.ndarray, labels: Sequence[str], k: int = 5, splits: int = 10,
              seed: int = 0) -> dict[str, Any]:
    """Accuracy of a k-NN classifier (uniform weights, KD-tree) that predicts ``labels`` from ``features``
    (N x D), over ``splits`` random stratified train/test splits of 2:1 (seeded by ``seed``).

    Returns a JSON-ready dict: ``accuracy_mean``, ``accuracy_std`` (population std over splits),
    ``accuracies`` (one per split), ``per_class`` (label -> accuracy over all test predictions of all splits),
    ``confusion`` (rows: true label, columns: predicted, summed over splits, in the order of ``classes``),
    ``classes``, ``chance`` (1 / number of classes), ``k`` (as used: at most the training-set size), ``splits``,
    ``n``. Needs at least two classes and enough samples per class for both sides of every split.
    """
    from sklearn.model_selection import StratifiedShuffleSplit
    from sklearn.neighbors import KNeighborsClassifier

    x, y = _check(features, labels)
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        raise GirError("the kNN probe needs at least two classes")
    if k < 1 or splits < 1:
        raise GirError(f"k and splits must be positive, got k={k}, splits={splits}")
    n_test = int(np.ceil(TEST_FRACTION * len(y)))
    if counts.min() < 2 or n_test < len(classes) or len(y) - n_test < len(classes):
        raise GirError(f"too few samples for stratified 2:1 splits: {len(y)} samples, {len(classes)} classes, "
                       f"smallest class {counts.min()}; use more images")
    splitter = StratifiedShuffleSplit(n_splits=splits, test_size=TEST_FRACTION, random_state=seed)
    index = {c: i for i, c in enumerate(classes)}
    confusion = np.zeros((len(classes), len(classes)), dtype=np.int64)
    accuracies = []
    k_used = k
    for train, test in splitter.split(x, y):
        k_used = min(k, len(train))
        clf = KNeighborsClassifier(n_neighbors=k_used, weights="uniform", algorithm="kd_tree")
        pred = clf.fit(x[train], y[train]).predict(x[test])
        accuracies.append(float(np.mean(pred == y[test])))
        for t, p in zip(y[test], pred):
            confusion[index[t], index[p]] += 1
    per_class = {str(c): float(confusion[i, i] / max(1, confusion[i].sum())) for i, c in enumerate(classes)}
    return {
        "accuracy_mean": float(np.mean(accuracies)), "accuracy_std": float(np.std(accuracies)),
        "accuracies": accuracies, "per_class": per_class, "classes": [str(c) for c in classes],
        "confusion": confusion.tolist(), "chance": 1.0 / len(classes), "k": k_used, "splits": splits,
        "n": int(len(y)),
    }
