"""`gir restore` and gir.restore: tiled == untiled, OOM retry, file handling, formats, errors, Python API."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image as PILImage
from torch import nn

from gir.cli import main
from gir.errors import GirError
from gir.models.descriptor import ModelDescriptor
from gir.io import read_image, write_image
from gir.metrics import psnr
from gir.models import build_model, save_checkpoint, shipped
from gir.models.base import RestorationNet
from gir.restore import Restorer, engine, ensemble, loading, restore
from gir.restore.tiling import TileGrid, edge_indices, run_tiled

from conftest import natural_image

TINY_CFG = {"type": "resnet", "preset": "small", "channels": 8, "blocks": 1}


def _perturb(model: nn.Module, seed: int, scale: float) -> nn.Module:
    """Add seeded Gaussian noise to every weight, so that a zero-initialised tail no longer makes the model
    the identity: its output then really depends on a neighbourhood of the input."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * scale)
    return model.eval()


def _conv_net() -> nn.Module:
    """EDSR-like resnet, 6 blocks: 15 stacked 3x3 convs, a receptive field of 31 x 31 pixels."""
    return _perturb(build_model({"type": "resnet", "preset": "small", "channels": 16, "blocks": 6}), 1, 0.03)


class TinyUNet(nn.Module):
    """Two stride-2 levels (size multiple 4) with skips: its output depends on the pixel phase modulo 4."""

    size_multiple = 4

    def __init__(self, c: int = 8):
        super().__init__()
        conv = lambda a, b, k=3, s=1: nn.Conv2d(a, b, k, stride=s, padding=(k - 1) // 2 if s == 1 else 0)
        self.head, self.down1, self.mid1 = conv(3, c), conv(c, 2 * c, 2, 2), conv(2 * c, 2 * c)
        self.down2, self.bottom = conv(2 * c, 4 * c, 2, 2), conv(4 * c, 4 * c)
        self.up2 = nn.Sequential(conv(4 * c, 8 * c, 1), nn.PixelShuffle(2))
        self.up1 = nn.Sequential(conv(2 * c, 4 * c, 1), nn.PixelShuffle(2))
        self.tail = conv(c, 3)

    def forward(self, x):
        f0 = torch.relu(self.head(x))
        f1 = torch.relu(self.mid1(self.down1(f0)))
        f2 = torch.relu(self.bottom(self.down2(f1)))
        f = torch.relu(self.up1(self.up2(f2) + f1)) + f0
        return x + 0.2 * torch.tanh(self.tail(f))


def _noisy_pair(h: int, w: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    clean = natural_image(h, w, seed=seed)
    noise = np.random.default_rng(seed).normal(0, 0.05, clean.shape).astype(np.float32)
    return clean, np.clip(clean + noise, 0, 1).astype(np.float32)


def _psnr(a, b) -> float:
    return float(psnr(a, b))


# ------------------------------------------------------------------------------------------- tiling
@pytest.mark.parametrize("make_net", [_conv_net, lambda: _perturb(TinyUNet(), 2, 0.0)], ids=["resnet", "unet"])
def test_tiled_equals_untiled(make_net):
    torch.manual_seed(0)
    net = make_net()
    clean, noisy = _noisy_pair(144, 192, seed=3)
    untiled = Restorer(net, device="cpu", tile=0)(noisy)
    assert np.abs(untiled - noisy).mean() > 0.01, "the model must change the image for the test to mean much"
    tiled_r = Restorer(net, device="cpu", tile=64, overlap=32)
    grid, _ = tiled_r.plan(144, 192)
    assert len(grid) >= 9
    tiled = tiled_r(noisy)
    assert tiled.shape == untiled.shape and tiled.dtype == np.float32
    assert abs(_psnr(tiled, clean) - _psnr(untiled, clean)) < 0.05
    agreement = _psnr(tiled, untiled)
    assert agreement > 50.0
    # Control: abutting tiles (no overlap, no blending) leave seams that the checks above would catch.
    seams = TileGrid.build(144, 192, 48, 48, 0, getattr(net, "size_multiple", 1))
    assert seams.ys == (0, 48, 96) and seams.xs == (0, 48, 96, 144)
    naive = np.clip(run_tiled(noisy, seams, tiled_r.forward), 0, 1)
    assert _psnr(naive, untiled) < agreement - 10


class MeanContextNet(nn.Module):
    """Pixel-wise net whose output depends on an image-level code: the image's mean colour."""

    def image_context(self, image):
        return image.mean((2, 3))

    def forward(self, x, context=None):
        code = self.image_context(x) if context is None else context.expand(x.shape[0], -1)
        return 0.5 * x + 0.5 * code[..., None, None]


CODE = ModelDescriptor(context="code")  # a plain nn.Module says what it needs through a descriptor


def test_image_context_comes_from_the_whole_image_for_every_tile():
    clean, noisy = _noisy_pair(144, 192, seed=4)
    noisy[:, :96] *= 0.3  # tiles differ in mean colour
    untiled = Restorer(MeanContextNet(), device="cpu", tile=0, descriptor=CODE)(noisy)
    tiled = Restorer(MeanContextNet(), device="cpu", tile=64, overlap=16, descriptor=CODE)(noisy)
    expect = 0.5 * noisy + 0.5 * noisy.mean((0, 1))
    assert np.abs(untiled - expect).max() < 2e-3  # the code of a 256-px thumbnail ~ the image's own
    assert _psnr(tiled, untiled) > 60
    own = Restorer(MeanContextNet(), device="cpu", tile=64, overlap=16, descriptor=CODE)
    grid, _ = own.plan(144, 192)
    assert _psnr(run_tiled(noisy, grid, own.forward), untiled) < 40  # each tile's own mean: visibly wrong


class ViewContextNet(MeanContextNet):
    """Per-image code = per-channel max, which depends on the view: over 48-px windows it is their mean."""

    context_view = 48

    def image_context(self, image):
        return image.amax((2, 3))


VIEW = ModelDescriptor(context="code", context_view=48)


def test_context_view_averages_the_codes_of_full_resolution_windows():
    from gir.models.base import view_grid

    _, noisy = _noisy_pair(100, 130, seed=6)
    noisy[:50] *= 0.4
    corners = view_grid(100, 130, 48)
    assert corners == [(y, x) for y in (0, 26, 52) for x in (0, 41, 82)]  # 3 x 3 windows, edge to edge
    restorer = Restorer(ViewContextNet(), device="cpu", tile=64, overlap=16, descriptor=VIEW)
    code = restorer.image_context(noisy)
    expect = np.mean([noisy[y:y + 48, x:x + 48].max((0, 1)) for y, x in corners], axis=0)
    assert np.abs(code.numpy()[0] - expect).max() < 1e-6
    assert np.abs(expect - noisy.max((0, 1))).max() > 0.05  # not the whole image's code
    tiled, untiled = restorer(noisy), Restorer(ViewContextNet(), device="cpu", tile=0, descriptor=VIEW)(noisy)
    assert np.abs(untiled - (0.5 * noisy + 0.5 * expect)).max() < 1e-6
    assert _psnr(tiled, untiled) > 60
    assert view_grid(40, 30, 48) == [(0, 0)]  # smaller than a window: the image itself


class MapContextNet(nn.Module):
    """Pixel-wise net driven by a context map: per 16-px cell, the mean colour of the 5 x 5 cells around it."""

    size_multiple = context_cell = 16

    def image_context(self, image):
        return F.avg_pool2d(F.avg_pool2d(image, 16), 5, 1, 2, count_include_pad=False)

    def forward(self, x, context=None):
        code = self.image_context(x) if context is None else context.expand(x.shape[0], -1, -1, -1)
        return 0.5 * x + 0.5 * F.interpolate(code, scale_factor=16, mode="nearest")


MAP = ModelDescriptor(size_multiple=16, context="map", context_cell=16)


def test_context_maps_are_computed_once_and_cropped_per_tile():
    _, noisy = _noisy_pair(144, 208, seed=5)
    noisy[:, :100] *= 0.3
    calls = []
    restorer = Restorer(MapContextNet(), device="cpu", tile=64, overlap=32, descriptor=MAP)
    original = restorer.image_context
    restorer.image_context = lambda rgb: calls.append(rgb.shape) or original(rgb)
    tiled = restorer(noisy)
    untiled = Restorer(MapContextNet(), device="cpu", tile=0, descriptor=MAP)(noisy)
    assert calls == [(144, 208, 3)] and len(restorer.plan(144, 208)[0]) >= 6
    assert _psnr(tiled, untiled) > 60
    grid, _ = restorer.plan(144, 208)
    own = np.clip(run_tiled(noisy, grid, restorer.forward), 0, 1)  # each tile computes its own map instead
    assert _psnr(own, untiled) < 45


def test_tile_starts_keep_the_pixel_phase_of_downsampling_nets():
    torch.manual_seed(0)
    net = _perturb(TinyUNet(), 2, 0.0)
    _, noisy = _noisy_pair(120, 136, seed=4)
    r = Restorer(net, device="cpu", tile=64, overlap=24)
    grid, _ = r.plan(120, 136)
    assert all(s % 4 == 0 for s in grid.ys + grid.xs)
    good = _psnr(r(noisy), r.__class__(net, device="cpu", tile=0)(noisy))
    # Same tiles but the inner starts moved off the 4-pixel grid: the U-Net sees another phase there.
    assert len(grid.xs) >= 3
    shifted = tuple(x + 2 if 0 < x < grid.xs[-1] else x for x in grid.xs)
    off = TileGrid(grid.height, grid.width, grid.th, grid.tw, grid.ys, shifted, grid.wy, grid.wx)
    bad = _psnr(np.clip(run_tiled(noisy, off, r.forward), 0, 1), Restorer(net, device="cpu", tile=0)(noisy))
    assert good > 50 and bad < good - 10


def test_border_padding_repeats_the_edge_so_a_thin_frame_stays_at_the_edge():
    """A 4-px black frame at the bottom must reach the padded input as a band touching its edge, not as
    the 7-px line inside it that reflection makes (a scratch's width to a restoration net)."""
    class Spy(RestorationNet):
        size_multiple = 16

        def body(self, x):
            self.seen = x.clone()
            return x

    img = np.full((21, 19, 3), 0.6, np.float32)
    img[-4:] = 0.0
    net = Spy()
    out = Restorer(net, device="cpu", tile=0)(img)
    seen = net.seen[0].permute(1, 2, 0).numpy()
    assert seen.shape == (32, 32, 3) and np.array_equal(out, img)
    assert (seen[17:] == 0).all() and (seen[:17, :19] == 0.6).all()
    assert np.array_equal(seen[:, 19:], np.repeat(seen[:, 18:19], 13, axis=1))
    assert edge_indices(-2, 6, 3).tolist() == [0, 0, 0, 1, 2, 2]
    grid = TileGrid.build(21, 19, 16, 16, 4, 16)
    assert np.array_equal(grid.gather(img, len(grid.ys) - 1, 0), seen[16:32, :16])


def test_odd_sizes_and_tiny_images_cover_every_pixel():
    net = _perturb(TinyUNet(), 5, 0.0)
    for h, w in [(1, 1), (3, 70), (37, 5), (65, 129)]:
        img = natural_image(h, w, seed=h)
        out = Restorer(net, device="cpu", tile=32, overlap=8)(img)
        ref = Restorer(net, device="cpu", tile=0)(img)
        assert out.shape == img.shape and np.isfinite(out).all()
        assert np.abs(out - ref).max() < 2e-3


class OOMAbove(nn.Module):
    """Wraps a net; raises the given out-of-memory error for inputs of more than ``limit`` pixels per
    batch."""

    def __init__(self, net: nn.Module, limit: int, error):
        super().__init__()
        self.net, self.limit, self.error, self.sizes = net, limit, error, []
        self.size_multiple = getattr(net, "size_multiple", 1)

    def forward(self, x):
        self.sizes.append(tuple(x.shape))
        if x.shape[0] * x.shape[2] * x.shape[3] > self.limit:
            raise self.error
        return self.net(x)


@pytest.mark.parametrize("error", [torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"),
                                   RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried ..."),
                                   MemoryError()], ids=["cuda", "cpu", "python"])
def test_out_of_memory_halves_the_tile_and_retries(error):
    net = _perturb(TinyUNet(), 3, 0.0)
    wrapped = OOMAbove(net, limit=80 * 80, error=error)
    img = natural_image(200, 232, seed=1)
    r = Restorer(wrapped, device="cpu", tile="auto", memory_budget=1 << 34)  # budget says: untiled
    out = r(img)
    assert wrapped.sizes[0] == (1, 3, 128, 128)  # the memory probe (it failed too: a fallback estimate)
    assert wrapped.sizes[1] == (1, 3, 200, 232)  # first try: the whole image, as the budget allows
    tries = [(s[0], s[2]) for s in wrapped.sizes[1:]]
    # Halved to 116 px tiles, batched (fails), one per pass (fails), then at most 64 px (MIN_TILE, balanced
    # over the image) one at a time.
    assert tries[1][0] > 1 and tries[1:3] == [(tries[1][0], 116), (1, 116)]
    assert len(set(tries[3:])) == 1 and tries[3][0] == 1 and tries[3][1] <= 64
    assert r.model.tile_limit == 64
    ref = Restorer(net, device="cpu", tile=0)(img)
    assert _psnr(out, ref) > 45
    # The smaller tile is remembered: the next image goes straight to it.
    wrapped.sizes.clear()
    r(img)
    assert all(s[0] * s[2] * s[3] <= 80 * 80 for s in wrapped.sizes)


def test_out_of_memory_at_the_smallest_tile_is_a_clear_error():
    wrapped = OOMAbove(TinyUNet(), limit=10, error=torch.cuda.OutOfMemoryError("CUDA out of memory"))
    with pytest.raises(GirError, match="out of memory"):
        Restorer(wrapped, device="cpu", tile=256)(natural_image(300, 300))


def test_other_errors_are_not_mistaken_for_out_of_memory():
    wrapped = OOMAbove(TinyUNet(), limit=10, error=RuntimeError("shape mismatch"))
    with pytest.raises(RuntimeError, match="shape mismatch"):
        Restorer(wrapped, device="cpu", tile=128)(natural_image(100, 100))


def test_auto_tile_follows_the_memory_budget():
    net = _conv_net()
    r = Restorer(net, device="cpu", memory_budget=64 << 20)
    need = r.memory_model()
    bpp = need.bytes_for(1 << 20) / (1 << 20)
    assert 16 * 4 <= bpp < 16 * 4 * 40  # a 16-channel net keeps a few 16-channel float maps per pixel
    assert need.bytes_for(4 << 20) == pytest.approx(4 * need.bytes_for(1 << 20), rel=0.05)  # convs: linear
    small, _ = r.plan(200, 300)
    assert len(small) == 1  # fits: untiled
    big, batch = r.plan(3000, 4000)
    assert len(big) > 1 and need.bytes_for(big.th * big.tw) * batch <= 64 << 20
    assert need.bytes_for(big.th * big.tw) * batch > (64 << 20) / 4  # ... but not needlessly small


class GlobalAttentionNet(nn.Module):
    """Self-attention over all positions at 1/4 resolution: its score matrix grows with pixels squared."""

    size_multiple = 4

    def __init__(self, c: int = 16):
        super().__init__()
        self.down, self.qkv = nn.Conv2d(3, c, 4, stride=4), nn.Conv2d(c, 3 * c, 1)
        self.up = nn.Sequential(nn.Conv2d(c, 48, 1), nn.PixelShuffle(4))

    def forward(self, x):
        f = self.down(x)
        b, c, h, w = f.shape
        q, k, v = (t.flatten(2).transpose(1, 2) for t in self.qkv(f).chunk(3, dim=1))
        a = torch.nn.functional.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, c, h, w)
        return x + 0.1 * self.up(a)


def test_memory_model_sees_attention_grow_with_pixels_squared():
    need = Restorer(GlobalAttentionNet(), device="cpu").memory_model()
    small, large = need.bytes_for(256 * 256), need.bytes_for(2048 * 2048)
    # 2048^2 px at 1/4 resolution: 262144 tokens, a 262144^2 float32 score matrix (256 GiB) at least.
    assert large > 256 * 2 ** 30 and large / small > 1000
    conv = Restorer(_conv_net(), device="cpu").memory_model()
    assert need.max_pixels(1 << 30) < conv.max_pixels(1 << 30)


def test_memory_model_fit_takes_the_worst_step():
    # Step 0 grows linearly (full-resolution convs), step 1 quadratically (attention): small probes peak in
    # step 0, large images in step 1; the fit must predict the latter.
    from gir.restore.memory import MemoryModel

    p1, p2 = 100.0, 400.0
    truth = lambda p: [1000.0 * p, 10.0 * p + 0.5 * p * p]
    fit = MemoryModel.fit((p1, p2), (truth(p1), truth(p2)))
    for p in (50.0, 1e4, 1e6):
        assert fit.bytes_for(p) == pytest.approx(max(truth(p)) + fit.pipeline * p)
    assert fit.bytes_for(fit.max_pixels(1e9)) == pytest.approx(1e9)


# ------------------------------------------------------------------------------------------- python API
@pytest.fixture
def ckpt(tmp_path) -> Path:
    torch.manual_seed(0)
    model = _perturb(build_model(dict(TINY_CFG)), 7, 0.05)
    path = tmp_path / "models" / "tiny.safetensors"
    save_checkpoint(path, model.state_dict(), model_cfg=TINY_CFG)
    return path


def test_python_api_on_arrays_images_and_paths(ckpt, tmp_path):
    img = natural_image(40, 56, seed=2)
    out = restore(img, model=ckpt, device="cpu")
    assert out.shape == img.shape and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0 and np.abs(out - img).mean() > 1e-3
    assert restore(img.astype(np.float64), model=str(ckpt)).dtype == np.float32
    write_image(tmp_path / "p.png", img, bit_depth=16)
    from_path = restore(tmp_path / "p.png", model=ckpt)
    from_image = restore(read_image(tmp_path / "p.png"), model=ckpt)
    assert np.array_equal(from_path, from_image) and np.abs(from_path - out).max() < 1e-3
    assert restore(img[..., 0], model=ckpt).shape == img.shape[:2]  # grayscale in, grayscale out (issue 30)
    with pytest.raises(ValueError, match="H x W x 1-4"):
        restore(np.zeros((8, 8, 5), np.float32), model=ckpt)


def test_models_are_cached_per_file_and_device(ckpt):
    loading.clear_cache()
    a = Restorer(ckpt, device="cpu").model
    assert Restorer(str(ckpt), device="cpu").model is a


# ------------------------------------------------------------------------------------------- CLI
def _png(path: Path, h: int = 36, w: int = 44, seed: int = 0, **kw) -> Path:
    write_image(path, natural_image(h, w, seed=seed), **kw)
    return path


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gir: error:"), err
    return err[0]


def test_several_inputs_go_to_a_folder_with_the_same_names(ckpt, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    _png(src / "a.png", seed=1)
    _png(src / "b.png", seed=2)
    single = _png(tmp_path / "c.png", seed=3)
    out = tmp_path / "out"
    assert main(["restore", str(src), str(single), "-o", str(out), "--model", str(ckpt), "-q"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png", "c.png"]
    expected = restore(read_image(src / "a.png"), model=ckpt)
    got = read_image(out / "a.png").rgb
    assert np.abs(got - expected).max() <= 0.5 / 255 + 1e-6
    assert main(["restore", str(src / "*.png"), "-o", str(tmp_path / "globbed"), "--model", str(ckpt), "-q"]) == 0
    assert sorted(p.name for p in (tmp_path / "globbed").iterdir()) == ["a.png", "b.png"]


def test_single_input_to_a_file_path_or_a_folder(ckpt, tmp_path):
    src = _png(tmp_path / "photo.png")
    assert main(["restore", str(src), "-o", str(tmp_path / "restored.png"), "--model", str(ckpt), "-q"]) == 0
    assert read_image(tmp_path / "restored.png").rgb.shape == (36, 44, 3)
    folder = tmp_path / "existing"
    folder.mkdir()
    assert main(["restore", str(src), "-o", str(folder), "--model", str(ckpt), "-q"]) == 0
    assert [p.name for p in folder.iterdir()] == ["photo.png"]


def test_alpha_gray_16bit_and_orientation_are_kept(ckpt, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    rgb = natural_image(30, 40, seed=5)
    alpha = np.linspace(0, 1, 30 * 40, dtype=np.float32).reshape(30, 40)
    write_image(src / "alpha.png", rgb, alpha)
    write_image(src / "gray.png", rgb, gray=True)
    write_image(src / "deep.png", rgb, bit_depth=16)
    write_image(src / "deep.tif", rgb, alpha, bit_depth=16)
    stored = PILImage.fromarray((natural_image(24, 50, seed=6) * 255).astype(np.uint8))
    exif = PILImage.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise
    stored.save(src / "turned.jpg", exif=exif.tobytes(), quality=95)
    out = tmp_path / "out"
    assert main(["restore", str(src), "-o", str(out), "--model", str(ckpt), "-q"]) == 0

    a_in, a_out = read_image(src / "alpha.png"), read_image(out / "alpha.png")
    assert a_out.alpha is not None and np.array_equal(a_out.alpha, a_in.alpha)
    assert np.abs(a_out.rgb - a_in.rgb).mean() > 1e-3  # the colour went through the model
    with PILImage.open(out / "gray.png") as im:
        assert im.mode == "L"
    deep = read_image(out / "deep.png")
    assert deep.bit_depth == 16 and deep.alpha is None and not deep.gray
    codes = np.round(deep.rgb * 65535).astype(np.int64)
    assert np.mean(codes % 257 != 0) > 0.5  # real 16-bit values, not 8-bit ones scaled up
    tif = read_image(out / "deep.tif")
    assert tif.format == "TIFF" and tif.bit_depth == 16 and tif.alpha is not None
    turned = read_image(out / "turned.jpg")
    assert turned.format == "JPEG" and turned.rgb.shape == (50, 24, 3)  # written upright
    with PILImage.open(out / "turned.jpg") as im:
        assert im.size == (24, 50) and im.getexif().get(0x0112, 1) == 1


def test_format_is_kept_unless_format_overrides(ckpt, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    write_image(src / "a.jpg", natural_image(32, 32, seed=1))
    write_image(src / "b.webp", natural_image(32, 32, seed=2))
    PILImage.fromarray((natural_image(20, 24) * 255).astype(np.uint8)).save(src / "c.bmp")
    assert main(["restore", str(src), "-o", str(tmp_path / "same"), "--model", str(ckpt), "-q"]) == 0
    formats = {p.name: read_image(p).format for p in (tmp_path / "same").iterdir()}
    assert formats == {"a.jpg": "JPEG", "b.webp": "WEBP", "c.png": "PNG"}  # BMP cannot be written: PNG
    assert main(["restore", str(src), "-o", str(tmp_path / "png"), "--model", str(ckpt), "--format", "PNG",
                 "-q"]) == 0
    formats = {p.name: read_image(p).format for p in (tmp_path / "png").iterdir()}
    assert formats == {"a.png": "PNG", "b.png": "PNG", "c.png": "PNG"}


def test_refuses_to_overwrite_an_input(ckpt, tmp_path, capsys):
    src = _png(tmp_path / "a.png")
    before = src.read_bytes()
    assert main(["restore", str(src), "-o", str(src), "--model", str(ckpt)]) == 2
    assert "refusing to overwrite" in _one_error_line(capsys)
    assert main(["restore", str(tmp_path), "-o", str(tmp_path), "--model", str(ckpt)]) == 2
    assert "refusing to overwrite" in _one_error_line(capsys)
    assert src.read_bytes() == before


def test_unreadable_file_is_reported_and_skipped(ckpt, tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    _png(src / "good.png")
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    out = tmp_path / "out"
    assert main(["restore", str(src), str(tmp_path / "missing.png"), "-o", str(out), "--model", str(ckpt),
                 "-q"]) == 1
    assert [p.name for p in out.iterdir()] == ["good.png"]
    err = capsys.readouterr().err
    assert "restored 1 image(s); 2 failed" in err
    assert "broken.png" in err and "missing.png" in err


def test_missing_default_weights_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(shipped, "WEIGHTS_DIR", tmp_path / "weights")
    src = _png(tmp_path / "a.png")
    assert main(["restore", str(src), "-o", str(tmp_path / "out")]) == 2  # the pipeline's analyzer is missing
    line = _one_error_line(capsys)
    assert "gir-analyzer" in line and "--model" in line
    assert not (tmp_path / "out").exists()
    with pytest.raises(GirError, match=shipped.DEFAULT_MODEL):  # a bare Restorer runs the default network
        engine.Restorer(None, device="cpu")


def test_model_names_resolve_to_shipped_weights(ckpt, tmp_path, monkeypatch, capsys):
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "mine.safetensors").write_bytes(ckpt.read_bytes())
    monkeypatch.setattr(shipped, "WEIGHTS_DIR", weights)
    src = _png(tmp_path / "a.png")
    assert main(["restore", str(src), "-o", str(tmp_path / "o.png"), "--model", "mine", "-q"]) == 0
    assert main(["restore", str(src), "-o", str(tmp_path / "o.png"), "--model", "nope"]) == 2
    assert "mine" in _one_error_line(capsys)  # the error lists what is shipped


@pytest.mark.parametrize("kind", ["corrupt", "mismatched", "missing"])
def test_bad_model_file_is_a_one_line_error(kind, tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    if kind == "corrupt":
        bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    elif kind == "mismatched":
        model = build_model(dict(TINY_CFG))
        save_checkpoint(bad, model.state_dict(), model_cfg={**TINY_CFG, "channels": 12})
    src = _png(tmp_path / "a.png")
    assert main(["restore", str(src), "-o", str(tmp_path / "o.png"), "--model", str(bad)]) == 2
    line = _one_error_line(capsys)
    assert str(bad) in line
    assert not (tmp_path / "o.png").exists()


def test_gir_restore_is_callable_like_the_function(tmp_path):
    import gir

    model = build_model({"type": "srcnn"})
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, model.state_dict(), model_cfg={"type": "srcnn"})
    x = np.random.default_rng(0).random((21, 34, 3), dtype=np.float32)
    out = gir.restore(x, model=str(path), device="cpu")
    assert out.shape == x.shape and out.dtype == np.float32
    assert np.array_equal(out, gir.restore.restore(x, model=str(path), device="cpu"))


def test_cli_repairs_impulse_noise_first_and_says_so_unless_told_not_to(ckpt, tmp_path, capsys):
    from gir.degradations import Recipe

    noisy = Recipe.from_text("salt_pepper").apply(natural_image(48, 64, seed=4), seed=0)
    src = tmp_path / "sp.png"
    write_image(src, noisy)
    for flag, on in (("--impulse-repair", True), ("--no-impulse-repair", False)):
        out = tmp_path / f"{on}.png"
        assert main(["restore", str(src), "-o", str(out), "--model", str(ckpt), flag]) == 0
        log = capsys.readouterr().err
        assert ("salt-and-pepper samples repaired first" in log) == on
        assert ("impulse repair off" in log) == (not on)
        expected = restore(read_image(src), model=ckpt, impulse_repair=on)
        assert np.abs(read_image(out).rgb - expected).max() <= 0.5 / 255 + 1e-6


# ------------------------------------------------------------------------------------- self-ensemble
def test_self_ensemble_undoes_each_transform_and_averages():
    rgb = natural_image(21, 34, seed=3)
    np.testing.assert_allclose(ensemble.self_ensemble(rgb, lambda x: x, 8), rgb, atol=1e-6)  # equivariant: unchanged
    ramp = lambda x: np.clip(x + np.linspace(0, 0.1, x.shape[1], dtype=np.float32)[None, :, None], 0, 1)
    out = ensemble.self_ensemble(rgb * 0.5, ramp, 2)  # left-right: the ramp and its mirror average to a constant
    assert out.shape == rgb.shape
    bias = out - rgb * 0.5
    assert np.ptp(bias[:, :21]) < 0.01  # the first 21 columns: away from the edge padding to 48


def test_restorer_ensemble_runs_every_transform_through_the_network():
    net, (_, noisy) = _conv_net(), _noisy_pair(37, 45, 4)
    plain = Restorer(net, device="cpu", tile=0, impulse_repair=False)
    ens = Restorer(net, device="cpu", tile=0, impulse_repair=False, ensemble=4)
    out = ens(noisy)
    assert out.shape == noisy.shape and out.dtype == np.float32 and "self-ensemble x4" in ens.describe()
    np.testing.assert_allclose(out, ensemble.self_ensemble(noisy, plain, 4), atol=1e-6)
    assert np.abs(out - plain(noisy)).max() > 1e-3  # this network is not flip-equivariant: the passes differ
    with pytest.raises(GirError, match="ensemble must be auto or one of 1, 2, 4, 8"):
        Restorer(net, device="cpu", ensemble=3)


def test_auto_ensemble_spends_at_most_one_megapixel_of_passes():
    assert [ensemble.auto_passes(n) for n in (4_000_000, 1_000_000, 600_000, 500_000, 250_000, 10_000)] == [
        1, 1, 1, 2, 4, 4]  # at most 4 passes, however small the photo
    net, (_, noisy) = _conv_net(), _noisy_pair(37, 45, 5)
    auto = Restorer(net, device="cpu", tile=0, impulse_repair=False, ensemble="auto")
    four = Restorer(net, device="cpu", tile=0, impulse_repair=False, ensemble=4)
    assert auto.passes(37, 45) == 4 and auto.passes(1000, 1000) == 1 and "auto" in auto.describe()
    np.testing.assert_array_equal(auto(noisy), four(noisy))
    assert ensemble.parse_ensemble(" Auto ") == "auto" and ensemble.parse_ensemble("2") == 2
    from gir.restore.experts import NetworkExpert

    expert = NetworkExpert("n", ("noise",), "network", "", model=net, options={"device": "cpu", "ensemble": "auto"})
    assert expert.passes(37, 45) == 4 and expert.passes(1000, 1000) == 1  # what --explain reports per step


def test_cli_ensemble_restores_with_the_self_ensemble(ckpt, tmp_path):
    src = _png(tmp_path / "photo.png")
    out = tmp_path / "ens.png"
    assert main(["restore", str(src), "-o", str(out), "--model", str(ckpt), "--ensemble", "4", "-q"]) == 0
    expected = Restorer(ckpt, device="cpu", ensemble=4)(read_image(src))
    assert np.abs(read_image(out).rgb - expected).max() <= 0.5 / 255 + 1e-6


def test_restore_gives_back_the_kind_of_image_it_was_given():
    """Issue 30: gir.restore() takes uint8 / uint16 / float arrays (H x W, H x W x 3, H x W x 4) and PIL images
    and returns the same kind; the alpha comes back as it went in."""
    import numpy as np
    from PIL import Image

    from gir.restore.api import as_input

    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, (12, 10, 4), dtype=np.uint8)
    rgb, back = as_input(rgba)
    assert rgb.shape == (12, 10, 3) and rgb.dtype == np.float32 and rgb.max() <= 1.0
    out = back(rgb)
    assert out.dtype == np.uint8 and np.array_equal(out, rgba)
    gray16 = rng.integers(0, 65536, (9, 7), dtype=np.uint16)
    g, back = as_input(gray16)
    assert g.shape == (9, 7, 3) and np.array_equal(back(g), gray16)
    pil = Image.fromarray(rgba[..., :2].copy(), mode="LA")
    arr, back = as_input(pil)
    res = back(arr)
    assert isinstance(res, Image.Image) and res.mode == "LA" and np.array_equal(np.asarray(res), np.asarray(pil))
    f = rng.random((5, 6, 3)).astype(np.float32)
    assert as_input(f)[1](f) is f or np.array_equal(as_input(f)[1](f), f)
    with pytest.raises(ValueError, match="dtype int64"):
        as_input(np.zeros((4, 4, 3), np.int64))
    with pytest.raises(ValueError, match="shape"):
        as_input(np.zeros((4, 4, 5), np.uint8))


def test_gir_restore_on_a_uint8_photo_returns_uint8_of_the_same_shape():
    import numpy as np

    import gir
    from conftest import natural_image

    img = (natural_image(48, 56) * 255).round().astype(np.uint8)
    out = gir.restore(img, model="gir-wunet-cpu", device="cpu")
    assert out.dtype == np.uint8 and out.shape == img.shape
    gray = img[..., 0]
    assert gir.restore(gray, model="gir-wunet-cpu", device="cpu").shape == gray.shape


def test_several_inputs_with_an_image_file_as_output_are_refused(tmp_path):
    """Issue 30: `-o x.png` with several inputs used to make a folder named x.png."""
    from gir.errors import GirError
    from gir.restore.files import plan_restore

    for name in ("a.png", "b.png"):
        PILImage.new("RGB", (8, 8)).save(tmp_path / name)
    with pytest.raises(GirError, match="several inputs need an output folder"):
        plan_restore([str(tmp_path / "a.png"), str(tmp_path / "b.png")], tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
    plan, problems, folder = plan_restore([str(tmp_path / "a.png"), str(tmp_path / "b.png")], tmp_path / "out")
    assert folder == tmp_path / "out" and len(plan) == 2
