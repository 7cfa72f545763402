"""The blind kernel predictor: its features, its training objective, and the shipped gir-kernel on photos."""

import numpy as np
import pytest
import torch

from conftest import clean_run_config, natural_image
from gir.models.kernelnet import KINDS, KernelNet, decode, encode_targets, flip_maps, gradient_autocorrelation


def white(h=160, w=160, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).random((1, 1, h, w), dtype=np.float32))


def test_autocorrelation_is_one_at_lag_zero_and_point_symmetric():
    m = gradient_autocorrelation(white(), 6)[0]
    assert m.shape == (2, 13, 13)
    assert torch.allclose(m[:, 6, 6], torch.ones(2))
    assert torch.allclose(m, m.flip(-1).flip(-2), atol=1e-5)


def test_motion_blur_shows_as_a_ridge_along_its_direction():
    """White noise blurred along x: its maps correlate along x (lag 3 on the row through 0), not along y."""
    from gir.training.kernels import blur_kernel_array, convolve_batch

    x = convolve_batch(white(), [blur_kernel_array("motion", 0, 9.0, 0.0)])
    m = gradient_autocorrelation(x, 6)[0, 1]  # the vertical differences' map: smooth along the motion
    assert m[6, 6 + 3] > 0.5 and m[6 + 3, 6] < 0.1


def test_flipping_the_maps_flips_the_angle_targets():
    maps = gradient_autocorrelation(white(), 5)
    kind = torch.tensor([KINDS.index("motion")])
    t = encode_targets(kind, torch.tensor([0.0]), torch.tensor([9.0]), torch.tensor([30.0]))
    fm, ft = flip_maps(maps, t, transpose=False)
    assert torch.allclose(ft[0, 2:], encode_targets(kind, torch.tensor([0.0]), torch.tensor([9.0]),
                                                    torch.tensor([150.0]))[0, 2:], atol=1e-5)
    tm, tt = flip_maps(maps, t, transpose=True)
    assert torch.allclose(tt[0, 2:], encode_targets(kind, torch.tensor([0.0]), torch.tensor([9.0]),
                                                    torch.tensor([60.0]))[0, 2:], atol=1e-5)
    assert torch.equal(tm[:, 0], maps[:, 1].transpose(-1, -2)) and torch.equal(fm, maps.flip(-1))


def test_decode_reads_back_what_encode_wrote():
    net = KernelNet(width=4, hidden=8)
    out = net(torch.rand(2, 3, 48, 56))
    assert out.shape == (2, len(KINDS) + 4)
    kind = torch.tensor([1, 2])
    t = encode_targets(kind, torch.tensor([1.7, 0.0]), torch.tensor([0.0, 13.0]), torch.tensor([0.0, 123.0]))
    fake = torch.cat([torch.nn.functional.one_hot(kind, len(KINDS)).float() * 9, t], 1)
    g = decode(fake)
    assert g[0].kind == "gaussian" and g[0].sigma == pytest.approx(1.7, rel=1e-5)
    assert g[1].kind == "motion" and g[1].length == pytest.approx(13.0) and g[1].angle == pytest.approx(123.0, abs=1e-3)


def test_same_seed_same_blurred_batch():
    from gir.training.kernels import BlurDraw, degrade_batch

    gt = torch.from_numpy(natural_image(64, 64).transpose(2, 0, 1).copy())[None].repeat(4, 1, 1, 1)

    def batch(seed):
        rng = np.random.default_rng(seed)
        draws = [BlurDraw(jpeg=0.5).draw(rng) for _ in range(4)]
        return degrade_batch(gt, draws, 5), [d["kind"] for d in draws]

    (a, ka), (b, kb) = batch(3), batch(3)
    assert torch.equal(a, b) and ka == kb
    assert torch.equal(a, torch.round(a * 255) / 255)  # 8-bit values


def test_denoised_and_dejpeg_draws_go_through_the_pipeline_steps_they_stand_for():
    from gir.training.kernels import BlurDraw, degrade_batch

    gt = torch.from_numpy(natural_image(64, 64).transpose(2, 0, 1).copy())[None].repeat(16, 1, 1, 1)
    draw, rng = BlurDraw(denoised=0.5, dejpeg=0.5, told=(0.8, 1.25)), np.random.default_rng(7)
    draws = [draw.draw(rng) for _ in range(16)]
    assert {d["denoise"] for d in draws} == {True, False} and all(d["denoise"] != d["dejpeg"] for d in draws)
    calls = []

    def prior(img, sigma):
        calls.append(("denoise", sigma))
        return np.zeros_like(img)

    def dejpeg(img, quality):
        calls.append(("dejpeg", quality))
        return np.ones_like(img)

    x = degrade_batch(gt, draws, 5, prior, dejpeg)
    for d, xi in zip(draws, x):
        if d["denoise"]:
            assert 5 <= d["noise"] <= 30 and 0.8 * d["noise"] <= d["told"] <= 1.25 * d["noise"] and d["jpeg"] == 0
            assert ("denoise", d["told"]) in calls and float(xi.max()) == 0.0
        else:
            assert 20 <= d["jpeg"] <= 60 and d["noise"] <= 10
            assert ("dejpeg", d["jpeg"]) in calls and float(xi.min()) == 1.0
    assert len(calls) == 16


def test_bad_draw_settings_are_refused():
    from gir.training.kernels import BlurDraw

    with pytest.raises(ValueError, match="mix needs 4"):
        BlurDraw(mix=(1, 1))
    with pytest.raises(ValueError, match="length_range"):
        BlurDraw(length_range=(3, 40))
    with pytest.raises(ValueError, match="denoised \\+ dejpeg"):
        BlurDraw(denoised=0.7, dejpeg=0.5)


def test_blur_kernel_objective_trains_and_validates(tmp_path):
    from conftest import train_tiny

    val, terms = train_tiny(tmp_path, {"type": "kernel_net", "width": 4, "hidden": 8}, {"type": "blur_kernel"},
                            patch=48)
    assert 0.0 <= val["accuracy"] <= 1.0 and val["n"] == 1
    assert {"ce", "sigma", "motion"} <= terms


def test_blur_kernel_objective_refuses_an_image_network(tmp_path):
    from gir.training.engine import run as train

    cfg = clean_run_config(tmp_path, {"type": "srcnn"}, {"type": "blur_kernel"}, patch=32)
    with pytest.raises(Exception, match="kernel predictor"):
        train(cfg, out_dir=tmp_path / "run")


# ------------------------------------------------------------------- the shipped gir-kernel, on a photo
def skimage_photo():
    data = pytest.importorskip("skimage.data")
    return data.astronaut()[100:356, 150:406].astype(np.float32) / 255


def test_shipped_predictor_tells_gaussian_motion_resampling_and_sharp_apart():
    import cv2

    from gir.analysis.kernel import estimate_kernel, gaussian_kernel_for, motion_kernel_for

    x = skimage_photo()
    blur = lambda k: np.round(cv2.filter2D(x, -1, k.astype(np.float32), borderType=cv2.BORDER_REFLECT) * 255) / 255  # noqa: E731
    g = estimate_kernel(blur(gaussian_kernel_for(1.6)))
    assert g.kind == "gaussian" and abs(g.params["sigma"] - 1.6) < 0.3, g.to_dict()
    m = estimate_kernel(blur(motion_kernel_for(11, 60)))
    assert m.kind == "motion" and abs(m.params["length"] - 11) < 2.5 and abs(m.params["angle"] - 60) < 8, m.to_dict()
    from PIL import Image

    data = pytest.importorskip("skimage.data")
    photo8 = Image.fromarray(data.coffee()[72:328, 172:428])  # Pillow's bicubic x2, down and up
    enlarged = photo8.resize((128, 128), Image.Resampling.BICUBIC).resize((256, 256), Image.Resampling.BICUBIC)
    r = estimate_kernel(np.asarray(enlarged, np.float32) / 255)
    assert r.kind == "resample" and r.kernel is None, r.to_dict()
    assert estimate_kernel(x).kernel is None


# ------------------------------------------------------------- blur or resampling: the analysis's arbitration
def guess(kind, q, sigma=1.6):
    from gir.models.kernelnet import KernelGuess

    probs = {k: (q if k == kind else (1 - q) / 3) for k in KINDS}
    return KernelGuess(kind, probs, sigma, 11.0, 30.0)


def diag(blur, resize):
    from gir.analysis.analyze import Diagnosis, Finding
    from gir.analysis.families import FAMILIES

    found = {"blur": blur, "resize": resize}
    return Diagnosis(0.1, {f: Finding(float(found.get(f, 0.0))) for f in FAMILIES}, (64, 64), 1)


def test_the_kernel_network_decides_between_blur_and_resize_when_sure():
    from gir.analysis.kernel import fuse_kernel

    d, g = diag(0.6, 0.8), guess("gaussian", 0.95)
    fuse_kernel(d, g)
    q_blur = g.probs["gaussian"] + g.probs["motion"]  # both kinds are blurs to deconvolve
    assert d.findings["blur"].p == 0.8 and d.findings["resize"].p == pytest.approx(1 - q_blur)
    assert "kernel network" in d.findings["blur"].source and "gaussian blur" in d.notes[0]
    d = diag(0.7, 0.55)
    fuse_kernel(d, guess("resample", 0.9))
    assert d.findings["resize"].p == 0.7 and d.findings["blur"].p == pytest.approx(0.1)


def test_no_arbitration_when_unsure_narrow_or_neither_family_is_seen():
    from gir.analysis.kernel import fuse_kernel

    for d, g in ((diag(0.6, 0.8), guess("gaussian", 0.6)),     # not sure
                 (diag(0.6, 0.8), guess("gaussian", 0.95, 0.6)),  # too narrow to deconvolve
                 (diag(0.3, 0.4), guess("motion", 0.99)),      # the analyzer sees neither: stays clean
                 (diag(0.6, 0.8), guess("none", 0.99))):
        before = (d.findings["blur"].p, d.findings["resize"].p)
        fuse_kernel(d, g)
        assert (d.findings["blur"].p, d.findings["resize"].p) == before and not d.notes
