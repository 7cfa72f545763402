"""gir.metrics.niqe: distribution fits against samples of known shape, resampling/MSCN invariants, the score's
response to noise and blur with the shipped pristine model, fitting and model files, errors."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from gir.errors import GirError
from gir.metrics import METRICS
from gir.metrics import niqe as nq

skdata = pytest.importorskip("skimage.data", reason="scikit-image is not installed")


def as_float(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float32) / 255.0


@pytest.fixture(scope="module")
def astro() -> np.ndarray:
    return as_float(skdata.astronaut())


def add_noise(img: np.ndarray, sigma255: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(img + rng.normal(0.0, sigma255 / 255.0, img.shape), 0.0, 1.0).astype(np.float32)


def blur(img: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(img, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def ggd_samples(alpha: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean generalized Gaussian with shape alpha: |x|^alpha ~ Gamma(1/alpha), random sign."""
    mag = rng.gamma(1.0 / alpha, 1.0, n) ** (1.0 / alpha)
    return mag * rng.choice([-1.0, 1.0], n)


# ------------------------------------------------------------------------------------ distribution fits


@pytest.mark.parametrize("alpha", [0.6, 1.0, 2.0, 3.0])
def test_ggd_shape_recovers_known_alpha(alpha):
    rng = np.random.default_rng(1)
    x = ggd_samples(alpha, 3 * 60_000, rng).reshape(3, -1) * 7.0  # the scale must not matter
    shape, var = nq.ggd_fit(x)
    np.testing.assert_allclose(shape, alpha, rtol=0.06)
    np.testing.assert_allclose(var, np.mean(x * x, axis=1))


def test_ggd_named_cases_gaussian_and_laplacian():
    rng = np.random.default_rng(2)
    assert abs(nq.ggd_fit(rng.standard_normal((1, 100_000)))[0][0] - 2.0) < 0.08
    assert abs(nq.ggd_fit(rng.laplace(size=(1, 100_000)))[0][0] - 1.0) < 0.05


def test_aggd_recovers_asymmetric_gaussian():
    rng = np.random.default_rng(3)
    sl, sr, n = 0.5, 2.0, 200_000
    right = rng.random(n) < sr / (sl + sr)  # the AGGD's mass on each side is proportional to its scale
    x = np.abs(rng.standard_normal(n)) * np.where(right, sr, -sl)
    shape, mean, l_var, r_var = nq.aggd_fit(x[None])[0]
    assert abs(shape - 2.0) < 0.1
    assert abs(l_var - sl ** 2) < 0.02 * sl ** 2 and abs(r_var - sr ** 2) < 0.02 * sr ** 2
    assert abs(mean - x.mean()) < 0.03  # the fitted mean parameter is the distribution's mean


def test_fits_give_nan_for_undefined_statistics():
    flat = np.zeros((1, 100))
    assert np.isnan(nq.ggd_fit(flat)[0][0])
    assert np.all(np.isnan(nq.aggd_fit(np.abs(np.random.default_rng(0).standard_normal((1, 50))))[0, [0, 1, 2]]))


@pytest.mark.parametrize("table", ["GGD_RATIO", "AGGD_RATIO"])
def test_grid_search_equals_brute_force_argmin(table):
    t = getattr(nq, table)
    assert np.all(np.diff(t) < 0) if table == "GGD_RATIO" else np.all(np.diff(t) > 0)
    rng = np.random.default_rng(4)
    v = np.concatenate([rng.uniform(t.min() - 0.5, t.max() + 0.5, 3000), t[::97], [np.nan, np.inf]])
    got = nq.nearest_on_grid(v, t)
    finite = np.isfinite(v)
    np.testing.assert_array_equal(got[finite], np.argmin(np.abs(v[finite, None] - t[None]), axis=1))
    assert np.all(got[~finite] == -1)
    assert len(nq.SHAPE_GRID) == 9801 and nq.SHAPE_GRID[0] == 0.2 and nq.SHAPE_GRID[-1] == 10.0


# ------------------------------------------------------------------------------------ resampling, MSCN


def test_halve_keeps_constants_and_lines():
    img = np.full((10, 13), 42.0)
    out = nq.halve(img)
    assert out.shape == (5, 7)
    np.testing.assert_allclose(out, 42.0)
    ramp = np.tile(np.arange(24.0), (8, 1))
    # away from the mirrored borders bicubic reproduces lines; output j sits at input 2j + 0.5
    np.testing.assert_allclose(nq.halve(ramp)[:, 2:-2], np.tile(2 * np.arange(2, 10) + 0.5, (4, 1)))


def test_mscn_of_flat_and_scaled_images():
    coeffs, sigma = nq.mscn(np.full((20, 20), 100.0))
    assert np.all(coeffs == 0) and np.all(sigma < 1e-4)  # sigma: E[x^2] - mu^2 cancellation only
    rng = np.random.default_rng(5)
    lum = rng.uniform(0, 255, (40, 40))
    coeffs, sigma = nq.mscn(lum)
    assert coeffs.shape == lum.shape and np.all(sigma >= 0)
    assert 0.5 < coeffs.std() < 1.0  # white noise: |I - mu| is of the order of sigma, damped by the +1


def test_patch_features_shape_and_order(astro):
    lum = nq.luminance(astro)[:200, :300]  # 2 x 3 whole patches, the rest is cropped
    feats, sharp = nq.patch_features(lum)
    assert feats.shape == (6, 36) and sharp.shape == (6,) and np.all(np.isfinite(feats))
    one, _ = nq.patch_features(lum[96:192, 192:288])  # patch (1, 2) alone: same scale-1 MSCN interior
    assert abs(one[0, 0] - feats[5, 0]) < 0.2  # borders differ (replicated vs. real neighbours), shape close


# ------------------------------------------------------------------------------------ score (shipped model)


def test_niqe_rises_with_noise(astro):
    scores = [nq.niqe(astro), nq.niqe(add_noise(astro, 10)), nq.niqe(add_noise(astro, 25))]
    assert scores[0] < scores[1] < scores[2], scores


def test_niqe_rises_with_blur(astro):
    scores = [nq.niqe(astro), nq.niqe(blur(astro, 1.5)), nq.niqe(blur(astro, 3.0))]
    assert scores[0] < scores[1] < scores[2], scores


def test_niqe_deterministic_and_gray_equals_replicated(astro):
    a = nq.niqe(astro)
    assert nq.niqe(astro.copy()) == a and math.isfinite(a) and a > 0
    gray = astro.mean(axis=2)
    assert nq.niqe(gray) == pytest.approx(nq.niqe(np.repeat(gray[..., None], 3, axis=2)), rel=1e-9)


def test_small_and_flat_images_raise_one_line_error(astro):
    with pytest.raises(GirError, match=r"at least 192x192 .*got 191x300") as e:
        nq.niqe(astro[:191, :300])
    assert "\n" not in str(e.value)
    with pytest.raises(nq.NiqeError, match="after crop_border=10"):
        nq.niqe(astro[:200, :300], crop_border=10)
    with pytest.raises(nq.NiqeError, match="usable patch"):
        nq.niqe(np.full((200, 200, 3), 0.5, np.float32))
    with pytest.raises(TypeError, match="float"):
        nq.niqe((astro * 255).astype(np.uint8))


def test_shipped_model_is_a_valid_mvg():
    m = nq.default_model()
    assert m.mean.shape == (36,) and m.cov.shape == (36, 36) and m.patch_size == 96
    np.testing.assert_allclose(m.cov, m.cov.T)
    assert np.linalg.eigvalsh(m.cov).min() > -1e-9
    assert int(m.provenance["n_images"]) > 500 and int(m.provenance["n_patches"]) > 1000
    assert m.provenance["sharpness_threshold"] == "0.75"


def test_registry_builds_a_no_reference_metric(astro):
    m = METRICS.build({"type": "niqe"})
    assert not m.needs_reference and not m.higher_is_better
    assert m(astro) == nq.niqe(astro) == m(astro, astro[::-1])  # a reference is ignored
    with pytest.raises(TypeError, match="reference"):
        METRICS.build({"type": "psnr"})(astro)


# ------------------------------------------------------------------------------------ fitting, model files


@pytest.fixture(scope="module")
def small_set() -> list[np.ndarray]:
    return [as_float(skdata.astronaut())[::2, ::2], as_float(skdata.chelsea()), as_float(skdata.coffee())]


def test_fit_save_load_round_trip(small_set, tmp_path, astro):
    model = nq.fit_pristine(small_set, patch_size=96)
    assert model.provenance["n_images"] == "3" and model.provenance["source"] == "arrays"
    path = tmp_path / "pristine.npz"
    nq.save_pristine(model, path)
    back = nq.load_pristine(path)
    assert back.mean.tobytes() == model.mean.tobytes() and back.cov.tobytes() == model.cov.tobytes()
    assert back.patch_size == model.patch_size and back.provenance == model.provenance
    assert nq.niqe(astro, back) == nq.niqe(astro, model) == nq.niqe(astro, str(path))
    assert METRICS.build({"type": "niqe", "model": str(path)})(astro) == nq.niqe(astro, model)


def test_fit_from_files_matches_arrays_and_counts_skips(small_set, tmp_path):
    from gir.io import write_image

    for i, img in enumerate(small_set):
        write_image(tmp_path / f"{i}.png", img)
    write_image(tmp_path / "tiny.png", small_set[0][:50, :50])  # under one patch: skipped
    out = tmp_path / "m.npz"
    model = nq.fit_command([tmp_path], out)
    ref = nq.fit_pristine(small_set)
    assert model.mean.tobytes() == ref.mean.tobytes()
    assert model.provenance["n_images_skipped_too_small"] == "1" and model.provenance["source"] == str(tmp_path)
    assert nq.load_pristine(out).cov.tobytes() == model.cov.tobytes()
    assert nq.fit_command([tmp_path], out, max_images=2).provenance["n_images"] == "2"


def test_sharpness_selection_keeps_the_textured_patches():
    rng = np.random.default_rng(6)
    lum = np.full((192, 288), 120.0)
    lum[:, 96:] += cv2.GaussianBlur(rng.normal(0, 30, (192, 192)), (0, 0), 1.0)  # left column of patches flat
    feats, sharp = nq.patch_features(lum)
    kept = nq.pristine_features(lum, 96, 0.75)
    assert len(kept) == np.sum(sharp > 0.75 * sharp.max()) and 0 < len(kept) <= 4
    np.testing.assert_array_equal(kept, feats[sharp > 0.75 * sharp.max()])
    assert len(nq.pristine_features(lum, 96, 0.0)) == 6 - np.sum(sharp == 0)


def test_fit_errors(tmp_path):
    with pytest.raises(nq.NiqeError, match="0 usable"):
        nq.fit_pristine([np.zeros((40, 40, 3), np.float32)])
    with pytest.raises(nq.NiqeError, match="no such"):
        nq.load_pristine(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(nq.NiqeError, match="not a NIQE model"):
        nq.load_pristine(bad)


# ------------------------------------------------------------------------------------ real photos


def test_kodak_noisy_scores_worse(shared_data):
    from gir.io import read_rgb

    for name in ("kodim05.png", "kodim13.png"):
        path = shared_data / "test" / "kodak24" / name
        if not path.is_file():
            pytest.skip(f"{path} is absent")
        img = read_rgb(path)
        assert nq.niqe(img) + 2.0 < nq.niqe(add_noise(img, 25))
