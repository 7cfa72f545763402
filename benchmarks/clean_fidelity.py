"""What a restorer does to photos that need no restoration (issue 21: "a clean photo comes back unchanged").

For clean images (CBSD68 and Kodak24 by default, whole photos) this prints, per method: the median and the
lowest RGB PSNR of the output against the clean input (identical outputs count as infinite), how many come
back identical, the mean SSIM and the fraction of the input's fine-detail energy the output keeps (mean
squared Laplacian, output / input; 1.0 = untouched, < 1 = smoothed). ``--structures N`` adds N clean photos
with thin regular structure painted in (blinds, window grids, fences, text, line art; the generator the
analyzer was trained with, :func:`gir.data.content.paint_structure`, so in distribution for it; see
``benchmarks/heldout_restore.py`` for structure drawn independently). Gaussian blurs of sigma 0.5 and 0.7
px run in the same table as a scale.

    python benchmarks/clean_fidelity.py                              # the default pipeline and gir-wunet-cpu
    python benchmarks/clean_fidelity.py --model pipeline runs/x/models/net_latest.safetensors --max-images 12
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
    """``pipeline``: the default pipeline of `gir restore`; else that network, run as `gir restore --model`."""
    from gir.restore import Restorer
    from gir.restore.pipeline import Pipeline

    return Pipeline(device="cpu") if spec == "pipeline" else Restorer(spec, device="cpu")


def structure_set(images, n: int, seed: int = 0):
    """``n`` of the clean photos with thin regular structure painted in (seeded)."""
    from gir.data.content import paint_structure

    out = []
    for i, (s, name, img) in enumerate(images[:n]):
        rng = np.random.default_rng([seed, i])
        u8 = np.rint(img * 255).astype(np.uint8)
        out.append((f"{s}+structure", name, paint_structure(u8, rng).astype(np.float32) / 255))
    return out


def summarise(name: str, scores: list[tuple[float, float, float]]) -> str:
    p = np.array([x[0] for x in scores])
    same = int(np.isinf(p).sum())
    fmt = lambda v: "identical" if np.isinf(v) else f"{v:.2f}"  # noqa: E731
    return (f"| {name} | {fmt(np.median(p))} | {fmt(p.min())} | {same}/{len(p)} | "
            f"{np.mean([x[1] for x in scores]):.4f} | {np.mean([x[2] for x in scores]):.3f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", nargs="+", default=["pipeline", "gir-wunet-cpu"],
                    help="'pipeline' (the default of gir restore), model NAMEs or checkpoint PATHs")
    ap.add_argument("--data", default="../shared/data/test", help="folder holding the sets")
    ap.add_argument("--sets", nargs="+", default=["kodak24", "cbsd68"])
    ap.add_argument("--max-images", type=int, help="first N images of each set (default all)")
    ap.add_argument("--crop", type=int, default=0, help="centre crop size in pixels (0 = whole image, default)")
    ap.add_argument("--structures", type=int, default=24, help="photos with painted structure (default 24)")
    ap.add_argument("--append", help="also append the table to this Markdown file")
    args = ap.parse_args()

    images = [im for s in args.sets for im in load_images(Path(args.data) / s, args.max_images)]
    if args.crop:
        images = [(s, n, centre_crop(im, args.crop)) for s, n, im in images]
    structured = structure_set(images, args.structures)
    methods = {"gaussian blur sigma 0.5": gaussian(0.5), "gaussian blur sigma 0.7": gaussian(0.7)}
    methods.update({spec: model(spec) for spec in args.model})
    t0 = time.time()
    rows, worst = [], []
    for name, fn in methods.items():
        for label, group in (("photos", images), ("structure", structured)):
            if not group:
                continue
            scores = []
            for st, iname, img in tqdm(group, desc=f"{name} / {label}", unit="img", leave=False):
                out = np.clip(fn(img), 0.0, 1.0).astype(np.float32)
                scores.append((psnr(out, img), ssim(out, img), detail_energy(out) / max(detail_energy(img), 1e-12)))
                if name in args.model:
                    worst.append((scores[-1][0], name, f"{st}/{iname}"))
            rows.append(summarise(f"{name}, {label}", scores))
    worst = sorted(w for w in worst if np.isfinite(w[0]))[:6]
    head = (f"### Clean-image fidelity ({len(images)} clean photos of {', '.join(args.sets)}, "
            f"{f'{args.crop}-px centre crops' if args.crop else 'whole images'}; {len(structured)} with painted "
            f"structure)\n\n{datetime.now():%Y-%m-%d}, {platform.node()}, {platform.machine()}; "
            f"`python benchmarks/clean_fidelity.py --model {' '.join(args.model)}`; {time.time() - t0:.0f} s.\n\n"
            "| method, images | median PSNR to the clean input (dB) | lowest | identical | SSIM | fine detail kept |"
            "\n|---|---:|---:|---:|---:|---:|")
    tail = ["", "Lowest non-identical outputs: " + "; ".join(f"{n} on {i}: {p:.2f} dB" for p, n, i in worst)] \
        if worst else []
    emit("\n".join([head, *rows, *tail]) + "\n", args.append)


if __name__ == "__main__":
    main()
