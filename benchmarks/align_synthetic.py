"""Paired-data alignment on synthetic misalignments of known transform (issue 22, paper 001 sec. 3.2).

Each pair: a photo (scikit-image's bundled photos, plus the first ``--kodak`` photos of
<shared>/test/kodak24 when present) is moved by a known transform about its centre, and the same
``--size`` px centre window of the photo (GT) and of the moved copy (LQ) are cut out. Misalignments, drawn
per pair (seeded; the same draws for every method):

- translation: a shift of 0-20 px in a random direction;
- similarity: that shift, a rotation of 0-3 degrees (random sign) and a scale in 0.97-1.03;
- affine: the similarity plus up to 1 % anisotropic scale and shear.

The LQ is then degraded: clean, noise (Gaussian sigma 10/255), blur (Gaussian sigma 1) or JPEG (quality 40,
Pillow), and quantised to 8 bits. ``gir.data.align.estimate_transform`` registers it with the default
thresholds. Reported per model / method / degradation: the error of the recovered transform (mean
displacement of the four LQ corners against the true transform, px: median, 95th percentile, max), the
median verification residual, the share of these pairs the default thresholds reject (a false rejection
unless the estimate itself failed), how many kept pairs are off by more than 0.5 px (false acceptances) and
the time per pair. A second table gives the rejection rate of pairs made unalignable on
purpose: an LQ from a different photo, and an LQ blurred with Gaussian sigma 8.

    python benchmarks/align_synthetic.py --threads 1            # defaults: --n 40 --size 384
"""
from __future__ import annotations

import argparse
import io
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

SKIMAGE_PHOTOS = ("astronaut", "camera", "coffee", "chelsea", "rocket", "immunohistochemistry", "coins", "moon",
                  "brick", "grass", "gravel")
MODELS = ("translation", "similarity", "affine")
METHODS = ("phase", "ecc", "auto")
DEGRADATIONS = ("clean", "noise", "blur", "jpeg")
UNALIGNABLE = ("different scene", "blur sigma 8")
BAD_ERROR = 0.5  # px: a kept pair whose true error is larger is a false acceptance


# ---------------------------------------------------------------------------------------------- images
def _as_rgb(img: np.ndarray) -> np.ndarray:
    if img.ndim == 2:
        img = np.dstack([img] * 3)
    img = img[:, :, :3]
    scale = 65535.0 if img.dtype == np.uint16 else 255.0 if img.dtype == np.uint8 else 1.0
    return np.clip(img.astype(np.float32) / scale, 0, 1)


def _fit_size(img: np.ndarray, size: int) -> np.ndarray:
    """Upscale (cubic) a photo whose short side is under 1.25 x size, so the moved copy has real content."""
    import cv2

    need = 1.25 * size
    if min(img.shape[:2]) >= need:
        return img
    f = need / min(img.shape[:2])
    out = cv2.resize(img, (math.ceil(img.shape[1] * f), math.ceil(img.shape[0] * f)), interpolation=cv2.INTER_CUBIC)
    return np.clip(out, 0, 1)


def load_photos(size: int, kodak: int) -> list[tuple[str, np.ndarray]]:
    from skimage import data as skdata

    photos = []
    for name in SKIMAGE_PHOTOS:
        try:
            photos.append((name, _fit_size(_as_rgb(getattr(skdata, name)()), size)))
        except Exception:  # noqa: BLE001 - a photo this scikit-image version lacks (or must download)
            continue
    kodak_dir = ROOT.parent / "shared" / "data" / "test" / "kodak24"
    if kodak and kodak_dir.is_dir():
        from gir.io import read_rgb

        for path in sorted(kodak_dir.glob("*.png"))[:kodak]:
            photos.append((f"kodak/{path.stem}", _fit_size(read_rgb(path), size)))
    return photos


# -------------------------------------------------------------------------------------------- transforms
def draw_transform(rng: np.random.Generator, model: str) -> np.ndarray:
    """A 2x2 linear part and a shift (as a 2x3 matrix about the origin) for one misalignment of ``model``."""
    r = rng.uniform(0, 20)
    phi = rng.uniform(0, 2 * math.pi)
    shift = (r * math.cos(phi), r * math.sin(phi))
    angle = math.radians(rng.uniform(0, 3) * rng.choice([-1.0, 1.0]))
    scale = rng.uniform(0.97, 1.03)
    extra = np.eye(2) + np.array([[1.0, 0.0], [0.0, -1.0]]) * rng.uniform(-0.01, 0.01) \
        + np.array([[0.0, 1.0], [0.0, 0.0]]) * rng.uniform(-0.01, 0.01)
    if model == "translation":
        linear = np.eye(2)
    else:
        linear = scale * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
        if model == "affine":
            linear = linear @ extra
    return np.hstack([linear, np.array(shift)[:, None]])


def make_pair(photo: np.ndarray, move: np.ndarray, size: int, lq_source: np.ndarray | None = None):
    """(lq, gt, true LQ->GT matrix): centre windows of ``photo`` and of ``lq_source`` (default the photo)
    moved by ``move`` (linear part about the photo's centre, then its shift)."""
    import cv2

    from gir.data.align import _compose, _translation, invert_matrix

    h, w = photo.shape[:2]
    src = photo if lq_source is None else lq_source
    c = np.array([(w - 1) / 2.0, (h - 1) / 2.0])
    about = np.hstack([move[:, :2], (c - move[:, :2] @ c + move[:, 2])[:, None]])
    moved = cv2.warpAffine(src, about, (src.shape[1], src.shape[0]), flags=cv2.INTER_CUBIC,
                           borderMode=cv2.BORDER_REFLECT)
    oy, ox = (h - size) // 2, (w - size) // 2
    gt = photo[oy:oy + size, ox:ox + size]
    lq = np.clip(moved[oy:oy + size, ox:ox + size], 0, 1)
    true = _compose(_translation(-ox, -oy), invert_matrix(about), _translation(ox, oy))
    return lq, gt, true


def degrade(lq: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """The LQ degraded by ``kind`` and quantised to 8 bits."""
    import cv2
    from PIL import Image

    if kind == "noise":
        lq = lq + (10 / 255) * rng.standard_normal(lq.shape).astype(np.float32)
    elif kind == "blur":
        lq = cv2.GaussianBlur(lq, (0, 0), 1.0)
    elif kind == "blur8":
        lq = cv2.GaussianBlur(lq, (0, 0), 8.0)
    elif kind == "jpeg":
        buf = io.BytesIO()
        Image.fromarray(np.round(np.clip(lq, 0, 1) * 255).astype(np.uint8)).save(buf, "JPEG", quality=40)
        lq = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"), dtype=np.float32) / 255
    return (np.round(np.clip(lq, 0, 1) * 255) / 255).astype(np.float32)


# ---------------------------------------------------------------------------------------------- running
def pair_rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *keys]))


def run_good(photos, model: str, method: str, degradation: str, n: int, size: int, seed: int) -> dict:
    from gir.data.align import corner_error, estimate_transform

    errors, residuals, rejected, bad_kept, seconds = [], [], 0, 0, 0.0
    for k in range(n):
        rng = pair_rng(seed, MODELS.index(model), k)  # the same photo and transform for every method
        name, photo = photos[int(rng.integers(len(photos)))]
        move = draw_transform(rng, model)
        lq, gt, true = make_pair(photo, move, size)
        lq = degrade(lq, degradation, pair_rng(seed, 100 + DEGRADATIONS.index(degradation), k))
        t0 = time.perf_counter()
        a = estimate_transform(lq, gt, model=model, method=method)
        seconds += time.perf_counter() - t0
        errors.append(corner_error(a.matrix, true, lq.shape))
        residuals.append(a.residual)
        rejected += not a.ok
        bad_kept += a.ok and errors[-1] > BAD_ERROR
    e = np.asarray(errors)
    return {"n": n, "median": float(np.median(e)), "p95": float(np.percentile(e, 95)), "max": float(e.max()),
            "residual": float(np.median(residuals)), "rejected": rejected / n, "bad_kept": bad_kept,
            "ms": 1000 * seconds / n}


def run_unalignable(photos, model: str, method: str, kind: str, n: int, size: int, seed: int) -> dict:
    from gir.data.align import estimate_transform

    rejected, why = 0, {}
    for k in range(n):
        rng = pair_rng(seed, 10 + MODELS.index(model), k)
        i = int(rng.integers(len(photos)))
        photo = photos[i][1]
        move = draw_transform(rng, model)
        if kind == "different scene":
            other = photos[(i + 1 + int(rng.integers(len(photos) - 1))) % len(photos)][1]
            canvas = _same_canvas(other, photo.shape)
            lq, gt, _ = make_pair(photo, move, size, lq_source=canvas)
            lq = degrade(lq, "clean", rng)
        else:
            lq, gt, _ = make_pair(photo, move, size)
            lq = degrade(lq, "blur8", rng)
        a = estimate_transform(lq, gt, model=model, method=method)
        if not a.ok:
            rejected += 1
            reason = _reason(a.why)
            why[reason] = why.get(reason, 0) + 1
    return {"n": n, "rejected": rejected / n, "why": why}


def _reason(why: str) -> str:
    """The check a rejection failed: correlation, overlap, residual, no-texture or ECC (did not converge)."""
    first = why.split(" ")[0]
    return "no-texture" if first == "no" else first


def _same_canvas(img: np.ndarray, shape) -> np.ndarray:
    """``img`` cropped/tiled (reflected) to ``shape[:2]``."""
    h, w = shape[:2]
    reps = (math.ceil(h / img.shape[0]), math.ceil(w / img.shape[1]), 1)
    return np.ascontiguousarray(np.tile(img, reps)[:h, :w])


# ---------------------------------------------------------------------------------------------- report
def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=40, help="pairs per condition (default 40)")
    ap.add_argument("--size", type=int, default=384, help="window side in px (default 384)")
    ap.add_argument("--kodak", type=int, default=4, help="Kodak24 photos to add when present (default 4)")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--degradations", default=",".join(DEGRADATIONS))
    ap.add_argument("--unalignable-n", type=int, help="pairs per unalignable condition (default: --n / 2)")
    ap.add_argument("--threads", type=int, default=1, help="OpenCV threads (default 1)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--append", help="also append the tables to this Markdown file")
    args = ap.parse_args(argv)

    import cv2

    from _report import emit
    from gir.data.align import DEFAULT_MAX_RESIDUAL, DEFAULT_MIN_CORRELATION, DEFAULT_MIN_OVERLAP

    cv2.setNumThreads(max(1, args.threads))
    models = [m for m in args.models.split(",") if m]
    methods = [m for m in args.methods.split(",") if m]
    degradations = [d for d in args.degradations.split(",") if d]
    photos = load_photos(args.size, args.kodak)
    start = time.perf_counter()

    lines = [f"### Alignment of synthetic misalignments ({args.size} px windows, {len(photos)} photos, "
             f"{args.n} pairs per row, seed {args.seed})", "",
             f"Default thresholds: residual <= {DEFAULT_MAX_RESIDUAL} px, correlation >= "
             f"{DEFAULT_MIN_CORRELATION}, overlap >= {DEFAULT_MIN_OVERLAP}. Error: mean displacement of the LQ "
             f"corners against the true transform, px. Rejected: pairs the thresholds refuse (all of them alignable; "
             f"a rejection is right when the estimate failed). Kept bad: kept pairs whose true error exceeds "
             f"{BAD_ERROR} px.", "",
             "| model | method | LQ | median err | p95 err | max err | median residual | rejected | kept bad "
             "| ms/pair |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for model in models:
        for method in methods:
            for deg in degradations:
                r = run_good(photos, model, method, deg, args.n, args.size, args.seed)
                lines.append(f"| {model} | {method} | {deg} | {r['median']:.3f} | {r['p95']:.3f} | {r['max']:.3f} | "
                             f"{r['residual']:.3f} | {_pct(r['rejected'])} | {r['bad_kept']} | {r['ms']:.0f} |")
    un_n = args.unalignable_n or max(1, args.n // 2)
    lines += ["", f"Pairs made unalignable on purpose ({un_n} per row): rejection rate (want 100%) and the "
                  f"first failed check.", "",
              "| model | method | LQ | rejected | why |", "|---|---|---|---:|---|"]
    for model in models:
        for method in methods:
            for kind in UNALIGNABLE:
                r = run_unalignable(photos, model, method, kind, un_n, args.size, args.seed)
                why = ", ".join(f"{k} {v}" for k, v in sorted(r["why"].items())) or "-"
                lines.append(f"| {model} | {method} | {kind} | {_pct(r['rejected'])} | {why} |")
    lines += ["", f"Total {time.perf_counter() - start:.0f} s ({args.threads} OpenCV thread(s))."]
    emit("\n".join(lines), args.append)
    return 0


if __name__ == "__main__":
    sys.exit(main())
