"""benchmarks/linear_bounds.py: the least-squares filter recovers a known linear relation exactly."""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from linear_bounds import apply_filter, fit_filter  # noqa: E402


def test_fit_recovers_a_known_residual_filter_and_applies_it_the_same_way():
    rng = np.random.default_rng(0)
    true = (rng.standard_normal((5, 5)) * 0.05).astype(np.float32)
    true[0, 4] = 0.2  # asymmetric: a flipped (convolution vs correlation) kernel would not match
    pairs = []
    for i in range(3):
        lq = (0.3 + 0.4 * rng.random((40, 48, 3))).astype(np.float32)
        gt = lq + cv2.filter2D(lq, -1, true, borderType=cv2.BORDER_REFLECT_101)
        pairs.append((lq, gt))
    fitted = fit_filter(pairs, 5, 3000, np.random.default_rng(1))
    assert np.abs(fitted - true).max() < 1e-4
    lq, gt = pairs[0]
    assert np.abs(apply_filter(lq, fitted) - np.clip(gt, 0, 1)).max() < 1e-4


def test_identity_pairs_fit_a_zero_filter():
    rng = np.random.default_rng(2)
    pairs = [(img, img) for img in (rng.random((32, 32, 3)).astype(np.float32) for _ in range(2))]
    assert np.abs(fit_filter(pairs, 7, 2000, rng)).max() < 1e-6
