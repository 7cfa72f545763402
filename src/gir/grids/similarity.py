"""Degradation similarity (paper 002, sec. 4): DDR features -> one GGD per degradation -> log-KL matrix.

For each op, ``n_per_op`` random crops of clean images are degraded by the op (random strength from the op's
random range, or its representative setting), quantised to 8 bits, and passed through a network; the
globally average-pooled feature maps of one layer (deep degradation representations, DDR) of all crops are
pooled into one sample and fitted with a zero-mean GGD (:func:`gir.grids.ggd.fit_ggd`). The distance between
ops i and j is S_ij = log KL(GGD_i || GGD_j) (natural log, KL in nats; smaller = more similar; not symmetric).

The diagonal (log 0 = -inf) is stored as NaN in the array and as ``null`` in ``matrix.json``; an
off-diagonal KL below :data:`KL_FLOOR` (two ops whose fits coincide) is stored as log(KL_FLOOR), so the JSON
never holds Infinity or NaN.
"""
from __future__ import annotations

import json
import math
import zlib
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from gir.bench.evaluate import load_images
from gir.data.patches import quantize
from gir.degradations import OPS
from gir.errors import GirError
from gir.grids.ggd import GGD, fit_ggd, kl_ggd
from gir.io import atomic_write, write_figure

PAPER_OPS: tuple[str, ...] = ("blur", "motion_blur", "rl_artifact", "sr", "ringing", "defocus_blur", "jpeg",
                              "poisson_noise", "inpainting", "noise", "salt_pepper")
"""Paper 002's eleven degradations, as this library names them (in the paper's order)."""
PAPER_NAMES: dict[str, str] = {
    "blur": "Gaussian blur", "motion_blur": "Motion blur", "rl_artifact": "R-L", "sr": "SR",
    "ringing": "Ringing", "defocus_blur": "Defocus blur", "jpeg": "JPEG", "poisson_noise": "Poisson noise",
    "inpainting": "Inpainting", "noise": "Gaussian noise", "salt_pepper": "Salt & pepper",
}
KL_FLOOR = 1e-12
"""Off-diagonal KL values below this are stored as log(KL_FLOOR) (about -27.6)."""
STRENGTHS = ("random", "representative")

FeatureFn = Callable[..., np.ndarray]
"""``(model, batch, layer=None) -> N x C`` array: the pooled features of one layer for an N x H x W x 3 float32
batch (the contract of ``gir.interpret.features.ddr_features``)."""


# -------------------------------------------------------------------------------------------- inputs
def parse_ops(text: str | Sequence[str] | None) -> list[str]:
    """Op names from ``"a,b,c"`` (or a list); None gives :data:`PAPER_OPS`. GirError names unknown or repeated
    ops, or fewer than two."""
    if text is None:
        ops = list(PAPER_OPS)
    elif isinstance(text, str):
        ops = [t.strip() for t in text.split(",") if t.strip()]
    else:
        ops = [str(t) for t in text]
    unknown = [o for o in ops if o not in OPS]
    if unknown:
        raise GirError(f"unknown op(s) {', '.join(unknown)}; see `gir degrade --list`")
    dup = sorted({o for o in ops if ops.count(o) > 1})
    if dup:
        raise GirError(f"op(s) given twice: {', '.join(dup)}")
    if len(ops) < 2:
        raise GirError(f"a similarity matrix needs at least 2 ops, got {len(ops)}")
    return ops


def load_clean_images(folder: str | Path, max_images: int | None = None, min_side: int = 1) -> list[np.ndarray]:
    """The images of ``folder`` (recursive, sorted) as float32 HxWx3; GirError when the folder is missing,
    holds no images, or an image is smaller than ``min_side`` on a side (it could not give a crop)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise GirError(f"{folder}: not a folder of images")
    images = []
    for _, name, img in load_images(folder, max_images):
        if min(img.shape[:2]) < min_side:
            raise GirError(f"{folder / name}: {img.shape[1]}x{img.shape[0]} is smaller than the crop {min_side}")
        images.append(img)
    if not images:
        raise GirError(f"{folder}: no images found")
    return images


def op_seed(seed: int, op: str) -> np.random.SeedSequence:
    """The seed sequence of one op's crops: depends on the seed and the op's name, not on the op list."""
    return np.random.SeedSequence([int(seed), zlib.crc32(op.encode())])


def random_crop(img: np.ndarray, crop: int, rng: np.random.Generator) -> np.ndarray:
    """A ``crop`` x ``crop`` window of ``img`` at a random position (the whole image when it is that size)."""
    h, w = img.shape[:2]
    if min(h, w) < crop:
        raise GirError(f"an image of {w}x{h} is smaller than the crop {crop}")
    y = int(rng.integers(0, h - crop + 1))
    x = int(rng.integers(0, w - crop + 1))
    return np.ascontiguousarray(img[y:y + crop, x:x + crop])


def degraded_pairs(images: Sequence[np.ndarray], op: str, n: int, crop: int, seed: int = 0,
                   strength: str = "random") -> list[tuple[np.ndarray, np.ndarray]]:
    """``n`` (clean crop, degraded crop) pairs, cycling through ``images``; the degraded crop is quantised to
    8-bit levels.

    strength: ``"random"`` draws the op's parameters from its random range per crop, ``"representative"`` uses
    its representative setting. Deterministic for a given seed, op and image list.
    """
    if strength not in STRENGTHS:
        raise GirError(f"strength must be one of {', '.join(STRENGTHS)}, got {strength!r}")
    if not images:
        raise GirError("no images to degrade")
    spec = OPS.get(op)
    out = []
    for k, seq in enumerate(op_seed(seed, op).spawn(int(n))):
        rng = np.random.default_rng(seq)
        patch = random_crop(images[k % len(images)], crop, rng)
        params = spec.sample_params(rng) if strength == "random" else spec.representative()
        out.append((patch, quantize(spec.apply(patch, rng, params))))
    return out


def degraded_crops(images: Sequence[np.ndarray], op: str, n: int, crop: int, seed: int = 0,
                   strength: str = "random") -> list[np.ndarray]:
    """The degraded halves of :func:`degraded_pairs` (same arguments, same crops)."""
    return [lq for _, lq in degraded_pairs(images, op, n, crop, seed, strength)]


# ------------------------------------------------------------------------------------------- features
def default_feature_fn() -> FeatureFn:
    """``gir.interpret.features.ddr_features``; GirError when that module is not installed."""
    try:
        from gir.interpret.features import ddr_features
    except ImportError as e:
        raise GirError(f"DDR features need gir.interpret.features ({e})") from None
    return ddr_features


def crop_features(model: Any, crops: Sequence[np.ndarray], layer: str | None = None,
                  features: FeatureFn | None = None, batch_size: int = 16) -> np.ndarray:
    """N x C pooled features (float64) of ``crops`` (float32 HxWx3 in [0, 1], one size), handed to the feature
    function ``batch_size`` crops at a time as N x H x W x 3 arrays."""
    fn = features or default_feature_fn()
    parts = []
    for i in range(0, len(crops), batch_size):
        batch = np.ascontiguousarray(np.stack(crops[i:i + batch_size]), dtype=np.float32)
        f = np.asarray(fn(model, batch, layer=layer), dtype=np.float64)
        parts.append(f.reshape(f.shape[0], -1))
    return np.concatenate(parts, axis=0)


def resolve_layer(model: Any, layer: str | None) -> str | None:
    """``layer``, or the feature function's default layer for ``model`` when it can name it (else None)."""
    if layer is not None:
        return layer
    try:
        from gir.interpret.features import default_ddr_layer

        return default_ddr_layer(model)
    except Exception:  # noqa: BLE001 - only a label for the record
        return None


def degradation_ggds(model: Any, images: Sequence[np.ndarray], ops: Sequence[str] = PAPER_OPS, crop: int = 128,
                     n_per_op: int = 32, layer: str | None = None, seed: int = 0, method: str = "moments",
                     strength: str = "random", features: FeatureFn | None = None,
                     batch_size: int = 16) -> dict[str, GGD]:
    """One GGD per op, fitted to the DDR features of ``n_per_op`` degraded crops (see the module docstring).

    model: the feature network (an ``nn.Module`` in eval mode); features: the feature function (default
    ``gir.interpret.features.ddr_features``); layer: passed to it (None: its default layer).
    Returns {op: GGD} in the order of ``ops``.
    """
    if n_per_op < 1:
        raise GirError(f"n_per_op must be at least 1, got {n_per_op}")
    out = {}
    for op in ops:
        crops = degraded_crops(images, op, n_per_op, crop, seed, strength)
        out[op] = fit_ggd(crop_features(model, crops, layer, features, batch_size), method=method)
    return out


# --------------------------------------------------------------------------------------------- matrix
def similarity_matrix(ggds: dict[str, GGD], floor: float = KL_FLOOR) -> tuple[list[str], np.ndarray]:
    """(ops, S) with S[i, j] = log KL(GGD_i || GGD_j); the diagonal is NaN (log 0), off-diagonal KL values
    are floored at ``floor`` so every other entry is finite."""
    ops = list(ggds)
    n = len(ops)
    s = np.full((n, n), np.nan)
    for i, a in enumerate(ops):
        for j, b in enumerate(ops):
            if i != j:
                s[i, j] = math.log(max(kl_ggd(ggds[a], ggds[b]), floor))
    return ops, s


def matrix_record(ops: Sequence[str], matrix: np.ndarray, ggds: dict[str, GGD], **meta: Any) -> dict:
    """The ``matrix.json`` mapping: ops, matrix (diagonal ``null``), ggd {op: {alpha, beta}} and ``meta``."""
    rows = [[None if not math.isfinite(v) else float(v) for v in row] for row in np.asarray(matrix, float)]
    return {"ops": list(ops), "matrix": rows,
            "ggd": {op: {"alpha": ggds[op].alpha, "beta": ggds[op].beta} for op in ops}, **meta}


def read_matrix(path: str | Path) -> tuple[list[str], np.ndarray, dict]:
    """(ops, matrix with NaN diagonal, the whole record) from a ``matrix.json``; GirError when malformed."""
    path = Path(path)
    if path.is_dir():
        path = path / "matrix.json"
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GirError(f"{path}: no such matrix file") from None
    except (OSError, json.JSONDecodeError) as e:
        raise GirError(f"{path}: not a JSON matrix ({e})") from None
    if not isinstance(rec, dict) or "ops" not in rec or "matrix" not in rec:
        raise GirError(f"{path}: a matrix file needs 'ops' and 'matrix'")
    ops = [str(o) for o in rec["ops"]]
    try:
        m = np.array([[np.nan if v is None else float(v) for v in row] for row in rec["matrix"]], dtype=float)
    except (TypeError, ValueError):
        raise GirError(f"{path}: 'matrix' must be a list of rows of numbers (null on the diagonal)") from None
    if m.shape != (len(ops), len(ops)):
        raise GirError(f"{path}: matrix is {m.shape}, expected {len(ops)}x{len(ops)} for {len(ops)} ops")
    off = ~np.eye(len(ops), dtype=bool)
    if not np.all(np.isfinite(m[off])):
        raise GirError(f"{path}: off-diagonal matrix entries must be finite numbers")
    return ops, m, rec


def op_ggds(record: dict) -> dict[str, GGD]:
    """{op: GGD} of a matrix record's ``ggd`` section (empty when it has none)."""
    return {op: GGD.from_dict(d) for op, d in (record.get("ggd") or {}).items()}


def format_matrix(ops: Sequence[str], matrix: np.ndarray, digits: int = 2) -> str:
    """The matrix as an aligned text table (rows: from op i, columns: to op j; '-' on the diagonal)."""
    w = max(max(len(o) for o in ops), digits + 4)
    lines = [" " * w + " " + " ".join(o[:w].rjust(w) for o in ops)]
    for op, row in zip(ops, np.asarray(matrix, float)):
        cells = ["-".rjust(w) if not math.isfinite(v) else f"{v:.{digits}f}".rjust(w) for v in row]
        lines.append(op.ljust(w) + " " + " ".join(cells))
    return "\n".join(lines)


def plot_matrix(ops: Sequence[str], matrix: np.ndarray, path: str | Path, title: str = "") -> Path:
    """A heat map of the matrix with each value written in its cell (PNG; matplotlib without pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    m = np.asarray(matrix, float)
    n = len(ops)
    side = max(4.0, 0.65 * n + 2.0)
    fig = Figure(figsize=(side + 1.2, side))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    from matplotlib import colormaps

    cmap = colormaps["viridis_r"].with_extremes(bad="0.85")  # the undefined diagonal in light grey
    im = ax.imshow(np.ma.masked_invalid(m), cmap=cmap)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="log KL (smaller = more similar)")
    finite = m[np.isfinite(m)]
    mid = float(np.mean([finite.min(), finite.max()])) if finite.size else 0.0
    for i in range(n):
        for j in range(n):
            v = m[i, j]
            text = "-" if not math.isfinite(v) else f"{v:.2f}"
            # viridis_r: small values are light, so dark text there
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color="black" if not v > mid else "white")
    ax.set_xticks(range(n), list(ops), rotation=45, ha="right")
    ax.set_yticks(range(n), list(ops))
    ax.set_xlabel("to (q)")
    ax.set_ylabel("from (p): S[p, q] = log KL(p || q)")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return write_figure(fig, path, dpi=110)


def write_matrix(out_dir: str | Path, record: dict) -> tuple[Path, Path]:
    """Write ``matrix.json`` (strict JSON: no NaN or Infinity) and ``matrix.png`` into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    jpath = out_dir / "matrix.json"
    atomic_write(jpath, json.dumps(record, indent=1, allow_nan=False) + "\n")
    ops, m, _ = read_matrix(jpath)
    title = f"{record.get('model', '')} layer {record.get('layer') or 'default'}"
    return jpath, plot_matrix(ops, m, out_dir / "matrix.png", title)


def run_similarity(model_spec: str, images_dir: str | Path, out_dir: str | Path, ops: Sequence[str] | None = None,
                   crop: int = 128, max_images: int | None = None, n_per_op: int = 32, layer: str | None = None,
                   seed: int = 0, method: str = "moments", strength: str = "random",
                   device: str = "cpu") -> dict:
    """The ``gir grids similarity`` job: load the network, fit one GGD per op, write matrix.json / .png.

    Returns the record written to ``matrix.json``.
    """
    try:
        from gir.interpret.features import load_network
    except ImportError as e:
        raise GirError(f"gir grids similarity needs gir.interpret.features ({e})") from None

    ops = parse_ops(ops)
    if crop < 8:
        raise GirError(f"--crop must be at least 8, got {crop}")
    images = load_clean_images(images_dir, max_images, min_side=crop)
    model, label = load_network(model_spec, device=device)
    layer = resolve_layer(model, layer)
    ggds = degradation_ggds(model, images, ops, crop=crop, n_per_op=n_per_op, layer=layer, seed=seed,
                            method=method, strength=strength)
    names, m = similarity_matrix(ggds)
    record = matrix_record(names, m, ggds, model=model_spec, model_label=label, layer=layer, crop=crop,
                           n_per_op=n_per_op, images=str(Path(images_dir).resolve()), n_images=len(images),
                           seed=seed, method=method, strength=strength,
                           diagonal="null: log KL(p || p) = log 0 is -inf",
                           distance="S[i][j] = ln KL(GGD_i || GGD_j), KL in nats, floored at 1e-12")
    write_matrix(out_dir, record)
    return record
