"""Noise must show where a photo is flat (gir.analysis.flatness): the share of exactly flat blocks, the cap it
puts on a noise reading, where the cap is not applied, and a drawn grid that `gir restore` no longer denoises."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from conftest import natural_image
from gir.analysis.analyze import Diagnosis, Finding
from gir.analysis.families import FAMILIES
from gir.analysis.flatness import FLAT_SHARE, NOISE_CAP, flat_share, fuse_flatness


def _grid(size: int = 256) -> np.ndarray:
    """1-px dark lines every 16 px over flat blue-grey: a clean drawing, 26% of its blocks exactly flat."""
    img = np.zeros((size, size, 3), np.float32) + np.float32([0.6, 0.7, 0.8])
    img[::16], img[:, ::16] = 0.15, 0.15
    return img


def _pillow_jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(np.rint(np.clip(img, 0, 1) * 255).astype(np.uint8)).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"), np.float32) / 255.0


def _diag(noise: float, jpeg: float = 0.0, quality: float = 90.0) -> Diagnosis:
    findings = {f: Finding(0.0, {}) for f in FAMILIES}
    findings["noise"] = Finding(noise, {"sigma": 15.0})
    findings["jpeg"] = Finding(jpeg, {"quality": quality})
    return Diagnosis(0.1, findings, (64, 64), 1)


def test_flat_share_counts_exactly_flat_mid_tone_blocks():
    assert flat_share(np.full((64, 64, 3), 0.5, np.float32)) == 1.0
    assert flat_share(np.zeros((64, 64, 3), np.float32)) == 0.0  # black: clipping flattens noise, left out
    assert flat_share(np.ones((64, 64, 3), np.float32)) == 0.0
    assert flat_share(np.zeros((4, 4, 3), np.float32) + 0.5) == 0.0  # smaller than a block: nothing to count
    assert 0.2 < flat_share(_grid()) < 0.3
    rng = np.random.default_rng(0)
    for sigma in (3, 8, 25):  # noise of std 3 leaves an 8x8 block's std at 3 +- 0.3: never flat
        noisy = np.rint(np.clip(_grid() + rng.normal(0, sigma / 255, (256, 256, 3)), 0, 1) * 255) / 255
        assert flat_share(noisy.astype(np.float32)) == 0.0
    # a hard JPEG save reduces blocks of a noisy photo to their DC term: the offset grid straddles them
    assert flat_share(_pillow_jpeg(natural_image(256, 256) + rng.normal(0, 15 / 255, (256, 256, 3)), 30)) < FLAT_SHARE


def test_fusion_caps_noise_where_the_photo_is_flat_and_says_why():
    diag = _diag(0.88)
    fuse_flatness(diag, 0.26, 0.5)
    assert diag.findings["noise"].p == NOISE_CAP and "exactly flat" in diag.findings["noise"].source
    assert diag.findings["noise"].strength["flat_share"] == pytest.approx(0.26)
    kept = _diag(0.88)
    fuse_flatness(kept, FLAT_SHARE / 2, 0.5)
    assert kept.findings["noise"].p == 0.88 and kept.findings["noise"].source == "network"
    assert "flat_share" not in kept.findings["noise"].strength  # only a share that counts is reported
    low = _diag(0.1)
    fuse_flatness(low, 0.9, 0.5)
    assert low.findings["noise"].p == 0.1  # never raised


def test_a_hard_jpeg_save_may_have_flattened_the_noise_so_it_is_not_capped():
    hard = _diag(0.9, jpeg=0.95, quality=20.0)
    fuse_flatness(hard, 0.4, 0.5)
    assert hard.findings["noise"].p == 0.9
    mild = _diag(0.9, jpeg=0.95, quality=75.0)
    fuse_flatness(mild, 0.4, 0.5)
    assert mild.findings["noise"].p == NOISE_CAP


def test_the_shipped_analyzer_and_restore_leave_a_drawn_grid_alone():
    """The network alone reads the grid as noise (88%, sigma 15) and the denoiser, kept for it, moved the flat
    cells (32.9 dB against the input); with the check the grid reads clean and comes back as the same pixels."""
    from gir.analysis.analyze import Analyzer
    from gir.restore.pipeline import Pipeline

    grid = _grid()
    assert Analyzer(flatness=False)(grid).findings["noise"].p > 0.5
    assert Analyzer()(grid).findings["noise"].p <= NOISE_CAP
    assert Pipeline(device="cpu").run(grid).image is grid
