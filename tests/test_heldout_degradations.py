"""benchmarks/heldout_restore.py: its independent degradations are deterministic and do what they claim."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import natural_image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import heldout_restore as ho  # noqa: E402


def _u8(h: int = 64, w: int = 80, seed: int = 0) -> np.ndarray:
    return np.rint(natural_image(h, w, seed) * 255).astype(np.uint8)


def _high_freq_energy(img: np.ndarray) -> float:
    """Mean squared Laplacian-like difference: large for sharp or noisy images."""
    g = img.astype(np.float64).mean(axis=2)
    return float(np.mean((4 * g[1:-1, 1:-1] - g[:-2, 1:-1] - g[2:, 1:-1] - g[1:-1, :-2] - g[1:-1, 2:]) ** 2))


@pytest.mark.parametrize("task", ho.tasks(), ids=lambda t: t.name)
def test_every_task_is_deterministic_8bit_and_shape_preserving(task):
    img = _u8()
    seed = ho.task_seed(0, task.name, "synthetic")
    a = task.fn(img, np.random.default_rng(seed))
    b = task.fn(img, np.random.default_rng(seed))
    assert a.dtype == np.uint8 and a.shape == img.shape
    assert np.array_equal(a, b)
    if task.identity:
        assert np.array_equal(a, img)
    else:
        assert not np.array_equal(a, img), f"{task.name} left the image unchanged"


def test_jpeg_round_trip_changes_the_image_and_lower_quality_changes_it_more():
    img = _u8()
    err = {q: np.abs(ho.jpeg(img, q).astype(float) - img).mean() for q in (20, 40, 95)}
    assert err[20] > err[40] > err[95] > 0


@pytest.mark.parametrize("blur", [lambda x: ho.gaussian_blur(x, 1.6), lambda x: ho.motion_blur(x, 9, 30.0),
                                  lambda x: ho.bicubic_down_up(x, 2)], ids=["gaussian", "motion", "bicubic"])
def test_blur_and_resampling_lower_high_frequency_energy(blur):
    img = _u8()
    assert _high_freq_energy(blur(img)) < 0.7 * _high_freq_energy(img)


def test_motion_kernel_is_a_normalised_9px_line_at_30_degrees():
    k = ho.motion_kernel(9, 30.0)
    assert k.shape == (9, 9) and abs(k.sum() - 1) < 1e-6 and (k >= 0).all()
    yy, xx = np.mgrid[0:9, 0:9]
    x, y = xx - 4, 4 - yy  # y up
    assert abs((k * x).sum()) < 0.2 and abs((k * y).sum()) < 0.2  # centred: no shift of the image
    angle = np.degrees(0.5 * np.arctan2(2 * (k * x * y).sum(), (k * x * x).sum() - (k * y * y).sum()))
    assert abs(angle - 30) < 3
    extent = np.sqrt(((k > 0.01) * (x * x + y * y)).max()) * 2
    assert 7 <= extent <= 10


def test_gaussian_noise_has_the_stated_sigma_and_depends_on_the_seed():
    grey = np.full((128, 128, 3), 128, np.uint8)
    a = ho.gaussian_noise(grey, 15, np.random.default_rng(1))
    b = ho.gaussian_noise(grey, 15, np.random.default_rng(2))
    assert abs(a.astype(float).std() - 15) < 0.5
    assert abs(a.astype(float).mean() - 128) < 0.5
    assert not np.array_equal(a, b)
    assert ho.task_seed(0, "noise s15", "a") != ho.task_seed(0, "noise s15", "b")
    assert ho.task_seed(0, "noise s15", "a") != ho.task_seed(0, "noise s25", "a")


def test_wiener_baseline_undoes_a_known_gaussian_blur():
    img = _u8(96, 96)
    blurred = ho.gaussian_blur(img, 1.6)
    out = ho.wiener(blurred, ho.gaussian_kernel(1.6))
    err_in = np.abs(blurred.astype(float) / 255 - img / 255).mean()
    assert np.abs(out - img / 255).mean() < err_in


def test_structure_images_are_deterministic_8bit_and_have_thin_structure():
    a, b = ho.structure_images(256, 0), ho.structure_images(256, 0)
    assert [n for n, _ in a] == ["fence", "blinds", "window grid", "fine text", "line art"]
    for (n, x), (_, y) in zip(a, b):
        assert x.dtype == np.uint8 and x.shape == (256, 256, 3), n
        assert np.array_equal(x, y), n
        assert _high_freq_energy(x) > 100, n  # sharp, thin lines: far from a flat image


def test_skimage_photos_are_bundled_rgb_even_crops():
    pytest.importorskip("skimage")
    used, skipped = ho.skimage_images(max_side=64, max_images=3)
    assert used, skipped
    for name, img in used:
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3, name
        assert max(img.shape[:2]) <= 64 and img.shape[0] % 2 == 0 and img.shape[1] % 2 == 0, name
