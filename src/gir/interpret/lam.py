"""Paper 000's attribution analysis: the local attribution map (LAM) of a restoration network and its diffusion
index (DI). Paper 000 (sec. 6, "Attribution analysis", Figure 9 and Table 5) uses LAM as defined in its
reference [36] (Gu & Dong, "Interpreting super-resolution networks with local attribution maps", CVPR 2021);
the formulas below are that method's, written for networks whose output has the input's size.

* Target. For an output box B = (x, y, w, h) the scalar is a gradient detector of the output inside B:
  ``D(F(I)) = sum over (r, c) in B and channels of |F(I)[r, c+1] - F(I)[r, c]| + |F(I)[r+1, c] - F(I)[r, c]|``
  (forward differences; a difference whose neighbour lies outside the image counts 0). It asks "which input
  pixels make the edges and textures of this patch", not "which make its intensities". LAM's detector is the
  gradient magnitude; the L1 form used here has no undefined derivative at zero gradient.
* Baseline and path. The baseline is the image blurred by a Gaussian of ``sigma_max`` px; the progressive
  blurring path is ``gamma(alpha) = G(sigma(alpha)) * I`` with ``sigma(alpha) = (1 - alpha) * sigma_max``, so
  gamma(0) is the baseline and gamma(1) = I (sigma = 0 is the identity). Gaussian blur: scipy's
  ``gaussian_filter`` per channel, reflect border, truncated at 4 sigma.
* Path-integrated gradients, as a right Riemann sum over ``alpha_k = k / steps``:
  ``A = sum_{k=1..steps} grad_I D(F(gamma(alpha_k))) * (gamma(alpha_k) - gamma(alpha_{k-1}))`` (H x W x 3).
  Completeness: ``sum(A) ~ D(F(I)) - D(F(I'))`` (:attr:`LamResult.completeness_gap` measures the error).
* Map. As in LAM, each pixel's attribution is the magnitude of its channel sum, ``|sum_c A[:, :, c]|``; the
  map returned is that, divided by its total (non-negative, sums to 1: each pixel's share).
* Diffusion index. The Gini coefficient of the map, ``G = sum_i sum_j |g_i - g_j| / (2 n^2 mean(g))`` over
  the n pixels (0 for a uniform map, (n - 1) / n for a one-hot map), and ``DI = (1 - G) * 100``, LAM's
  definition: a higher DI means a wider range of input pixels contributes, which is how paper 000 reads it
  (sec. 6, line 283 of the plain-text copy; its Table 5 reports DI between 7.9 and 22.4). Paper 000 itself
  gives no formula for LAM or DI, only the reference.

Images are float32 H x W x 3 RGB in [0, 1]; boxes are (x, y, w, h) in pixels, x and y from the top-left corner.
Everything is deterministic: the same model, image, box and settings give the same bytes (for a fixed
``batch``; batches of different sizes may round differently).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from gir.errors import GirError
from gir.interpret.features import _bar, _device_of
from gir.io import write_figure

DEFAULT_STEPS = 50  # path points of the Riemann sum (configurable: --steps)
DEFAULT_SIGMA_MAX = 4.0  # px; blur of the baseline (configurable: --sigma-max)
DEFAULT_BATCH = 4  # path points per forward/backward pass
GAUSS_TRUNCATE = 4.0


# ------------------------------------------------------------------------------------------------- boxes
def parse_box(text: str) -> tuple[int, int, int, int]:
    """``"x,y,w,h"`` -> (x, y, w, h) integers; GirError naming the problem for anything else (sizes and
    bounds are checked against an image by :func:`check_box`)."""
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) != 4 or not all(parts):
        raise GirError(f"--box {text!r}: expected x,y,w,h (four integers separated by commas)")
    try:
        x, y, w, h = (int(p) for p in parts)
    except ValueError:
        raise GirError(f"--box {text!r}: expected x,y,w,h as integers") from None
    return x, y, w, h


def check_box(box: Sequence[int], height: int, width: int) -> tuple[int, int, int, int]:
    """``box`` (x, y, w, h) as ints if it lies inside a ``width`` x ``height`` image with a positive size;
    GirError naming the problem otherwise."""
    try:
        x, y, w, h = (int(v) for v in box)
    except (TypeError, ValueError):
        raise GirError(f"box {box!r}: expected four integers x, y, w, h") from None
    if w < 1 or h < 1:
        raise GirError(f"box {x},{y},{w},{h}: width and height must be positive")
    if x < 0 or y < 0:
        raise GirError(f"box {x},{y},{w},{h}: x and y must be >= 0")
    if x + w > width or y + h > height:
        raise GirError(f"box {x},{y},{w},{h} extends outside the {width}x{height} image "
                       f"(needs x + w <= {width} and y + h <= {height})")
    return x, y, w, h


# --------------------------------------------------------------------------------------------- the path
def _check_image(image) -> np.ndarray:
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3 or min(arr.shape[:2]) < 2:
        raise GirError(f"LAM needs an H x W x 3 RGB image of at least 2 x 2 px, got shape {tuple(arr.shape)}")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(arr).all():
        raise GirError("LAM: the image holds NaN or infinite values")
    return arr


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """``image`` (float32 H x W x 3) blurred by an isotropic Gaussian of ``sigma`` px per channel (reflect
    border, truncated at 4 sigma); ``sigma <= 0`` returns a copy."""
    img = np.asarray(image, dtype=np.float32)
    if sigma <= 0:
        return img.copy()
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(img, sigma=(float(sigma), float(sigma), 0.0), mode="reflect",
                           truncate=GAUSS_TRUNCATE).astype(np.float32)


def path_point(image: np.ndarray, k: int, steps: int, sigma_max: float) -> np.ndarray:
    """Point k of the progressive blurring path sampled at ``alpha_k = k / steps``: ``image`` blurred with
    sigma = (1 - alpha_k) * sigma_max (k = 0: the baseline; k = steps: the image itself)."""
    return gaussian_blur(image, (1.0 - k / steps) * sigma_max)


def blur_path(image: np.ndarray, steps: int = DEFAULT_STEPS, sigma_max: float = DEFAULT_SIGMA_MAX) -> np.ndarray:
    """The whole path: a (steps + 1) x H x W x 3 float32 array of :func:`path_point` k = 0..steps."""
    img = _check_image(image)
    steps = _check_steps(steps)
    sigma_max = _check_sigma(sigma_max)
    return np.stack([path_point(img, k, steps, sigma_max) for k in range(steps + 1)])


def _check_steps(steps) -> int:
    if isinstance(steps, bool) or int(steps) != steps or int(steps) < 1:
        raise GirError(f"LAM steps must be a positive integer, got {steps!r}")
    return int(steps)


def _check_sigma(sigma_max) -> float:
    s = float(sigma_max)
    if not np.isfinite(s) or s <= 0:
        raise GirError(f"LAM sigma_max must be a positive number of pixels, got {sigma_max!r}")
    return s


# ------------------------------------------------------------------------------------------ the detector
def gradient_detector(output, box: Sequence[int]):
    """Per-sample ``D``: the L1 forward-difference gradient magnitude of B x C x H x W ``output`` summed over
    the channels and the pixels of ``box`` (x, y, w, h); a B-vector (differentiable)."""
    import torch.nn.functional as F

    x, y, w, h = box
    dx = F.pad((output[..., :, 1:] - output[..., :, :-1]).abs(), (0, 1, 0, 0))
    dy = F.pad((output[..., 1:, :] - output[..., :-1, :]).abs(), (0, 0, 0, 1))
    return (dx + dy)[..., y:y + h, x:x + w].sum(dim=(1, 2, 3))


def _integrate(model, img: np.ndarray, box, steps: int, sigma_max: float, device, batch: int,
               progress: bool) -> tuple[np.ndarray, np.ndarray]:
    """(the signed attribution A as float64 H x W x 3, D at path points 0..steps). The path is generated
    ``batch`` points at a time, so memory does not grow with ``steps``."""
    import torch

    signed = np.zeros(img.shape, dtype=np.float64)
    values = np.zeros(steps + 1, dtype=np.float64)
    prev = None  # the path point before the current one
    for s in _bar(range(0, steps + 1, batch), "lam", "batch", progress):
        ks = range(s, min(s + batch, steps + 1))
        pts = np.stack([path_point(img, k, steps, sigma_max) for k in ks])
        x = torch.from_numpy(pts).permute(0, 3, 1, 2).contiguous().to(device).requires_grad_(True)
        out = model(x)
        if not isinstance(out, torch.Tensor) or out.shape != x.shape:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise GirError(f"LAM needs a network whose output has its input's shape {tuple(x.shape)}, got {got}")
        d = gradient_detector(out, box)
        (g,) = torch.autograd.grad(d.sum(), x)
        g = g.detach().permute(0, 2, 3, 1).double().cpu().numpy()
        values[s:s + len(ks)] = d.detach().double().cpu().numpy()
        for i, k in enumerate(ks):
            cur = pts[i].astype(np.float64)
            if k >= 1:  # right Riemann sum: the gradient at alpha_k times gamma(alpha_k) - gamma(alpha_{k-1})
                signed += g[i] * (cur - prev)
            prev = cur
    return signed, values


# -------------------------------------------------------------------------------------------- Gini / DI
def gini(values) -> float:
    """Gini coefficient of the non-negative ``values`` (any shape, flattened):
    ``sum_i sum_j |g_i - g_j| / (2 n^2 mean(g))``, computed from the sorted values as
    ``sum_i (2 i - n - 1) g_(i) / (n sum(g))``. 0 for equal values, (n - 1) / n for one non-zero value;
    0 for an all-zero input. GirError for negative or non-finite values."""
    g = np.sort(np.asarray(values, dtype=np.float64).ravel())
    if g.size == 0:
        raise GirError("the Gini coefficient needs at least one value")
    if not np.isfinite(g).all() or g[0] < 0:
        raise GirError("the Gini coefficient needs finite, non-negative values")
    total = g.sum()
    if total <= 0:
        return 0.0
    n = g.size
    rank = np.arange(1, n + 1, dtype=np.float64)
    return float(np.sum((2 * rank - n - 1) * g) / (n * total))


def diffusion_index(attribution) -> float:
    """LAM's diffusion index of an attribution map: ``(1 - gini(map)) * 100`` (higher = more pixels used)."""
    return (1.0 - gini(attribution)) * 100.0


# ------------------------------------------------------------------------------------------------ LAM
@dataclass
class LamResult:
    """One local attribution map.

    ``attribution``: float32 H x W, non-negative, sums to 1 (each input pixel's share); ``gini`` and
    ``diffusion_index`` = (1 - gini) * 100 of that map; ``box``: (x, y, w, h) of the analysed output patch;
    ``objective`` = D(F(I)) and ``baseline_objective`` = D(F(I')) of the detector; ``attribution_sum``: the sum
    of the signed, un-normalised attribution (~ objective - baseline_objective by completeness)."""

    attribution: np.ndarray
    gini: float
    diffusion_index: float
    box: tuple[int, int, int, int]
    steps: int
    sigma_max: float
    objective: float
    baseline_objective: float
    attribution_sum: float

    @property
    def completeness_gap(self) -> float:
        """|sum(A) - (D(F(I)) - D(F(I')))| relative to |D(F(I)) - D(F(I'))|: the Riemann sum's error
        (shrinks as ``steps`` grows)."""
        delta = self.objective - self.baseline_objective
        return abs(self.attribution_sum - delta) / max(abs(delta), 1e-12)

    def summary(self) -> dict[str, Any]:
        """JSON-ready: everything but the map; ``peak``: [x, y] of the map's largest share."""
        return {"box": list(self.box), "diffusion_index": self.diffusion_index, "gini": self.gini,
                "steps": self.steps, "sigma_max": self.sigma_max, "objective": self.objective,
                "baseline_objective": self.baseline_objective, "attribution_sum": self.attribution_sum,
                "completeness_gap": self.completeness_gap,
                "peak": list(map(int, np.unravel_index(int(np.argmax(self.attribution)),
                                                       self.attribution.shape)))[::-1]}


def lam(model, image: np.ndarray, box: Sequence[int], *, steps: int = DEFAULT_STEPS,
        sigma_max: float = DEFAULT_SIGMA_MAX, device=None, batch: int = DEFAULT_BATCH,
        progress: bool = False) -> LamResult:
    """The local attribution map of ``model`` for the output patch ``box`` (x, y, w, h) of float32 H x W x 3
    ``image`` in [0, 1] (see the module docstring for the formulas).

    ``model``: an ``nn.Module`` mapping B x 3 x H x W to the same shape (every registered architecture does);
    it runs in eval mode (its mode is restored afterwards) and its weights get no ``.grad``. ``steps``: path
    points of the Riemann sum; ``sigma_max``: blur of the baseline in px; ``device``: where to run (None: the
    model's device; the model must already be there); ``batch``: path points per pass. GirError (one line) for
    a bad image, box or setting, or an attribution that is zero everywhere (the patch does not change along
    the path, e.g. a flat region)."""
    import torch

    from gir.restore.loading import pick_device  # torch: loaded when an attribution is computed

    img = _check_image(image)
    h, w = img.shape[:2]
    box = check_box(box, h, w)
    steps, sigma_max = _check_steps(steps), _check_sigma(sigma_max)
    if isinstance(batch, bool) or int(batch) < 1:
        raise GirError(f"LAM batch must be a positive integer, got {batch!r}")
    dev = _device_of(model) if device is None else pick_device(device)
    if device is not None and _device_of(model).type != dev.type:
        raise GirError(f"LAM: the model is on {_device_of(model)}, not on the requested device {dev}")
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            signed, values = _integrate(model, img, box, steps, sigma_max, dev, int(batch), progress)
    finally:
        model.train(was_training)
    pixel = np.abs(signed.sum(axis=2))
    total = pixel.sum()
    if not np.isfinite(total):
        raise GirError("LAM: the attribution is not finite (the network gives NaN or infinite gradients)")
    if total <= 0:
        raise GirError(f"LAM: the attribution is zero everywhere for box {','.join(map(str, box))}: the patch's "
                       f"output gradients do not change along the blur path (flat region?); pick a textured box")
    attribution = (pixel / total).astype(np.float32)
    g = gini(attribution)
    return LamResult(attribution=attribution, gini=g, diffusion_index=(1.0 - g) * 100.0, box=box, steps=steps,
                     sigma_max=sigma_max, objective=float(values[-1]), baseline_objective=float(values[0]),
                     attribution_sum=float(signed.sum()))


local_attribution_map = lam  # the name ``gir.interpret`` exports (there, ``lam`` is this module)


# ----------------------------------------------------------------------------------------------- figure
def lam_figure(image: np.ndarray, result: LamResult, path: str | Path, title: str = "") -> Path:
    """A PNG at ``path`` (parent folders created; written to a temporary name and moved into place): left, the
    image with the analysed box in red; right, the attribution (divided by its maximum) as a heat map over a
    grey copy of the image, with the box; the DI and Gini in the title (after ``title``, if given). Drawn on
    matplotlib's Agg canvas. Returns the path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    img = np.clip(_check_image(image), 0.0, 1.0)
    amap = np.asarray(result.attribution, dtype=np.float64)
    if amap.shape != img.shape[:2]:
        raise GirError(f"lam_figure: the attribution map {amap.shape} does not match the image {img.shape[:2]}")
    heat = amap / max(float(amap.max()), 1e-12)
    grey = img @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    h, w = img.shape[:2]
    fig = Figure(figsize=(8, 4.4 * h / max(w, 1) + 0.6), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    axes[0].imshow(img, interpolation="nearest")
    axes[0].set_title("input and output patch", fontsize=9)
    axes[1].imshow(grey, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    shown = axes[1].imshow(heat, cmap="jet", alpha=0.6, vmin=0, vmax=1, interpolation="nearest")
    axes[1].set_title("attribution (/ max)", fontsize=9)
    fig.colorbar(shown, ax=axes[1], fraction=0.046, pad=0.04)
    x, y, bw, bh = result.box
    for ax in axes:
        ax.add_patch(Rectangle((x - 0.5, y - 0.5), bw, bh, fill=False, edgecolor="red", linewidth=1.5))
        ax.set_xticks([])
        ax.set_yticks([])
    head = f"{title}: " if title else ""
    fig.suptitle(f"{head}LAM  DI = {result.diffusion_index:.2f}  (Gini {result.gini:.4f})", fontsize=10)
    fig.tight_layout()
    return write_figure(fig, path, format="png")
