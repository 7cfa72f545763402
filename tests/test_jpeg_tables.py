"""Reading JPEG quantisation tables and estimating the IJG quality (gir.analysis.jpeg_tables)."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from gir.analysis.jpeg_tables import (
    STD_CHROMA,
    STD_LUMA,
    JpegTables,
    ijg_table,
    quality_from_pixels,
    quality_from_tables,
    read_jpeg_tables,
    table_quality_confidence,
)

QUALITIES = [5, 10, 20, 30, 50, 75, 85, 90, 95, 100]


def synthetic_rgb(size: int = 64, seed: int = 0) -> np.ndarray:
    """A uint8 RGB gradient plus noise, size x size."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    base = np.stack([xx * 3.0, yy * 3.0, (xx + yy) * 1.5], axis=2)
    return np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)


def pillow_jpeg(path, **save_args) -> None:
    Image.fromarray(synthetic_rgb()).save(path, "JPEG", **save_args)


@pytest.mark.parametrize("quality", QUALITIES)
def test_pillow_quality_is_read_exactly(tmp_path, quality):
    path = tmp_path / f"q{quality}.jpg"
    pillow_jpeg(path, quality=quality)
    t = read_jpeg_tables(path)
    assert t == JpegTables(float(quality), True, 0.0, 2, t.subsampling)
    assert table_quality_confidence(t) == 1.0


@pytest.mark.parametrize("quality", QUALITIES)
def test_opencv_quality_is_read_exactly(quality):
    cv2 = pytest.importorskip("cv2")
    ok, buf = cv2.imencode(".jpg", synthetic_rgb(), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    t = read_jpeg_tables(buf.tobytes())
    assert t is not None and t.quality == quality and t.exact and t.error == 0.0


def test_pillow_returns_tables_in_natural_order(tmp_path):
    path = tmp_path / "q50.jpg"
    pillow_jpeg(path, quality=50)
    with Image.open(path) as im:
        assert list(im.quantization[0]) == list(STD_LUMA)
        assert list(im.quantization[1]) == list(STD_CHROMA)


def test_grayscale_has_one_table(tmp_path):
    path = tmp_path / "gray.jpg"
    Image.fromarray(synthetic_rgb()[..., 0]).save(path, "JPEG", quality=60)
    t = read_jpeg_tables(path)
    assert (t.quality, t.exact, t.tables, t.subsampling) == (60.0, True, 1, None)


def test_non_jpeg_gives_none(tmp_path):
    png = tmp_path / "a.png"
    Image.fromarray(synthetic_rgb()).save(png)
    tif = tmp_path / "a.tif"
    Image.fromarray(synthetic_rgb()).save(tif)
    assert read_jpeg_tables(png) is None
    assert read_jpeg_tables(str(tif)) is None
    assert read_jpeg_tables(np.random.default_rng(0).bytes(4096)) is None
    assert read_jpeg_tables(b"") is None
    assert read_jpeg_tables(b"\xff\xd8\xff") is None  # a JPEG signature and nothing else


def test_truncated_jpeg_never_raises(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(synthetic_rgb()).save(buf, "JPEG", quality=75)
    data = buf.getvalue()
    for cut in (2, 4, 20, 60, 100, 200, 400, len(data) // 2, len(data) - 2):
        t = read_jpeg_tables(data[:cut])
        assert t is None or isinstance(t, JpegTables)
    # Cut after the header: the tables are all there, so the estimate still comes out.
    assert read_jpeg_tables(data[: len(data) // 2]).quality == 75.0
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[:100])
    t = read_jpeg_tables(path)
    assert t is None or isinstance(t, JpegTables)


def test_missing_path_raises_oserror(tmp_path):
    with pytest.raises(OSError):
        read_jpeg_tables(tmp_path / "nope.jpg")


def test_off_ijg_tables_fit_near_50(tmp_path):
    luma = ijg_table(STD_LUMA, 50)
    chroma = ijg_table(STD_CHROMA, 50)
    luma[[5, 17, 40, 63]] += [7, -5, 9, 12]
    path = tmp_path / "custom.jpg"
    pillow_jpeg(path, qtables=[luma.tolist(), chroma.tolist()])
    t = read_jpeg_tables(path)
    assert not t.exact
    assert abs(t.quality - 50) <= 2
    assert 0 < t.error < 1.0
    assert 0.5 < table_quality_confidence(t) < 1.0


def test_confidence_falls_with_error():
    errors = [0.5, 2.0, 8.0, 30.0]
    conf = [table_quality_confidence(JpegTables(50.0, False, e, 2)) for e in errors]
    assert all(a > b for a, b in zip(conf, conf[1:]))
    assert all(0.0 < c < 1.0 for c in conf)
    # The same absolute error weighs more at high quality, where entries are small.
    assert table_quality_confidence(JpegTables(95.0, False, 2.0, 2)) < conf[1]


def test_non_ijg_tables_give_best_fit():
    # A flat table is nothing IJG makes: the fit is over luma and chroma together (it lands at q=92,
    # pulled up by IJG's chroma 99s), inexact, with a non-zero luma error.
    t = quality_from_tables({0: [16] * 64, 1: [16] * 64})
    assert not t.exact and 1 <= t.quality <= 100 and t.error > 0
    # Luma from q=80, chroma from q=60 (two IJG qualities mixed): inexact, a quality between the two.
    t2 = quality_from_tables({0: ijg_table(STD_LUMA, 80), 1: ijg_table(STD_CHROMA, 60)})
    assert not t2.exact and 60 <= t2.quality <= 80


def test_non_baseline_ijg_tables_are_exact():
    # cjpeg without -baseline keeps entries above 255 at low quality (16-bit tables).
    luma = ijg_table(STD_LUMA, 10, baseline=False)
    assert luma.max() > 255
    t = quality_from_tables({0: luma, 1: ijg_table(STD_CHROMA, 10, baseline=False)})
    assert (t.quality, t.exact) == (10.0, True)


def test_bad_table_input_raises():
    with pytest.raises(ValueError):
        quality_from_tables({})
    with pytest.raises(ValueError):
        quality_from_tables({0: [1] * 63})


@pytest.mark.parametrize(("subsampling", "name"), [(0, "4:4:4"), (1, "4:2:2"), (2, "4:2:0")])
def test_subsampling(tmp_path, subsampling, name):
    path = tmp_path / f"s{subsampling}.jpg"
    pillow_jpeg(path, quality=85, subsampling=subsampling)
    t = read_jpeg_tables(path)
    assert t.subsampling == name and t.quality == 85.0 and t.exact


# -- the tables from the pixels ----------------------------------------------------------------------------
def _decoded(rgb: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray((rgb * 255).round().astype(np.uint8)).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"), dtype=np.float32) / 255.0


@pytest.mark.parametrize("quality", [10, 20, 35, 50, 70])
def test_pixels_give_the_quality_of_a_decoded_jpeg_also_cropped_off_grid(quality):
    from conftest import natural_image

    rgb = natural_image(256, 320, seed=3)
    t = quality_from_pixels(_decoded(rgb, quality))
    assert t is not None and t.source == "pixels" and not t.exact
    assert abs(t.quality - quality) <= 2 and table_quality_confidence(t) > 0.8
    shifted = quality_from_pixels(_decoded(rgb, quality)[3:, 5:])  # the block grid no longer starts at 0
    assert shifted is not None and abs(shifted.quality - quality) <= 2


def test_pixels_without_a_quantiser_lattice_give_none():
    from conftest import natural_image

    rgb = natural_image(256, 320, seed=4)
    assert quality_from_pixels(rgb) is None  # never compressed
    noisy = np.clip(_decoded(rgb, 30) + np.random.default_rng(0).normal(0, 15 / 255, rgb.shape), 0, 1)
    assert quality_from_pixels(noisy.astype(np.float32)) is None  # noise far above the steps fills the lattice
    yy, xx = np.mgrid[:200, :200]
    board = (((yy // 25) + (xx // 25)) % 2).astype(np.float32)[..., None].repeat(3, 2)
    assert quality_from_pixels(board) is None  # flat synthetic blocks are not a lattice
    assert quality_from_pixels(rgb[:40, :40]) is None  # too small to tell
