"""Architectures: any-size in/out, trainability, config round trips, FLOP counting, building blocks."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import yaml

from gir.models import (MODELS, ModelConfigError, build_model, count_params, gflops_per_megapixel,
                        list_models, load_model, model_table, save_checkpoint)
from gir.models.info import _count_flops
from gir.models.layers import LayerNorm2d, haar_dwt, haar_iwt
from gir.models.swinir import SwinLayer

NAMES = ["srcnn", "resnet", "srresnet", "rrdb", "nafnet", "restormer", "swinir", "promptir", "wavelet_unet",
         "diffusion_unet", "guided_refiner"]
UPSCALERS = ["rlfn"]  # output s times the input: tested in tests/test_upscale.py
DETECTORS = ["mask_unet"]  # one-channel logits: tested in tests/test_scratches.py
PREDICTORS = ["kernel_net"]  # photo -> 8 numbers (the blur kernel): tested in tests/test_kernel_net.py
FILLERS = ["fill_unet"]  # photo and mask (4 channels) in: tested in tests/test_inpaint_fill.py

# One hyper-parameter override per architecture, written as YAML, that changes its parameter count.
YAML_OVERRIDES = {
    "srcnn": "c2: 16",
    "resnet": "blocks: 1",
    "srresnet": "blocks: 1\nbn: true",
    "rrdb": "growth: 4",
    "nafnet": "width: 8\nenc_blocks: [1, 1]\ndec_blocks: [1, 1]",
    "restormer": "dim: 8\nblocks: [1, 1, 1]\nheads: [1, 2, 4]",
    "swinir": "embed_dim: 16\ndepths: [2]\nheads: [2]\nwindow: 4",
    "promptir": "prompt_len: 3",
    "wavelet_unet": "channels: [8, 16, 32]",
    "diffusion_unet": "channels: [8, 16, 32]",
    "guided_refiner": "base: {type: wavelet_unet, preset: cpu, channels: [4, 8, 16, 32]}",
}

# The zero-initialised last layer of each architecture's correction branch.
ZERO_TAIL = {
    "srcnn": "net.4", "resnet": "tail", "srresnet": "tail", "rrdb": "out_conv", "nafnet": "ending",
    "restormer": "output", "swinir": "conv_last", "promptir": "output", "wavelet_unet": "dec_convs.0",
    "diffusion_unet": "denoiser.dec_convs.0", "guided_refiner": "base.dec_convs.0",
}


def _rand(*shape, seed=0):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def _build(name, **kw):
    torch.manual_seed(0)
    return build_model({"type": name, "preset": "small", **kw})


def _jittered(model, seed=0, std=0.01):
    """``model`` with seeded noise added to every parameter, so that no layer is zero any more: a stand-in for
    a trained network where a test needs the output to depend on the input through the whole network."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(std * torch.randn(p.shape, generator=g))
    return model


def test_registry_lists_every_architecture():
    assert sorted(list_models()) == sorted(NAMES + UPSCALERS + DETECTORS + PREDICTORS + FILLERS)
    assert all(name in MODELS for name in NAMES + UPSCALERS + DETECTORS + PREDICTORS + FILLERS)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("hw", [(37, 53), (5, 7)])
def test_output_has_input_size(name, hw):
    model = _jittered(_build(name)).eval()
    x = _rand(2, 3, *hw)
    with torch.no_grad():
        y = model(x)
    assert y.shape == x.shape
    assert torch.isfinite(y).all()
    assert (y - x).abs().max() > 1e-3  # the jittered network is not the identity, so the check below has teeth
    # Each image of the batch is restored on its own (padding / attention do not mix batch items).
    with torch.no_grad():
        y1 = model(x[1:])
    torch.testing.assert_close(y[1:], y1, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_fresh_model_is_the_identity(name):
    model = _build(name).eval()
    x = _rand(1, 3, 37, 53, seed=2)
    with torch.no_grad():
        torch.testing.assert_close(model(x), x, atol=1e-5, rtol=0)
    tail = model.get_submodule(ZERO_TAIL[name])
    assert all(p.abs().max() == 0 for p in tail.parameters())


@pytest.mark.parametrize("name", ["srresnet", "rrdb"])
def test_without_global_residual_the_output_conv_predicts_the_image(name):
    model = _build(name, global_residual=False).eval()
    x = _rand(1, 3, 37, 53, seed=2)
    with torch.no_grad():
        y = model(x)
    assert (y - x).abs().max() > 0.05
    assert model.get_submodule(ZERO_TAIL[name]).weight.abs().max() > 0


@pytest.mark.parametrize("name", NAMES)
def test_training_steps(name):
    """With a zero last layer, only that layer gets a gradient on the first step; one AdamW step makes it
    non-zero, the gradient then reaches every parameter within a few steps and the loss falls."""
    model = _build(name).train()
    x = _rand(2, 3, 24, 24, seed=1)
    target = (x * 0.8 + 0.1).clamp(0, 1)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-4)
    reached, losses = set(), []
    for step in range(4):
        opt.zero_grad()
        # diffusion_unet samples without gradients; its training call predicts the residual of a state
        y = model(x, x, torch.full((2,), 500)) if name == "diffusion_unet" else model(x)
        loss = F.l1_loss(y, target)
        loss.backward()
        assert torch.isfinite(loss)
        grads = {k: p.grad for k, p in model.named_parameters() if p.grad is not None}
        assert all(torch.isfinite(g).all() for g in grads.values())
        with_grad = {k for k, g in grads.items() if g.abs().sum() > 0}
        if step == 0:
            tail = {f"{ZERO_TAIL[name]}.{k}" for k, _ in model.get_submodule(ZERO_TAIL[name]).named_parameters()}
            assert with_grad == tail
            y0 = y.detach()
        reached |= with_grad
        losses.append(loss.item())
        opt.step()
        if step == 0:
            with torch.no_grad():
                assert (model(x) - y0).abs().max() > 1e-5, "one step did not change the output"
    never = [k for k, _ in model.named_parameters() if k not in reached]
    assert not never, f"parameters that never received a gradient: {never[:5]}"
    assert losses[-1] < losses[0], losses


@pytest.mark.parametrize("name", NAMES)
def test_build_from_yaml_round_trip(name):
    text = f"type: {name}\npreset: small\n{YAML_OVERRIDES[name]}\n"
    cfg = yaml.safe_load(text)
    model = build_model(cfg)
    overrides = yaml.safe_load(YAML_OVERRIDES[name])
    for key, value in overrides.items():
        assert model.hparams[key] == value
    assert count_params(model) != count_params(_build(name))
    # The config survives a dump / load cycle and rebuilds the same architecture.
    again = build_model(yaml.safe_load(yaml.safe_dump(cfg)))
    assert {k: v.shape for k, v in again.state_dict().items()} == {k: v.shape for k, v in model.state_dict().items()}
    x = _rand(1, 3, 19, 23)
    with torch.no_grad():
        assert model.eval()(x).shape == x.shape


def test_same_seed_same_weights():
    a, b = _build("promptir"), _build("promptir")
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())


def test_bad_config_is_reported():
    with pytest.raises(ModelConfigError, match="unknown preset"):
        build_model({"type": "nafnet", "preset": "huge"})
    with pytest.raises(ModelConfigError, match="widht"):
        build_model({"type": "nafnet", "widht": 8})
    with pytest.raises(ModelConfigError, match="heads"):
        build_model({"type": "restormer", "dim": 10, "heads": [1, 2, 4, 3]})
    with pytest.raises(KeyError, match="unknown architecture"):
        build_model({"type": "unet9000"})


def test_size_multiples():
    assert _build("nafnet").size_multiple == 16
    assert _build("restormer").size_multiple == 8
    assert _build("swinir", window=4).size_multiple == 4
    assert _build("wavelet_unet", channels=[8, 16]).size_multiple == 4
    assert _build("srcnn").size_multiple == 1


# ------------------------------------------------------------------------------------------ FLOP counting
def test_srcnn_flops_match_analytic_count():
    macs_per_pixel = 9 * 9 * 3 * 64 + 5 * 5 * 64 * 32 + 5 * 5 * 32 * 3
    expected = 2 * macs_per_pixel * 1e6 / 1e9
    got = gflops_per_megapixel(_build("srcnn"), size=64)
    assert got == pytest.approx(expected, rel=0.01)


def test_flops_scale_as_expected():
    # Convolution-only nets: cost per megapixel does not depend on the image size.
    for name in ("srcnn", "resnet", "rrdb"):
        m = _build(name)
        assert gflops_per_megapixel(m, 32) == pytest.approx(gflops_per_megapixel(m, 128), rel=1e-3)
    # Each extra EDSR block adds two 3x3 convs: 2 * 9 * C^2 MACs per pixel.
    c = 16
    g = [gflops_per_megapixel(_build("resnet", channels=c, blocks=n), 64) for n in (1, 2, 4)]
    per_block = 2 * 2 * 9 * c * c / 1e3
    assert g[1] - g[0] == pytest.approx(per_block, rel=0.01)
    assert g[2] - g[1] == pytest.approx(2 * per_block, rel=0.01)
    # Restormer's channel attention is linear in the pixel count; the wavelet U-Net's global attention is not.
    r = _build("restormer")
    assert gflops_per_megapixel(r, 64) == pytest.approx(gflops_per_megapixel(r, 256), rel=0.01)
    w = _build("wavelet_unet")
    assert gflops_per_megapixel(w, 512) > 1.05 * gflops_per_megapixel(w, 128)
    # Window attention: 2 x (QK^T + AV) = 4 * window^2 * C FLOPs per token per layer come on top.
    s4, s8 = (gflops_per_megapixel(_build("swinir", window=ws), 64) for ws in (4, 8))
    layers, dim = 4, 24
    assert s8 - s4 == pytest.approx(layers * 4 * (64 - 16) * dim / 1e3, rel=0.01)


@pytest.mark.parametrize("name", NAMES)
def test_flops_positive_and_meta_count_matches_real(name):
    model = _build(name).eval()
    g = gflops_per_megapixel(model, 32)
    assert g > 0
    assert model.training is False
    real = _count_flops(model, _rand(1, 3, 32, 32), None) / 1e9 / (32 * 32 / 1e6)
    assert g == pytest.approx(real, rel=1e-6)


def test_model_table_rows():
    rows = model_table(presets=("small",), size=64)
    assert [r["name"] for r in rows] == list_models()
    for r in rows:
        assert set(r) == {"name", "preset", "params", "gflops_per_mp", "size_multiple"}
        assert r["params"] == count_params(_build(r["name"]))
        assert r["gflops_per_mp"] > 0 and r["size_multiple"] >= 1


# ------------------------------------------------------------------------------------------ building blocks
def test_haar_transform_is_orthonormal_and_invertible():
    x = _rand(2, 5, 6, 10)
    y = haar_dwt(x)
    assert y.shape == (2, 20, 3, 5)
    torch.testing.assert_close(haar_iwt(y), x, atol=1e-6, rtol=0)
    torch.testing.assert_close(y.pow(2).sum(), x.pow(2).sum(), rtol=1e-5, atol=0)
    # The LL band is the (scaled) 2x2 block mean; a constant image has no detail.
    torch.testing.assert_close(y[:, :5], 2 * F.avg_pool2d(x, 2), atol=1e-6, rtol=0)
    assert haar_dwt(torch.ones(1, 1, 4, 4))[:, 1:].abs().max() == 0


def test_layernorm2d_matches_layer_norm_over_channels():
    ln = LayerNorm2d(6)
    with torch.no_grad():
        ln.weight.copy_(torch.linspace(0.5, 2, 6))
        ln.bias.copy_(torch.linspace(-1, 1, 6))
    x = _rand(2, 6, 5, 7) * 3
    ref = F.layer_norm(x.permute(0, 2, 3, 1), (6,), ln.weight, ln.bias, eps=ln.eps).permute(0, 3, 1, 2)
    torch.testing.assert_close(ln(x), ref, atol=1e-5, rtol=1e-5)


def test_shifted_windows_do_not_attend_across_the_wrap_around():
    torch.manual_seed(0)
    layer = SwinLayer(dim=8, heads=2, ws=4, shift=2, mlp_ratio=2.0).eval()
    x = _rand(1, 8, 8, 8)
    x2 = x.clone()
    x2[0, 0, 0] += 1.0  # after the roll, (0, 0) shares a window with (7, 7)
    with torch.no_grad():
        y, y2 = layer(x), layer(x2)
    assert torch.equal(y[0, 7, 7], y2[0, 7, 7])
    assert not torch.equal(y[0, 1, 1], y2[0, 1, 1])  # but it does reach its true neighbours


def test_srresnet_features():
    model = _build("srresnet", blocks=3)
    x = _rand(1, 3, 17, 21)
    feats = model.features(x)
    assert len(feats) == 3 + 2
    assert all(f.shape == (1, 24, 17, 21) for f in feats)
    # The last feature map is what the output conv sees (its output is added to the input by default).
    _jittered(model)
    feats = model.features(x)
    torch.testing.assert_close(x + model.tail(feats[-1]), model(x), atol=1e-6, rtol=1e-5)
    plain = _jittered(_build("srresnet", blocks=3, global_residual=False))
    torch.testing.assert_close(plain.tail(plain.features(x)[-1]), plain(x), atol=1e-6, rtol=1e-5)


def test_wavelet_unet_output_is_a_blend_of_input_and_unet_result():
    model = _jittered(_build("wavelet_unet")).eval()
    x = _rand(1, 3, 16, 16)
    with torch.no_grad():
        out1, y = model.unet(x), model(x)
    assert (out1 - x).abs().max() > 1e-2 and (y - x).abs().max() > 1e-3
    # y = (1 - a) x + a out1 with a in (0, 1): y lies between x and out1 everywhere.
    lo, hi = torch.minimum(x, out1), torch.maximum(x, out1)
    assert ((y >= lo - 1e-6) & (y <= hi + 1e-6)).all()


def test_wavelet_unet_context_is_image_level_and_starts_as_a_no_op():
    plain = _build("wavelet_unet", preset="cpu")
    ctx = _build("wavelet_unet", preset="cpu", context=8)
    x = _rand(2, 3, 32, 48)
    _jittered(plain, seed=1)
    ctx.load_state_dict(plain.state_dict(), strict=False)  # what init.strict: false does
    with torch.no_grad():  # zero-initialised FiLM: the same function as the context-free net
        torch.testing.assert_close(ctx(x), plain(x))
        _jittered(ctx, seed=2)
        code = ctx.image_context(_rand(1, 3, 70, 90, seed=3))
        assert code.shape == (1, 8) and plain.image_context(x) is None
        # one code for every tile of a batch; a different image's code changes the result
        y = ctx(x, code)
        torch.testing.assert_close(y[1:], ctx(x[1:], code))
        assert (y - ctx(x, ctx.image_context(_rand(1, 3, 70, 90, seed=4)))).abs().max() > 1e-4
        # without a code the network reads its own input as the whole image
        torch.testing.assert_close(ctx(x[:1]), ctx(x[:1], ctx.image_context(x[:1])))


def test_wavelet_unet_context_view_is_a_checked_hyper_parameter(tmp_path):
    net = _build("wavelet_unet", preset="cpu", context=8, context_view=256)
    assert net.context_view == 256 and _build("wavelet_unet", preset="cpu", context=8).context_view == 0
    path = tmp_path / "view.safetensors"
    save_checkpoint(path, net.state_dict(), model_cfg={"type": "wavelet_unet", "preset": "cpu", "context": 8,
                                                       "context_view": 256})
    assert load_model(path).context_view == 256  # what gir restore reads from a shipped file
    for bad in ({"context_view": 256}, {"context": 8, "context_window": 64, "context_view": 256},
                {"context": 8, "context_view": -1}):
        with pytest.raises(ModelConfigError, match="context_view"):
            _build("wavelet_unet", preset="cpu", **bad)


def test_wavelet_unet_context_map_cells_see_their_window_only():
    net = _jittered(_build("wavelet_unet", preset="cpu", context=8, context_window=64), std=0.05).eval()
    assert net.context_cell == 16
    x = _rand(1, 3, 128, 192)
    with torch.no_grad():
        code = net.image_context(x)
        assert code.shape == (1, 16, 8, 12)  # 8 cell channels, then the per-image code repeated over the cells
        torch.testing.assert_close(code[:, 8:], net.context(x).view(1, 8, 1, 1).expand(-1, -1, 8, 12))
        # a change in the far right of the image leaves the cell codes of the far left cells unchanged
        y = x.clone()
        y[..., 160:] = 1.0 - y[..., 160:]
        changed = (net.image_context(y)[:, :8] - code[:, :8]).abs().amax(dim=(0, 1, 2)) > 1e-6
        assert not changed[:4].any() and changed[-1]
        # the cells (or a crop of them) drive their own FiLM on top of the per-image one
        cells_off = torch.cat([torch.zeros_like(code[:, :8]), code[:, 8:]], dim=1)
        assert net(x, code).shape == x.shape and (net(x, code) - net(x, cells_off)).abs().max() > 1e-4


def test_patch_context_is_what_tiled_inference_gives_the_patch():
    net = _jittered(_build("wavelet_unet", preset="cpu", context=8, context_window=64), std=0.05).eval()
    region = _rand(2, 3, 96, 128)
    with torch.no_grad():
        cells = net.patch_context(region, 32)
        torch.testing.assert_close(cells, net.image_context(region, whole=False)[..., 2:4, 2:6])  # under the patch
        glob = _build("wavelet_unet", preset="cpu", context=8)
        torch.testing.assert_close(glob.patch_context(region, 32), glob.image_context(region))
        assert _build("wavelet_unet", preset="cpu").patch_context(region, 32) is None
    with pytest.raises(Exception, match="multiples of the context cell"):
        net.patch_context(region, 24)


def test_context_map_with_a_halo_gives_a_tile_the_whole_images_film():
    net = _jittered(_build("wavelet_unet", preset="cpu", context=8, context_window=64), std=0.05).eval()
    x = _rand(1, 3, 128, 192)
    with torch.no_grad():
        code = net.image_context(x)
        whole = net._films(x, code)
        halo = torch.nn.functional.pad(code, (1, 1, 1, 1), mode="replicate")  # what gir restore crops from
        tile = net._films(x[..., 32:96, 64:160], halo[..., 2:8, 4:12])
    for site, (full, part) in enumerate(zip(whole, tile)):
        depth = min(site + 1, 4)  # encoder level k is at 1/2^(k+1); the middle at 1/16
        y0, x0, h, w = 32 >> depth, 64 >> depth, 64 >> depth, 96 >> depth
        for full_param, part_param in zip(full[-1], part[-1]):  # the map's (scale, shift)
            torch.testing.assert_close(part_param, full_param[..., y0:y0 + h, x0:x0 + w])


def test_wavelet_unet_context_map_starts_as_the_per_image_context_net():
    glob = _jittered(_build("wavelet_unet", preset="cpu", context=8), seed=5)
    both = _build("wavelet_unet", preset="cpu", context=8, context_window=64, context_map_from=2)
    missing = set(both.state_dict()) - set(glob.state_dict())
    assert missing and all(k.startswith(("local_context.", "local_film.")) for k in missing)
    both.load_state_dict(glob.state_dict(), strict=False)
    x = _rand(2, 3, 64, 96)
    with torch.no_grad():
        torch.testing.assert_close(both(x), glob(x))
    assert both.local_film.out_channels == 2 * (64 + 128 + 128)  # levels 2, 3 and the middle
    with pytest.raises(Exception, match="context_map_from"):
        _build("wavelet_unet", preset="cpu", context=8, context_window=64, context_map_from=4)
    with pytest.raises(Exception, match="needs context"):
        _build("wavelet_unet", preset="cpu", context_window=64)
    with pytest.raises(Exception, match="4 levels"):
        _build("wavelet_unet", preset="small", context=8, context_window=64)
