"""gir.io: every kind of file is made here with Pillow / OpenCV / tifffile, then read and written back."""
from __future__ import annotations

import struct
import time
import zlib

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image as PILImage, ImageCms, ImageOps

from conftest import natural_image
from gir.errors import ImageReadError, ImageWriteError
from gir.io import (DEFAULT_MAX_PIXELS, SUPPORTED_READ, SUPPORTED_WRITE, Image, read_image, read_rgb,
                    save_like, write_image)

SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def u8(seed: int, shape) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def u16(seed: int, shape) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 65536, shape, dtype=np.uint16)


def check(im: Image, *, shape, bit_depth, gray, fmt, alpha: bool):
    assert isinstance(im, Image)
    assert im.rgb.shape == shape and im.rgb.dtype == np.float32
    assert 0.0 <= im.rgb.min() and im.rgb.max() <= 1.0
    assert (im.bit_depth, im.gray, im.format, im.alpha is not None) == (bit_depth, gray, fmt, alpha)
    if alpha:
        assert im.alpha.shape == shape[:2] and im.alpha.dtype == np.float32


# ------------------------------------------------------------------------------------------------ reading


def test_png8_rgb_exact_values_and_icc(tmp_path):
    arr = u8(0, (13, 17, 3))
    p = tmp_path / "a.png"
    PILImage.fromarray(arr).save(p, icc_profile=SRGB_ICC)
    im = read_image(p)
    check(im, shape=(13, 17, 3), bit_depth=8, gray=False, fmt="PNG", alpha=False)
    np.testing.assert_array_equal(im.rgb, arr.astype(np.float32) / 255)
    assert im.icc_profile == SRGB_ICC and im.path == str(p)
    np.testing.assert_array_equal(read_rgb(p), im.rgb)


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_png16_keeps_16_bit_precision(tmp_path, channels):
    arr = u16(1, (11, 9, channels))
    p = tmp_path / "a16.png"
    bgr = arr[..., 0] if channels == 1 else np.concatenate([arr[..., 2::-1], arr[..., 3:]], axis=2)
    assert cv2.imwrite(str(p), bgr)
    im = read_image(p)
    check(im, shape=(11, 9, 3), bit_depth=16, gray=channels == 1, fmt="PNG", alpha=channels == 4)
    want = arr.astype(np.float64) / 65535
    np.testing.assert_allclose(im.rgb, np.repeat(want, 3, 2) if channels == 1 else want[..., :3], atol=1e-7)
    if channels == 4:
        np.testing.assert_allclose(im.alpha, want[..., 3], atol=1e-7)
    # Exact 16-bit codes back (8-bit truncation would be off by up to 255 codes).
    np.testing.assert_array_equal(np.round(im.rgb[..., 0] * 65535), arr[..., 0])


def test_png_gray_la_rgba(tmp_path):
    g, ga, rgba = u8(2, (6, 7)), u8(3, (6, 7, 2)), u8(4, (6, 7, 4))
    for name, arr in (("g.png", g), ("ga.png", ga), ("rgba.png", rgba)):
        PILImage.fromarray(arr).save(tmp_path / name)
    im = read_image(tmp_path / "g.png")
    check(im, shape=(6, 7, 3), bit_depth=8, gray=True, fmt="PNG", alpha=False)
    np.testing.assert_array_equal(im.rgb, np.repeat(g[..., None], 3, 2) / np.float32(255))
    im = read_image(tmp_path / "ga.png")
    check(im, shape=(6, 7, 3), bit_depth=8, gray=True, fmt="PNG", alpha=True)
    np.testing.assert_array_equal(im.rgb[..., 1], ga[..., 0] / np.float32(255))
    np.testing.assert_array_equal(im.alpha, ga[..., 1] / np.float32(255))
    im = read_image(tmp_path / "rgba.png")
    check(im, shape=(6, 7, 3), bit_depth=8, gray=False, fmt="PNG", alpha=True)
    np.testing.assert_array_equal(im.rgb, rgba[..., :3] / np.float32(255))
    np.testing.assert_array_equal(im.alpha, rgba[..., 3] / np.float32(255))


@pytest.mark.parametrize("transparent", [False, True])
def test_palette_png(tmp_path, transparent):
    palette = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]
    idx = np.array([[0, 1, 2, 3], [3, 2, 1, 0], [1, 1, 3, 3]], dtype=np.uint8)
    pim = PILImage.fromarray(idx, mode="L").convert("P")
    pim.putdata(idx.ravel().tolist())
    pim.putpalette(palette + [0] * (768 - len(palette)))
    p = tmp_path / "pal.png"
    pim.save(p, **({"transparency": 3} if transparent else {}))
    im = read_image(p)
    check(im, shape=(3, 4, 3), bit_depth=8, gray=False, fmt="PNG", alpha=transparent)
    lut = np.array(palette, dtype=np.float32).reshape(4, 3) / 255
    np.testing.assert_array_equal(im.rgb, lut[idx])
    if transparent:
        np.testing.assert_array_equal(im.alpha, (idx != 3).astype(np.float32))


def test_rgb_colour_key_transparency(tmp_path):
    arr = np.zeros((2, 3, 3), np.uint8)
    arr[0, 1] = (9, 8, 7)
    p = tmp_path / "key.png"
    PILImage.fromarray(arr).save(p, transparency=(9, 8, 7))
    im = read_image(p)
    np.testing.assert_array_equal(im.alpha, [[1, 0, 1], [1, 1, 1]])


def test_one_bit_png(tmp_path):
    bits = np.random.default_rng(5).random((9, 10)) > 0.5
    p = tmp_path / "bw.png"
    PILImage.fromarray(bits).save(p)
    im = read_image(p)
    check(im, shape=(9, 10, 3), bit_depth=8, gray=True, fmt="PNG", alpha=False)
    np.testing.assert_array_equal(im.rgb[..., 0], bits.astype(np.float32))


# Orientation tag -> the PIL transpose that turns the upright picture into what is stored in the file.
STORED_FROM_UPRIGHT = {
    1: None, 2: PILImage.Transpose.FLIP_LEFT_RIGHT, 3: PILImage.Transpose.ROTATE_180,
    4: PILImage.Transpose.FLIP_TOP_BOTTOM, 5: PILImage.Transpose.TRANSPOSE,
    6: PILImage.Transpose.ROTATE_90,  # displaying needs a 90-degree clockwise turn, so stored = CCW turn
    7: PILImage.Transpose.TRANSVERSE, 8: PILImage.Transpose.ROTATE_270,
}


def blocks_image() -> np.ndarray:
    """16x24 upright picture of six flat 8x8 blocks, all different: any wrong turn or flip shows."""
    colours = np.array([[[230, 20, 20], [20, 230, 20], [20, 20, 230]],
                        [[230, 230, 20], [20, 230, 230], [120, 120, 120]]], dtype=np.uint8)
    return np.repeat(np.repeat(colours, 8, axis=0), 8, axis=1)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_jpeg_exif_orientation_is_applied(tmp_path, orientation):
    upright = blocks_image()
    stored = PILImage.fromarray(upright)
    if STORED_FROM_UPRIGHT[orientation] is not None:
        stored = stored.transpose(STORED_FROM_UPRIGHT[orientation])
    exif = PILImage.Exif()
    exif[0x0112] = orientation
    p = tmp_path / f"o{orientation}.jpg"
    stored.save(p, exif=exif, quality=95, subsampling=0)
    im = read_image(p)
    check(im, shape=(16, 24, 3), bit_depth=8, gray=False, fmt="JPEG", alpha=False)
    assert np.abs(im.rgb - upright / 255.0).max() < 0.06
    # Same pixels as Pillow's own exif_transpose (an independent implementation).
    with PILImage.open(p) as ref:
        np.testing.assert_array_equal(im.rgb, np.asarray(ImageOps.exif_transpose(ref)) / np.float32(255))


def test_bmp_and_webp_lossless(tmp_path):
    arr = u8(6, (8, 5, 3))
    PILImage.fromarray(arr).save(tmp_path / "a.bmp")
    im = read_image(tmp_path / "a.bmp")
    check(im, shape=(8, 5, 3), bit_depth=8, gray=False, fmt="BMP", alpha=False)
    np.testing.assert_array_equal(im.rgb, arr / np.float32(255))
    rgba = u8(7, (8, 5, 4))
    PILImage.fromarray(rgba).save(tmp_path / "a.webp", lossless=True)
    im = read_image(tmp_path / "a.webp")
    check(im, shape=(8, 5, 3), bit_depth=8, gray=False, fmt="WEBP", alpha=True)
    np.testing.assert_array_equal(im.alpha, rgba[..., 3] / np.float32(255))
    visible = rgba[..., 3] > 0  # lossless WebP may change the colour of fully transparent pixels
    np.testing.assert_array_equal(im.rgb[visible], rgba[..., :3][visible] / np.float32(255))


def test_tiff_16_bit_rgb_gray_rgba(tmp_path):
    rgb, gray, rgba = u16(8, (7, 6, 3)), u16(9, (7, 6)), u16(10, (7, 6, 4))
    tifffile.imwrite(tmp_path / "rgb.tif", rgb, photometric="rgb", iccprofile=SRGB_ICC)
    tifffile.imwrite(tmp_path / "g.tiff", gray, photometric="minisblack")
    tifffile.imwrite(tmp_path / "rgba.tif", rgba, photometric="rgb", extrasamples=["unassalpha"])
    im = read_image(tmp_path / "rgb.tif")
    check(im, shape=(7, 6, 3), bit_depth=16, gray=False, fmt="TIFF", alpha=False)
    np.testing.assert_allclose(im.rgb, rgb / 65535.0, atol=1e-7)
    assert im.icc_profile == SRGB_ICC
    im = read_image(tmp_path / "g.tiff")
    check(im, shape=(7, 6, 3), bit_depth=16, gray=True, fmt="TIFF", alpha=False)
    np.testing.assert_allclose(im.rgb[..., 2], gray / 65535.0, atol=1e-7)
    im = read_image(tmp_path / "rgba.tif")
    check(im, shape=(7, 6, 3), bit_depth=16, gray=False, fmt="TIFF", alpha=True)
    np.testing.assert_allclose(im.alpha, rgba[..., 3] / 65535.0, atol=1e-7)


def test_tiff_other_writers_and_compressions(tmp_path):
    # LZW (needs a codec tifffile lacks without imagecodecs): 16-bit from OpenCV must stay 16-bit.
    rgb16 = u16(11, (5, 4, 3))
    assert cv2.imwrite(str(tmp_path / "lzw16.tif"), rgb16[..., ::-1])
    im = read_image(tmp_path / "lzw16.tif")
    check(im, shape=(5, 4, 3), bit_depth=16, gray=False, fmt="TIFF", alpha=False)
    np.testing.assert_allclose(im.rgb, rgb16 / 65535.0, atol=1e-7)
    rgb8 = u8(12, (5, 4, 3))
    PILImage.fromarray(rgb8).save(tmp_path / "lzw8.tif", compression="tiff_lzw")
    np.testing.assert_array_equal(read_rgb(tmp_path / "lzw8.tif"), rgb8 / np.float32(255))
    PILImage.fromarray(rgb8).convert("P").save(tmp_path / "pal.tif")  # palette TIFF goes through Pillow
    im = read_image(tmp_path / "pal.tif")
    with PILImage.open(tmp_path / "pal.tif") as ref:
        np.testing.assert_array_equal(im.rgb, np.asarray(ref.convert("RGB")) / np.float32(255))
    assert (im.format, im.bit_depth, im.gray) == ("TIFF", 8, False)


# ------------------------------------------------------------------------------------------------ writing


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_round_trip_precision(tmp_path, suffix):
    img = natural_image(20, 24, seed=1)
    img[0, :4, 0] = [1000.4 / 65535, 1000.6 / 65535, 0.0, 1.0]  # codes 1000 and 1001: one 16-bit step apart
    alpha = np.linspace(0, 1, 20 * 24, dtype=np.float32).reshape(20, 24)
    p = tmp_path / f"r{suffix}"
    write_image(p, img, alpha, bit_depth=16, icc_profile=SRGB_ICC)
    im = read_image(p)
    check(im, shape=(20, 24, 3), bit_depth=16, gray=False, fmt="TIFF" if suffix == ".tif" else "PNG",
          alpha=True)
    assert np.abs(im.rgb - img).max() <= 0.5 / 65535 + 1e-7  # 8 bits would be off by up to 0.5 / 255
    assert np.abs(im.alpha - alpha).max() <= 0.5 / 65535 + 1e-7
    assert round(im.rgb[0, 0, 0] * 65535) == 1000 and round(im.rgb[0, 1, 0] * 65535) == 1001
    assert im.icc_profile == SRGB_ICC


def test_16_bit_png_is_standard(tmp_path):
    """Our 16-bit PNG encoder, checked with two independent decoders."""
    img = natural_image(9, 11, seed=2)
    alpha = np.random.default_rng(3).random((9, 11)).astype(np.float32)
    write_image(tmp_path / "c.png", img, alpha, bit_depth=16, icc_profile=SRGB_ICC)
    with PILImage.open(tmp_path / "c.png") as c:
        assert c.info["icc_profile"] == SRGB_ICC
    codes = np.floor(np.clip(np.dstack([img, alpha]), 0, 1) * 65535 + 0.5).astype(np.uint16)
    bgra = cv2.imread(str(tmp_path / "c.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(bgra[..., [2, 1, 0, 3]], codes)
    write_image(tmp_path / "g.png", img, bit_depth=16, gray=True)
    with PILImage.open(tmp_path / "g.png") as g:
        assert g.mode.startswith("I")
        luma = img @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        np.testing.assert_array_equal(np.asarray(g), np.floor(luma * 65535 + 0.5))


def test_rounding_and_clipping(tmp_path):
    values = np.array([0.0, 0.49 / 255, 0.51 / 255, 254.6 / 255, 1.0, -0.3, 1.7], dtype=np.float32)
    img = np.repeat(values[None, :, None], 3, axis=2)
    write_image(tmp_path / "r.png", img)
    with PILImage.open(tmp_path / "r.png") as ref:
        np.testing.assert_array_equal(np.asarray(ref)[0, :, 1], [0, 0, 1, 255, 255, 0, 255])


@pytest.mark.parametrize("suffix,fmt", [(".png", "PNG"), (".tiff", "TIFF"), (".webp", "WEBP")])
def test_alpha_is_reattached(tmp_path, suffix, fmt):
    img = natural_image(12, 10, seed=4)
    alpha = (np.arange(120, dtype=np.float32).reshape(12, 10) % 7) / 6
    write_image(tmp_path / f"a{suffix}", img, alpha, quality=100)  # WebP quality 100 = lossless
    im = read_image(tmp_path / f"a{suffix}")
    check(im, shape=(12, 10, 3), bit_depth=8, gray=False, fmt=fmt, alpha=True)
    assert np.abs(im.alpha - alpha).max() <= 0.5 / 255 + 1e-7
    assert np.abs(im.rgb - img)[alpha > 0].max() <= 0.5 / 255 + 1e-7


def test_jpeg_drops_alpha_and_honours_quality(tmp_path):
    img = natural_image(32, 32, seed=5)
    write_image(tmp_path / "hi.jpg", img, np.ones((32, 32), np.float32), quality=95)
    write_image(tmp_path / "lo.jpeg", img, quality=10)
    hi, lo = read_image(tmp_path / "hi.jpg"), read_image(tmp_path / "lo.jpeg")
    check(hi, shape=(32, 32, 3), bit_depth=8, gray=False, fmt="JPEG", alpha=False)
    assert np.abs(hi.rgb - img).mean() < np.abs(lo.rgb - img).mean()
    assert (tmp_path / "hi.jpg").stat().st_size > (tmp_path / "lo.jpeg").stat().st_size


def test_save_like_preserves_source_properties(tmp_path):
    src = natural_image(10, 14, seed=6)
    alpha = np.full((10, 14), 0.25, np.float32)
    write_image(tmp_path / "src.png", src, alpha, bit_depth=16, gray=True)
    like = read_image(tmp_path / "src.png")
    assert (like.bit_depth, like.gray, like.icc_profile) == (16, True, None)
    save_like(tmp_path / "out.png", like.rgb * 0.5, like)
    out = read_image(tmp_path / "out.png")
    assert (out.bit_depth, out.gray, out.icc_profile) == (16, True, None)
    np.testing.assert_allclose(out.alpha, alpha, atol=8e-6)
    np.testing.assert_allclose(out.rgb, like.rgb * 0.5, atol=8e-6)
    # A result at twice the size gets a resized alpha; JPEG keeps neither alpha nor 16 bits.
    save_like(tmp_path / "big.tif", np.zeros((20, 28, 3), np.float32), like)
    big = read_image(tmp_path / "big.tif")
    assert big.alpha.shape == (20, 28) and np.allclose(big.alpha, 0.25, atol=1e-4) and big.bit_depth == 16
    save_like(tmp_path / "x.jpg", like.rgb, like)
    j = read_image(tmp_path / "x.jpg")
    assert (j.alpha, j.bit_depth, j.gray, j.icc_profile) == (None, 8, True, None)
    write_image(tmp_path / "icc.webp", src, icc_profile=SRGB_ICC)
    rgb_like = read_image(tmp_path / "icc.webp")
    for name in ("icc.png", "icc.jpg", "icc.tif", "icc2.webp"):
        save_like(tmp_path / name, src, rgb_like)
        assert read_image(tmp_path / name).icc_profile == SRGB_ICC, name
    save_like(tmp_path / "named.bin", like.rgb, like, format="tiff")
    assert read_image(tmp_path / "named.bin").format == "TIFF"


def test_write_errors_leave_no_files(tmp_path):
    img = natural_image(8, 8)
    with pytest.raises(ImageWriteError) as e:
        write_image(tmp_path / "missing" / "a.png", img)
    assert str(e.value).startswith(str(tmp_path / "missing" / "a.png")) and "does not exist" in str(e.value)
    assert not (tmp_path / "missing").exists()
    with pytest.raises(ImageWriteError, match="unknown image suffix"):
        write_image(tmp_path / "a.xyz", img)
    with pytest.raises(ImageWriteError, match="NaN"):
        write_image(tmp_path / "nan.png", np.full((4, 4, 3), np.nan, np.float32))
    (tmp_path / "dir.png").mkdir()  # os.replace onto a folder fails after the temp file was written
    with pytest.raises(ImageWriteError):
        write_image(tmp_path / "dir.png", img)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.png"]
    with pytest.raises(ValueError):
        write_image(tmp_path / "u8.png", (img * 255).astype(np.uint8))
    with pytest.raises(ValueError):
        write_image(tmp_path / "b.png", img, bit_depth=12)


def test_write_replaces_existing_file(tmp_path):
    p = tmp_path / "a.png"
    write_image(p, np.zeros((4, 4, 3), np.float32))
    write_image(p, np.ones((6, 5, 3), np.float32))
    assert read_rgb(p).shape == (6, 5, 3) and read_rgb(p).min() == 1.0
    assert [q.name for q in tmp_path.iterdir()] == ["a.png"]


# ------------------------------------------------------------------------------------------------ errors


def png_bytes(width: int, height: int, idat: bytes = b"") -> bytes:
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def assert_read_error(path, *words):
    with pytest.raises(ImageReadError) as e:
        read_image(path)
    msg = str(e.value)
    assert msg.startswith(f"{path}: ") and "\n" not in msg, msg
    for w in words:
        assert w in msg, msg
    return msg


def test_unreadable_files(tmp_path):
    img = natural_image(48, 48, seed=7)
    assert_read_error(tmp_path / "nope.png", "no such file")
    (tmp_path / "empty.png").write_bytes(b"")
    assert_read_error(tmp_path / "empty.png", "empty")
    (tmp_path / "text.png").write_text("just some text, not pixels\n")
    assert_read_error(tmp_path / "text.png", "not a recognised image")
    (tmp_path / "folder.jpg").mkdir()
    assert_read_error(tmp_path / "folder.jpg", "directory")
    for name, bits in (("t.png", 8), ("t16.png", 16), ("t.jpg", 8), ("t.tif", 16), ("t.webp", 8)):
        write_image(tmp_path / name, img, bit_depth=bits)
        data = (tmp_path / name).read_bytes()
        (tmp_path / f"cut_{name}").write_bytes(data[: len(data) // 2])
        assert_read_error(tmp_path / f"cut_{name}")
        (tmp_path / f"head_{name}").write_bytes(data[:40])
        assert_read_error(tmp_path / f"head_{name}")
    # Flipped bits inside the pixel data: caught by the PNG / TIFF-deflate checksums.
    for name in ("t.png", "t.tif"):
        data = bytearray((tmp_path / name).read_bytes())
        data[len(data) // 2] ^= 0xFF
        (tmp_path / f"flip_{name}").write_bytes(bytes(data))
        assert_read_error(tmp_path / f"flip_{name}", "corrupt")


def test_pixel_limit_is_checked_before_decoding(tmp_path, monkeypatch):
    p = tmp_path / "huge.png"
    p.write_bytes(png_bytes(20000, 20000, zlib.compress(b"\0" * 64)))  # header only; data would not decode
    start = time.perf_counter()
    with pytest.raises(ImageReadError) as e:
        read_image(p, max_pixels=1_000_000)
    assert time.perf_counter() - start < 1.0
    msg = str(e.value)
    assert msg.startswith(f"{p}: ") and "20000x20000" in msg and "1,000,000" in msg and "GIR_MAX_PIXELS" in msg
    assert_read_error(p, f"{DEFAULT_MAX_PIXELS:,}")  # the default limit refuses it too
    small = tmp_path / "small.png"
    write_image(small, natural_image(20, 20))
    monkeypatch.setenv("GIR_MAX_PIXELS", "399")
    assert_read_error(small, "20x20", "399")
    monkeypatch.setenv("GIR_MAX_PIXELS", "400")
    assert read_rgb(small).shape == (20, 20, 3)
    assert read_rgb(small, max_pixels=400).shape == (20, 20, 3)
    with pytest.raises(ImageReadError):
        read_image(small, max_pixels=399)


def test_pillow_bomb_check_does_not_preempt_ours(tmp_path):
    p = tmp_path / "big.png"
    p.write_bytes(png_bytes(15000, 15000))  # 225 Mpx: over Pillow's own error threshold (2 x 89.5 Mpx)
    saved = PILImage.MAX_IMAGE_PIXELS
    with pytest.raises(ImageReadError) as e:
        read_image(p, max_pixels=300_000_000)  # within our limit, so it gets to decoding and fails there
    assert "bomb" not in e.value.reason.lower() and e.value.reason.startswith("corrupt or truncated")
    assert PILImage.MAX_IMAGE_PIXELS == saved


def test_supported_suffix_lists():
    assert SUPPORTED_WRITE == (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp")
    assert set(SUPPORTED_WRITE) <= set(SUPPORTED_READ) and ".bmp" in SUPPORTED_READ
