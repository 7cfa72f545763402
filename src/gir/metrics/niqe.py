"""NIQE, the no-reference Natural Image Quality Evaluator (Mittal, Soundararajan & Bovik 2013).

NIQE is the distance between a multivariate Gaussian (MVG) fitted to natural-scene-statistics features of
the test image and an MVG fitted to the same features of pristine photos. Lower is better.

Pipeline (all in float64):

- Luminance: BT.601 luma on the 0-255 scale, ``255 * rgb_to_y(img)`` = 16 + 65.481 R + 128.553 G + 24.966 B
  (MATLAB ``rgb2ycbcr`` Y, range 16..235, not rounded; see :func:`gir.metrics.rgb_to_y`). Gray input is
  taken as R = G = B. The image is cropped (bottom/right) to whole patches.
- Two scales: the image and its half-size version, made with MATLAB ``imresize(I, 0.5)`` (bicubic, a = -0.5,
  kernel widened by 2 for antialiasing, symmetric borders; :func:`halve`).
- MSCN coefficients (I - mu) / (sigma + 1), with mu and sigma the local mean and standard deviation under a
  7x7 Gaussian window (sigma 7/6, replicated borders).
- Per P x P patch (P = 96 by default; P/2 at the half scale, covering the same area) and per scale,
  18 features: GGD shape and variance of the MSCN coefficients, then for each neighbour product (horizontal,
  vertical, main diagonal, anti-diagonal; neighbours wrap around inside the patch) the AGGD shape, mean,
  left variance and right variance. 36 features per patch. Shapes are found by moment matching on the grid
  0.2, 0.201, ..., 10. A patch whose statistics are undefined (a flat patch: no positive or no negative
  products) gives NaN features and is left out of the MVG fit, as MATLAB's ``nanmean``/``nancov`` would.
- Pristine model: the features of the patches whose sharpness (mean local sigma at full scale) exceeds
  ``sharpness_threshold`` (0.75) times the sharpest patch of the same image, pooled over many clean photos;
  mean and covariance (N - 1 normalised).
- Score: the test image's features from ALL its patches give (nu2, S2); NIQE =
  sqrt((nu1 - nu2)^T pinv((S1 + S2) / 2) (nu1 - nu2)), pinv with MATLAB's tolerance (36 eps ||A||).

The shipped model ``niqe_pristine.npz`` (next to this file) was fitted by this project, not taken from the
authors, so absolute values differ from the published MATLAB model's; rankings are what matter. It was made
with (from the repository root, on all 571 photos of the shared training set: BSDS500 train+test, Sun-Hays80,
T91; images with less than one 96x96 patch per side are skipped and counted in the provenance)::

    from gir.metrics.niqe import fit_command
    fit_command(["/work/shared/data/train"], "src/gir/metrics/niqe_pristine.npz")

which is ``gir bench niqe-fit /work/shared/data/train -o src/gir/metrics/niqe_pristine.npz`` on the CLI.

Needs numpy and OpenCV only (fitting from files also uses :mod:`gir.io` and tqdm).
"""
from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import cv2
import numpy as np

from gir.errors import GirError
from gir.metrics.color import rgb_to_y
from gir.metrics.fidelity import gaussian_window

PATCH_SIZE = 96
SHARPNESS_THRESHOLD = 0.75
MSCN_WIN = 7
MSCN_SIGMA = 7.0 / 6.0
MSCN_C = 1.0
N_FEATURES = 36
FORMAT_VERSION = "1"
DEFAULT_MODEL_PATH = Path(__file__).with_name("niqe_pristine.npz")

# Moment-matching grid for the GGD/AGGD shape: 0.2, 0.201, ..., 10 (9801 values).
SHAPE_GRID = np.round(0.2 + 0.001 * np.arange(9801), 3)
# (dr, dc) for MATLAB circshift: the product pairs x(i, j) with x(i - dr, j - dc).
NEIGHBOUR_SHIFTS = ((0, 1), (1, 0), (1, 1), (-1, 1))
# imresize(., 0.5) taps: output j sits at input 2j + 0.5 (0-based) and reads inputs 2j - 3 .. 2j + 4.
_HALF_OFFSETS = 3.5 - np.arange(8)


class NiqeError(GirError, ValueError):
    """NIQE cannot be computed (image too small or flat, bad model file); one-line message."""


@dataclass(frozen=True)
class PristineModel:
    """The pristine MVG: ``mean`` float64 (36,), ``cov`` float64 (36, 36), the ``patch_size`` (full-scale
    pixels) it was fitted with, and ``provenance`` (str -> str: source, counts, parameters)."""

    mean: np.ndarray
    cov: np.ndarray
    patch_size: int = PATCH_SIZE
    provenance: dict[str, str] = field(default_factory=dict)


# ------------------------------------------------------------------------------------ shape tables


def _lgamma(x: np.ndarray) -> np.ndarray:
    return np.array([math.lgamma(v) for v in x.ravel()], dtype=np.float64).reshape(x.shape)


def _shape_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """On SHAPE_GRID: GGD ratio rho(a) = G(1/a) G(3/a) / G(2/a)^2 (decreasing), AGGD ratio
    r(a) = 1 / rho(a) (increasing), and the AGGD mean factor G(2/a) / G(1/a) * sqrt(G(1/a) / G(3/a))."""
    l1, l2, l3 = _lgamma(1.0 / SHAPE_GRID), _lgamma(2.0 / SHAPE_GRID), _lgamma(3.0 / SHAPE_GRID)
    log_rho = l1 + l3 - 2.0 * l2
    mean_factor = np.exp(l2 - l1 + 0.5 * (l1 - l3))
    return np.exp(log_rho), np.exp(-log_rho), mean_factor


GGD_RATIO, AGGD_RATIO, AGGD_MEAN_FACTOR = _shape_tables()


def nearest_on_grid(values: np.ndarray, table: np.ndarray) -> np.ndarray:
    """argmin_k |values - table[k]| for a strictly monotone ``table`` (first k on ties), vectorised.

    Equal to the brute-force argmin over the whole grid, in O(log K) per value. Non-finite values give -1.
    """
    values = np.asarray(values, dtype=np.float64)
    n = len(table)
    increasing = table[-1] > table[0]
    t = table if increasing else table[::-1]
    pos = np.searchsorted(t, values)
    lo, hi = np.clip(pos - 1, 0, n - 1), np.clip(pos, 0, n - 1)
    d_lo, d_hi = np.abs(values - t[lo]), np.abs(values - t[hi])
    if increasing:
        idx = np.where(d_lo <= d_hi, lo, hi)
    else:  # flipped: the larger flipped index is the smaller original one
        idx = n - 1 - np.where(d_hi <= d_lo, hi, lo)
    return np.where(np.isfinite(values), idx, -1)


def _shape_from_index(idx: np.ndarray, table: np.ndarray | None = None) -> np.ndarray:
    src = SHAPE_GRID if table is None else table
    return np.where(idx >= 0, src[np.maximum(idx, 0)], np.nan)


# ----------------------------------------------------------------------------------- distribution fits


def ggd_fit(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Zero-mean generalized Gaussian fit per row of ``x`` (N, M): (shape alpha, variance E[x^2]).

    alpha matches rho = E[x^2] / E[|x|]^2 to G(1/a) G(3/a) / G(2/a)^2 on SHAPE_GRID (2 for a Gaussian,
    1 for a Laplacian). An all-zero row gives NaN.
    """
    x = np.asarray(x, dtype=np.float64)
    var = np.mean(x * x, axis=1)
    e_abs = np.mean(np.abs(x), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = var / (e_abs * e_abs)
    return _shape_from_index(nearest_on_grid(rho, GGD_RATIO)), var


def aggd_fit(x: np.ndarray) -> np.ndarray:
    """Asymmetric generalized Gaussian fit per row of ``x`` (N, M): (N, 4) = shape, mean, left variance,
    right variance.

    Left/right variances are the mean squares of the negative/positive samples (zeros in neither); the shape
    matches the bias-corrected ratio E[|x|]^2 / E[x^2] to G(2/a)^2 / (G(1/a) G(3/a)); the mean is
    (sigma_r - sigma_l) G(2/a) / G(1/a) sqrt(G(1/a) / G(3/a)). A row without negative or without positive
    samples gives NaN.
    """
    x = np.asarray(x, dtype=np.float64)
    sq = x * x
    neg, pos = x < 0, x > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        l_var = np.sum(sq * neg, axis=1) / np.sum(neg, axis=1)
        r_var = np.sum(sq * pos, axis=1) / np.sum(pos, axis=1)
        l_std, r_std = np.sqrt(l_var), np.sqrt(r_var)
        g = l_std / r_std
        r_hat = np.mean(np.abs(x), axis=1) ** 2 / np.mean(sq, axis=1)
        r_norm = r_hat * (g ** 3 + 1.0) * (g + 1.0) / (g * g + 1.0) ** 2
    idx = nearest_on_grid(r_norm, AGGD_RATIO)
    shape = _shape_from_index(idx)
    mean = (r_std - l_std) * _shape_from_index(idx, AGGD_MEAN_FACTOR)
    return np.stack([shape, mean, l_var, r_var], axis=1)


# ------------------------------------------------------------------------------------ image features


def luminance(img: np.ndarray) -> np.ndarray:
    """float HxWx3 RGB (or HxW / HxWx1 gray) in [0, 1] -> float64 HxW BT.601 luma on the 0-255 scale."""
    arr = np.asarray(img)
    if arr.dtype.kind != "f":
        raise TypeError(f"NIQE expects a float image in [0, 1], got dtype {arr.dtype}")
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (1, 3))):
        raise ValueError(f"NIQE expects HxWx3 RGB or HxW gray, got shape {arr.shape}")
    return rgb_to_y(arr) * 255.0


def halve(img: np.ndarray) -> np.ndarray:
    """MATLAB ``imresize(img, 0.5)`` of float HxW: antialiased bicubic, ceil(H/2) x ceil(W/2), float64.

    Each output sample is 0.5 cubic(0.5 d) weighted (a = -0.5, normalised) over the 8 inputs within
    distance 4, with symmetric (edge-repeating mirror) borders.
    """
    t = 0.5 * np.abs(_HALF_OFFSETS)
    cubic = np.where(t <= 1, 1.5 * t ** 3 - 2.5 * t ** 2 + 1,
                     np.where(t <= 2, -0.5 * t ** 3 + 2.5 * t ** 2 - 4 * t + 2, 0.0))
    taps = cubic / cubic.sum()
    out = np.asarray(img, dtype=np.float64)
    for axis in (0, 1):
        n_out = (out.shape[axis] + 1) // 2
        pad = [(0, 0), (0, 0)]
        pad[axis] = (4, 4)
        padded = np.pad(out, pad, mode="symmetric")
        # output j reads padded samples 2j + 1 .. 2j + 8
        acc = np.zeros_like(np.take(padded, np.arange(n_out), axis=axis))
        for k, w in enumerate(taps):
            acc += w * np.take(padded, np.arange(1 + k, 1 + k + 2 * n_out, 2), axis=axis)
        out = acc
    return out


def mscn(lum: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean-subtracted contrast-normalised coefficients of float HxW ``lum`` (0-255 scale) and the local
    standard deviation sigma (both float64 HxW): (lum - mu) / (sigma + 1), 7x7 Gaussian window, sigma 7/6."""
    lum = np.asarray(lum, dtype=np.float64)
    g = gaussian_window(MSCN_WIN, MSCN_SIGMA)

    def local_mean(a: np.ndarray) -> np.ndarray:
        return cv2.sepFilter2D(a, cv2.CV_64F, g, g, borderType=cv2.BORDER_REPLICATE)

    mu = local_mean(lum)
    sigma = np.sqrt(np.abs(local_mean(lum * lum) - mu * mu))
    centered = lum - mu
    # Filter round-off leaves ~1e-14 where the image is flat; make it exactly 0 so flat patches are
    # recognised (NaN features) instead of fitting distributions to round-off. 1e-8 is far below the
    # resolution of any float32 input on the 0-255 scale (~1.5e-5).
    centered[np.abs(centered) < 1e-8] = 0.0
    return centered / (sigma + MSCN_C), sigma


def _patches(arr: np.ndarray, size: int) -> np.ndarray:
    """Non-overlapping size x size patches of HxW ``arr`` (H, W multiples of size), row-major: (N, size, size)."""
    nh, nw = arr.shape[0] // size, arr.shape[1] // size
    return arr.reshape(nh, size, nw, size).transpose(0, 2, 1, 3).reshape(nh * nw, size, size)


def scale_features(coeff_patches: np.ndarray) -> np.ndarray:
    """The 18 features of each MSCN patch (N, p, p) at one scale: (N, 18) = GGD (shape, variance), then
    AGGD (shape, mean, left var, right var) of the horizontal, vertical, diagonal, anti-diagonal products."""
    n = coeff_patches.shape[0]
    alpha, var = ggd_fit(coeff_patches.reshape(n, -1))
    parts = [alpha[:, None], var[:, None]]
    for shift in NEIGHBOUR_SHIFTS:
        prod = coeff_patches * np.roll(coeff_patches, shift, axis=(1, 2))
        parts.append(aggd_fit(prod.reshape(n, -1)))
    return np.concatenate(parts, axis=1)


def patch_features(lum: np.ndarray, patch_size: int = PATCH_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """NIQE features of every whole patch of float HxW ``lum`` (0-255): (features (N, 36), sharpness (N,)).

    Patches are row-major over the image cropped to whole patches; sharpness is the mean local sigma of the
    patch at full scale. Needs at least one patch (N >= 1); may contain NaN rows (flat patches).
    """
    if patch_size < 2 or patch_size % 2:
        raise ValueError(f"patch_size must be an even number >= 2, got {patch_size}")
    nh, nw = lum.shape[0] // patch_size, lum.shape[1] // patch_size
    if nh < 1 or nw < 1:
        raise NiqeError(f"NIQE needs at least one {patch_size}x{patch_size} patch, got a "
                        f"{lum.shape[0]}x{lum.shape[1]} image")
    full = np.asarray(lum, dtype=np.float64)[: nh * patch_size, : nw * patch_size]
    coeffs, sigma = mscn(full)
    sharpness = _patches(sigma, patch_size).mean(axis=(1, 2))
    feats = [scale_features(_patches(coeffs, patch_size))]
    half_coeffs, _ = mscn(halve(full))
    feats.append(scale_features(_patches(half_coeffs, patch_size // 2)))
    return np.concatenate(feats, axis=1), sharpness


def fit_mvg(features: np.ndarray, what: str = "features") -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and covariance (D, D) (N - 1 normalised) of the finite rows of ``features`` (N, D)."""
    ok = np.all(np.isfinite(features), axis=1)
    rows = features[ok]
    if len(rows) < 2:
        raise NiqeError(f"NIQE: {what} has {len(rows)} usable patch(es) (flat patches are left out); "
                        f"at least 2 are needed")
    return rows.mean(axis=0), np.cov(rows, rowvar=False, ddof=1)


# --------------------------------------------------------------------------------------------- score


def niqe(img: np.ndarray, model: PristineModel | str | Path | None = None, crop_border: int = 0) -> float:
    """NIQE of float ``img`` (HxWx3 RGB or HxW gray, in [0, 1]); lower is better.

    model: a :class:`PristineModel`, a path to a ``.npz`` saved by :func:`save_pristine`, or None for the
    shipped model (loaded once). ``crop_border`` pixels are removed from each edge first. The image must
    hold at least 2 x 2 patches of the model's patch size (192x192 for 96); smaller images raise
    :class:`NiqeError`. Deterministic: same input -> same float.
    """
    model = _resolve_model(model)
    lum = luminance(img)
    b = int(crop_border)
    if b < 0:
        raise ValueError(f"crop_border must be >= 0, got {crop_border!r}")
    if b:
        lum = lum[b:-b, b:-b]
    p = model.patch_size
    if lum.shape[0] < 2 * p or lum.shape[1] < 2 * p:
        raise NiqeError(f"NIQE needs an image of at least {2 * p}x{2 * p} pixels (2 patches of {p} per side), "
                        f"got {lum.shape[0]}x{lum.shape[1]}" + (f" after crop_border={b}" if b else ""))
    feats, _ = patch_features(lum, p)
    mu, cov = fit_mvg(feats, "the image")
    d = model.mean - mu
    m = np.linalg.pinv((model.cov + cov) / 2.0, rtol=N_FEATURES * np.finfo(np.float64).eps, hermitian=True)
    return float(math.sqrt(max(float(d @ m @ d), 0.0)))


def _resolve_model(model: PristineModel | str | Path | None) -> PristineModel:
    if model is None:
        return default_model()
    if isinstance(model, PristineModel):
        return model
    return load_pristine(model)


@functools.lru_cache(maxsize=1)
def default_model() -> PristineModel:
    """The shipped pristine model (``niqe_pristine.npz`` next to this module), loaded once."""
    if not DEFAULT_MODEL_PATH.is_file():
        raise NiqeError(f"{DEFAULT_MODEL_PATH}: the shipped NIQE model is missing; fit one with "
                        f"'gir bench niqe-fit DIR -o FILE' and pass it as model=FILE")
    return load_pristine(DEFAULT_MODEL_PATH)


# ----------------------------------------------------------------------------------------------- fit


def pristine_features(lum: np.ndarray, patch_size: int = PATCH_SIZE,
                      sharpness_threshold: float = SHARPNESS_THRESHOLD) -> np.ndarray:
    """Features (N, 36) of the patches of ``lum`` whose sharpness exceeds threshold x the image's sharpest."""
    feats, sharp = patch_features(lum, patch_size)
    return feats[sharp > sharpness_threshold * sharp.max()]


def fit_pristine(images: Iterable[np.ndarray | str | Path], patch_size: int = PATCH_SIZE,
                 sharpness_threshold: float = SHARPNESS_THRESHOLD, source: str | None = None,
                 progress: bool = False) -> PristineModel:
    """Fit the pristine MVG on clean ``images`` (float arrays as :func:`niqe` takes, or image file paths).

    Images smaller than one patch per side are skipped (counted in the provenance). ``source`` describes
    where the images came from (default: the folders of the given paths, or "arrays"). ``progress`` shows a
    tqdm bar. Raises :class:`NiqeError` when fewer than 2 usable patches are found.
    """
    items = list(images)
    if not 0.0 <= float(sharpness_threshold) <= 1.0:
        raise ValueError(f"sharpness_threshold must be in [0, 1], got {sharpness_threshold!r}")
    if progress:
        from tqdm import tqdm

        iterator = tqdm(items, desc="niqe-fit", unit="img")
    else:
        iterator = items
    collected, used, skipped = [], 0, 0
    for item in iterator:
        lum = luminance(_read(item))
        if lum.shape[0] < patch_size or lum.shape[1] < patch_size:
            skipped += 1
            continue
        collected.append(pristine_features(lum, patch_size, sharpness_threshold))
        used += 1
    feats = np.concatenate(collected) if collected else np.zeros((0, N_FEATURES))
    mean, cov = fit_mvg(feats, "the pristine set")
    if source is None:
        folders = sorted({str(Path(i).parent) for i in items if isinstance(i, (str, Path))})
        source = ", ".join(folders) if folders else "arrays"
    provenance = {
        "source": source,
        "n_images": str(used),
        "n_images_skipped_too_small": str(skipped),
        "n_patches": str(int(np.all(np.isfinite(feats), axis=1).sum())),
        "n_patches_flat_dropped": str(int((~np.all(np.isfinite(feats), axis=1)).sum())),
        "patch_size": str(patch_size),
        "sharpness_threshold": repr(float(sharpness_threshold)),
        "luminance": "BT.601 Y = 16 + 65.481 R + 128.553 G + 24.966 B (0-255)",
        "scales": "1 and 1/2 (MATLAB imresize bicubic, antialiased)",
        "mscn": f"7x7 Gaussian sigma 7/6, C = {MSCN_C}",
        "shape_grid": "0.2:0.001:10",
        "fitted_by": "gir.metrics.niqe.fit_pristine",
        "format_version": FORMAT_VERSION,
    }
    return PristineModel(mean=mean, cov=cov, patch_size=int(patch_size), provenance=provenance)


def _read(item: np.ndarray | str | Path) -> np.ndarray:
    if isinstance(item, (str, Path)):
        from gir.io import read_rgb

        return read_rgb(item)
    return np.asarray(item)


def fit_command(dirs: str | Path | Sequence[str | Path], out: str | Path,
                max_images: int | None = None) -> PristineModel:
    """``gir bench niqe-fit DIR... -o FILE``: fit on the images under ``dirs`` (recursively, sorted; the
    first ``max_images`` if given) with a progress bar, save to ``out`` and return the model."""
    from gir.data.folders import list_images

    roots = [dirs] if isinstance(dirs, (str, Path)) else list(dirs)
    paths = list_images(roots, key="niqe-fit", max_images=max_images)
    model = fit_pristine(paths, source=", ".join(str(r) for r in roots), progress=True)
    save_pristine(model, out)
    return model


# ------------------------------------------------------------------------------------------ file I/O


def save_pristine(model: PristineModel, path: str | Path) -> None:
    """Write ``model`` to exactly ``path`` as an uncompressed ``.npz`` (no pickled objects)."""
    path = Path(path)
    if path.parent and not path.parent.is_dir():
        raise NiqeError(f"{path}: folder {path.parent} does not exist")
    with open(path, "wb") as f:
        np.savez(f, mean=np.asarray(model.mean, dtype=np.float64), cov=np.asarray(model.cov, dtype=np.float64),
                 patch_size=np.int64(model.patch_size),
                 provenance=np.array(json.dumps(model.provenance, sort_keys=True)))


def load_pristine(path: str | Path) -> PristineModel:
    """Read a model written by :func:`save_pristine`; raises :class:`NiqeError` for a missing or bad file."""
    path = Path(path)
    if not path.is_file():
        raise NiqeError(f"{path}: no such NIQE model file")
    try:
        with np.load(path, allow_pickle=False) as z:
            mean, cov = z["mean"].astype(np.float64), z["cov"].astype(np.float64)
            patch_size, provenance = int(z["patch_size"]), json.loads(str(z["provenance"]))
    except (OSError, ValueError, KeyError) as e:
        raise NiqeError(f"{path}: not a NIQE model file ({' '.join(str(e).split())})") from None
    if mean.shape != (N_FEATURES,) or cov.shape != (N_FEATURES, N_FEATURES):
        raise NiqeError(f"{path}: expected mean (36,) and cov (36, 36), got {mean.shape} and {cov.shape}")
    return PristineModel(mean=mean, cov=cov, patch_size=patch_size, provenance=provenance)
