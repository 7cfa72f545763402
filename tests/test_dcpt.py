"""DCPT core: declared encoder levels, feature hooks, the degradation classifier and the focal losses."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gir.dcpt import (DecoderConfigError, DegradationClassifier, FeatureHooks, FeatureLevelError,
                      LossArgumentError, binary_focal_loss, encoder_levels, extract_features, feature_channels,
                      focal_loss)
from gir.errors import GirError
from gir.models import build_model, list_models
from gir.models.base import RestorationNet

SIZE = 32  # a multiple of every small preset's size_multiple (nafnet: 16)
SIGMA = 0.2  # noise of the "noisy" class


def small(name: str) -> nn.Module:
    torch.manual_seed(0)
    return build_model({"type": name, "preset": "small"})


# every image network; kernel_net reads autocorrelation maps and returns 8 numbers (tests/test_kernel_net.py),
# fill_unet reads a photo and a mask (tests/test_inpaint_fill.py)
ENCODERS = [n for n in list_models() if n not in ("kernel_net", "fill_unet")]


def images(b: int = 2, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 3, SIZE, SIZE, generator=g)


def hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


# -- declared levels and extraction --------------------------------------------------------------------------

@pytest.mark.parametrize("name", ENCODERS)
def test_declared_levels_extract_features(name):
    model = small(name)
    levels = encoder_levels(model)
    assert levels and all(isinstance(level, str) for level in levels)
    modules = dict(model.named_modules())
    assert all(level in modules for level in levels)
    with torch.no_grad():
        feats = extract_features(model, images(2))
    assert len(feats) == len(levels)
    assert all(f.dim() == 4 and f.shape[0] == 2 for f in feats)
    model.train()
    assert [f.shape[1] for f in feats] == feature_channels(model) and model.training


@pytest.mark.parametrize("name", ENCODERS)
def test_stop_after_last_gives_the_full_pass_features(name):
    model, x = small(name), images(2)
    with torch.no_grad():
        early = extract_features(model, x, stop_after_last=True)
        full = extract_features(model, x, stop_after_last=False)
    assert all(torch.equal(a, b) for a, b in zip(early, full))


def test_stop_after_last_skips_the_unet_decoder():
    model = small("nafnet")
    calls = []
    handle = model.ending.register_forward_hook(lambda *_: calls.append(1))
    try:
        with torch.no_grad():
            extract_features(model, images(1), stop_after_last=True)
            assert calls == []
            extract_features(model, images(1), stop_after_last=False)
            assert calls == [1]
    finally:
        handle.remove()


def test_swinir_channels_last_groups_come_back_nchw():
    model, x = small("swinir"), images(1)
    raw = []
    handle = model.groups[-1].register_forward_hook(lambda m, a, out: raw.append(out))
    try:
        with torch.no_grad():
            feats = extract_features(model, x)
    finally:
        handle.remove()
    assert raw[0].shape == (1, SIZE, SIZE, 24)  # B x H x W x C inside the network
    assert torch.equal(feats[-1], raw[0].permute(0, 3, 1, 2))


class _TokenNet(RestorationNet):
    """A toy network whose levels give B x N x C tokens, at full and at half resolution."""

    feature_levels = ("fine", "coarse")

    def __init__(self):
        super().__init__()
        self.fine, self.coarse = nn.Linear(3, 5), nn.Linear(3, 7)

    def body(self, x):
        tokens = lambda t: t.flatten(2).transpose(1, 2)  # B x HW x C, row-major
        self.coarse(tokens(F.avg_pool2d(x, 2)))
        return x + 0 * self.fine(tokens(x)).mean()


def test_tokens_are_reshaped_row_major_from_the_input_size():
    model, x = _TokenNet(), torch.rand(2, 3, 6, 10)
    full, half = extract_features(model, x)
    assert full.shape == (2, 5, 6, 10) and half.shape == (2, 7, 3, 5)
    expected = model.fine(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    torch.testing.assert_close(full, expected)


# -- hook lifetime and errors --------------------------------------------------------------------------------

def test_hooks_are_removed_on_exit_and_on_error():
    model, x = small("nafnet"), images(1)
    before = hook_count(model)
    with torch.no_grad(), FeatureHooks(model, detach=True) as hooks:
        assert hook_count(model) > before
        model(x)
        assert len(hooks.features) == len(encoder_levels(model))
    assert hook_count(model) == before
    with pytest.raises(RuntimeError, match="boom"):
        with FeatureHooks(model):
            raise RuntimeError("boom")
    assert hook_count(model) == before
    with pytest.raises(RuntimeError):  # an error inside the model's forward pass
        with FeatureHooks(model):
            model(torch.rand(1, 5, SIZE, SIZE))
    assert hook_count(model) == before


def test_a_direct_call_stopped_early_ends_the_block_quietly():
    model, reached = small("nafnet"), []
    before = hook_count(model)
    with torch.no_grad(), FeatureHooks(model, stop_after_last=True) as hooks:
        model(images(1))
        reached.append(1)
    assert reached == [] and hook_count(model) == before
    assert len(hooks.features) == len(encoder_levels(model))


class _Undeclared(RestorationNet):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def body(self, x):
        return x + self.conv(x)


def test_undeclared_or_unknown_levels_raise_one_line_gir_errors():
    for call in (lambda: encoder_levels(_Undeclared()), lambda: FeatureHooks(_Undeclared()),
                 lambda: FeatureHooks(small("srcnn"), ["net.9"]), lambda: FeatureHooks(small("srcnn"), "net.1")):
        with pytest.raises(FeatureLevelError) as err:
            call()
        assert isinstance(err.value, GirError) and "\n" not in str(err.value)
    assert extract_features(_Undeclared(), images(1), levels=["conv"])[0].shape == (1, 3, SIZE, SIZE)


# -- the classifier ------------------------------------------------------------------------------------------

def noisy_vs_clean(n: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """n smooth 32x32 patches, the second half with Gaussian noise (SIGMA); labels 0 clean, 1 noisy."""
    g = torch.Generator().manual_seed(seed)
    clean = F.interpolate(torch.rand(n, 3, 4, 4, generator=g), size=SIZE, mode="bilinear", align_corners=False)
    noisy = (clean + SIGMA * torch.randn(clean.shape, generator=g)).clamp(0, 1)
    half = n // 2
    x = torch.cat([clean[:half], noisy[half:]])
    return x, torch.cat([torch.zeros(half), torch.ones(n - half)]).long()


@pytest.fixture
def one_thread():
    """The CPUs are shared: one intra-op thread is faster than two contended ones for these tiny passes."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("name", ENCODERS)
def test_classifier_trains_on_every_encoder(name, one_thread):
    model = small(name)
    torch.manual_seed(1)
    clf = DegradationClassifier(feature_channels(model), 2, width=32)
    x, y = noisy_vs_clean(8)
    assert clf(extract_features(model, x[:3])).shape == (3, 2)
    # DCPT trains encoder and decoder together, the encoder at a lower rate (paper 004, app. B.2).
    opt = torch.optim.Adam([{"params": model.parameters(), "lr": 1e-4}, {"params": clf.parameters()}], lr=1e-3)
    losses = []
    for step in range(30):
        opt.zero_grad()
        loss = focal_loss(clf(extract_features(model, x)), y)
        loss.backward()
        if step == 0:
            first = next(model.parameters())  # the encoder's first layer
            assert first.grad is not None and first.grad.abs().sum() > 0
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-3:]) / 3 < 0.5 * losses[0], losses


def test_classifier_size_embedding_and_checks():
    chans = feature_channels(small("nafnet"))
    clf = DegradationClassifier(chans, 5)
    assert sum(p.numel() for p in clf.parameters()) < 600_000
    assert torch.equal(clf.scales.detach(), torch.ones(len(chans)))
    feats = [torch.rand(2, c, SIZE >> i, SIZE >> i) for i, c in enumerate(chans)]
    assert clf.embedding(feats).shape == (2, 64) and clf(feats).shape == (2, 5)
    with pytest.raises(DecoderConfigError):
        clf(feats[:-1])
    with pytest.raises(DecoderConfigError):
        clf([*feats[:-1], torch.rand(2, 3, 2, 2)])
    with pytest.raises(DecoderConfigError):
        DegradationClassifier([], 2)


# -- focal losses --------------------------------------------------------------------------------------------

def test_focal_gamma0_is_cross_entropy_and_gamma_follows_the_formula():
    g = torch.Generator().manual_seed(0)
    logits, target = 3 * torch.randn(64, 5, generator=g), torch.randint(0, 5, (64,), generator=g)
    weight = torch.rand(5, generator=g) + 0.5
    for reduction in ("mean", "sum", "none"):
        assert torch.equal(focal_loss(logits, target, 0.0, reduction=reduction),
                           F.cross_entropy(logits, target, reduction=reduction))
        assert torch.equal(focal_loss(logits, target, 0.0, weight, reduction),
                           F.cross_entropy(logits, target, weight, reduction=reduction))
    # gamma > 0: -(1 - p_t)^gamma log p_t per sample, by the formula in float64 (a factor off anywhere fails)
    x = logits.double()
    p_t = F.softmax(x, 1).gather(1, target[:, None])[:, 0]
    w_t = weight.double()[target]
    for gamma in (0.5, 1.0, 2.0, 5.0):
        per_sample = -(1 - p_t) ** gamma * torch.log(p_t)
        torch.testing.assert_close(focal_loss(x, target, gamma, reduction="none"), per_sample)
        torch.testing.assert_close(focal_loss(x, target, gamma, weight.double(), "mean"),
                                   (w_t * per_sample).sum() / w_t.sum())
        torch.testing.assert_close(focal_loss(x, target, gamma, reduction="sum"), per_sample.sum())


def test_binary_focal_gamma0_is_bce_and_gamma_follows_the_formula():
    g = torch.Generator().manual_seed(1)
    logits, target = 3 * torch.randn(32, 6, generator=g), (torch.rand(32, 6, generator=g) > 0.5).float()
    for reduction in ("mean", "sum", "none"):
        assert torch.equal(binary_focal_loss(logits, target, 0.0, reduction),
                           F.binary_cross_entropy_with_logits(logits, target, reduction=reduction))
    x = logits.double()
    p = torch.sigmoid(x)
    p_t = torch.where(target > 0.5, p, 1 - p)
    for gamma in (0.5, 2.0):
        per_element = -(1 - p_t) ** gamma * torch.log(p_t)  # the formula, in float64
        torch.testing.assert_close(binary_focal_loss(x, target.double(), gamma, "none"), per_element)
        torch.testing.assert_close(binary_focal_loss(x, target.double(), gamma, "mean"), per_element.mean())


def test_focal_gradients_are_finite_when_saturated_and_bad_arguments_raise():
    logits = torch.tensor([[200.0, -200.0]], requires_grad=True)
    for gamma in (0.5, 2.0):
        focal_loss(logits, torch.tensor([0]), gamma).backward()
        binary_focal_loss(logits, torch.tensor([[1.0, 0.0]]), gamma).backward()
        assert torch.isfinite(logits.grad).all()
    with pytest.raises(LossArgumentError):
        focal_loss(logits, torch.tensor([0]), gamma=-1.0)
    with pytest.raises(LossArgumentError):
        binary_focal_loss(logits, torch.tensor([[1.0, 0.0]]), reduction="avg")


def test_importing_gir_dcpt_does_not_import_torch():
    code = "import sys, gir.dcpt; assert 'torch' not in sys.modules; gir.dcpt.focal_loss"
    subprocess.run([sys.executable, "-c", code], check=True)
