"""What a blind restorer does to photos that need no restoration.

A blind model is not told whether its input is degraded, so it must leave a clean photo alone. For clean
images (Kodak24 and CBSD68 by default, centre crops) this prints, per model: RGB PSNR / SSIM of the output
against the clean input (higher = closer to the identity), and the fraction of the input's fine-detail energy
the output keeps (mean squared Laplacian, output / input; 1.0 = untouched, < 1 = smoothed). A Gaussian blur
of sigma 0.5 and 0.7 px runs in the same table as a scale.

    python benchmarks/clean_fidelity.py                                        # the shipped model
    python benchmarks/clean_fidelity.py --model gir-wunet-cpu runs/x/models/net_latest.safetensors
"""
from __future__ import annotations

import argparse
import platform
import time
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from _report import emit  # benchmarks/ is on sys.path when a script here runs

from gir.bench.evaluate import load_images
from gir.data.patches import centre_crop
from gir.metrics import psnr, rgb_to_y, ssim


def detail_energy(img: np.ndarray) -> float:
    """Mean squared Laplacian of the BT.601 luma (float32 HxWx3 in [0, 1]); used as a ratio, so the luma's
    scale and offset cancel."""
    return float(np.mean(cv2.Laplacian(rgb_to_y(img), cv2.CV_64F) ** 2))


def gaussian(sigma: float):
    return lambda img: cv2.GaussianBlur(img, (0, 0), sigma)


def model(spec: str):
    from gir.restore import Restorer

    return Restorer(spec, device="cpu")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", nargs="+", default=["gir-wunet-cpu"], help="model NAMEs or checkpoint PATHs")
    ap.add_argument("--data", default="../shared/data/test", help="folder holding the sets")
    ap.add_argument("--sets", nargs="+", default=["kodak24", "cbsd68"])
    ap.add_argument("--max-images", type=int, default=12, help="first N images of each set")
    ap.add_argument("--crop", type=int, default=256, help="centre crop size in pixels (0 = whole image)")
    ap.add_argument("--append", help="also append the table to this Markdown file")
    args = ap.parse_args()

    images = [im for s in args.sets for im in load_images(Path(args.data) / s, args.max_images)]
    if args.crop:
        images = [(s, n, centre_crop(im, args.crop)) for s, n, im in images]
    methods = {"gaussian blur sigma 0.5": gaussian(0.5), "gaussian blur sigma 0.7": gaussian(0.7)}
    methods.update({spec: model(spec) for spec in args.model})
    t0 = time.time()
    rows = []
    for name, fn in methods.items():
        scores = []
        for _, _, img in tqdm(images, desc=name, unit="img", leave=False):
            out = np.clip(fn(img), 0.0, 1.0).astype(np.float32)
            scores.append((psnr(out, img), ssim(out, img), detail_energy(out) / max(detail_energy(img), 1e-12)))
        p, s, k = np.mean(scores, axis=0)
        rows.append(f"| {name} | {p:.2f} | {s:.4f} | {k:.2f} |")
    head = (f"### Clean-image fidelity ({len(images)} clean images of {', '.join(args.sets)}, "
            f"{f'{args.crop}-px centre crops' if args.crop else 'whole images'})\n\n"
            f"{datetime.now():%Y-%m-%d}, {platform.node()}, {platform.machine()}; "
            f"`python benchmarks/clean_fidelity.py --model {' '.join(args.model)}`; {time.time() - t0:.0f} s.\n\n"
            "| method | PSNR to the clean input (dB) | SSIM | fine detail kept |\n|---|---:|---:|---:|")
    emit("\n".join([head, *rows]) + "\n", args.append)


if __name__ == "__main__":
    main()
