"""Physics and contract tests for the GRIDS / DCPT / FoundIR / Real-ESRGAN ops (ops_extra)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from gir.degradations import OPS
from gir.degradations.kernels import motion_kernel

EXTRA = ["motion_blur", "defocus_blur", "poisson_noise", "salt_pepper", "inpainting", "sr", "low_light",
         "demosaic", "raindrop", "realesrgan"]
STOCHASTIC = {"poisson_noise", "salt_pepper", "inpainting", "low_light", "raindrop", "realesrgan"}


def apply(name, img, seed=0, **params):
    return OPS.get(name).apply(img, np.random.default_rng(seed), params)


def textured(h=96, w=96, seed=0):
    """Smooth colour field plus strong pixel-level texture, in (0.05, 0.95)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([0.5 + 0.2 * np.sin(6 * xx), 0.5 + 0.2 * np.cos(5 * yy), 0.5 + 0.2 * np.sin(4 * (xx + yy))], -1)
    return np.clip(base + 0.2 * (rng.random((h, w, 3)) - 0.5), 0.05, 0.95).astype(np.float32)


def flat(value, h=64, w=64):
    return np.full((h, w, 3), value, dtype=np.float32)


def luma(img):
    return img @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def lap_energy(img, border=8):
    """Mean squared 4-neighbour Laplacian of the luma, away from the borders."""
    y = luma(img).astype(np.float64)
    lap = y[1:-1, :-2] + y[1:-1, 2:] + y[:-2, 1:-1] + y[2:, 1:-1] - 4 * y[1:-1, 1:-1]
    b = max(border - 1, 0)
    return float(np.mean(lap[b:lap.shape[0] - b, b:lap.shape[1] - b] ** 2))


# --------------------------------------------------------------------------------------- contract
def test_registered_in_order_with_flags():
    names = OPS.names()
    assert all(n in names for n in EXTRA)
    assert [n for n in names if n in EXTRA] == EXTRA
    assert {n for n in EXTRA if OPS.get(n).acquisition} == {"low_light", "raindrop"}
    assert {n for n in EXTRA if OPS.get(n).composite} == {"realesrgan"}
    for n in EXTRA:
        spec = OPS.get(n)
        assert spec.doc and "paper 00" in spec.doc and spec.source


@pytest.mark.parametrize("name", EXTRA)
def test_contract_and_reproducibility(name):
    img = textured(40, 48)
    out = apply(name, img, seed=3)
    assert out.shape == img.shape and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert not np.array_equal(out, img), "representative strength must visibly degrade"
    assert apply(name, img, seed=3).tobytes() == out.tobytes()
    other = apply(name, img, seed=4)
    if name in STOCHASTIC:
        assert not np.array_equal(other, out)
    else:
        assert other.tobytes() == out.tobytes()


@pytest.mark.parametrize("name", EXTRA)
def test_random_params_valid_and_tiny_images(name):
    spec = OPS.get(name)
    for k in range(6):
        params = spec.sample_params(np.random.default_rng(k))
        assert spec.resolve(params) == params  # random range lies inside the valid range
        for shape in [(1, 1, 3), (5, 7, 3), (1, 9, 3), (9, 1, 3)]:
            img = np.random.default_rng(k).random(shape).astype(np.float32)
            out = spec.apply(img, np.random.default_rng(k), params)
            assert out.shape == shape and out.dtype == np.float32
            assert np.isfinite(out).all() and 0.0 <= out.min() and out.max() <= 1.0


# --------------------------------------------------------------------------------------- blur / SR
def stripes(vertical: bool, n=64, period=4):
    """Luminance stripes; vertical=True varies along x."""
    ax = 0.5 + 0.4 * np.sin(2 * np.pi * np.arange(n) / period)
    plane = np.tile(ax[None, :], (n, 1)) if vertical else np.tile(ax[:, None], (1, n))
    return np.repeat(plane[..., None], 3, -1).astype(np.float32)


def test_motion_blur_lowers_energy_and_is_directional():
    img = textured()
    assert lap_energy(apply("motion_blur", img, length=15, angle=30)) < 0.2 * lap_energy(img)
    v, h = stripes(True), stripes(False)
    # Horizontal motion wipes out variation along x and keeps variation along y; vertical motion the reverse.
    for angle, across, along in [(0.0, v, h), (90.0, h, v)]:
        assert lap_energy(apply("motion_blur", across, length=9, angle=angle)) < 0.05 * lap_energy(across)
        assert lap_energy(apply("motion_blur", along, length=9, angle=angle)) > 0.9 * lap_energy(along)


@pytest.mark.parametrize("length,angle", [(15.0, 30.0), (8.0, 120.0), (0.0, 0.0)])
def test_line_kernel_geometry(length, angle):
    k = motion_kernel(length, angle).astype(np.float64)
    assert k.shape[0] % 2 == 1 and abs(k.sum() - 1) < 1e-5 and (k >= 0).all()
    r = (k.shape[0] - 1) / 2
    yy, xx = np.mgrid[0:k.shape[0], 0:k.shape[1]] - r
    a = np.radians(angle)
    along, across = xx * np.cos(a) - yy * np.sin(a), xx * np.sin(a) + yy * np.cos(a)
    assert abs((k * along).sum()) < 1e-3 and abs((k * across).sum()) < 1e-3  # centred
    var_along = (k * along**2).sum()
    assert abs(var_along - length**2 / 12) < 0.3  # a uniform segment of this length (+ splatting)
    assert (k * across**2).sum() < 0.25


def test_defocus_blur_is_monotone_and_keeps_flat():
    img = textured()
    e = [lap_energy(apply("defocus_blur", img, radius=r)) for r in (1.0, 3.0, 6.0)]
    assert e[0] < 0.5 * lap_energy(img) and e[2] < e[1] < e[0]
    assert np.abs(apply("defocus_blur", flat(0.3)) - 0.3).max() < 1e-5
    assert np.abs(apply("defocus_blur", img, radius=0.0) - img).max() < 1e-6


def test_sr_identity_at_1_and_loses_detail_at_4():
    img = textured()
    assert np.abs(apply("sr", img, scale=1) - img).max() < 1e-6
    e2, e4 = lap_energy(apply("sr", img, scale=2)), lap_energy(apply("sr", img, scale=4))
    assert e4 < e2 < 0.5 * lap_energy(img) and e4 < 0.1 * lap_energy(img)


# --------------------------------------------------------------------------------------- noise
@pytest.mark.parametrize("gray", [False, True])
def test_poisson_variance_matches_intensity_over_peak(gray):
    peak = 100.0
    for level in (0.1, 0.3, 0.5):
        out = apply("poisson_noise", flat(level, 128, 128), seed=int(level * 10), peak=peak, gray=gray)
        assert abs(out.mean() - level) < 0.01
        assert abs(out.var() / (level / peak) - 1) < 0.1
        if gray:  # one noise field shared by the three channels
            assert np.abs(out[..., 0] - out[..., 2]).max() < 1e-6
        else:
            assert abs(np.corrcoef(out[..., 0].ravel(), out[..., 1].ravel())[0, 1]) < 0.05


def test_salt_pepper_density_and_values():
    img = 0.1 + 0.8 * np.random.default_rng(0).random((128, 128, 3)).astype(np.float32)
    for density, salt in [(0.1, 0.5), (0.03, 0.8)]:
        out = apply("salt_pepper", img, seed=1, density=density, salt=salt)
        changed = np.any(out != img, axis=-1)
        assert abs(changed.mean() - density) < 0.01
        px = out[changed]
        white = np.all(px == 1.0, axis=-1)
        assert np.all(white | np.all(px == 0.0, axis=-1))  # whole pixels set to exactly 0 or 1
        assert abs(white.mean() - salt) < 0.06
    assert np.array_equal(apply("salt_pepper", img, density=0.0), img)


def test_salt_pepper_per_channel_hits_channels_independently():
    img = np.full((200, 200, 3), 0.5, np.float32)
    out = apply("salt_pepper", img, seed=2, density=0.3, hits="channels")
    hit = out != 0.5
    assert abs(hit.mean() - 0.3) < 0.01
    assert 0.05 < (hit.sum(-1) == 1).mean()  # one channel of a pixel alone is common
    assert np.array_equal(apply("salt_pepper", img, seed=2, density=0.3), apply("salt_pepper", img, seed=2,
                                                                             density=0.3, hits="pixels"))


def test_low_light_darkens_with_signal_dependent_noise():
    img = textured()
    out = apply("low_light", img)
    assert luma(out).mean() < 0.4 * luma(img).mean()
    # Noise-free darkening follows the sRGB model: 0.5 -> linear 0.21404 -> 0.1 * 0.21404**1.2 -> sRGB.
    clean = apply("low_light", flat(0.5), exposure=0.1, gamma=1.2, photons=1e7, read_noise=0.0)
    lin = 0.1 * 0.21404**1.2
    assert abs(clean.mean() - (1.055 * lin ** (1 / 2.4) - 0.055)) < 2e-3 and clean.std() < 2e-3
    noisy = apply("low_light", flat(0.5), exposure=0.1, photons=500.0)
    assert noisy.std() > 0.01
    # Shot noise: in linear light the variance grows with the exposure (signal).
    def lin_var(exposure):
        o = apply("low_light", flat(0.5), seed=2, exposure=exposure, photons=200.0, read_noise=0.0)
        x = np.where(o <= 0.04045, o / 12.92, ((o + 0.055) / 1.055) ** 2.4)
        return x.var(), x.mean()
    (v1, m1), (v2, m2) = lin_var(0.05), lin_var(0.2)
    assert v2 > 2.5 * v1 and abs(v2 / v1 - m2 / m1) < 0.3 * (m2 / m1)


# --------------------------------------------------------------------------------------- demosaic
@pytest.mark.parametrize("pattern", ["RGGB", "BGGR", "GRBG", "GBRG"])
def test_demosaic_flat_is_identity_and_keeps_samples(pattern):
    for colour in ([0.5, 0.5, 0.5], [0.9, 0.2, 0.1], [0.1, 0.3, 0.8]):
        img = np.broadcast_to(np.array(colour, np.float32), (32, 30, 3)).copy()
        assert np.abs(apply("demosaic", img, pattern=pattern) - img).max() < 1e-3, colour
    img = textured(32, 32)
    out = apply("demosaic", img, pattern=pattern)
    for i, letter in enumerate(pattern):  # measured samples survive bilinear demosaicing
        dy, dx = divmod(i, 2)
        c = "RGB".index(letter)
        assert np.abs(out[dy::2, dx::2, c] - img[dy::2, dx::2, c]).max() < 1e-4


def test_demosaic_false_colour_on_fine_detail():
    def chroma(x):
        return np.abs(x[..., 0] - x[..., 1]) + np.abs(x[..., 2] - x[..., 1])

    n = 64
    diagonal = 0.2 + 0.6 * (np.indices((n, n)).sum(0) % 3 == 0)  # fine grey diagonal lines
    grey_fine = np.repeat(diagonal[..., None], 3, -1).astype(np.float32)  # any chroma is false colour
    out = apply("demosaic", grey_fine)
    assert chroma(out)[4:-4, 4:-4].mean() > 0.1
    yy, xx = np.mgrid[0:n, 0:n] / n
    smooth = np.stack([0.3 + 0.4 * xx, 0.5 + 0.2 * yy, 0.6 - 0.3 * xx], -1).astype(np.float32)
    err = np.abs(apply("demosaic", smooth) - smooth)[4:-4, 4:-4]
    assert err.max() < 0.01


# --------------------------------------------------------------------------------------- local damage
def test_inpainting_hole_fraction_and_fill():
    img = 0.1 + 0.8 * np.random.default_rng(0).random((128, 128, 3)).astype(np.float32)
    for area, fill, value in [(0.1, "black", 0.0), (0.3, "white", 1.0)]:
        for seed in (0, 1):
            out = apply("inpainting", img, seed=seed, area=area, width=8, fill=fill)
            hole = np.all(out == value, axis=-1)
            assert area <= hole.mean() < area + 0.03
            assert np.array_equal(out[~hole], img[~hole])
    out = apply("inpainting", img, area=0.2, fill="mean")
    hole = np.any(out != img, axis=-1)
    assert abs(hole.mean() - 0.2) < 0.03
    assert np.allclose(out[hole], img.reshape(-1, 3).mean(0), atol=1e-6)
    assert np.array_equal(apply("inpainting", img, area=0.0), img)


def test_raindrop_local_and_smooth():
    img = textured(128, 128)
    for seed in range(3):
        out = apply("raindrop", img, seed=seed, count=8, size=0.05)
        changed = np.any(np.abs(out - img) > 1e-6, axis=-1)
        assert 0.01 < changed.mean() < 0.25
        # Inside the drops the (defocused) refracted view is smoother than the scene it covers; the soft
        # rim (about 2 px here) blends the two.
        core = cv2.erode(changed.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        d_out, d_in = np.diff(luma(out), axis=1), np.diff(luma(img), axis=1)
        for region, limit in [(changed, 0.8), (core, 0.2)]:
            inner = region[:, 1:] & region[:, :-1]
            assert inner.sum() > 50
            assert (d_out[inner] ** 2).mean() < limit * (d_in[inner] ** 2).mean()
    assert np.array_equal(apply("raindrop", img, count=0), img)


# --------------------------------------------------------------------------------------- composite
def test_realesrgan_degrades_and_reproduces():
    img = textured(96, 96)
    base = lap_energy(img)
    for seed in range(4):
        out = apply("realesrgan", img, seed=seed, scale=2.0, strength=1.0)
        assert np.abs(out - img).mean() > 0.02
        assert lap_energy(out) < 0.5 * base
        assert apply("realesrgan", img, seed=seed, scale=2.0, strength=1.0).tobytes() == out.tobytes()
    mild = np.mean([np.abs(apply("realesrgan", img, seed=s, scale=1.0, strength=0.0) - img).mean()
                    for s in range(4)])
    harsh = np.mean([np.abs(apply("realesrgan", img, seed=s, scale=4.0, strength=1.0) - img).mean()
                     for s in range(4)])
    assert mild < harsh
