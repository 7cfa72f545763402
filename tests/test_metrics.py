"""gir.metrics: PSNR / SSIM calibrated against hand calculations and scikit-image (independent code)."""
from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from conftest import natural_image
from gir.errors import ConfigError
from gir.metrics import METRICS, Metric, gaussian_window, psnr, rgb_to_y, ssim

C1, C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2


def noisy(img: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(img + rng.normal(0.0, sigma, img.shape), 0.0, 1.0).astype(np.float32)


def matlab_y(img: np.ndarray) -> np.ndarray:
    """Y of MATLAB rgb2ycbcr on the 0-255 scale, written out independently of gir."""
    r, g, b = (img[..., c].astype(np.float64) for c in range(3))
    return 16.0 + 65.481 * r + 128.553 * g + 24.966 * b


@pytest.fixture
def skm():
    return pytest.importorskip("skimage.metrics", reason="scikit-image is not installed")


def sk_ssim(skm, a255: np.ndarray, b255: np.ndarray) -> float:
    return skm.structural_similarity(a255, b255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                     data_range=255, channel_axis=2 if a255.ndim == 3 else None)


# ------------------------------------------------------------------------------------------------ PSNR


def test_psnr_hand_calculation():
    ref = natural_image(30, 40, seed=0).astype(np.float64) * 0.9  # float64: exact offsets
    assert psnr(ref + 1 / 255, ref) == pytest.approx(48.1308036087, abs=1e-6)  # MSE 1 -> 10 log10(255^2)
    assert psnr(ref - 2 / 255, ref) == pytest.approx(10 * math.log10(255**2 / 4), abs=1e-9)
    # Half the pixels off by 3/255 in one channel of three: MSE = 9 / 6 = 1.5.
    img = ref.copy()
    img[:15, :, 1] += 3 / 255
    assert psnr(img, ref) == pytest.approx(10 * math.log10(255**2 / 1.5), abs=1e-6)


def test_psnr_identical_is_inf_and_symmetric():
    img = natural_image(16, 16, seed=1)
    assert psnr(img, img.copy()) == math.inf
    other = noisy(img, 0.05, seed=2)
    assert psnr(img, other) == pytest.approx(psnr(other, img), abs=1e-12)


def test_psnr_matches_skimage(skm):
    ref = natural_image(37, 45, seed=3)
    img = noisy(ref, 0.04, seed=4)
    want = skm.peak_signal_noise_ratio(ref.astype(np.float64) * 255, img.astype(np.float64) * 255,
                                       data_range=255)
    assert psnr(img, ref) == pytest.approx(want, abs=1e-4)
    want_y = skm.peak_signal_noise_ratio(matlab_y(ref), matlab_y(img), data_range=255)
    assert psnr(img, ref, y_channel=True) == pytest.approx(want_y, abs=1e-4)
    cropped = skm.peak_signal_noise_ratio(ref[4:-4, 4:-4] * 255.0, img[4:-4, 4:-4] * 255.0, data_range=255)
    assert psnr(img, ref, crop_border=4) == pytest.approx(cropped, abs=1e-4)


# ------------------------------------------------------------------------------------------------ SSIM


def test_ssim_matches_skimage_rgb_gray_y_and_crop(skm):
    ref = natural_image(48, 52, seed=5)
    for sigma, seed in ((0.02, 6), (0.1, 7)):
        img = noisy(ref, sigma, seed)
        a255, r255 = img.astype(np.float64) * 255, ref.astype(np.float64) * 255
        assert ssim(img, ref) == pytest.approx(sk_ssim(skm, a255, r255), abs=1e-4)
        assert ssim(img[..., 0], ref[..., 0]) == pytest.approx(sk_ssim(skm, a255[..., 0], r255[..., 0]), abs=1e-4)
        assert ssim(img, ref, y_channel=True) == pytest.approx(sk_ssim(skm, matlab_y(img), matlab_y(ref)),
                                                               abs=1e-4)
        assert ssim(img, ref, crop_border=6) == pytest.approx(sk_ssim(skm, a255[6:-6, 6:-6], r255[6:-6, 6:-6]),
                                                              abs=1e-4)


def test_ssim_of_constant_images_by_hand():
    """Flat images: the variances and covariance vanish, leaving the luminance term."""
    a, b = np.full((20, 20, 3), 0.4), np.full((20, 20, 3), 0.7)
    mu_a, mu_b = 0.4 * 255, 0.7 * 255
    want = (2 * mu_a * mu_b + C1) / (mu_a**2 + mu_b**2 + C1)
    assert ssim(a, b) == pytest.approx(want, abs=1e-9)


def test_ssim_valid_window_only():
    """On a 12x12 image the 'valid' SSIM map is 2x2: the mean over the four 11x11 windows that fit inside,
    computed here window by window (no padding anywhere)."""
    ref = natural_image(12, 12, seed=8)[..., 0].astype(np.float64)
    img = ref.copy()
    img[0, 0] += 0.2
    w = np.outer(gaussian_window(), gaussian_window())
    vals = []
    for i in range(2):
        for j in range(2):
            x, y = img[i:i + 11, j:j + 11] * 255, ref[i:i + 11, j:j + 11] * 255
            mx, my = (w * x).sum(), (w * y).sum()
            vx, vy, cxy = (w * x * x).sum() - mx**2, (w * y * y).sum() - my**2, (w * x * y).sum() - mx * my
            vals.append((2 * mx * my + C1) * (2 * cxy + C2) / ((mx**2 + my**2 + C1) * (vx + vy + C2)))
    assert ssim(img, ref) == pytest.approx(np.mean(vals), abs=1e-10)
    assert ssim(img, ref) < 1.0


def test_gaussian_window_is_matlab_fspecial():
    g = gaussian_window()
    assert g.shape == (11,) and g.sum() == pytest.approx(1.0) and g[5] == g.max()
    assert g[0] / g[5] == pytest.approx(math.exp(-25 / 4.5))


# ------------------------------------------------------------------------------------------------ shared


def test_identical_images_are_perfect():
    img = natural_image(24, 24, seed=9)
    assert ssim(img, img) == pytest.approx(1.0, abs=1e-12)
    assert psnr(img, img, y_channel=True) == math.inf


def test_more_noise_scores_lower():
    ref = natural_image(40, 40, seed=10)
    imgs = [noisy(ref, s, seed=11) for s in (0.005, 0.02, 0.05, 0.15)]
    for metric in (psnr, ssim):
        for y in (False, True):
            scores = [metric(i, ref, y_channel=y) for i in imgs]
            assert all(s1 > s2 for s1, s2 in zip(scores, scores[1:])), (metric.__name__, y, scores)


def test_crop_border_removes_edges():
    ref = natural_image(30, 30, seed=12)
    img = ref.copy()
    img[:4] = 0.0  # damage only the top 4 rows and the left 4 columns
    img[:, :4] = 1.0
    assert psnr(img, ref, crop_border=4) == math.inf
    assert ssim(img, ref, crop_border=4) == pytest.approx(1.0, abs=1e-12)
    assert psnr(img, ref, crop_border=3) < 40 and ssim(img, ref, crop_border=3) < 1.0
    # Cropping is exactly "slice both images, then measure".
    other = noisy(ref, 0.05, seed=13)
    assert psnr(other, ref, crop_border=5) == psnr(other[5:-5, 5:-5], ref[5:-5, 5:-5])
    assert ssim(other, ref, crop_border=2) == ssim(other[2:-2, 2:-2], ref[2:-2, 2:-2])


def test_gray_inputs_accepted():
    ref = natural_image(20, 20, seed=14)[..., 1]
    img = noisy(ref, 0.03, seed=15)
    assert psnr(img, ref) == psnr(img[..., None], ref[..., None])
    assert ssim(img, ref) == ssim(img[..., None], ref[..., None])
    # Y is taken of colour images only (as the SR literature's scripts do): a gray image is its own luma
    assert psnr(img, ref, y_channel=True) == psnr(img, ref)
    rgb_img, rgb_ref = (np.repeat(x[..., None], 3, axis=2) for x in (img, ref))
    assert psnr(rgb_img, rgb_ref, y_channel=True) == pytest.approx(psnr(img, ref) + 20 * np.log10(255 / 219),
                                                                  abs=1e-9)


def test_bad_inputs():
    a = natural_image(20, 20)
    with pytest.raises(ValueError, match=r"\(20, 20, 3\).*\(20, 21, 3\)"):
        psnr(a, natural_image(20, 21))
    with pytest.raises(ValueError, match=r"\(20, 20, 3\).*\(20, 20\)"):
        ssim(a, a[..., 0])
    with pytest.raises(TypeError, match="float"):
        psnr((a * 255).astype(np.uint8), (a * 255).astype(np.uint8))
    with pytest.raises(ValueError, match="11x11"):
        ssim(a, a, crop_border=5)  # 10x10 left: smaller than the window
    with pytest.raises(ValueError):
        psnr(a, a, crop_border=10)
    with pytest.raises(ValueError):
        psnr(a, a, crop_border=-1)


# ------------------------------------------------------------------------------------------------ Y channel


def test_rgb_to_y_matlab_formula():
    colours = np.array([[[1, 1, 1], [0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.25, 0.75]]],
                       dtype=np.float32)
    y = rgb_to_y(colours) * 255
    assert y.dtype == np.float64 and y.shape == (1, 6)
    np.testing.assert_allclose(y[0], [235.0, 16.0, 16 + 65.481, 16 + 128.553, 16 + 24.966,
                                      16 + 65.481 * 0.5 + 128.553 * 0.25 + 24.966 * 0.75], atol=1e-9)
    np.testing.assert_allclose(rgb_to_y(colours), matlab_y(colours) / 255, atol=1e-12)
    np.testing.assert_allclose(rgb_to_y(np.array([[0.0, 1.0]])) * 255, [[16.0, 235.0]], atol=1e-9)


# ------------------------------------------------------------------------------------------------ registry


def test_registry_builds_bound_metrics():
    assert {"psnr", "ssim", "psnr_y", "ssim_y"} <= set(METRICS.names())
    ref = natural_image(32, 32, seed=16)
    img = noisy(ref, 0.04, seed=17)
    m = METRICS.build({"type": "psnr", "crop_border": 4})
    assert isinstance(m, Metric) and m.name == "psnr" and m.higher_is_better
    assert m(img, ref) == psnr(img, ref, crop_border=4)
    assert METRICS.build({"type": "psnr_y", "crop_border": 2})(img, ref) == psnr(img, ref, 2, y_channel=True)
    assert METRICS.build({"type": "ssim"})(img, ref) == ssim(img, ref)
    assert METRICS.build({"type": "ssim_y"})(img, ref) == ssim(img, ref, y_channel=True)
    assert METRICS.build({"type": "ssim", "y_channel": True})(img, ref) == ssim(img, ref, y_channel=True)
    with pytest.raises(ConfigError, match="metric 'psnr': .*unknown option"):  # the registry names it
        METRICS.build({"type": "psnr", "border": 4})
    with pytest.raises(ConfigError, match="psnr_y"):
        METRICS.build({"type": "psnr_y", "y_channel": False})
    with pytest.raises(KeyError, match="unknown metric"):
        METRICS.build({"type": "lpips"})


def test_import_is_light():
    code = "import sys, gir.metrics; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_one_scoring_path_for_validation_bench_and_benchmarks(monkeypatch):
    """Training validation, `gir bench run` and the benchmark scripts score through score_restored: an
    output is clipped and rounded to 8 bits as saved, so the three give one model the same numbers."""
    import torch

    from gir.bench.evaluate import EvalTask, evaluate
    from gir.degradations.recipe import Recipe
    from gir.metrics import score_restored
    from gir.training.validate import validate_network

    rng = np.random.default_rng(0)
    gt = rng.uniform(0, 1, (32, 32, 3)).astype(np.float32)
    out = np.clip(gt + rng.normal(0, 0.02, gt.shape), -0.1, 1.1).astype(np.float32)  # not saved yet
    p, s = score_restored(out, gt)
    saved = np.rint(np.clip(out, 0, 1) * 255) / 255
    assert p == pytest.approx(float(psnr(saved, gt))) and p != pytest.approx(float(psnr(np.clip(out, 0, 1), gt)), abs=1e-4)
    task = EvalTask("noise", Recipe.from_text("noise(sigma=5)"), "t")
    scores = evaluate({"m": lambda lq, r: out}, [task], [("set", "a", gt)])
    assert [x.psnr for x in scores if x.method == "m"] == [p]

    class Item:
        task, lq = "t", gt
    Item.gt = gt

    class Const(torch.nn.Module):
        def forward(self, x):
            return torch.from_numpy(out.transpose(2, 0, 1))[None]

    res = validate_network(Const(), [Item()], torch.device("cpu"))
    assert res["tasks"]["t"]["psnr"] == pytest.approx(p)
