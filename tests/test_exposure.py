"""Low light read from the whole photo (gir.analysis.exposure): its statistics, the shipped fit, the fusion into
a diagnosis, and re-fitting it from a folder."""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import natural_image
from gir.analysis.analyze import Diagnosis, Finding
from gir.analysis.exposure import FEATURES, MODEL_PATH, features, fit, fuse_exposure, low_light_probability
from gir.analysis.families import FAMILIES


def _skimage(name: str) -> np.ndarray:
    data = pytest.importorskip("skimage.data")
    return getattr(data, name)().astype(np.float32) / 255.0


def _srgb_dark(img: np.ndarray, exposure: float) -> np.ndarray:
    """An underexposure written here (not the library's op): linear light times ``exposure``, back to sRGB."""
    lin = np.where(img <= 0.04045, img / 12.92, ((img + 0.055) / 1.055) ** 2.4) * exposure
    return np.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1 / 2.4) - 0.055).astype(np.float32)


def test_features_are_the_luma_statistics_and_do_not_depend_on_size():
    img = natural_image(200, 300)
    f = features(img)
    assert f.shape == (len(FEATURES),) and np.all(np.isfinite(f))
    assert f[0] == pytest.approx(np.sqrt(img @ np.float32([0.299, 0.587, 0.114])).mean(), abs=0.05)
    assert np.allclose(features(img), f)  # deterministic
    big = np.repeat(np.repeat(img, 3, 0), 3, 1)
    assert np.allclose(features(big), f, atol=0.02)
    assert features(img * 0.2)[0] < f[0]


@pytest.mark.skipif(not MODEL_PATH.is_file(), reason="exposure.json not installed")
@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea"])
def test_the_shipped_fit_tells_an_underexposed_photo_from_the_photo(name):
    """Held-out photos (scikit-image's; the fit saw the training photos only), darkened by a curve written
    here, not by the library's ops it was fitted on."""
    img = _skimage(name)
    assert low_light_probability(img) < 0.2
    assert low_light_probability(_srgb_dark(img, 0.08)) > 0.8


def test_fusion_raises_low_light_and_lowers_clean_but_never_lowers_the_network():
    diag = Diagnosis(0.9, {f: Finding(0.05 if f == "low_light" else 0.0, {}) for f in FAMILIES}, (64, 64), 1)
    fuse_exposure(diag, 0.8)
    assert diag.findings["low_light"].p == pytest.approx(0.8) and diag.clean == pytest.approx(0.2)
    assert "exposure" in diag.findings["low_light"].source
    assert diag.findings["low_light"].strength["p_exposure"] == pytest.approx(0.8)
    diag2 = Diagnosis(0.1, {f: Finding(0.9 if f == "low_light" else 0.0, {}) for f in FAMILIES}, (64, 64), 1)
    fuse_exposure(diag2, 0.1)
    assert diag2.findings["low_light"].p == pytest.approx(0.9) and diag2.clean == pytest.approx(0.1)


def test_fit_writes_a_model_that_reads_its_own_training_photos(tmp_path):
    from gir.io import write_image

    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(12):
        write_image(photos / f"{i}.png", natural_image(96, 128, seed=i))
    out = tmp_path / "exposure.json"
    m = fit([photos], out, seed=3)
    assert json.loads(out.read_text())["features"] == list(FEATURES)
    assert m["fitted_on"]["samples"] == 12 * 7 and m["fitted_on"]["train_accuracy"] >= 0.9
    again = tmp_path / "again.json"
    fit([photos], again, seed=3)
    assert again.read_text() == out.read_text()  # the same seed gives the same bytes
    with pytest.raises(ValueError, match="no photos"):
        fit([tmp_path / "empty"], tmp_path / "x.json")


def _diag(low_light: float) -> Diagnosis:
    return Diagnosis(1.0 - low_light, {f: Finding(low_light if f == "low_light" else 0.0, {}) for f in FAMILIES},
                     (256, 256), 1)


def test_verification_undoes_a_brightening_that_reveals_more_artefacts_than_scene():
    """Rule 5: the analyzer may call a brightened photo clean while it is mostly amplified noise and blocks;
    NIQE rising by more than NIQE_RISE undoes the step, an honest brightening is kept."""
    from gir.restore.verify import NIQE_RISE, niqe_rise, verify

    bright = _skimage("astronaut")[:256, :256]
    dark = (bright ** 2.2 * 0.1) ** (1 / 2.2)
    rng = np.random.default_rng(0)
    noisy = np.clip(bright + rng.normal(0, 0.25, bright.shape), 0, 1).astype(np.float32)
    kept = verify(["low_light"], _diag(0.95), _diag(0.0), dark, bright)
    assert kept.kept, kept.why
    assert niqe_rise(dark, noisy) > NIQE_RISE
    undone = verify(["low_light"], _diag(0.95), _diag(0.0), dark, noisy)
    assert not undone.kept and undone.why.startswith("revealed artefacts")
    assert niqe_rise(dark[:100, :100], noisy[:100, :100]) is None  # too small for NIQE: not judged
