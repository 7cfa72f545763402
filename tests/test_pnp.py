"""Plug-and-play restoration (issue 28): each operator's physics and data step alone, the solver with a simple
prior, the blur kernel estimate, verification by consistency, and the noise-map denoiser's pieces."""
import io

import cv2
import numpy as np
import pytest
import torch

from gir.analysis.kernel import gaussian_kernel_for, read_kernel
from gir.errors import GirError
from gir.metrics import psnr
from gir.restore.operators import (Blur, Downsample, Jpeg, KernelError, Mask, Operator, check_kernel,
                                   expected_clipped)
from gir.restore.pnp import Schedule, residual, solve


def photo(h=96, w=112, seed=0):
    """A smooth random image with edges: blobs plus a few rectangles (float32 H x W x 3 in [0, 1])."""
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.random((h, w, 3), dtype=np.float32), (0, 0), 4) * 2.5 - 0.75
    for _ in range(6):
        y, x = rng.integers(0, h - 20), rng.integers(0, w - 20)
        img[y:y + rng.integers(8, 20), x:x + rng.integers(8, 20)] = rng.random(3)
    return np.clip(img, 0, 1).astype(np.float32)


def diag(**found):
    """A diagnosis with p = found[family] and 0 elsewhere."""
    from gir.analysis.analyze import Diagnosis, Finding
    from gir.analysis.families import FAMILIES

    return Diagnosis(0.0, {f: Finding(float(found.get(f, 0.0))) for f in FAMILIES}, (64, 64), 1)


def smoothing_prior(x, sigma):
    """A stand-in prior: Gaussian smoothing whose width grows with the noise level it is told."""
    s = 0.3 + sigma / 40.0
    return cv2.GaussianBlur(np.ascontiguousarray(x, np.float32), (0, 0), s)


# ------------------------------------------------------------------------------------------- operators
def test_blur_forward_is_a_true_convolution_with_reflected_borders():
    k = np.zeros((5, 5))
    k[2, 3] = 1.0  # shifts the image one pixel to the right
    x = photo()
    y = Blur(k).forward(x)
    np.testing.assert_allclose(y[:, 1:], x[:, :-1], atol=1e-6)


def test_blur_data_step_trusts_the_prior_with_a_large_rho_and_deblurs_with_a_small_one():
    x = photo()
    op = Blur(gaussian_kernel_for(1.5))
    y = op.forward(x)
    np.testing.assert_allclose(op.data_step(y, x, 1e6), x, atol=1e-4)
    restored = op.data_step(y, y, 1e-3)
    assert psnr(np.clip(restored, 0, 1)[8:-8, 8:-8], x[8:-8, 8:-8]) > psnr(y[8:-8, 8:-8], x[8:-8, 8:-8]) + 3


def test_mask_data_step_is_the_per_pixel_closed_form():
    rng = np.random.default_rng(1)
    m = (rng.random((20, 30)) > 0.3).astype(np.float32)
    y, z = rng.random((20, 30, 3)).astype(np.float32), rng.random((20, 30, 3)).astype(np.float32)
    out = Mask(m).data_step(y, z, 0.5)
    np.testing.assert_allclose(out, (m[..., None] * y + 0.5 * z) / (m[..., None] + 0.5), rtol=1e-6)
    assert np.allclose(Mask(m).forward(y)[m == 0], 0)


def test_downsample_data_step_reproduces_the_observation_as_rho_goes_to_zero():
    x = photo(96, 96)
    op = Downsample(2)
    y = op.forward(x)
    assert y.shape == (48, 48, 3) and op.start(y).shape == x.shape
    z = op.start(y)
    out = op.data_step(y, z, 1e-6)
    # the closed form is circular: compare the interior, away from the wrap-around
    np.testing.assert_allclose(op.forward(out)[6:-6, 6:-6], y[6:-6, 6:-6], atol=2e-2)
    assert np.abs(op.data_step(y, z, 1e6) - z).max() < 1e-3


def test_jpeg_data_step_projects_onto_the_quantisation_constraint():
    from PIL import Image

    x = photo(64, 64)
    buf = io.BytesIO()
    Image.fromarray((x * 255).round().astype(np.uint8)).save(buf, "JPEG", quality=30)
    buf.seek(0)
    im = Image.open(buf)
    # Pillow gives the tables in natural (row-major) order
    tables = [np.asarray(im.quantization[0]).reshape(8, 8), np.asarray(im.quantization[1]).reshape(8, 8)]
    y = np.asarray(im.convert("RGB"), np.float32) / 255
    op = Jpeg(tables)
    smooth = cv2.GaussianBlur(y, (0, 0), 2)
    out = op.data_step(y, smooth, 1.0)
    # the projection moves the smooth image towards the observation, and is idempotent
    assert np.abs(out - y).mean() < np.abs(smooth - y).mean()
    np.testing.assert_allclose(op.data_step(y, out, 1.0), out, atol=2e-3)


def test_expected_clipped_matches_monte_carlo():
    x = np.array([0.0, 0.03, 0.5, 0.97, 1.0])
    draws = np.clip(x + np.random.default_rng(0).normal(0, 50 / 255, (100000, 5)), 0, 1).mean(0)
    np.testing.assert_allclose(expected_clipped(x, 50), draws, atol=2e-3)
    np.testing.assert_allclose(expected_clipped(x, 0), x)


@pytest.mark.parametrize("kernel, why", [
    (np.zeros((0, 0)), "non-empty 2-D"),
    (-np.ones((3, 3)), "sums to"),
    (np.full((3, 3), np.nan), "not finite"),
])
def test_a_kernel_that_is_not_one_is_refused_in_one_line(kernel, why):
    with pytest.raises(KernelError, match=why):
        check_kernel(kernel, where="k.npy")


def test_a_kernel_larger_than_the_image_is_refused():
    with pytest.raises(KernelError, match="not smaller than the image"):
        check_kernel(np.ones((41, 41)), (40, 60))


def test_read_kernel_from_npy_and_image_files_and_bad_files(tmp_path):
    k = gaussian_kernel_for(1.2)
    np.save(tmp_path / "k.npy", k)
    np.testing.assert_allclose(read_kernel(tmp_path / "k.npy"), k / k.sum())
    cv2.imwrite(str(tmp_path / "k.png"), (k / k.max() * 255).astype(np.uint8))
    assert read_kernel(tmp_path / "k.png").shape == k.shape
    (tmp_path / "empty.npy").write_bytes(b"")
    with pytest.raises(KernelError, match="empty.npy: cannot read"):
        read_kernel(tmp_path / "empty.npy")
    np.save(tmp_path / "neg.npy", -k)
    with pytest.raises(KernelError, match="neg.npy: the kernel sums to"):
        read_kernel(tmp_path / "neg.npy")
    with pytest.raises(KernelError, match="no such file"):
        read_kernel(tmp_path / "missing.npy")


# ------------------------------------------------------------------------------------------------ solver
def test_schedule_anneals_the_prior_from_49_to_the_noise_level():
    s = Schedule()
    sig = s.sigmas(10.0)
    assert len(sig) == s.iterations and sig[0] == pytest.approx(49) and sig[-1] == pytest.approx(10)
    assert np.all(np.diff(sig) < 0)
    np.testing.assert_allclose(s.rhos(10.0), s.lam * 100 / sig ** 2)
    assert s.sigmas(0.0)[-1] == pytest.approx(s.sigma_end)
    with pytest.raises(GirError):
        Schedule(iterations=0).sigmas(1.0)


def test_solve_with_a_simple_prior_deblurs_and_explains_its_input():
    x = photo()
    op = Blur(gaussian_kernel_for(1.6))
    y = np.round(op.forward(x) * 255) / 255
    out = solve(y, op, smoothing_prior, noise=0.0)
    assert psnr(out, x) > psnr(y, x) + 1.0
    assert residual(y, out, op, border=8) < residual(y, y, op, border=8)


def test_the_identity_operator_turns_solve_into_annealed_denoising():
    x = photo()
    y = (x + np.random.default_rng(0).normal(0, 20 / 255, x.shape)).astype(np.float32)
    out = solve(y, Operator(), smoothing_prior, noise=20.0)
    assert psnr(out, x) > psnr(y, x) + 3


# ------------------------------------------------------------------------------------------- kernels
# The blind kernel estimate (gir-kernel) is tested in test_kernel_net.py.


# ------------------------------------------------------------------------------------------ experts
def test_deblur_expert_with_a_given_kernel_and_its_consistency():
    from gir.restore.experts import DeblurExpert

    x = photo()
    k = gaussian_kernel_for(1.6)
    y = np.round(Blur(k).forward(x) * 255) / 255
    ex = DeblurExpert("deblur", ("blur",), "pnp", "t", kernel=k)
    ex._prior = smoothing_prior
    out = ex(y.astype(np.float32))
    assert psnr(out, x) > psnr(y, x) + 1.0 and ex.note() == "the given kernel"
    observed = ex.observe(out, {})
    assert observed.shape == y.shape and psnr(observed, y) > 35


def test_deblur_expert_leaves_a_sharp_photo_unchanged():
    from gir.restore.experts import DeblurExpert

    data = pytest.importorskip("skimage.data")
    x = data.astronaut()[100:356, 150:406].astype(np.float32) / 255  # a sharp photo
    ex = DeblurExpert("deblur", ("blur",), "pnp", "t")
    ex._prior = smoothing_prior
    assert ex(x) is x and ex.observe(x) is None and ex.note() == "no blur found"


def test_verification_by_consistency_undoes_an_output_that_does_not_explain_its_input():
    from gir.restore.verify import verify

    x = photo()
    y = Blur(gaussian_kernel_for(1.6)).forward(x)
    good = verify(["blur"], diag(blur=0.9), diag(blur=0.3), y, x, observed=y + 0.002, noise=0.0)
    assert good.kept and good.residual < 1.0 and good.to_dict()["residual"] < 1.0
    bad = verify(["blur"], diag(blur=0.9), diag(blur=0.1), y, x, observed=y + 0.05, noise=0.0)
    assert not bad.kept and bad.why.startswith("does not explain its input")
    assert "residual 12.8/255" in bad.describe_residual()


def test_heavy_clipped_noise_removed_is_not_taken_for_a_tone_shift():
    """Issue 28: at sigma 50 the noisy input's local means near black and white are biased by clipping; the
    denoiser's output, re-degraded by the clipped-noise model, explains them."""
    from gir.restore.verify import tone_shift, verify

    x = np.zeros((64, 64, 3), np.float32)
    x[:, 32:] = 0.04  # a dark photo
    y = np.clip(x + np.random.default_rng(0).normal(0, 50 / 255, x.shape), 0, 1).astype(np.float32)
    assert tone_shift(y, x) * 255 > 10  # the naive check would undo the perfect result
    check = verify(["noise"], diag(noise=1.0), diag(), y, x, observed=expected_clipped(x, 50), noise=50.0)
    assert check.kept, check.why


# --------------------------------------------------------------------------------- denoiser training
def test_noise_synthesis_is_seeded_and_its_map_tells_the_noise_level():
    from gir.training.denoise import SIGMA_SCALE, synthesize_noise

    gt = torch.rand(6, 3, 32, 32)
    torch.manual_seed(5)
    a = synthesize_noise(gt, sigma=(25, 25), poisson=0.0, clip=0.0)
    torch.manual_seed(5)
    b = synthesize_noise(gt, sigma=(25, 25), poisson=0.0, clip=0.0)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    noisy, sigma_map = a
    assert torch.allclose(sigma_map, torch.full_like(sigma_map, 25 / SIGMA_SCALE))
    assert abs(float((noisy - gt).std()) * 255 - 25) < 1.0
    clean, zero = synthesize_noise(gt, sigma=(0, 0), poisson=0.0)
    assert torch.allclose(clean, gt, atol=1 / 255) and float(zero.abs().max()) == 0


def test_a_low_share_draws_levels_near_zero():
    """``low=(share, top)``: that share of the Gaussian patches gets a level in 0-top (denoise's ``low``)."""
    from gir.training.denoise import SIGMA_SCALE, synthesize_noise

    gt = torch.rand(400, 3, 4, 4)
    torch.manual_seed(0)
    _, m = synthesize_noise(gt, sigma=(40, 75), poisson=0.0, clip=0.0, low=(0.3, 5.0))
    level = m[:, 0, 0, 0] * SIGMA_SCALE
    assert float(level.max()) <= 75 + 1e-3
    low = level <= 5 + 1e-3
    assert 0.2 < float(low.float().mean()) < 0.4 and bool((level[~low] >= 40 - 1e-3).all())


def test_camera_noise_share_is_correlated_in_space_and_told_its_mid_grey_level():
    """``correlated=(share, px low, px high)``: camera noise, its neighbouring pixels correlated as the
    library's camera_noise, at the level told (on a mid-grey patch the std is sigma whatever the shot share)."""
    from gir.training.denoise import SIGMA_SCALE, synthesize_noise

    gt = torch.full((16, 3, 64, 64), 0.5)
    torch.manual_seed(1)
    white, _ = synthesize_noise(gt, sigma=(20, 20), poisson=0.0, clip=0.0, gray=0.0)
    torch.manual_seed(1)
    cam, m = synthesize_noise(gt, sigma=(20, 20), poisson=0.0, clip=0.0, gray=0.0, correlated=(1.0, 1.0, 1.5))
    assert torch.allclose(m, torch.full_like(m, 20 / SIGMA_SCALE))

    def lag1(x):
        n = x - gt
        return float((n[..., 1:] * n[..., :-1]).mean() / n.pow(2).mean())

    assert abs(float((cam - gt).std()) * 255 - 20) < 1.5
    assert lag1(white) < 0.05 and lag1(cam) > 0.5


def test_poisson_noise_map_follows_the_signal():
    from gir.training.denoise import synthesize_noise

    gt = torch.cat([torch.full((1, 3, 16, 32), 0.05), torch.full((1, 3, 16, 32), 0.8)], dim=2).repeat(8, 1, 1, 1)
    torch.manual_seed(0)
    _, m = synthesize_noise(gt, poisson=1.0, peak=(50, 50), read=(0, 0), clip=0.0)
    per_pixel = [i for i in range(8) if not torch.allclose(m[i], m[i].mean().expand_as(m[i]))]
    assert per_pixel, "half the Poisson samples get the per-pixel map"
    i = per_pixel[0]
    assert float(m[i, 0, 20].mean()) > 3 * float(m[i, 0, 2].mean())


def test_a_noise_map_network_starts_as_the_blind_network_it_is_initialised_from():
    from gir.models import build_model
    from gir.models.checkpoint import _apply

    torch.manual_seed(0)
    blind = build_model({"type": "wavelet_unet", "preset": "small", "attention": False}).eval()
    for p in blind.parameters():  # a trained-looking blind network (its last conv is not zero)
        p.data.normal_(0, 0.05)
    cond = build_model({"type": "wavelet_unet", "preset": "small", "attention": False, "noise_map": True,
                        "conditions": ["noise.sigma"]}).eval()
    _apply(cond, blind.state_dict(), "blind.safetensors")
    x = torch.rand(1, 3, 40, 52)
    with torch.no_grad():
        ref = blind(x)
        for sigma in (torch.tensor([[0.1]]), torch.rand(1, 1, 40, 52)):
            assert torch.allclose(cond(x, cond=sigma), ref, atol=1e-5)
    from gir.models.conditioning import ConditioningError

    with pytest.raises(ConditioningError, match="noise-map network"):
        cond(x)
