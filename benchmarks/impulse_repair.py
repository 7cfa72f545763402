"""When the impulse repair of ``gir restore`` switches on, and what it does when it does.

:mod:`gir.restore.impulse` calls an image impulsive when isolated extremes (samples at 0 or 1 far from
their 3x3 median) of both signs are common and outnumber other isolated outliers ``MIN_RATIO`` to 1. This
prints, per condition: how many images switch it on, the range of that ratio and of the rarer sign's
fraction (the two gate statistics), and for degraded images the PSNR of the input, of a 3x3 median filter
and of the repair (RGB, no border crop). Clean photos, real degraded photos and degradations that are not
impulse noise must never switch it on; salt and pepper should.

    python benchmarks/impulse_repair.py                      # ../shared/data: test, train and real sets
    python benchmarks/impulse_repair.py --append benchmarks/RESULTS.md
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
from gir.data.patches import quantize
from gir.degradations.recipe import Recipe
from gir.metrics import psnr
from gir.restore.impulse import MIN_FRACTION, MIN_RATIO, repair_impulses

DEGRADED = ["noise(sigma=30)", "noise(sigma=50)", "poisson_noise", "low_light", "jpeg(quality=20)", "rain",
            "snow", "damage", "damage(color=white, thickness=1)",
            "salt_pepper(density=0.05) > jpeg(quality=90)",
            "salt_pepper(density=0.05)", "salt_pepper(density=0.01)",
            "salt_pepper(density=0.05, hits=channels)", "salt_pepper(density=0.01, hits=channels)",
            "salt_pepper(density=0.05, salt=1.0)"]


def row(name: str, images, recipe: Recipe | None, seed: int) -> str:
    on, ratios, rarer, scores = 0, [], [], []
    for i, clean in enumerate(tqdm(images, desc=name[:40], leave=False)):
        img = clean if recipe is None else quantize(recipe.apply(clean, seed=seed + i))
        out, stats = repair_impulses(img)
        on += stats.impulsive
        ratios.append(stats.ratio)
        rarer.append(min(stats.salt, stats.pepper))
        if recipe is not None:
            scores.append((psnr(img, clean), psnr(cv2.medianBlur(img, 3), clean), psnr(out, clean)))
    quality = " | ".join(f"{v:.2f}" for v in np.mean(scores, axis=0)) if scores else "| |"
    return (f"| {name} | {len(ratios)} | {on} | {min(ratios):.3g} - {max(ratios):.3g} | "
            f"{min(rarer):.5f} - {max(rarer):.5f} | {quality} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="../shared/data", help="folder holding test/, train/ and real/")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--append", help="also append the table to this Markdown file")
    args = ap.parse_args()
    data = Path(args.data)
    if not data.is_dir():
        raise SystemExit(f"error: {data}: no such folder (pass --data)")
    t0 = time.perf_counter()

    def folder_images(root: Path) -> list[np.ndarray]:
        return [img for _, _, img in load_images(root)]

    test = folder_images(data / "test" / "cbsd68") + folder_images(data / "test" / "kodak24")
    lines = [f"Gate: the rarer sign's fraction >= {MIN_FRACTION:g} and the ratio >= {MIN_RATIO:g}.", "",
             "| images | n | switched on | ratio (extremes / other outliers) | rarer sign, fraction of samples | "
             "input PSNR | median 3x3 | repair |", "|---|---:|---:|---|---|---:|---:|---:|"]
    for name in ("test", "train", "real"):
        lines.append(row(f"{name}/ clean or as found", folder_images(data / name), None, args.seed))
    for text in DEGRADED:
        lines.append(row(f"CBSD68 + Kodak24, `{text}`", test, Recipe.from_text(text), args.seed))
    head = (f"### Impulse repair gate\n\n{datetime.now():%Y-%m-%d}, {platform.node()}, "
            f"`python benchmarks/impulse_repair.py`, {time.perf_counter() - t0:.0f} s\n")
    emit(head + "\n" + "\n".join(lines) + "\n", args.append)


if __name__ == "__main__":
    main()
