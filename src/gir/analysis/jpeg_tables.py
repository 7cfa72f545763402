"""JPEG quantisation tables: what quality was a JPEG file saved with?

A JPEG file carries the quantisation tables its encoder used (DQT markers). Nearly every encoder a user
meets (libjpeg, libjpeg-turbo, Pillow, OpenCV, ImageMagick, browsers) builds them the IJG way: the
standard tables of ITU-T T.81 Annex K, scaled by a quality factor q in 1..100::

    scale = 5000 // q          if q < 50     (integer division, as in libjpeg's jpeg_quality_scaling)
    scale = 200 - 2 * q        otherwise
    entry = clamp((base * scale + 50) // 100, 1, 255)    (255: "force baseline"; 32767 without it)

so reading the tables back gives the quality the file was *last* saved at, exactly, without looking at
a single pixel. This module reads the tables (through Pillow, which parses the header only) and finds the
IJG quality whose luma/chroma pair matches them, or fits them best when the encoder used its own tables
(cameras, Photoshop, some phone apps). A restoration pipeline can use the result as evidence about the
JPEG artefacts in the pixels; :func:`table_quality_confidence` says how far to trust it.

Notes:

- Pillow (13.0) returns ``Image.quantization`` in natural (row-major) order: its DQT parser undoes the
  file's zigzag order. The standard tables below are written in natural order too.
- The scaling uses libjpeg's *integer* ``5000 // q``: the real-valued ``5000 / q`` gives different
  tables at 34 qualities below 50 (9, 11-16, 18, 19, 22-24, 26-39, 41-48), which would not match real files.
- Tables reflect only the last save. A photo compressed at q=30 and re-saved at q=95 reads as 95.
"""
from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = ["JpegTables", "quality_from_pixels", "quality_from_tables", "read_jpeg_tables",
           "table_quality_confidence"]

# ITU-T T.81 Annex K, Table K.1 (luminance) and Table K.2 (chrominance), natural (row-major) order.
STD_LUMA = (
    16, 11, 10, 16, 24, 40, 51, 61,
    12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77,
    24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
)
STD_CHROMA = (
    17, 18, 24, 47, 99, 99, 99, 99,
    18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
)

QUALITIES = np.arange(1, 101)
_SUBSAMPLING_NAMES = {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}  # JpegImagePlugin.get_sampling codes

# Relative luma error at which the confidence of a non-IJG table falls by a factor e (see below).
CONFIDENCE_REL_SCALE = 0.25
# Ceiling of the confidence of tables that are not an exact IJG match.
CONFIDENCE_INEXACT_MAX = 0.95


@dataclass(frozen=True)
class JpegTables:
    """The quality estimate read from a JPEG file's quantisation tables.

    Attributes:
        quality: the best IJG quality estimate, an integer value in 1..100 (held as float).
        exact: True when the tables equal IJG's tables at ``quality``: the luma table, and every
            further (chroma) table when there are any. Baseline (entries <= 255) and non-baseline
            IJG tables both count.
        error: mean absolute difference between the file's luma table and IJG's luma table at
            ``quality`` (0 when exact; in table units, i.e. quantiser steps).
        tables: the number of quantisation tables in the file (1 for grayscale, usually 2 for colour).
        subsampling: chroma subsampling from Pillow (``"4:4:4"``, ``"4:2:2"``, ``"4:2:0"``), or None
            when unknown (grayscale, CMYK, unusual factors, or tables given without a file).
        source: ``"file"`` (read from the file's header) or ``"pixels"`` (estimated by
            :func:`quality_from_pixels`).
    """

    quality: float
    exact: bool
    error: float
    tables: int
    subsampling: str | None = None
    source: str = "file"


def ijg_scale(quality: np.ndarray | int) -> np.ndarray:
    """libjpeg's ``jpeg_quality_scaling``: percentage scale factor for quality 1..100 (integer)."""
    q = np.clip(np.asarray(quality, dtype=np.int64), 1, 100)
    return np.where(q < 50, 5000 // q, 200 - 2 * q)


def ijg_table(base: Sequence[int], quality: int, baseline: bool = True) -> np.ndarray:
    """The IJG table for one quality: ``clamp((base * scale + 50) // 100, 1, 255 or 32767)``."""
    return _scaled_tables(tuple(base), baseline)[int(np.clip(quality, 1, 100)) - 1].copy()


@lru_cache(maxsize=None)
def _scaled_tables(base: tuple[int, ...], baseline: bool) -> np.ndarray:
    """All 100 IJG tables for one base table: int64 array (100, 64), row i is quality i + 1."""
    raw = (np.asarray(base, dtype=np.int64)[None, :] * ijg_scale(QUALITIES)[:, None] + 50) // 100
    table = np.clip(raw, 1, 255 if baseline else 32767)
    table.setflags(write=False)
    return table


def _ijg_candidates(base: tuple[int, ...]) -> np.ndarray:
    """Baseline and non-baseline IJG tables for a base table: array (2, 100, 64)."""
    return np.stack([_scaled_tables(base, True), _scaled_tables(base, False)])


def _as_table_arrays(tables: dict[int, Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Split tables into luma (the lowest index) and the others (chroma): arrays (64,) and (k, 64)."""
    if not tables:
        raise ValueError("no quantisation tables given")
    arrays = []
    for key in sorted(tables):
        arr = np.asarray(tables[key], dtype=np.int64).reshape(-1)
        if arr.size != 64:
            raise ValueError(f"quantisation table {key} has {arr.size} entries, expected 64")
        arrays.append(arr)
    return arrays[0], np.stack(arrays[1:]) if len(arrays) > 1 else np.zeros((0, 64), dtype=np.int64)


def _abs_errors(luma: np.ndarray, chroma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-quality luma MAE and summed absolute error over all tables, each the best of the
    baseline/non-baseline variants: arrays (100,) and (100,)."""
    luma_err = np.abs(_ijg_candidates(STD_LUMA) - luma).sum(axis=-1)  # (2, 100)
    total = luma_err.copy()
    if len(chroma):
        chroma_ijg = _ijg_candidates(STD_CHROMA)  # (2, 100, 64)
        total = total + np.abs(chroma_ijg[:, :, None, :] - chroma[None, None]).sum(axis=(-1, -2))
    variant = np.argmin(total, axis=0)  # per quality: the variant that fits all tables best
    pick = np.arange(len(QUALITIES))
    return luma_err[variant, pick] / 64.0, total[variant, pick]


def quality_from_tables(tables: dict[int, Sequence[int]]) -> JpegTables:
    """Estimate the IJG quality (1..100) from a JPEG's quantisation tables.

    Args:
        tables: table index -> 64 entries in natural (row-major) order, as Pillow's
            ``Image.quantization``. The lowest index is taken as luma, the others as chroma.

    Returns:
        A :class:`JpegTables` with ``subsampling=None``. The quality is the integer whose IJG
        luma/chroma tables equal the given ones (``exact=True``); failing that, the one with the least
        mean absolute error over all tables (luma against IJG luma, every other table against IJG
        chroma), ties going to the lower quality, with ``exact=False``.

    Raises:
        ValueError: no tables, or a table without 64 entries.
    """
    luma, chroma = _as_table_arrays(tables)
    luma_mae, total = _abs_errors(luma, chroma)
    exact_hits = np.flatnonzero(total == 0)
    best = int(exact_hits[0]) if exact_hits.size else int(np.argmin(total))
    return JpegTables(
        quality=float(QUALITIES[best]),
        exact=bool(exact_hits.size),
        error=float(luma_mae[best]),
        tables=len(tables),
    )


# -- the tables from the pixels -------------------------------------------------------------------------------
# A decoded JPEG keeps the lattice of its quantiser: the 8 x 8 block DCT of its luma clusters on multiples of
# each table entry (plus the rounding of 8-bit RGB). A photo that was never compressed has no such lattice.
PIXEL_POSITIONS = ((0, 1), (1, 0), (1, 1), (0, 2), (2, 0), (1, 2), (2, 1), (2, 2), (0, 3), (3, 0))
PIXEL_STEPS = np.arange(2, 121)
PIXEL_MIN_COEFFICIENTS = 40  # coefficients at a nonzero multiple a step estimate needs
PIXEL_MIN_SCORE = 0.7  # mean cos(2 pi c / step) over them: 1 on the lattice, <= 0 for a smooth distribution
PIXEL_MIN_POSITIONS = 3


def _dct8() -> np.ndarray:
    """The orthonormal 8-point DCT-II matrix (rows: frequencies), which is JPEG's scaling."""
    k = np.arange(8)
    m = np.sqrt(2 / 8) * np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / 16)
    m[0] /= np.sqrt(2)
    return m


_DCT8 = _dct8()


def _luma_dct(y: np.ndarray, oy: int, ox: int, side: int) -> np.ndarray:
    """8 x 8 block DCT (orthonormal: JPEG's scaling) of ``y`` from offset (oy, ox): array (blocks, 8, 8)."""
    z = y[oy:oy + side, ox:ox + side]
    h, w = z.shape[0] // 8 * 8, z.shape[1] // 8 * 8
    b = z[:h, :w].reshape(h // 8, 8, w // 8, 8).transpose(0, 2, 1, 3).reshape(-1, 8, 8)
    return np.einsum("ij,njk,lk->nil", _DCT8, b, _DCT8)


def _grid_phase(y: np.ndarray) -> tuple[int, int]:
    """The block grid's offset: the row and column phase (mod 8) where neighbouring pixels differ most."""
    dy, dx = np.abs(np.diff(y, axis=0)).mean(1), np.abs(np.diff(y, axis=1)).mean(0)
    py, px = (int(np.argmax([d[k::8].mean() for k in range(8)])) for d in (dy, dx))
    return (py + 1) % 8, (px + 1) % 8


def _quantiser_step(c: np.ndarray) -> int | None:
    """The quantiser step of one DCT position from its coefficients ``c``, or None when they show none: the
    step whose nonzero multiples the coefficients at least half a step from 0 sit on best (the largest of
    near-ties: a step's divisors fit its lattice too)."""
    m = np.abs(c)[:, None] >= PIXEL_STEPS[None, :] / 2
    n = m.sum(0)
    fit = (np.cos(2 * np.pi * c[:, None] / PIXEL_STEPS[None, :]) * m).sum(0) / np.maximum(n, 1)
    score = np.where(n >= PIXEL_MIN_COEFFICIENTS, fit, -1.0)
    best = float(score.max())
    return int(PIXEL_STEPS[score >= best - 0.02][-1]) if best >= PIXEL_MIN_SCORE else None


def quality_from_pixels(rgb: np.ndarray, max_side: int = 512) -> JpegTables | None:
    """The IJG quality a decoded JPEG was saved at, from its pixels (float HxWx3 in [0, 1]), or None when the
    pixels show no quantiser lattice (never compressed, resized since, or quality about 85 and up, where the
    steps are too small to tell from 8-bit rounding).

    The luma (8-bit, BT.601, minus 128) of a central ``max_side`` crop is cut into 8 x 8 blocks at the grid
    offset (from blockiness; offset 0 when that shows no lattice), the steps of the low-frequency positions
    :data:`PIXEL_POSITIONS` are estimated (:func:`_quantiser_step`), and the quality is the IJG luma table
    that fits them best. ``error`` is set so that :func:`table_quality_confidence` sees the mean relative
    error of those steps; ``exact`` is False (ten entries do not prove a table); ``source`` is ``"pixels"``.
    """
    rgb = np.asarray(rgb, dtype=np.float32)
    h, w = rgb.shape[:2]
    if min(h, w) < 64:
        return None
    y0, x0 = max(0, (h - max_side) // 16 * 8), max(0, (w - max_side) // 16 * 8)
    crop = np.clip(rgb[y0:y0 + max_side + 8, x0:x0 + max_side + 8, :3], 0.0, 1.0)
    y = np.round(crop * 255.0).astype(np.float64) @ np.array([0.299, 0.587, 0.114]) - 128.0
    steps: dict[tuple[int, int], int] = {}
    for oy, ox in dict.fromkeys([_grid_phase(y), (0, 0)]):
        d = _luma_dct(y, oy, ox, max_side)
        steps = {p: s for p in PIXEL_POSITIONS if (s := _quantiser_step(d[:, p[0], p[1]])) is not None}
        if len(steps) >= PIXEL_MIN_POSITIONS:
            break
    if len(steps) < PIXEL_MIN_POSITIONS:
        return None
    tables = _scaled_tables(STD_LUMA, True).reshape(100, 8, 8)
    rows, cols = np.array(list(steps)).T
    entries = tables[:, rows, cols]  # (100, positions)
    est = np.array(list(steps.values()), dtype=np.float64)
    rel = (np.abs(entries - est[None]) / entries).mean(1)
    best = int(np.argmin(rel))
    mean_entry = float(tables[best].mean())
    return JpegTables(quality=float(QUALITIES[best]), exact=False, error=float(rel[best]) * mean_entry, tables=1,
                      source="pixels")


def _open_bytes(source) -> io.BufferedIOBase:
    """A binary stream over ``source`` (a path or bytes-like). Opening a path raises OSError as open()."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source))
    if isinstance(source, (str, os.PathLike)):
        return open(source, "rb")
    raise TypeError(f"expected a path or bytes, got {type(source).__name__}")


def _subsampling(im) -> str | None:
    """Pillow's chroma subsampling of an open JPEG as "4:4:4" / "4:2:2" / "4:2:0", or None."""
    from PIL import JpegImagePlugin

    try:
        return _SUBSAMPLING_NAMES.get(JpegImagePlugin.get_sampling(im))
    except Exception:  # an odd component layout: leave it unknown
        return None


def _luma_first(im) -> dict[int, list[int]]:
    """The file's tables keyed so the luma table (the one the first component uses) comes first."""
    tables = dict(im.quantization)
    layers = getattr(im, "layer", None) or []
    luma_key = layers[0][3] if layers and len(layers[0]) > 3 else None
    if luma_key in tables and luma_key != min(tables):
        ordered = [tables[luma_key]] + [tables[k] for k in sorted(tables) if k != luma_key]
        return dict(enumerate(ordered))
    return tables


def read_jpeg_tables(source) -> JpegTables | None:
    """Read a JPEG's quantisation tables and estimate the IJG quality it was saved with.

    Args:
        source: a path (str or os.PathLike) or the file's bytes.

    Returns:
        A :class:`JpegTables` (with ``subsampling`` filled in where Pillow knows it), or None when the
        data is not a JPEG (PNG, TIFF, random bytes...), carries no quantisation tables, or is too
        corrupt to parse. Only the header is read; pixels are not decoded, so a JPEG truncated after
        its header still gives a result. No size limit applies (Pillow's decompression-bomb check is
        about decoding, which this does not do).

    Raises:
        OSError: a path that cannot be opened (missing, a folder, no permission), as ``open()``.
        TypeError: ``source`` is neither a path nor bytes.
    """
    from PIL import JpegImagePlugin

    with _open_bytes(source) as fp:
        try:
            # The JPEG plugin class directly: it rejects other formats with SyntaxError, reads the header
            # (DQT, SOF) without decoding, and skips Image.open's plugin search and bomb check.
            with JpegImagePlugin.JpegImageFile(fp) as im:
                tables = _luma_first(im)
                subsampling = _subsampling(im)
        except Exception:  # not a JPEG, or a corrupt header: Pillow raises many kinds here
            return None
    if not tables:
        return None
    try:
        result = quality_from_tables(tables)
    except ValueError:
        return None
    return JpegTables(result.quality, result.exact, result.error, result.tables, subsampling)


def table_quality_confidence(t: JpegTables) -> float:
    """How much to trust ``t.quality`` as evidence about the pixels' JPEG quality, in [0, 1].

    1.0 for an exact IJG match. Otherwise the luma error is taken relative to the size of the IJG luma
    entries at that quality (an error of 2 steps is large at q=95, where entries are 1-5, and nothing
    at q=10, where they are 80-255)::

        rel = t.error / mean(IJG luma table at t.quality)
        confidence = 0.95 * exp(-rel / 0.25)

    so a near-IJG table (rel 0.01) gives about 0.91, a table 10% off about 0.64, 25% off about 0.35.
    Inexact tables never reach 1.0 (at most 0.95, e.g. an exact luma with a non-IJG chroma table).

    The tables describe only the last save: a photo compressed hard and re-saved at high quality still
    shows the earlier artefacts, so a caller combining this with a pixel-based estimate should treat a
    table quality well above the pixel estimate as a re-save, not as a contradiction.
    """
    if t.exact:
        return 1.0
    q = int(np.clip(round(t.quality), 1, 100))
    mean_entry = float(_scaled_tables(STD_LUMA, True)[q - 1].mean())
    rel = max(float(t.error), 0.0) / mean_entry
    return float(CONFIDENCE_INEXACT_MAX * np.exp(-rel / CONFIDENCE_REL_SCALE))
