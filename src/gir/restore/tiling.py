"""Tiled inference: cut an image into overlapping tiles, run a network on each, blend the results.

Geometry (per axis, length L, size multiple m of the network, tile T and overlap O multiples of m):

* The image is virtually extended to Lp = ceil(L / m) * m by repeating its last row / column (replicate), as
  :class:`~gir.models.base.RestorationNet` pads itself, so a single tile covering the image gives exactly the
  untiled result. Tiles are gathered with clamped indices; no padded copy of the image is made.
* Tile starts are multiples of m (a network that downsamples by m sees the same pixel phase as in an untiled
  pass), spread evenly from 0 to Lp - T with every neighbour overlap at least O.
* Each tile is weighted by a separable window: 1 inside, a raised-cosine ramp 0.5 - 0.5 cos(pi (k + 0.5) / n)
  over the n pixels it shares with a neighbour. The per-axis windows are normalised so that they sum to 1 at
  every position, hence their products over the 2-D grid do too: results are accumulated straight into one
  float32 output array (no weight accumulator, no normalisation pass).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np


def round_up(n: int, m: int) -> int:
    return -(-int(n) // m) * m


def round_down(n: int, m: int) -> int:
    return int(n) // m * m


def tile_starts(length: int, tile: int, overlap: int, multiple: int = 1) -> list[int]:
    """Start offsets of the tiles covering ``[0, length)`` (length, tile, overlap multiples of ``multiple``).

    One tile (start 0) when ``tile >= length``; otherwise the fewest tiles whose neighbours overlap by at
    least ``overlap``, spread evenly, all starts multiples of ``multiple`` and the last one at length - tile.
    """
    if tile >= length:
        return [0]
    stride = tile - overlap
    if stride <= 0:
        raise ValueError(f"overlap {overlap} must be smaller than the tile {tile}")
    n = 1 + math.ceil((length - tile) / stride)
    span = (length - tile) // multiple  # in units of `multiple`; exact because both are multiples
    # Rounding the ideal positions to the grid moves a gap by at most one unit, and the ideal gap is at most
    # stride / multiple units (an integer), so no gap exceeds the stride.
    return [multiple * ((2 * i * span + n - 1) // (2 * (n - 1))) for i in range(n)]  # round half up


def balanced_tile(length: int, tile: int, overlap: int, multiple: int = 1) -> int:
    """The smallest tile (a multiple of ``multiple``) that covers ``length`` with as few tiles as ``tile``
    does: n tiles of t pixels with overlap O cover n t - (n - 1) O pixels, so t = (length + (n-1) O) / n,
    rounded up. Avoids computing far more pixels than the image has (up to 30 % on a 24 MP photo)."""
    if tile >= length:
        return length
    n = 1 + math.ceil((length - tile) / (tile - overlap))
    return min(tile, round_up(math.ceil((length + (n - 1) * overlap) / n), multiple))


def raised_cosine(n: int) -> np.ndarray:
    """Rising ramp of n weights in (0, 1): r[k] = 0.5 - 0.5 cos(pi (k + 0.5) / n); r[k] + r[n-1-k] = 1."""
    k = np.arange(n, dtype=np.float64)
    return 0.5 - 0.5 * np.cos(np.pi * (k + 0.5) / n)


def axis_weights(starts: list[int], tile: int, length: int) -> list[np.ndarray]:
    """Blending weights (float32, ``tile`` long) of each tile along one axis, summing to 1 at each position.

    A tile ramps up over the pixels it shares with its predecessor and down over those it shares with its
    successor (raised cosine), and is flat elsewhere, including at the image borders.
    """
    raw = []
    for i, s in enumerate(starts):
        w = np.ones(tile, dtype=np.float64)
        if i > 0:
            shared = starts[i - 1] + tile - s
            w[:shared] = np.minimum(w[:shared], raised_cosine(shared))
        if i + 1 < len(starts):
            shared = s + tile - starts[i + 1]
            w[tile - shared:] = np.minimum(w[tile - shared:], raised_cosine(shared)[::-1])
        raw.append(w)
    total = np.zeros(max(length, starts[-1] + tile), dtype=np.float64)
    for s, w in zip(starts, raw):
        total[s:s + tile] += w
    return [(w / total[s:s + tile]).astype(np.float32) for s, w in zip(starts, raw)]


def edge_indices(start: int, size: int, length: int) -> np.ndarray:
    """Indices ``start .. start+size-1`` into an axis of ``length``, clamped to ``[0, length)`` (the edge
    sample repeated, like ``torch.nn.functional.pad(mode='replicate')``) where they run past either end."""
    return np.clip(np.arange(start, start + size), 0, length - 1)


@dataclass(frozen=True)
class TileGrid:
    """Where the tiles of an H x W image go: tile size (th, tw), starts per axis and blending windows."""

    height: int
    width: int
    th: int
    tw: int
    ys: tuple[int, ...]
    xs: tuple[int, ...]
    wy: tuple[np.ndarray, ...]
    wx: tuple[np.ndarray, ...]

    @classmethod
    def build(cls, height: int, width: int, tile_h: int, tile_w: int, overlap: int, multiple: int) -> "TileGrid":
        """Tiles of at most tile_h x tile_w (rounded down to ``multiple``, at least one ``multiple``) with
        neighbour overlap >= ``overlap`` (rounded up to ``multiple``, capped at half the tile); then shrunk
        to the smallest size that needs no more tiles (:func:`balanced_tile`)."""
        m = max(1, int(multiple))
        hp, wp = round_up(height, m), round_up(width, m)
        th = min(hp, max(m, round_down(tile_h, m)))
        tw = min(wp, max(m, round_down(tile_w, m)))
        ov_h = min(round_up(overlap, m), round_down(th // 2, m))
        ov_w = min(round_up(overlap, m), round_down(tw // 2, m))
        th, tw = balanced_tile(hp, th, ov_h, m), balanced_tile(wp, tw, ov_w, m)
        ys, xs = tile_starts(hp, th, ov_h, m), tile_starts(wp, tw, ov_w, m)
        return cls(height, width, th, tw, tuple(ys), tuple(xs), tuple(axis_weights(ys, th, hp)),
                   tuple(axis_weights(xs, tw, wp)))

    def __len__(self) -> int:
        return len(self.ys) * len(self.xs)

    def scaled(self, scale: int) -> "TileGrid":
        """The same tiles in the coordinates of an image ``scale`` times larger (where an upscaling network's
        outputs land): every size and start times ``scale``, the blending windows recomputed there, so the
        overlap of the outputs is ``scale`` times the input overlap."""
        if scale == 1:
            return self
        ys, xs = tuple(y * scale for y in self.ys), tuple(x * scale for x in self.xs)
        th, tw = self.th * scale, self.tw * scale
        hp, wp = max(self.height * scale, ys[-1] + th), max(self.width * scale, xs[-1] + tw)
        return TileGrid(self.height * scale, self.width * scale, th, tw, ys, xs,
                        tuple(axis_weights(list(ys), th, hp)), tuple(axis_weights(list(xs), tw, wp)))

    def positions(self) -> Iterator[tuple[int, int]]:
        """(row index, column index) of every tile, row by row."""
        for i in range(len(self.ys)):
            for j in range(len(self.xs)):
                yield i, j

    def gather(self, rgb: np.ndarray, i: int, j: int) -> np.ndarray:
        """The th x tw x C input tile (i, j), edge-padded past the image borders (a view when inside)."""
        y0, x0 = self.ys[i], self.xs[j]
        if y0 + self.th <= self.height and x0 + self.tw <= self.width:
            return rgb[y0:y0 + self.th, x0:x0 + self.tw]
        rows = edge_indices(y0, self.th, self.height)
        cols = edge_indices(x0, self.tw, self.width)
        return rgb[np.ix_(rows, cols)]

    def accumulate(self, out: np.ndarray, pred: np.ndarray, i: int, j: int) -> None:
        """Add the window-weighted th x tw x C prediction of tile (i, j) into ``out`` (in place); the part
        that lies in the padded border is dropped."""
        y0, x0 = self.ys[i], self.xs[j]
        vh, vw = min(self.th, self.height - y0), min(self.tw, self.width - x0)
        region = out[y0:y0 + vh, x0:x0 + vw]
        weighted = pred[:vh, :vw]
        weighted *= self.wy[i][:vh, None, None]
        weighted *= self.wx[j][None, :vw, None]
        region += weighted


def run_tiled(rgb: np.ndarray, grid: TileGrid, forward: Callable[..., np.ndarray], batch: int = 1,
              on_tiles: Callable[[int], None] | None = None, out: np.ndarray | None = None,
              with_origins: bool = False, out_grid: TileGrid | None = None) -> np.ndarray:
    """Blend ``forward`` over the tiles of ``grid``.

    rgb: H x W x C float32 image. forward: B x th x tw x C float32 tiles -> B x th x tw x C float32 results
        (a writable array the caller may overwrite). batch: tiles per forward call. on_tiles(n): called after
        every forward with the number of tiles done. out: optional H x W x C float32 array to accumulate
        into (it is zeroed first); a new one is made otherwise. with_origins: call ``forward(tiles, origins)``
        with the (y, x) pixel of each tile's top-left corner. out_grid: where the results land when they are
        larger than the tiles (an upscaling network: ``grid.scaled(s)``); the output is then
        out_grid.height x out_grid.width x C.
    Returns the blended H x W x C float32 result (not clipped).
    """
    dest = grid if out_grid is None else out_grid
    c = rgb.shape[2]
    if out is None:
        out = np.zeros((dest.height, dest.width, c), dtype=np.float32)
    else:
        out[...] = 0.0
    todo = list(grid.positions())
    for k in range(0, len(todo), max(1, int(batch))):
        chunk = todo[k:k + max(1, int(batch))]
        tiles = np.stack([grid.gather(rgb, i, j) for i, j in chunk])
        preds = forward(tiles, [(grid.ys[i], grid.xs[j]) for i, j in chunk]) if with_origins else forward(tiles)
        del tiles
        for (i, j), pred in zip(chunk, preds):
            dest.accumulate(out, pred, i, j)
        if on_tiles is not None:
            on_tiles(len(chunk))
    return out


@dataclass(frozen=True)
class MarginTile:
    """One tile of :func:`margin_tiles`: ``core`` (the (rows, cols) slices of the image it answers for) and
    ``window`` (the slices the network reads: the core and up to ``margin`` px more on every side)."""

    core: tuple[slice, slice]
    window: tuple[slice, slice]

    @property
    def inner(self) -> tuple[slice, slice]:
        """The core's slices within the window."""
        (cy, cx), (wy, wx) = self.core, self.window
        return (slice(cy.start - wy.start, cy.stop - wy.start), slice(cx.start - wx.start, cx.stop - wx.start))


def margin_tiles(h: int, w: int, tile: int, margin: int) -> Iterator[MarginTile]:
    """An H x W image cut into ``tile`` x ``tile`` cores (smaller at the right and bottom), row by row, each with
    a window ``margin`` px wider on every side, clipped at the border: for a network with only local layers,
    run on each window and keep each core (no blending)."""
    for y in range(0, h, tile):
        for x in range(0, w, tile):
            core = (slice(y, min(h, y + tile)), slice(x, min(w, x + tile)))
            window = (slice(max(0, y - margin), min(h, y + tile + margin)),
                      slice(max(0, x - margin), min(w, x + tile + margin)))
            yield MarginTile(core, window)
