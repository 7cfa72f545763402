"""The :class:`Restorer`: a loaded network (:mod:`gir.restore.loading`) run on whole images of any size, tiled
when they do not fit in memory (:mod:`gir.restore.tiling`), with optional self-ensemble
(:mod:`gir.restore.ensemble`)."""
from __future__ import annotations

import gc
import os
from contextlib import contextmanager
from typing import Callable, Iterator, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gir.errors import GirError
from gir.models.base import CONTEXT_THUMBNAIL, view_grid
from gir.models.descriptor import ModelDescriptor
from gir.restore import memory
from gir.restore.ensemble import auto_passes, parse_ensemble, self_ensemble
from gir.restore.impulse import ImpulseStats, repair_impulses
from gir.restore.loading import half_dtype, load_cached, pick_device, wrap_module
from gir.restore.tiling import TileGrid, round_down, round_up, run_tiled

DEFAULT_OVERLAP = 32
MIN_TILE = 64
MAX_BATCH = 16


# ---------------------------------------------------------------------------------------------- restorer
def _parse_tile(tile) -> int | None:
    """'auto' -> None; an int >= 0 (0: never tile) -> itself."""
    if tile is None or (isinstance(tile, str) and tile.strip().lower() == "auto"):
        return None
    try:
        value = int(tile)
    except (TypeError, ValueError):
        raise GirError(f"tile must be 'auto' or a whole number of pixels, got {tile!r}") from None
    if value < 0:
        raise GirError(f"tile must be >= 0 (0 = no tiling), got {value}")
    return value


def as_rgb(image) -> np.ndarray:
    """An array (float HxWx3 in [0, 1]), an :class:`~gir.io.Image` or a path -> float32 HxWx3."""
    from gir.io import Image, read_image

    if isinstance(image, (str, os.PathLike)):
        image = read_image(image)
    if isinstance(image, Image):
        image = image.rgb
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"image must be an H x W x 3 array, got shape {arr.shape}")
    if arr.dtype.kind != "f":
        raise ValueError(f"image must be a float array in [0, 1], got dtype {arr.dtype}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"image is empty: shape {arr.shape}")
    return arr.astype(np.float32, copy=False)


class Restorer:
    """Runs a restoration network on whole images of any size, tiling when they do not fit in memory.

    model: a model name or checkpoint path (see :func:`resolve_model`; None = the shipped default network), or
        an ``nn.Module`` mapping B x 3 x H x W in [0, 1] to the same size. What the network needs (size
        multiple, image-level context, tiling policy) comes from its
        :class:`~gir.models.descriptor.ModelDescriptor`; ``descriptor`` gives one for a plain ``nn.Module``.
    device: "auto" (cuda > mps > cpu), "cpu", "cuda", "cuda:N" or "mps".
    tile: "auto" (from the memory budget and the model's measured memory need; untiled when the image
        fits), a tile side in pixels (rounded down to the model's size multiple), or 0 (untiled unless
        memory runs out).
    overlap: pixels shared by neighbouring tiles (rounded up to the size multiple, at most half a tile).
    half: bf16/fp16 autocast; None = on for CUDA, off otherwise.
    batch_size: "auto" (as many tiles per pass as the budget allows, at most 16) or a number.
    memory_budget: bytes a forward pass may use; None = :func:`gir.restore.memory.memory_budget`.
    impulse_repair: first replace salt-and-pepper samples when the image shows impulse noise
        (:mod:`gir.restore.impulse`; images without it pass untouched). ``last_impulse`` keeps the last
        image's :class:`~gir.restore.impulse.ImpulseStats` (None when off).

    ensemble: 1 (default), 2, 4 or 8: geometric self-ensemble, the mean of the restorations of the image flipped
        left-right (2), also upside-down (4), also transposed (8), each undone; costs that many passes. The
        image is first padded (edge) to a multiple of 16 at the bottom and right, so a flip keeps JPEG's 8 x 8
        and 16 x 16 block grid where it was. ``"auto"`` (`gir restore`'s default): per image, as many passes
        as cost no more than one pass over a 1 MP photo, at most 4 (:func:`auto_passes`): a 1 MP photo gets
        one, a 0.25 MP photo four.
    clip_input: clip the image to [0, 1] before the network (the default: photos are); False passes values
        outside it unchanged (float noise as the denoising benchmarks add it, which ``gir-denoiser`` was also
        trained on).

    scale: the output size over the input size, for an upscaling network (its descriptor's ``scales`` list
        what it can do; tiles are cut at the low resolution and blended at the high one). 1 for the rest.

    When a pass runs out of memory, the batch drops to one tile, then the tile side is halved (down to
    :data:`MIN_TILE`) and the image is done again; the smaller tile is remembered for later images.
    """

    def __init__(self, model=None, *, device="auto", tile="auto", overlap: int = DEFAULT_OVERLAP,
                 half: bool | None = None, batch_size="auto", memory_budget: int | None = None,
                 impulse_repair: bool = True, descriptor: ModelDescriptor | None = None, ensemble: int | str = 1,
                 clip_input: bool = True, scale: int = 1):
        self.device = pick_device(device)
        self.clip_input = bool(clip_input)
        self.ensemble = parse_ensemble(ensemble)
        if self.device.type == "cpu":
            from gir.utils.runtime import tune_allocator

            tune_allocator()
        if isinstance(model, nn.Module):
            self.model = wrap_module(model, self.device, descriptor)
        else:
            self.model = load_cached(model, self.device)
        self.scale = int(scale)
        scales = self.model.descriptor.scales
        if self.scale not in scales:
            can = "does not upscale" if scales == (1,) else "upscales x" + ", x".join(map(str, scales))
            raise GirError(f"model {self.model.name} {can}; x{scale} was asked for")
        self.tile = _parse_tile(tile)
        if int(overlap) < 0:
            raise GirError(f"overlap must be >= 0, got {overlap}")
        self.overlap = int(overlap)
        self.half = (self.device.type == "cuda") if half is None else bool(half)
        self.batch_size = None if batch_size in (None, "auto") else max(1, int(batch_size))
        self.memory_budget = memory_budget
        self._batch_limit: int | None = None
        self.impulse_repair = bool(impulse_repair)
        self.last_impulse: ImpulseStats | None = None

    @property
    def multiple(self) -> int:
        return self.model.multiple

    # --- the network on numpy tiles
    def _forward_tensor(self, x: torch.Tensor, context: torch.Tensor | None = None,
                        cond: torch.Tensor | None = None) -> torch.Tensor:
        args = (x,) if context is None else (x, context)  # plain nn.Modules take the tile only
        kwargs = {} if cond is None else {"cond": cond}
        if self.scale > 1:
            kwargs["scale"] = self.scale
        with torch.inference_mode():
            if self.half:
                with torch.autocast(self.device.type, dtype=half_dtype(self.device)):
                    return self.model.module(*args, **kwargs)
            return self.model.module(*args, **kwargs)

    def conditions(self, values: Mapping[str, float] | None) -> torch.Tensor | None:
        """1 x n encoded conditioning values for a conditioned network (:mod:`gir.models.conditioning`), from
        ``values`` by name; None for a network without conditioning inputs (``values`` is then ignored)."""
        names = self.model.descriptor.conditioning
        if not names:
            return None
        from gir.models.conditioning import encode

        vec = encode(names, dict(values or {}), where=f"model {self.model.name}")
        return torch.from_numpy(vec)[None].to(self.device)

    def _probe_forward(self, x: torch.Tensor) -> torch.Tensor:
        """A pass for the memory probe: a conditioned network gets mid-range values (memory does not depend
        on them)."""
        n = len(self.model.descriptor.conditioning)
        cond = torch.full((1, n), 0.5, device=self.device) if n else None
        return self._forward_tensor(x, cond=cond)

    def image_context(self, rgb: np.ndarray) -> torch.Tensor | None:
        """The network's image-level code (:meth:`gir.models.base.RestorationNet.image_context`), or None
        when it has none: one code from a thumbnail of the whole H x W x 3 image (long side at most
        CONTEXT_THUMBNAIL, cv2 area resampling, which stage 2 of the shipped model was measured with); for a
        net with ``context_view`` V, the mean of the codes of V x V full-resolution windows on a fixed grid
        (:func:`view_grid`), the scale its code was trained at; for networks with a context map, the map of
        the whole image padded to the size multiple (and by the net's ``context_halo`` cells), which
        :meth:`forward` crops per tile."""
        desc = self.model.descriptor
        if desc.context == "none":
            return None
        import cv2

        get = self.model.module.image_context
        h, w = rgb.shape[:2]
        is_map = desc.context == "map"
        if desc.context_view and not is_map:
            return self._view_context(rgb, get, desc.context_view)
        if is_map:
            m = self.multiple
            view = np.pad(rgb, ((0, (-h) % m), (0, (-w) % m), (0, 0)), mode="edge")  # as the net pads
        else:
            scale = min(1.0, CONTEXT_THUMBNAIL / max(h, w))
            view = rgb if scale == 1.0 else cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))),
                                                       interpolation=cv2.INTER_AREA)
        with torch.inference_mode():
            code = get(self._to_batch(view[None]))
        halo = desc.context_halo  # cells the net wants around each tile's own
        return F.pad(code, (halo,) * 4, mode="replicate") if halo else code

    def _view_context(self, rgb: np.ndarray, get, side: int, batch: int = 16) -> torch.Tensor:
        """1 x C: the mean of ``get``'s codes of the ``side``-px windows of :func:`view_grid` over ``rgb``."""
        corners = view_grid(rgb.shape[0], rgb.shape[1], side)
        codes = []
        with torch.inference_mode():
            for i in range(0, len(corners), batch):
                views = np.stack([rgb[y:y + side, x:x + side] for y, x in corners[i:i + batch]])
                codes.append(get(self._to_batch(views)).float())
        return torch.cat(codes).mean(0, keepdim=True)

    def _to_batch(self, arrays: np.ndarray) -> torch.Tensor:
        """B x H x W x 3 float32 numpy -> B x 3 x H x W tensor on the device, clipped to [0, 1] (unless
        ``clip_input`` is off)."""
        x = torch.from_numpy(np.ascontiguousarray(arrays)).to(self.device).permute(0, 3, 1, 2)
        return (x.clamp(0.0, 1.0) if self.clip_input else x).contiguous()

    def _tile_context(self, context: torch.Tensor, origins: list[tuple[int, int]], th: int, tw: int
                      ) -> torch.Tensor:
        """The cells of a context map under each tile (tiles start on multiples of the cell size), with the
        net's ``context_halo`` cells around them (the map was padded by as many in :meth:`image_context`)."""
        cell, halo = self.model.descriptor.context_cell, self.model.descriptor.context_halo
        ext = 2 * halo
        return torch.cat([context[:, :, y // cell:(y + th) // cell + ext, x // cell:(x + tw) // cell + ext]
                          for y, x in origins])

    def forward(self, tiles: np.ndarray, context: torch.Tensor | None = None, cond: torch.Tensor | None = None
                ) -> np.ndarray:
        """B x H x W x 3 float32 tiles (H, W multiples of the size multiple) -> the network's B x H x W x 3
        float32 outputs (not clipped; a new array). Inputs are clipped to [0, 1] on the way in. ``context``:
        the whole image's code from :meth:`image_context`, the same for every tile; ``cond``: the encoded
        conditioning values (:meth:`conditions`), the same for every tile."""
        x = self._to_batch(tiles)
        y = self._forward_tensor(x, context, cond)
        b, c, h, w = x.shape
        if y.shape != (b, c, h * self.scale, w * self.scale):
            size = "same-size" if self.scale == 1 else f"x{self.scale}"
            raise GirError(f"model {self.model.name} returned {tuple(y.shape)} for an input of {tuple(x.shape)}; "
                           f"gir restore needs a {size} B x 3 x H x W output")
        del x
        return y.float().permute(0, 2, 3, 1).cpu().numpy()

    # --- planning
    def memory_model(self) -> memory.MemoryModel:
        """Working memory of the network per pass (probed once per model, device and ``half``)."""
        known = self.model.memory_models.get((self.half, self.scale))
        if known is None:
            known = memory.probe_memory(self._probe_forward, self.device, self.multiple)
            self.model.memory_models[(self.half, self.scale)] = known
        return known

    def _budget(self) -> int:
        return int(self.memory_budget) if self.memory_budget else memory.memory_budget(self.device)

    def plan(self, height: int, width: int) -> tuple[TileGrid, int]:
        """The tile grid and batch size for an H x W image under the current settings and limits."""
        m = self.multiple
        hp, wp = round_up(height, m), round_up(width, m)
        need_probe = self.tile is None or (self.batch_size is None and self.tile != 0)
        need = self.memory_model() if need_probe else None
        budget = self._budget() if need_probe else 0
        max_pixels = need.max_pixels(budget) if need is not None else None
        if self.tile is None:
            th, tw = self._auto_tile(hp, wp, max_pixels)
        elif self.tile == 0:
            th, tw = hp, wp
        else:
            th = tw = max(m, round_down(self.tile, m))
        if self.model.tile_limit is not None:
            th, tw = min(th, self.model.tile_limit), min(tw, self.model.tile_limit)
        grid = TileGrid.build(height, width, th, tw, self.overlap, m)
        if self.batch_size is not None or need is None:
            batch = self.batch_size or 1
        else:
            batch = int(min(MAX_BATCH, max(1, budget // need.bytes_for(grid.th * grid.tw))))
        if self._batch_limit is not None:
            batch = min(batch, self._batch_limit)
        return grid, min(batch, len(grid))

    def _auto_tile(self, hp: int, wp: int, max_pixels: float) -> tuple[int, int]:
        """Largest tile (th, tw) of at most ``max_pixels``: the whole padded image when it fits; a full-height
        (full-width) strip when the image is narrow; else a square."""
        m = self.multiple
        if hp * wp <= max_pixels:
            return hp, wp
        side = max(MIN_TILE, round_down(int(max_pixels ** 0.5), m))
        if hp <= side:
            return hp, max(side, round_down(int(max_pixels // hp), m))
        if wp <= side:
            return max(side, round_down(int(max_pixels // wp), m)), wp
        return side, side

    # --- running
    def _shrink_after_oom(self, grid: TileGrid, batch: int) -> None:
        if batch > 1:
            self._batch_limit = 1
            return
        side = max(grid.th, grid.tw)
        floor = max(MIN_TILE, self.multiple)
        if side <= floor:
            raise GirError(f"out of memory on {self.device} even with {grid.th}x{grid.tw} tiles; free memory, "
                           f"use another --device or a smaller model")
        self.model.tile_limit = max(floor, round_down(side // 2, self.multiple))

    def __call__(self, image, progress: bool | str = False, conditions: Mapping[str, float] | None = None
                 ) -> np.ndarray:
        """Restore one image (see :func:`as_rgb` for what it may be) -> float32 HxWx3 in [0, 1].

        progress: show a tqdm bar over the tiles (a string is used as its label).
        conditions: for a conditioned network, the value of each of its conditioning inputs by name
            (``{"jpeg.quality": 30}``; the descriptor's ``conditioning`` lists them); ignored by others.
        """
        rgb = as_rgb(image)
        cond = self.conditions(conditions)
        if self.impulse_repair:
            rgb, self.last_impulse = repair_impulses(rgb)
        passes = self.passes(rgb.shape[0], rgb.shape[1])
        if passes == 1:
            return self._restore(rgb, progress, cond)
        return self_ensemble(rgb, lambda x: self._restore(x, progress, cond), passes)

    def passes(self, height: int, width: int) -> int:
        """Self-ensemble passes for an H x W image (``ensemble``, or :func:`auto_passes` for "auto")."""
        return auto_passes(height * width) if self.ensemble == "auto" else self.ensemble

    def _restore(self, rgb: np.ndarray, progress: bool | str = False, cond: torch.Tensor | None = None
                 ) -> np.ndarray:
        s = self.scale
        # the only full-size array made here; run_tiled accumulates into it
        out = np.empty((rgb.shape[0] * s, rgb.shape[1] * s, rgb.shape[2]), dtype=np.float32)
        context = self.image_context(rgb)
        is_map = context is not None and context.dim() == 4
        while True:
            grid, batch = self.plan(rgb.shape[0], rgb.shape[1])
            if is_map:
                def forward(tiles, origins, grid=grid):
                    return self.forward(tiles, self._tile_context(context, origins, grid.th, grid.tw), cond)
            else:
                def forward(tiles):
                    return self.forward(tiles, context, cond)
            try:
                with progress_bar(progress, len(grid)) as step:
                    run_tiled(rgb, grid, forward, batch, on_tiles=step, out=out, with_origins=is_map,
                              out_grid=grid.scaled(s))
                break
            except Exception as e:
                if not memory.is_oom(e):
                    raise
            # Outside the except block, so the failed pass's frames (and their tensors) are already freed.
            self._shrink_after_oom(grid, batch)
            _free_device_memory(self.device)
        np.clip(out, 0.0, 1.0, out=out)
        return out

    def describe(self) -> str:
        tile = "auto" if self.tile is None else ("off" if self.tile == 0 else str(self.tile))
        precision = f"autocast {str(half_dtype(self.device)).replace('torch.', '')}" if self.half else "float32"
        impulse = "" if self.impulse_repair else ", impulse repair off"
        ensemble = (", self-ensemble auto (up to 1 MP of passes)" if self.ensemble == "auto" else
                    f", self-ensemble x{self.ensemble}" if self.ensemble > 1 else "")
        scale = f", x{self.scale}" if self.scale > 1 else ""
        return (f"model {self.model.name}{scale} on {self.device} ({precision}), tile {tile}, overlap {self.overlap}"
                f"{impulse}{ensemble}")


def _free_device_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


@contextmanager
def progress_bar(progress: bool | str, total: int) -> Iterator[Callable[[int], None]]:
    """Yield ``step(n)`` advancing a tqdm bar over ``total`` tiles; a no-op when disabled or one tile."""
    if not progress or total <= 1:
        yield lambda n: None
        return
    from tqdm import tqdm

    label = progress if isinstance(progress, str) else "restore"
    with tqdm(total=total, desc=label, unit="tile", leave=False) as bar:
        yield bar.update
