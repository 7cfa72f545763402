"""Held-out check of `gir restore` (issue 21): photos that are not in ../shared, degraded by code written here.

Nothing the models were trained or tuned on enters this run. The images are scikit-image's bundled photos
(``skimage.data``; only those shipped inside the package, never downloaded: colour photos, and grayscale ones
repeated to RGB), centre-cropped to at most ``--max-side`` px, plus five synthetic clean images of thin
structure drawn here (a picket fence over a photo, window blinds, a window grid on a pale facade, fine text,
line art; 256x256, fixed seed). The degradations are written in this file with OpenCV, Pillow and numpy only,
independently of :mod:`gir.degradations`, so that a model cannot be rewarded for having learnt the
library's particular implementation:

* ``jpeg q20`` / ``jpeg q40``: Pillow JPEG (its defaults: 4:2:0 chroma subsampling, standard tables), saved
  to memory and decoded again;
* ``gaussian blur s1.6``: ``cv2.GaussianBlur`` sigma 1.6, kernel size from sigma, OpenCV's default border;
* ``motion blur 9px 30deg``: a 9-px anti-aliased line at 30 degrees drawn with ``cv2.line`` on a 9x9
  canvas, normalised to sum 1, applied with ``cv2.filter2D`` and ``BORDER_REFLECT``;
* ``bicubic x2``: Pillow bicubic down by 2, then bicubic up to the original size;
* ``noise s15`` / ``noise s25``: additive Gaussian noise, numpy ``Generator`` seeded per (image, task);
* chains ``blur1.0 > noise10 > jpeg50`` and ``bicubic x2 > jpeg40``;
* ``clean``: the identity, the do-no-harm row; the structure images are run through the identity only and
  must come back unchanged.

Every degraded image is 8-bit (rounded and clipped, as if saved). Methods in the same run: ``input`` (the
degraded image itself), ``pipeline`` (``gir.restore.restore(img)``: the default, model None), ``previous``
(``gir.restore.restore(img, model="gir-wunet-cpu")``, milestone 1's single network), ``classical`` where a
textbook method exists and is told the task (non-local means, ``cv2.fastNlMeansDenoisingColored`` with
h = hColor = 0.8 sigma, template 7, search 21, for the noise tasks; 0.8 was the best of 0.6/0.8/1.0/1.2 on
two images; Wiener deconvolution with the known kernel, K = 0.01, for the two blur tasks) and, with
``--model SPEC``, that network or checkpoint as ``model``. Scores: PSNR / SSIM on RGB, no border crop, outputs
rounded to 8 bits (:func:`gir.metrics.score_restored`, the scoring path of ``gir bench`` and the other
benchmark scripts). Identity rows report PSNR of the output against the input itself (inf: unchanged).

    python benchmarks/heldout_restore.py                                   # everything (13 photos x 10 tasks + 5)
    python benchmarks/heldout_restore.py --max-images 2 --max-side 128 --threads 1   # a quick look
    python benchmarks/heldout_restore.py --methods pipeline,input --model runs/x/models/net_latest.safetensors
    python benchmarks/heldout_restore.py --append benchmarks/RESULTS.md --json out/heldout.json --sheet out/heldout.png
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import os
import platform
import shlex
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _report, also when imported from a test
from _report import emit  # noqa: E402

# --------------------------------------------------------------------------------------------------------
# Images: scikit-image's bundled photos (never downloaded) and synthetic thin structure.

# (name, loader attribute, file inside skimage/data, grayscale?)
SKIMAGE_PHOTOS = [
    ("astronaut", "astronaut", "astronaut.png", False),
    ("coffee", "coffee", "coffee.png", False),
    ("chelsea", "chelsea", "chelsea.png", False),
    ("rocket", "rocket", "rocket.jpg", False),
    ("motorcycle", "stereo_motorcycle", "motorcycle_left.png", False),
    ("camera", "camera", "camera.png", True),
    ("brick", "brick", "brick.png", True),
    ("grass", "grass", "grass.png", True),
    ("gravel", "gravel", "gravel.png", True),
    ("coins", "coins", "coins.png", True),
    ("text", "text", "text.png", True),
    ("page", "page", "page.png", True),
    ("checkerboard", "checkerboard", "chessboard_GRAY.png", True),
]


def centre_crop(img: np.ndarray, max_side: int) -> np.ndarray:
    """The centre at most ``max_side`` x ``max_side``, trimmed to even sides (so x2 resizing is exact)."""
    h, w = img.shape[:2]
    ch, cw = min(h, max_side) // 2 * 2, min(w, max_side) // 2 * 2
    y, x = (h - ch) // 2, (w - cw) // 2
    return np.ascontiguousarray(img[y:y + ch, x:x + cw])


def to_float(a: np.ndarray) -> np.ndarray:
    """float32 in [0, 1]: a uint8 image scaled, a float one as it is (the structure probes come as either)."""
    return a.astype(np.float32) / 255 if a.dtype == np.uint8 else np.asarray(a, np.float32)


def to_rgb_u8(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    elif a.dtype != np.uint8:
        a = np.clip(np.rint(a * 255.0 if a.max() <= 1.0 else a), 0, 255).astype(np.uint8)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    return np.ascontiguousarray(a[:, :, :3])


def skimage_images(max_side: int, max_images: int | None = None
                   ) -> tuple[list[tuple[str, np.ndarray]], list[str]]:
    """([(name, uint8 HxWx3)], skipped names with reasons). Only files bundled with scikit-image are
    loaded: an image whose file is not inside the package is skipped rather than fetched."""
    try:
        import skimage.data as data
    except ImportError:
        return [], ["scikit-image not installed"]
    folder = Path(data.__file__).parent
    used, skipped = [], []
    for name, attr, file, _gray in SKIMAGE_PHOTOS:
        if max_images is not None and len(used) >= max_images:
            break
        if not (folder / file).is_file() or not hasattr(data, attr):
            skipped.append(f"{name} (not bundled)")
            continue
        try:
            a = getattr(data, attr)()
        except Exception as e:  # noqa: BLE001 - any failure: leave the image out and say so
            skipped.append(f"{name} ({type(e).__name__})")
            continue
        if isinstance(a, tuple):  # stereo_motorcycle: (left, right, disparity)
            a = a[0]
        used.append((name, centre_crop(to_rgb_u8(a), max_side)))
    return used, skipped


def _photo_background(size: int) -> np.ndarray:
    try:
        import skimage.data as data
        a = to_rgb_u8(data.coffee())
    except Exception:  # noqa: BLE001 - a smooth synthetic background instead
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
        a = np.stack([90 + 80 * xx, 120 + 60 * yy, 70 + 50 * xx * yy], 2).astype(np.uint8)
    h, w = a.shape[:2]
    s = min(h, w)
    a = a[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    return cv2.resize(a, (size, size), interpolation=cv2.INTER_AREA)


def structure_images(size: int = 256, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """Five clean images of thin structure (uint8 RGB ``size`` x ``size``) that a restorer must leave alone."""
    rng = np.random.default_rng(seed)
    out = []

    # a white picket fence (4-px pickets, 5-px gaps, pointed tops, two rails) over a photo
    img = _photo_background(size).copy()
    white, shade = (246, 246, 242), (170, 170, 165)
    for y in (int(size * 0.45), int(size * 0.8)):
        cv2.rectangle(img, (0, y), (size - 1, y + 4), white, -1)
        cv2.line(img, (0, y + 5), (size - 1, y + 5), shade, 1)
    for x in range(2, size - 4, 9):
        top = int(size * 0.25) + int(rng.integers(-2, 3))
        cv2.rectangle(img, (x, top), (x + 3, size - 8), white, -1)
        cv2.fillConvexPoly(img, np.array([[x, top], [x + 3, top], [x + 1, top - 4]], np.int32), white)
        cv2.line(img, (x + 4, top + 2), (x + 4, size - 8), shade, 1)
    out.append(("fence", img))

    # window blinds: 4-px light slats and 2-px dark gaps, light falling off to one side, a cord
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    light = 225 - 40 * xx / size + rng.normal(0, 1.5, (size, 1))
    slat = np.where((yy % 6) < 4, light, 70 + 10 * xx / size)
    img = np.stack([slat * 1.0, slat * 0.97, slat * 0.9], 2)
    img[:, size // 3:size // 3 + 1] = (120, 110, 95)
    out.append(("blinds", np.clip(np.rint(img), 0, 255).astype(np.uint8)))

    # a window grid: white 2-px mullions and 3-px frames over dark glass, on a pale, faintly textured facade
    tex = cv2.GaussianBlur(rng.normal(0, 4, (size, size)).astype(np.float32), (0, 0), 1.2)
    facade = np.stack([228 + tex, 222 + tex, 210 + tex], 2)
    img = np.clip(np.rint(facade), 0, 255).astype(np.uint8)
    for wy in range(12, size - 60, 80):
        for wx in range(12, size - 50, 62):
            x0, y0, x1, y1 = wx, wy, wx + 46, wy + 64
            glass = np.linspace(60, 110, y1 - y0)[:, None, None] * np.array([0.85, 0.95, 1.1])
            img[y0:y1, x0:x1] = np.clip(glass, 0, 255).astype(np.uint8)
            cv2.rectangle(img, (x0, y0), (x1 - 1, y1 - 1), (250, 250, 248), 3)
            for mx in (x0 + 15, x0 + 30):
                cv2.line(img, (mx, y0), (mx, y1 - 1), (250, 250, 248), 2)
            for my in (y0 + 21, y0 + 42):
                cv2.line(img, (x0, my), (x1 - 1, my), (250, 250, 248), 2)
    out.append(("window grid", img))

    # fine text: small Hershey letters, black on off-white paper
    img = np.full((size, size, 3), (244, 242, 236), np.uint8)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    for i, y in enumerate(range(14, size - 4, 12)):
        words = " ".join("".join(rng.choice(letters, int(rng.integers(2, 8)))) for _ in range(8))
        cv2.putText(img, words, (4, y), cv2.FONT_HERSHEY_SIMPLEX, 0.33 + 0.02 * (i % 3), (20, 20, 20), 1,
                    cv2.LINE_AA)
    out.append(("fine text", img))

    # line art: thin anti-aliased lines, circles and curves on white
    img = np.full((size, size, 3), 255, np.uint8)
    for _ in range(30):
        p, q = rng.integers(0, size, 2), rng.integers(0, size, 2)
        cv2.line(img, tuple(int(v) for v in p), tuple(int(v) for v in q), (0, 0, 0), 1, cv2.LINE_AA)
    for _ in range(10):
        c = tuple(int(v) for v in rng.integers(20, size - 20, 2))
        cv2.circle(img, c, int(rng.integers(5, 40)), (30, 30, 30), int(rng.integers(1, 3)), cv2.LINE_AA)
    for _ in range(4):
        pts = np.cumsum(rng.integers(-20, 21, (8, 2)), 0) + size // 2
        cv2.polylines(img, [np.clip(pts, 0, size - 1).astype(np.int32)], False, (10, 10, 60), 1, cv2.LINE_AA)
    out.append(("line art", img))
    return out


# --------------------------------------------------------------------------------------------------------
# Degradations, written here (uint8 HxWx3 in, uint8 out; ``rng`` used only by noise).

def quantise(a: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB")).copy()


def gaussian_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    return quantise(cv2.GaussianBlur(img.astype(np.float32), (0, 0), sigmaX=sigma, sigmaY=sigma))


def motion_kernel(length: int = 9, angle_deg: float = 30.0) -> np.ndarray:
    """A ``length``-px anti-aliased line through the centre of a length x length canvas, summing to 1."""
    size = length if length % 2 else length + 1
    c = (size - 1) / 2
    half = (length - 1) / 2
    dx, dy = half * math.cos(math.radians(angle_deg)), -half * math.sin(math.radians(angle_deg))
    shift = 4  # sub-pixel end points (1/16 px)
    pt = lambda x, y: (int(round(x * 16)), int(round(y * 16)))  # noqa: E731
    canvas = np.zeros((size, size), np.uint8)  # OpenCV anti-aliases lines on 8-bit images only
    cv2.line(canvas, pt(c - dx, c - dy), pt(c + dx, c + dy), 255, 1, cv2.LINE_AA, shift)
    k = canvas.astype(np.float32)
    return k / k.sum()


def motion_blur(img: np.ndarray, length: int = 9, angle_deg: float = 30.0) -> np.ndarray:
    k = motion_kernel(length, angle_deg)
    return quantise(cv2.filter2D(img.astype(np.float32), -1, k, borderType=cv2.BORDER_REFLECT))


def bicubic_down_up(img: np.ndarray, factor: int = 2) -> np.ndarray:
    h, w = img.shape[:2]
    small = Image.fromarray(img).resize((w // factor, h // factor), Image.Resampling.BICUBIC)
    return np.asarray(small.resize((w, h), Image.Resampling.BICUBIC)).copy()


def gaussian_noise(img: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    return quantise(img.astype(np.float64) + rng.normal(0.0, sigma, img.shape))


@dataclass(frozen=True)
class Task:
    name: str
    fn: Callable[[np.ndarray, np.random.Generator], np.ndarray]
    identity: bool = False
    kernel: np.ndarray | None = None  # a known blur kernel (the classical baseline deconvolves it)
    sigma: float | None = None  # a known noise level (the classical baseline denoises at it)


def gaussian_kernel(sigma: float) -> np.ndarray:
    """The 2-D kernel cv2.GaussianBlur uses for ``sigma`` on float input (size 8 sigma + 1, made odd)."""
    k = cv2.getGaussianKernel(int(round(sigma * 8 + 1)) | 1, sigma)
    return (k @ k.T).astype(np.float32)


def tasks() -> list[Task]:
    return [
        Task("jpeg q20", lambda x, r: jpeg(x, 20)),
        Task("jpeg q40", lambda x, r: jpeg(x, 40)),
        Task("gaussian blur s1.6", lambda x, r: gaussian_blur(x, 1.6), kernel=gaussian_kernel(1.6)),
        Task("motion blur 9px 30deg", lambda x, r: motion_blur(x, 9, 30.0), kernel=motion_kernel(9, 30.0)),
        Task("bicubic x2", lambda x, r: bicubic_down_up(x, 2)),
        Task("noise s15", lambda x, r: gaussian_noise(x, 15, r), sigma=15),
        Task("noise s25", lambda x, r: gaussian_noise(x, 25, r), sigma=25),
        Task("blur1.0 > noise10 > jpeg50", lambda x, r: jpeg(gaussian_noise(gaussian_blur(x, 1.0), 10, r), 50)),
        Task("bicubic x2 > jpeg40", lambda x, r: jpeg(bicubic_down_up(x, 2), 40)),
        Task("clean", lambda x, r: x.copy(), identity=True),
    ]


def task_seed(seed: int, task: str, image: str) -> int:
    """One 63-bit seed per (task, image), stable across runs, platforms and method lists (the formula of
    gir.bench.evaluate.pair_seed, written out so that this file imports nothing of gir's degradation side)."""
    digest = hashlib.sha256(f"{seed}|{task}|heldout|{image}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


# --------------------------------------------------------------------------------------------------------
# Classical baselines (told the task).

def wiener(img: np.ndarray, kernel: np.ndarray, k: float = 0.01) -> np.ndarray:
    """Wiener deconvolution with a known kernel and a constant noise-to-signal ratio ``k``, per channel,
    on the image reflect-padded by twice the kernel size (float32 HxWx3 in [0, 1])."""
    pad = 2 * max(kernel.shape)
    x = np.pad(img.astype(np.float64) / 255.0, ((pad, pad), (pad, pad), (0, 0)), mode="symmetric")
    H, W = x.shape[:2]
    psf = np.zeros((H, W))
    kh, kw = kernel.shape
    psf[:kh, :kw] = kernel
    psf = np.roll(psf, (-(kh // 2), -(kw // 2)), axis=(0, 1))
    F = np.fft.fft2(psf)
    G = np.conj(F) / (np.abs(F) ** 2 + k)
    out = np.stack([np.real(np.fft.ifft2(np.fft.fft2(x[..., c]) * G)) for c in range(3)], 2)
    return np.clip(out[pad:-pad, pad:-pad], 0, 1).astype(np.float32)


def classical(lq: np.ndarray, task: Task) -> np.ndarray | None:
    if task.sigma is not None:
        h = 0.8 * task.sigma
        return cv2.fastNlMeansDenoisingColored(lq, None, h, h, 7, 21)
    if task.kernel is not None:
        return wiener(lq, task.kernel)
    return None


# --------------------------------------------------------------------------------------------------------
# Methods and scoring.

def build_methods(names: list[str], model: str | None, device: str) -> tuple[dict[str, Callable], dict[str, str]]:
    """{name: fn(uint8 HxWx3, Task) -> image or None (not applicable)} and a description per method."""
    from gir.restore import restore

    methods: dict[str, Callable] = {}
    about: dict[str, str] = {}
    as_float = lambda u8: u8.astype(np.float32) / np.float32(255.0)  # noqa: E731
    if "pipeline" in names:
        methods["pipeline"] = lambda lq, t: restore(as_float(lq), device=device)
        try:
            from gir.restore.pipeline import Pipeline
            experts = Pipeline(device=device).experts
            about["pipeline"] = ("`gir.restore.restore(img)`, the default pipeline (experts: "
                                 + ", ".join(experts) + ")")
        except Exception as e:  # noqa: BLE001 - describe it as what it is called
            about["pipeline"] = f"`gir.restore.restore(img)` (pipeline not inspectable: {type(e).__name__})"
    if "previous" in names:
        methods["previous"] = lambda lq, t: restore(as_float(lq), model="gir-wunet-cpu", device=device)
        about["previous"] = '`restore(img, model="gir-wunet-cpu")`'
    if "classical" in names:
        methods["classical"] = classical
        about["classical"] = "NL-means h=0.8 sigma (noise), Wiener K=0.01 with the known kernel (blur)"
    if model:
        methods["model"] = lambda lq, t: restore(as_float(lq), model=model, device=device)
        about["model"] = f"`restore(img, model={model!r})`"
    return methods, about


def score(out, lq: np.ndarray, gt: np.ndarray) -> tuple[float, float, bool]:
    """(PSNR, SSIM, unchanged?) of ``out`` against ``gt`` as saved, through gir's one scoring path."""
    from gir.metrics import score_restored

    out = np.asarray(out)
    f = out.astype(np.float32) / np.float32(255.0) if out.dtype == np.uint8 else out.astype(np.float32)
    saved = np.clip(np.rint(f * 255.0), 0, 255).astype(np.uint8)
    p, s = score_restored(f, gt.astype(np.float32) / np.float32(255.0))
    return p, s, bool(np.array_equal(saved, lq))


def fmt_identity(values: list[float]) -> str:
    def one(v: float) -> str:
        return "identical" if math.isinf(v) else (">= 60" if v >= 60 else f"{v:.2f}")
    if not values:
        return "—"
    lo, med = min(values), float(np.median(values))
    if math.isinf(lo):
        return "identical"
    return one(lo) if len(values) == 1 else f"min {one(lo)} / med {one(med)}"


def table(records: list[dict], task_names: list[str], methods: list[str]) -> tuple[str, dict]:
    cols = [m for m in methods if m != "input"]
    head = ("| task | images | input PSNR / SSIM | " + " | ".join(f"{m} PSNR / SSIM (gain)" for m in cols)
            + (" | pipeline above input? |" if "pipeline" in cols else " |"))
    lines = [head, "|---|---:|---|" + "---|" * len(cols) + ("---|" if "pipeline" in cols else "")]
    above, degraded, worst_identity = 0, 0, (math.inf, "", "")
    for t in task_names:
        rows = [r for r in records if r["task"] == t]
        identity = rows[0]["identity"]
        by = {m: [r for r in rows if r["method"] == m] for m in methods}
        n = len(by["input"])
        if identity:
            cells = ["identical"]
            for m in cols:
                cells.append(fmt_identity([r["psnr"] for r in by[m]]) if by[m] else "—")
            for r in by.get("pipeline", []):
                if r["psnr"] < worst_identity[0]:
                    worst_identity = (r["psnr"], t, r["image"])
            if "pipeline" in cols:
                pv = [r["psnr"] for r in by["pipeline"]]
                cells.append("unchanged: " + ("yes" if all(math.isinf(v) for v in pv) else
                                              ("no (>= 60 dB)" if min(pv) >= 60 else "no")))
        else:
            i_p = float(np.mean([r["psnr"] for r in by["input"]]))
            i_s = float(np.mean([r["ssim"] for r in by["input"]]))
            cells = [f"{i_p:.2f} / {i_s:.3f}"]
            for m in cols:
                if not by[m]:
                    cells.append("—")
                    continue
                p = float(np.mean([r["psnr"] for r in by[m]]))
                s = float(np.mean([r["ssim"] for r in by[m]]))
                cells.append(f"{p:.2f} / {s:.3f} ({p - i_p:+.2f})")
            if "pipeline" in cols:
                degraded += 1
                p = float(np.mean([r["psnr"] for r in by["pipeline"]]))
                unchanged = sum(r["unchanged"] for r in by["pipeline"])
                ok = p > i_p + 0.005
                above += ok
                cells.append(("yes" if ok else "no") + (f" ({unchanged}/{n} unchanged)" if unchanged else ""))
        lines.append(f"| {t} | {n} | " + " | ".join(cells) + " |")
    summary = {"pipeline_above_input": above, "degraded_tasks": degraded,
               "worst_identity_psnr": worst_identity[0], "worst_identity_task": worst_identity[1],
               "worst_identity_image": worst_identity[2]}
    return "\n".join(lines), summary


# --------------------------------------------------------------------------------------------------------
# Contact sheet: one image per task, 1:1 centre crops (not resized, so that artefacts stay visible).

def _tile(img: np.ndarray, size: int) -> np.ndarray:
    img = np.asarray(img)
    if img.dtype != np.uint8:
        img = np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)
    h, w = img.shape[:2]
    y, x = max(0, (h - size) // 2), max(0, (w - size) // 2)
    crop = img[y:y + size, x:x + size]
    out = np.full((size, size, 3), 255, np.uint8)
    out[:crop.shape[0], :crop.shape[1]] = crop
    return out


def contact_sheet(rows: list[tuple[str, dict[str, tuple[np.ndarray, str]]]], columns: list[str],
                  size: int) -> np.ndarray:
    """rows: (task label, {column: (image, caption)}); one labelled tile per column, white where absent."""
    label_w, cap_h, gap = 170, 14, 4
    cell_w, cell_h = size + gap, size + cap_h + gap
    sheet = np.full((20 + len(rows) * cell_h, label_w + len(columns) * cell_w, 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    for j, c in enumerate(columns):
        cv2.putText(sheet, c, (label_w + j * cell_w + 2, 14), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    for i, (label, cells) in enumerate(rows):
        y = 20 + i * cell_h
        cv2.putText(sheet, label[:26], (4, y + size // 2), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
        for j, c in enumerate(columns):
            if c not in cells:
                continue
            img, cap = cells[c]
            x = label_w + j * cell_w
            sheet[y:y + size, x:x + size] = _tile(img, size)
            cv2.putText(sheet, cap, (x + 2, y + size + 11), font, 0.35, (60, 60, 60), 1, cv2.LINE_AA)
    return sheet


# --------------------------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--methods", default="input,pipeline,previous,classical",
                    help="comma list of input, pipeline, previous, classical (input is always scored)")
    ap.add_argument("--model", help="also run this model name or checkpoint, as method 'model'")
    ap.add_argument("--max-images", type=int, help="first N scikit-image photos (default: all bundled ones)")
    ap.add_argument("--max-side", type=int, default=384, help="centre crop to at most this many px a side")
    ap.add_argument("--no-structure", action="store_true", help="leave out the synthetic thin-structure images")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, help="torch / OpenCV threads (default: their own)")
    ap.add_argument("--sheet", help="write a contact sheet PNG here (one image per task)")
    ap.add_argument("--sheet-image", help="the photo shown for degraded tasks (default: the first one)")
    ap.add_argument("--thumb", type=int, default=128, help="contact sheet tile size (1:1 centre crops)")
    ap.add_argument("--json", help="write all numbers and per-image scores here")
    ap.add_argument("--append", help="also append the table to this Markdown file")
    args = ap.parse_args()

    names = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(names) - {"input", "pipeline", "previous", "classical"})
    if unknown:
        raise SystemExit(f"unknown method(s) {', '.join(unknown)}; known: input, pipeline, previous, classical")
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
        cv2.setNumThreads(args.threads)
    from tqdm import tqdm

    photos, skipped = skimage_images(args.max_side, args.max_images)
    if not photos:
        raise SystemExit("no scikit-image photos could be loaded (" + "; ".join(skipped) + ")")
    structure = [] if args.no_structure else structure_images(256, args.seed)
    methods, about = build_methods(names, args.model, args.device)
    order = ["input"] + list(methods)
    task_list = tasks()
    sheet_image = args.sheet_image or photos[0][0]
    sheet_rows: list[tuple[str, dict]] = []
    records: list[dict] = []
    jobs = [(t, name, img) for t in task_list for name, img in photos]
    jobs += [(Task(f"structure: {name}", lambda x, r: x.copy(), identity=True), name, img)
             for name, img in structure]

    t0 = time.perf_counter()
    for task, name, gt in tqdm(jobs, desc="tasks x images", unit="pair", file=sys.stderr):
        rng = np.random.default_rng(task_seed(args.seed, task.name, name))
        lq = task.fn(gt, rng)
        assert lq.dtype == np.uint8 and lq.shape == gt.shape, task.name
        outs = {"input": lq}
        for m, fn in methods.items():
            out = fn(lq, task)
            if out is not None:
                outs[m] = out
        # identity rows: the output against its input (= the clean image), so inf means unchanged
        for m, out in outs.items():
            p, s, unchanged = score(out, lq, gt)
            records.append({"task": task.name, "image": name, "method": m, "psnr": p, "ssim": s,
                            "unchanged": unchanged, "identity": task.identity})
        if args.sheet and (name == sheet_image or task.name.startswith("structure")):
            mine = {r["method"]: r["psnr"] for r in records[-len(outs):]}
            cells = {m: (outs[m], f"{mine[m]:.2f} dB" if math.isfinite(mine[m]) else "identical")
                     for m in outs}
            cells["clean"] = (gt, name)
            sheet_rows.append((task.name.replace("structure: ", "struct: "), cells))
    seconds = time.perf_counter() - t0

    task_names = list(dict.fromkeys(r["task"] for r in records))
    text_table, summary = table(records, task_names, order)
    cmd = "python benchmarks/heldout_restore.py" + "".join(" " + shlex.quote(a) for a in sys.argv[1:])
    threads = args.threads or os.environ.get("OMP_NUM_THREADS") or "default"
    head = (f"### Held-out restoration (issue 21): scikit-image photos, degradations written independently\n\n"
            f"{datetime.now():%Y-%m-%d}, {platform.node()}, {platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} cores, threads {threads}; `{cmd}`; {seconds:.0f} s; seed {args.seed}.\n\n"
            f"Images ({len(photos)}, centre crops of at most {args.max_side} px): "
            + ", ".join(f"{n} {im.shape[1]}x{im.shape[0]}" for n, im in photos)
            + (f"; skipped: {', '.join(skipped)}" if skipped else "")
            + (f"; structure set (256x256, identity only): {', '.join(n for n, _ in structure)}" if structure
               else "") + ".\n\nMethods: " + "; ".join(f"`{m}`: {d}" for m, d in about.items())
            + ".\n\nPSNR (dB, RGB) / SSIM, mean over images; gain over the input in dB. Identity rows (clean, "
              "structure): PSNR of the output against the unchanged input, min and median over images.\n")
    lines = [head, text_table]
    if "pipeline" in methods:
        w = summary["worst_identity_psnr"]
        worst = ("identical everywhere" if math.isinf(w) else
                 f"{w:.2f} dB ({summary['worst_identity_task']}, {summary['worst_identity_image']})")
        lines.append(f"\nSummary: the pipeline ends above its input on {summary['pipeline_above_input']}/"
                     f"{summary['degraded_tasks']} degraded tasks; worst clean/structure PSNR: {worst}.")
    emit("\n".join(lines) + "\n", args.append)

    if args.sheet:
        columns = ["input"] + [m for m in ("pipeline", "previous", "model", "classical") if m in methods] + ["clean"]
        Path(args.sheet).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(contact_sheet(sheet_rows, columns, args.thumb)).save(args.sheet)
        print(f"contact sheet: {args.sheet}", file=sys.stderr)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        clean = lambda v: None if isinstance(v, float) and math.isinf(v) else v  # noqa: E731
        Path(args.json).write_text(json.dumps(
            {"command": cmd, "seconds": seconds, "images": [n for n, _ in photos], "skipped": skipped,
             "structure": [n for n, _ in structure], "methods": about,
             "summary": {k: clean(v) for k, v in summary.items()},
             "scores": [{k: clean(v) for k, v in r.items()} for r in records]}, indent=1))


if __name__ == "__main__":
    main()
