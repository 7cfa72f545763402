"""Impulse-noise detection and switching repair before the network (gir.restore.impulse)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from torch import nn

from gir.degradations.recipe import Recipe
from gir.metrics import psnr
from gir.restore import Restorer, impulse
from gir.restore.impulse import impulse_stats, repair_impulses

from conftest import natural_image


@pytest.fixture
def clean() -> np.ndarray:
    return natural_image(160, 200, seed=3)


def test_clean_and_gaussian_noisy_images_pass_untouched(clean):
    noisy = np.clip(clean + np.random.default_rng(0).standard_normal(clean.shape).astype(np.float32) * 0.2,
                    0, 1)
    for img in (clean, noisy):
        out, stats = repair_impulses(img)
        assert out is img and not stats.impulsive
    assert impulse_stats(noisy).ratio < 1.0  # clipped noise makes outliers at every value, not just 0 and 1


@pytest.mark.parametrize("kind", ["pixels", "channels"])
def test_salt_and_pepper_is_repaired_far_better_than_a_median_filter(clean, kind):
    bad = Recipe.from_text(f"salt_pepper(density=0.05, hits={kind})").apply(clean, seed=1)
    out, stats = repair_impulses(bad)
    assert stats.impulsive and stats.ratio > 10
    assert psnr(out, clean) > 38.0
    assert psnr(out, clean) > psnr(cv2.medianBlur(bad, 3), clean) + 6.0
    untouched = (bad > impulse.EXTREME) & (bad < 1 - impulse.EXTREME)
    assert np.array_equal(out[untouched], bad[untouched])  # a switching filter: only extremes change


def test_one_sign_only_is_left_to_the_network(clean):
    """Isolated white points alone (stars, glints) never switch the repair on."""
    salt_only = Recipe.from_text("salt_pepper(density=0.05, salt=1.0)").apply(clean, seed=2)
    out, stats = repair_impulses(salt_only)
    assert stats.salt > 0.01 and stats.pepper == 0.0 and out is salt_only


def test_bands_give_the_same_result_as_the_whole_image(clean, monkeypatch):
    bad = Recipe.from_text("salt_pepper(density=0.2)").apply(clean, seed=4)  # dense: the wide windows fill
    whole, stats = repair_impulses(bad)
    monkeypatch.setattr(impulse, "BAND_ROWS", 7)
    banded, banded_stats = repair_impulses(bad)
    assert banded_stats == stats
    np.testing.assert_array_equal(banded, whole)


def test_grayscale_single_channel_works(clean):
    gray = clean[..., :1].copy()
    bad = Recipe.from_text("salt_pepper(hits=channels)").apply(np.repeat(gray, 3, axis=2), seed=5)[..., :1]
    out, stats = repair_impulses(bad)
    assert out.shape == gray.shape and stats.impulsive and psnr(out, gray) > 35.0


class Recorder(nn.Module):
    """Identity network that keeps what it was given."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, x):
        self.seen.append(x.clone())
        return x


@pytest.mark.parametrize("on", [True, False])
def test_restorer_repairs_before_the_network_unless_told_not_to(clean, on):
    bad = Recipe.from_text("salt_pepper").apply(clean, seed=6)
    net = Recorder()
    out = Restorer(net, device="cpu", tile=0, impulse_repair=on)(bad)
    seen = net.seen[0][0].permute(1, 2, 0).numpy()[:clean.shape[0], :clean.shape[1]]
    expected = repair_impulses(bad)[0] if on else bad
    np.testing.assert_allclose(seen, expected, atol=1e-6)
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_no_shared_photo_switches_the_repair_on(shared_data):
    """The margins the thresholds were set from: every clean and real photo of ../shared stays below."""
    from gir.data.folders import list_images
    from gir.io import read_image

    for p in list_images([shared_data / "test", shared_data / "real"]):
        assert not impulse_stats(read_image(p).rgb).impulsive, p
