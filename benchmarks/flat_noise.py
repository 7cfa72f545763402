"""Noise must show where a photo is flat (:mod:`gir.analysis.flatness`): how often the check overrules the
analyzer's noise reading, where it should (clean drawings, screenshots, slides) and where it must not (noisy
photos, compressed or not).

1. Noisy photos: scikit-image's bundled photos (never trained on; up to 512 px), with Gaussian noise from numpy
   (sigma 3-50) or the small-sensor camera of ``benchmarks/perceptual.py`` (Poisson + read noise, correlated,
   sRGB), each kept as PNG or saved by Pillow's JPEG at quality 30-95. Counted: photos the analyzer reads as
   noisy (p >= 0.5) without the check, and how many of them the check overrules (each one is a false
   refutation: a denoising step that no longer runs).
2. The real photos of ``../shared/data/real`` (when present): every photo the check overrules, with its share of
   flat blocks and its noise reading.
3. Clean drawings (a grid of 1-px lines, stripes, a text card, the five thin-structure images of
   ``benchmarks/heldout_restore.py``): the noise reading with and without the check, and whether `gir restore`
   returns them unchanged.

    python benchmarks/flat_noise.py [--append benchmarks/RESULTS.md]
"""
from __future__ import annotations

import argparse
import copy
import platform
from datetime import datetime
from pathlib import Path

import numpy as np

from _report import emit
from heldout_restore import jpeg, quantise, skimage_images, structure_images
from perceptual import camera

SIGMAS = (3, 8, 15, 30, 50)
QUALITIES = (None, 30, 50, 75, 95)  # None: kept as PNG


def drawings() -> list[tuple[str, np.ndarray]]:
    """Clean synthetic images with flat areas and thin structure (float32 HxWx3)."""
    from PIL import Image, ImageDraw, ImageFont

    grid = np.zeros((256, 256, 3), np.float32) + np.float32([0.6, 0.7, 0.8])
    grid[::16], grid[:, ::16] = 0.15, 0.15
    stripes = np.full((256, 256, 3), 0.85, np.float32)
    stripes[:, 0::4] = stripes[:, 1::4] = 0.1
    card = Image.new("RGB", (256, 128), (240, 236, 228))
    draw = ImageDraw.Draw(card)
    draw.text((6, 8), "Invoice 2026-12 no. 0189", fill=(20, 20, 30), font=ImageFont.load_default(size=18))
    draw.text((6, 60), "thin lines & small digits 4711", fill=(30, 30, 30), font=ImageFont.load_default(size=12))
    out = [("grid", grid), ("stripes", stripes), ("text card", np.asarray(card, np.float32) / 255.0)]
    return out + [(name, u8.astype(np.float32) / 255.0) for name, u8 in structure_images()]


def noisy_photos(seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """(label, float32 image) for every scikit-image photo x noise x save of part 1."""
    rng = np.random.default_rng(seed)
    out = []
    for name, u8 in skimage_images(max_side=512)[0]:
        clean = u8.astype(np.float32) / 255.0
        for q in QUALITIES:
            for sigma in SIGMAS:
                u = quantise((clean + rng.normal(0.0, sigma / 255.0, clean.shape)) * 255.0)
                out.append((f"{name} gauss {sigma} {'png' if q is None else f'q{q}'}",
                            (u if q is None else jpeg(u, q)).astype(np.float32) / 255.0))
            for photons in (20.0, 80.0, 300.0):
                out.append((f"{name} camera {photons:.0f} q{q or 100}",
                            camera(clean, rng, photons, 0.004, q or 100).astype(np.float32)))
    return out


def overruled(analyzer, rgb: np.ndarray) -> tuple[float, float, float]:
    """(noise p without the check, with it, flat share) of one image."""
    from gir.analysis.analyze import THRESHOLD, diagnose
    from gir.analysis.flatness import flat_share, fuse_flatness

    seen, _ = diagnose(analyzer, rgb)
    before = seen.findings["noise"].p
    checked = copy.deepcopy(seen)
    share = flat_share(rgb)
    fuse_flatness(checked, share, THRESHOLD)
    return before, checked.findings["noise"].p, share


def main() -> None:
    import torch

    from gir.analysis.analyze import Analyzer, THRESHOLD
    from gir.bench.run import shared_data
    from gir.io import read_rgb
    from gir.metrics import psnr
    from gir.restore.pipeline import Pipeline

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--append")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    plain = Analyzer("gir-analyzer", flatness=False)
    lines = [f"`python benchmarks/flat_noise.py`, {datetime.now():%Y-%m-%d %H:%M}, {platform.machine()}, "
             f"{args.threads} threads.", ""]

    groups: dict[str, list] = {}
    for label, rgb in noisy_photos():
        before, after, share = overruled(plain, rgb)
        key = label.split(" ", 1)[1].rsplit(" ", 1)[-1]  # the save: png or qNN
        g = groups.setdefault(key, [0, 0, 0, 0.0, 0.0])
        g[0] += 1
        g[1] += before >= THRESHOLD
        g[2] += before >= THRESHOLD and after < THRESHOLD
        g[3] = max(g[3], share)
        if before >= THRESHOLD:
            g[4] = max(g[4], share)
    lines += ["**Noisy photos** (scikit-image, numpy Gaussian noise sigma 3-50 and a numpy camera):", "",
              "| save | images | read as noisy | overruled by the flat blocks | largest flat share | "
              "largest among those read as noisy |", "|---|---|---|---|---|---|"]
    lines += [f"| {k} | {n} | {noisy} | **{wrong}** | {top:.3f} | {top_noisy:.3f} |"
              for k, (n, noisy, wrong, top, top_noisy) in sorted(groups.items())]
    lines.append("")

    try:
        real = sorted(p for p in Path(shared_data(), "real").rglob("*") if p.suffix.lower() in (".png", ".jpg"))
    except Exception as e:  # noqa: BLE001 - part 2 needs the shared data
        real, why = [], str(e)
    else:
        why = ""
    rows = []
    for path in real:
        before, after, share = overruled(plain, read_rgb(path))
        if after < before:
            rows.append(f"| {path.parent.name}/{path.name} | {share:.3f} | {before:.2f} | {after:.2f} |")
    lines += [f"**Real photos** ({len(real)} in `../shared/data/real`{'; ' + why if why else ''}): "
              f"{len(rows)} overruled.", ""]
    if rows:
        lines += ["| photo | flat share | noise p | with the check |", "|---|---|---|---|", *rows, ""]

    pipe = Pipeline(device="cpu")
    lines += ["**Clean drawings** through `gir restore` (default):", "",
              "| image | flat share | noise p | with the check | restore against the input |", "|---|---|---|---|---|"]
    for name, rgb in drawings():
        before, after, share = overruled(plain, rgb)
        out = pipe.run(rgb).image
        same = "identical" if np.array_equal(out, rgb) else f"{psnr(out, rgb):.2f} dB"
        lines.append(f"| {name} | {share:.3f} | {before:.2f} | {after:.2f} | {same} |")
    emit("\n".join(lines), args.append)


if __name__ == "__main__":
    main()
