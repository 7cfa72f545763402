"""The inpainting expert's fill: what goes into the pixels the scratch detector marks.

:func:`network_fill` runs the shipped fill network ``gir-inpaint`` (a ``fill_unet``, :mod:`gir.models.masknet`,
trained by ``configs/experts/inpaint.yaml``) on the tiles that hold part of the hole, and returns every pixel
outside the hole exactly. :func:`gir.restore.classical.inpaint` (biharmonic interpolation) is the fill where
that network is not installed.
"""
from __future__ import annotations

import numpy as np

FILL = "gir-inpaint"
TILE = 512  # px: the network runs on tiles this size (plus the margin), only those that hold hole pixels
MARGIN = 96  # px of context around each tile (as the detector's, gir.analysis.scratches.MARGIN)


def network_fill(rgb: np.ndarray, hole: np.ndarray, weights: str = FILL, device: str = "cpu") -> np.ndarray:
    """``rgb`` (float32 HxWx3 in [0, 1]) with the pixels of ``hole`` (bool HxW) replaced by the fill network's;
    the other pixels are returned exactly."""
    import torch

    from gir.restore.loading import load_cached
    from gir.restore.tiling import margin_tiles

    hole = np.asarray(hole, bool)
    out = np.array(rgb, np.float32, copy=True)
    if not hole.any():
        return out
    net = load_cached(weights, torch.device(device)).module.eval()
    x = np.concatenate([np.asarray(rgb, np.float32), hole[..., None].astype(np.float32)], axis=2)
    for t in margin_tiles(*hole.shape, TILE, MARGIN):
        if not hole[t.core].any():
            continue
        window = torch.from_numpy(np.ascontiguousarray(x[t.window].transpose(2, 0, 1)))[None].to(device)
        with torch.inference_mode():
            filled = net(window).float()[0].permute(1, 2, 0).cpu().numpy()
        out[t.core] = filled[t.inner]
    return np.where(hole[..., None], np.clip(out, 0.0, 1.0), rgb).astype(np.float32)
