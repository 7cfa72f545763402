"""The realistic-capture ops (gir.degradations.ops_real) and their analyzer targets."""
from __future__ import annotations

import numpy as np
import pytest

from gir.analysis.families import FAMILIES, analyzer_pool, recipe_targets
from gir.degradations import Recipe

LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def _photo(seed: int = 0) -> np.ndarray:
    y, x = np.mgrid[0:128, 0:128] / 128.0
    base = np.stack([0.2 + 0.6 * x, 0.2 + 0.5 * y, 0.4 + 0.2 * x * y], -1)
    return np.clip(base + np.random.default_rng(seed).normal(0, 0.02, base.shape), 0, 1).astype(np.float32)


@pytest.mark.parametrize("recipe", ["camera_noise", "underexposure", "scratches", "monochrome(tone=sepia)"])
def test_same_seed_same_bytes(recipe):
    img = _photo()
    a, b = Recipe.parse(recipe).apply(img, seed=3), Recipe.parse(recipe).apply(img, seed=3)
    assert a.dtype == np.float32 and a.shape == img.shape and a.tobytes() == b.tobytes()


def test_camera_noise_has_its_sigma_at_mid_grey_and_is_correlated():
    grey = np.full((192, 192, 3), 0.5, np.float32)
    white = Recipe.parse("camera_noise(sigma=10, shot=0.5, correlation=0, chroma=0.5)").apply(grey, seed=1) - grey
    corr = Recipe.parse("camera_noise(sigma=10, shot=0.5, correlation=1.0, chroma=0.5)").apply(grey, seed=1) - grey
    for n in (white, corr):
        assert abs(n.std() * 255 - 10) < 0.6
    lag = lambda n: np.corrcoef(n[:, :-1, 1].ravel(), n[:, 1:, 1].ravel())[0, 1]  # noqa: E731
    assert abs(lag(white)) < 0.05 and lag(corr) > 0.5
    dark = np.full((192, 192, 3), 0.1, np.float32)
    shot = Recipe.parse("camera_noise(sigma=10, shot=1.0, correlation=0)").apply(dark, seed=1) - dark
    assert shot.std() < 0.6 * white.std()  # signal-dependent: less noise in the dark


def test_underexposure_darkens_but_keeps_lights_bright():
    img = _photo()
    img[:16, :16] = 1.0  # a lamp
    out = Recipe.parse("underexposure(exposure=0.1, knee=0.8, photons=40000)").apply(img, seed=0)
    assert (out @ LUMA)[32:].mean() < 0.5 * (img @ LUMA)[32:].mean()
    assert out[:16, :16].mean() > 0.95


def test_scratches_and_prints_have_the_right_targets():
    img = _photo()
    assert np.abs(Recipe.parse("scratches").apply(img, seed=0) - img).max() > 0.3
    assert recipe_targets("monochrome").clean == 1.0 and not recipe_targets("monochrome").families.any()
    t = recipe_targets("monochrome > scratches > camera_noise(sigma=6) > underexposure")
    assert t.present() == ["noise", "low_light", "damage"] and t.clean == 0.0
    assert t.strengths[0] == 6.0 and t.strengths[-1] == 0.15  # sigma; the op's representative exposure
    gray = Recipe.parse("monochrome").apply(img, seed=0)
    assert np.allclose(gray[..., 0], gray[..., 2])
    assert "monochrome" not in analyzer_pool() and {"camera_noise", "underexposure", "scratches"} <= set(analyzer_pool())
    assert set(t.present()) <= set(FAMILIES)
