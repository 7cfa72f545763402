"""--mode perceptual: the fusion map (gir.restore.fusion), the pipeline's twin step, and the training terms
that make a twin (the `features` loss on the analyzer's encoder, the U-Net discriminator)."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pytest

from gir.errors import GirError
from gir.restore.experts import ClassicalExpert
from gir.restore.fusion import artifact_map, fuse, structure_map, trust_map, trust_thumbnail
from gir.restore.pipeline import Pipeline

from test_pipeline import FakeAnalyzer, diag


def _text_card(noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """Dark text rendered with Pillow's FreeType font on paper, optionally with Gaussian noise."""
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", (256, 96), (232, 228, 220))
    draw = ImageDraw.Draw(img)
    draw.text((8, 8), "Invoice 2026-12", fill=(25, 25, 35), font=ImageFont.load_default(size=28))
    draw.text((8, 56), "thin lines & digits 0189", fill=(40, 40, 40), font=ImageFont.load_default(size=18))
    x = np.asarray(img, np.float32) / 255.0
    if noise:
        x = x + np.random.default_rng(seed).normal(0, noise, x.shape).astype(np.float32)
    return np.clip(x, 0, 1).astype(np.float32)


def _texture(seed: int = 0) -> np.ndarray:
    """A mid-grey random texture (std about 0.08), smooth at 1.2 px: fabric-like detail."""
    n = np.random.default_rng(seed).normal(0, 1, (96, 96)).astype(np.float32)
    t = 0.5 + 0.08 * cv2.GaussianBlur(n, (0, 0), 1.2) / 0.23
    return np.repeat(np.clip(t, 0, 1)[..., None], 3, axis=2).astype(np.float32)


def _invent(fidelity: np.ndarray, amount: float, seed: int = 1) -> np.ndarray:
    """A stand-in perceptual result: the fidelity one with ``amount`` of fine invented texture everywhere."""
    n = np.random.default_rng(seed).normal(0, amount, fidelity.shape[:2]).astype(np.float32)
    return np.clip(fidelity + n[..., None], 0, 1).astype(np.float32)


# ------------------------------------------------------------------------------------------------- fusion
def test_text_keeps_the_fidelity_pixels_exactly():
    fid = _text_card()
    fused = fuse(fid, _invent(fid, 0.03))
    ink = fid.mean(axis=2) < 0.5
    assert ink.sum() > 500
    grown = cv2.dilate(ink.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    np.testing.assert_array_equal(fused.image[grown], fid[grown])
    assert structure_map(fid)[ink].mean() > 0.95


def test_invented_texture_on_a_flat_area_is_an_artifact_but_not_on_texture():
    flat = np.full((96, 96, 3), 0.5, np.float32)
    assert artifact_map(flat, _invent(flat, 0.02)).mean() > 0.95
    assert trust_map(flat, _invent(flat, 0.02)).max() < 0.05
    tex = _texture()
    assert artifact_map(tex, _invent(tex, 0.01)).mean() < 0.1
    assert trust_map(tex, _invent(tex, 0.01)).mean() > 0.6


def test_fuse_is_between_its_inputs_and_checks_shapes():
    tex = _texture()
    perc = _invent(tex, 0.01)
    f = fuse(tex, perc)
    lo, hi = np.minimum(tex, perc), np.maximum(tex, perc)
    assert np.all(f.image >= lo - 1e-6) and np.all(f.image <= hi + 1e-6)
    assert 0.0 <= f.mean_trust <= 1.0 and f.trust.shape == tex.shape[:2]
    with pytest.raises(ValueError, match="shapes differ"):
        fuse(tex, perc[:10])
    thumb = trust_thumbnail(np.ones((600, 300), np.float32))
    assert thumb.shape == (256, 128, 3) and thumb.dtype == np.uint8 and thumb.min() == 255


# ---------------------------------------------------------------------------------------------- pipeline
@dataclass
class TwinExpert(ClassicalExpert):
    """A denoiser stand-in (a Gaussian blur) whose perceptual twin adds fine texture back."""

    def perceptual(self, rgb, progress=False, strengths=None):
        return _invent(self(rgb), 0.01)


def _twin_pipeline(mode: str) -> Pipeline:
    blur = lambda rgb: cv2.GaussianBlur(rgb, (0, 0), 1.0)  # noqa: E731
    expert = TwinExpert("noise", ("noise",), "classical", "test", fn=blur)
    return Pipeline(analyzer=FakeAnalyzer(), experts={"noise": expert}, device="cpu", mode=mode, verify=False)


def test_perceptual_mode_never_touches_a_clean_photo():
    clean = _text_card()
    outcome = _twin_pipeline("perceptual").run(clean)
    assert outcome.image is clean and not outcome.records and outcome.trust is None


def test_perceptual_mode_never_changes_text_against_fidelity_mode():
    noisy = _text_card(noise=0.06)
    fid = _twin_pipeline("fidelity").run(noisy)
    perc = _twin_pipeline("perceptual").run(noisy)
    assert fid.records and perc.records and perc.trust is not None and fid.trust is None
    ink = cv2.dilate((_text_card().mean(axis=2) < 0.5).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    np.testing.assert_array_equal(perc.image[ink], fid.image[ink])
    assert "perceptual detail kept on" in perc.explain()
    assert "perceptual_trust" in perc.to_dict()["steps"][0]


def test_unknown_mode_is_refused():
    with pytest.raises(GirError, match="--mode sharp"):
        _twin_pipeline("sharp")


def test_cli_writes_the_trust_map_beside_the_output(tmp_path, monkeypatch):
    import json

    from PIL import Image

    from gir.restore.files import restore_files

    src = tmp_path / "card.png"
    Image.fromarray(np.round(_text_card(noise=0.06) * 255).astype(np.uint8)).save(src)
    monkeypatch.setattr("gir.restore.files._PipelineFiles.__init__", _fake_files_init)
    report = restore_files([str(src)], tmp_path / "out", progress=False, write_json=True, mode="perceptual")
    assert report.done == 1
    meta = json.loads((tmp_path / "out" / "card.png.json").read_text())
    assert meta["trust_map"].endswith("card.png.trust.png")
    assert Image.open(meta["trust_map"]).size == (256, 96)
    with pytest.raises(GirError, match="--mode"):
        restore_files([str(src)], tmp_path / "o2", model="x", mode="perceptual")


def _fake_files_init(self, **kw):
    self.pipeline = _twin_pipeline(kw["mode"])
    self.explanation = ""


class _Told:
    """A restorer stand-in that records what it was told and returns its input."""

    def __init__(self, name: str, log: list):
        self.name, self.log = name, log

    def __call__(self, rgb, progress=False, conditions=None):
        self.log.append((self.name, dict(conditions or {})))
        return rgb


def test_a_network_twin_is_told_what_the_fidelity_network_is_told():
    from gir.restore.experts import DenoiserExpert, NetworkExpert

    log: list = []
    rgb = np.zeros((8, 8, 3), np.float32)
    jpeg = NetworkExpert("jpeg", ("jpeg",), "network", "t", model="fid")
    assert jpeg.perceptual(rgb) is None  # no twin: fidelity only
    jpeg.twin = "per"
    jpeg._make_restorer = lambda model: _Told(model, log)  # instead of loading weights
    jpeg(rgb, strengths={"jpeg.quality": 30.0})
    jpeg.perceptual(rgb, strengths={"jpeg.quality": 30.0})
    den = DenoiserExpert("denoise", ("noise",), "denoiser", "t", model="fid", twin="per")
    den._make_restorer = lambda model: _Told(model, log)
    den(rgb, strengths={"noise.sigma": 12.0, "jpeg.quality": 30.0})
    den.perceptual(rgb, strengths={"noise.sigma": 12.0, "jpeg.quality": 30.0})
    assert log == [("fid", {"jpeg.quality": 30.0}), ("per", {"jpeg.quality": 30.0}),
                   ("fid", {"noise.sigma": 12.0}), ("per", {"noise.sigma": 12.0})]


# ------------------------------------------------------------------------------------ training a twin
def test_features_loss_is_zero_on_the_target_and_grows_with_damage():
    torch = pytest.importorskip("torch")
    from gir.models.shipped import is_shipped
    from gir.training.losses import LossSet, OwnFeatureLoss

    if not is_shipped("gir-analyzer"):
        pytest.skip("gir-analyzer is not installed")
    loss = OwnFeatureLoss()
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 64, 64, generator=g)
    noisy = (x + 0.05 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    noisier = (x + 0.15 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    assert loss(x, x).item() == 0.0 and 0 < loss(noisy, x).item() < loss(noisier, x).item()
    assert loss.state_dict() == {}  # the frozen analyzer is not saved with the run
    pred = noisy.clone().requires_grad_(True)
    loss(pred, x).backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    with pytest.raises(Exception, match="features.levels"):
        OwnFeatureLoss(levels=[99])
    total, terms = LossSet([{"type": "l1"}, {"type": "features", "weight": 0.5},
                            {"type": "gan", "weight": 0.1, "arch": "unet", "channels": 8}])(noisy, x)
    assert set(terms) == {"l1", "features", "gan"} and total.item() > 0


def test_unet_discriminator_gives_a_logit_per_pixel():
    torch = pytest.importorskip("torch")
    from gir.training.discriminator import UNetDiscriminator

    d = UNetDiscriminator(3, 8)
    assert d(torch.rand(2, 3, 64, 48)).shape == (2, 1, 64, 48)


def test_the_shipped_denoiser_has_its_twin_and_it_runs():
    from gir.models.shipped import is_shipped
    from gir.restore.experts import TWINS, shipped_experts

    if not (is_shipped("gir-denoiser") and is_shipped(TWINS["denoise"])):
        pytest.skip("gir-denoiser or its twin is not installed")
    expert = shipped_experts({"device": "cpu", "tile": 0, "ensemble": 1}, use=["denoise"])["denoise"]
    assert expert.twin == TWINS["denoise"]
    noisy = _text_card(noise=0.08)
    twin = expert.perceptual(noisy, strengths={"noise.sigma": 20.0})
    assert twin.shape == noisy.shape and np.abs(twin - noisy).mean() > 0.01  # it denoises
    assert shipped_experts({"device": "cpu"}, use=["band"])["band"].perceptual(noisy) is None  # no twin there


class _JpegAnalyzer:
    """Reads JPEG quality 30 on anything (so the pipeline plans one JPEG step)."""

    def __call__(self, rgb, jpeg=None, file=None):
        return diag(0.0, jpeg=(0.95, {"quality": 30.0}))


def test_the_shipped_jpeg_twin_never_changes_text():
    """Rendered text saved by Pillow at JPEG quality 30, through the shipped JPEG expert and its twin: the
    perceptual result equals the fidelity one on every ink pixel (and a margin around it)."""
    import io

    from PIL import Image

    from gir.models.shipped import is_shipped
    from gir.restore.experts import TWINS, shipped_experts

    if "jpeg" not in TWINS or not (is_shipped("gir-expert-jpeg") and is_shipped(TWINS["jpeg"])):
        pytest.skip("the JPEG expert or its twin is not installed")
    buf = io.BytesIO()
    Image.fromarray(np.round(_text_card() * 255).astype(np.uint8)).save(buf, "JPEG", quality=30)
    card = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"), np.float32) / 255.0
    outs = {}
    for mode in ("fidelity", "perceptual"):
        experts = shipped_experts({"device": "cpu", "tile": 0, "ensemble": 1}, use=["jpeg"])
        pipe = Pipeline(analyzer=_JpegAnalyzer(), experts=experts, device="cpu", mode=mode, verify=False)
        outs[mode] = pipe.run(card)
    assert outs["perceptual"].trust is not None and outs["fidelity"].records
    ink = cv2.dilate((_text_card().mean(axis=2) < 0.5).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    np.testing.assert_array_equal(outs["perceptual"].image[ink], outs["fidelity"].image[ink])
