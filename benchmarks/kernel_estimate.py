"""How well is a blur kernel read from the photo alone? (issue 28, ``gir-kernel``)

Photos that are not in ../shared (scikit-image's bundled photos, ``heldout_restore.py``), centre crops of at
most ``--max-side`` px, blurred here with OpenCV (``cv2.filter2D``, reflected borders; motion kernels drawn
with ``cv2.line``, as the held-out benchmark draws them) or resampled with Pillow's bicubic, 8 bits. Per
task: how often the kind is right (a deconvolvable blur, resampling, nothing), the median error of a
Gaussian's sigma, of a motion's length and angle. ``--baseline FILE`` scores an older
``gir/analysis/kernel.py`` in the same run (e.g. ``git show 6feb96c:src/gir/analysis/kernel.py >
/tmp/kernel_old.py``, the classical estimator this network replaced). ``--sheet PNG`` draws, for four
photos, the blurred crop, the true and the estimated kernel, and the plug-and-play result with the estimate.
``--weights FILE`` scores the shipped estimator with other kernel-network weights beside the shipped ones.

Two chain tasks read the kernel where the pipeline reads it, after its first step: Gaussian 1.2, noise 10
(numpy), then ``gir-denoiser`` told sigma 10 (``gaussian+denoised``); Gaussian 1.2, noise 3, Pillow JPEG
quality 40, then ``gir-expert-jpeg`` told quality 40 (``gaussian+dejpeg``).

    python benchmarks/kernel_estimate.py --baseline /tmp/kernel_old.py --sheet docs/kernel_estimate.png
"""
from __future__ import annotations

import argparse
import importlib.util
import platform
import shlex
import sys
import time
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import heldout_restore as H  # noqa: E402

TASKS = (("gaussian", 1.0), ("gaussian", 1.6), ("gaussian", 2.4), ("motion", 7), ("motion", 11), ("motion", 15),
         ("resample", 2), ("resample", 3), ("none", 0), ("gaussian+denoised", 1.2), ("gaussian+dejpeg", 1.2))
_STEPS: dict = {}


def first_step(name: str):
    """The pipeline's first step of a chain task, ``(image, strength) -> image``, loaded once."""
    if name not in _STEPS:
        from gir.restore.experts import shipped_experts

        expert = shipped_experts(use=(name,))[name]
        key = {"denoise": "noise.sigma", "jpeg": "jpeg.quality"}[name]
        _STEPS[name] = lambda img, v: expert(img, strengths={key: float(v)})
    return _STEPS[name]


def degrade(gt8: np.ndarray, kind: str, value: float, rng) -> tuple[np.ndarray, np.ndarray | None, float]:
    """(uint8 blurred photo, the true kernel or None, the motion angle)."""
    if kind.startswith("gaussian+"):
        k = H.gaussian_kernel(value)
        y8 = H.quantise(cv2.filter2D(gt8.astype(np.float32), -1, k, borderType=cv2.BORDER_REFLECT))
        if kind == "gaussian+denoised":
            y = first_step("denoise")(H.gaussian_noise(y8, 10, rng).astype(np.float32) / 255, 10)
        else:
            y = first_step("jpeg")(H.jpeg(H.gaussian_noise(y8, 3, rng), 40).astype(np.float32) / 255, 40)
        return H.quantise(np.asarray(y) * 255), k, 0.0
    if kind == "gaussian":
        k = H.gaussian_kernel(value)
    elif kind == "motion":
        angle = float(rng.uniform(0, 180))
        k = H.motion_kernel(int(value), angle)
        return H.quantise(cv2.filter2D(gt8.astype(np.float32), -1, k, borderType=cv2.BORDER_REFLECT)), k, angle
    elif kind == "resample":
        return H.bicubic_down_up(gt8, int(value)), None, 0.0
    else:
        return gt8.copy(), None, 0.0
    return H.quantise(cv2.filter2D(gt8.astype(np.float32), -1, k, borderType=cv2.BORDER_REFLECT)), k, 0.0


def load_baseline(path: str):
    spec = importlib.util.spec_from_file_location("kernel_baseline", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["kernel_baseline"] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod.estimate_kernel


def angle_error(a: float, b: float) -> float:
    d = abs(a - b) % 180.0
    return min(d, 180.0 - d)


def score(estimates: list, kind: str, value: float, angles: list[float]) -> list[str]:
    """Cells: kinds right, sigma / length / angle median errors."""
    kind = kind.split("+")[0]
    deconvolvable = kind in ("gaussian", "motion")
    right = [(e.kernel is not None and e.kind == kind) if deconvolvable else e.kernel is None for e in estimates]
    sig = [abs(e.params["sigma"] - value) / value for e in estimates if kind == "gaussian" and e.kind == "gaussian"]
    length = [abs(e.params["length"] - value) for e in estimates if kind == "motion" and e.kind == "motion"]
    ang = [angle_error(e.params["angle"], a) for e, a in zip(estimates, angles) if kind == "motion" and e.kind == "motion"]
    med = lambda v, f: f.format(np.median(v)) if v else "-"  # noqa: E731
    return [f"{sum(right)}/{len(right)}", med(sig, "{:.0%}"), med(length, "{:.2f}"), med(ang, "{:.1f}")]


def sheet(imgs, path: str) -> None:
    from PIL import Image, ImageDraw

    from gir.analysis.kernel import estimate_kernel
    from gir.metrics import psnr
    from gir.restore.operators import Blur
    from gir.restore.pnp import denoiser_prior, solve

    prior = denoiser_prior()
    picks = [("astronaut", "motion", 11), ("camera", "motion", 15), ("coffee", "gaussian", 1.6), ("chelsea", "motion", 7)]
    side, ks = 224, 96
    rows = []
    for name, kind, value in picks:
        gt8 = dict(imgs).get(name)
        if gt8 is None:
            continue
        rng = np.random.default_rng(H.task_seed(0, f"{kind} {value}", name))
        lq8, k, _ = degrade(gt8, kind, value, rng)
        lq = lq8.astype(np.float32) / 255
        e = estimate_kernel(lq)
        out = solve(lq, Blur(e.kernel), prior, 0.0) if e.kernel is not None else lq

        def kimg(kk):
            canvas = np.zeros((33, 33), np.float32)
            if kk is not None:
                r = kk.shape[0] // 2
                canvas[16 - r:16 + r + 1, 16 - r:16 + r + 1] = kk / kk.max()
            return np.repeat(cv2.resize(canvas, (ks, ks), interpolation=cv2.INTER_NEAREST)[..., None] * 255, 3, 2)

        def crop(a):
            h, w = a.shape[:2]
            return a[(h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side]

        pad = lambda a: np.pad(a, (((side - ks) // 2, side - ks - (side - ks) // 2), (4, 4), (0, 0)))  # noqa: E731
        row = np.concatenate([crop(lq8), pad(kimg(k[::-1, ::-1] if k is not None else None)),
                              pad(kimg(e.kernel)), crop(np.round(out * 255).astype(np.uint8))], 1)
        gain = f"{psnr(lq, gt8 / 255.0):.2f} -> {psnr(np.round(out * 255) / 255, gt8 / 255.0):.2f} dB"
        rows.append((row.astype(np.uint8), f"{name}: {kind} {value}  |  estimate: {e.describe()}  |  {gain}"))
    width = rows[0][0].shape[1]
    canvas = Image.new("RGB", (width, sum(r.shape[0] + 18 for r, _ in rows) + 20), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((4, 4), "blurred (OpenCV) | true kernel | gir-kernel's estimate | plug-and-play with the estimate", fill="black")
    y = 20
    for r, text in rows:
        draw.text((4, y), text, fill="black")
        canvas.paste(Image.fromarray(r), (0, y + 16))
        y += r.shape[0] + 18
    canvas.save(path)
    print(f"sheet -> {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False)
    ap.add_argument("--max-side", type=int, default=256)
    ap.add_argument("--baseline", help="an older gir/analysis/kernel.py to score beside the shipped estimator")
    ap.add_argument("--weights", help="other gir-kernel weights to score beside the shipped ones")
    ap.add_argument("--sheet", help="write the contact sheet here (PNG)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    from gir.analysis.kernel import estimate_kernel

    methods = {"gir-kernel": estimate_kernel}
    if args.weights:
        methods[Path(args.weights).name] = lambda img: estimate_kernel(img, weights=args.weights)
    if args.baseline:
        methods["baseline (" + Path(args.baseline).name + ")"] = load_baseline(args.baseline)
    imgs, skipped = H.skimage_images(args.max_side)
    print(f"`python {' '.join(shlex.quote(a) for a in sys.argv)}`, {datetime.now():%Y-%m-%d %H:%M}, "
          f"{platform.processor() or platform.machine()}, torch {torch.__version__}; {len(imgs)} scikit-image photos"
          + (f" (left out: {', '.join(skipped)})" if skipped else "") + "\n")
    cols = ["blur"] + [f"{m}: {c}" for m in methods for c in ("kind right", "sigma err", "length err px", "angle err deg")]
    print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    t0 = time.time()
    for kind, value in TASKS:
        est = {m: [] for m in methods}
        angles = []
        for name, gt8 in imgs:
            rng = np.random.default_rng(H.task_seed(0, f"{kind} {value}", name))
            lq8, _, angle = degrade(gt8, kind, value, rng)
            angles.append(angle)
            for m, fn in methods.items():
                est[m].append(fn(lq8.astype(np.float32) / 255))
        cells = [f"{kind} {value}" if kind != "none" else "sharp"]
        for m in methods:
            cells += score(est[m], kind, value, angles)
        print("| " + " | ".join(cells) + " |", flush=True)
    print(f"\n({time.time() - t0:.0f} s)")
    if args.sheet:
        sheet(imgs, args.sheet)


if __name__ == "__main__":
    main()
