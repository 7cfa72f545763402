"""Do no harm on clean photos saved as JPEG: `gir restore` (default) on 256-px tiles of scikit-image's bundled
photos and textures (never trained on; the tiles of ``benchmarks/analyzer_bars.py``) and on the five thin-structure
images of ``benchmarks/heldout_restore.py`` (fence, blinds, window grid, fine text, line art), each saved by Pillow
at a JPEG quality. The only degradation is the JPEG save, so an output under its input's PSNR is harm. For each
quality: the mean gain over the input, how many tiles end worse than their input (by more than 0.05 dB), and
the worst ones with the steps that ran.

    python benchmarks/jpeg_clean_texture.py                                   # qualities 40 60 80
    python benchmarks/jpeg_clean_texture.py --jpeg-expert /tmp/candidate.safetensors --append benchmarks/RESULTS.md
"""
from __future__ import annotations

import argparse
import platform
from datetime import datetime

import numpy as np

from _report import emit
from analyzer_bars import DOCUMENTS, tiles
from heldout_restore import jpeg, quantise, skimage_images, structure_images

HARM_DB = 0.05  # an output this much under its input's PSNR counts as worse


def pillow_jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """float32 HxWx3 ``img`` saved and decoded by Pillow at ``quality`` (4:2:0, Pillow's default)."""
    return jpeg(quantise(img * 255.0), quality).astype(np.float32) / 255.0


def clean_tiles(size: int = 256) -> list[tuple[str, np.ndarray]]:
    """(name-k, float32 tile) over scikit-image's photos and textures, documents left out."""
    out = []
    for name, u8 in skimage_images(max_side=10_000)[0]:
        if name in DOCUMENTS:
            continue
        for k, t in enumerate(tiles(u8.astype(np.float32) / 255.0, size)):
            out.append((f"{name}-{k}", np.ascontiguousarray(t)))
    return out


def steps(outcome) -> str:
    """The steps of a restore outcome, ``expert`` or ``expert (undone)``."""
    return ", ".join(f"{r.step.expert}{'' if r.check.kept else ' (undone)'}" for r in outcome.records) or "none"


def main() -> None:
    import torch

    from gir.metrics import psnr
    from gir.restore.pipeline import Pipeline

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quality", type=int, nargs="+", default=[40, 60, 80])
    ap.add_argument("--jpeg-expert", help="weights for the jpeg expert instead of the shipped gir-expert-jpeg")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--append")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    pipe = Pipeline(device="cpu")
    if args.jpeg_expert:
        pipe.experts["jpeg"].model = args.jpeg_expert
    data = clean_tiles() + [(name, u8.astype(np.float32) / 255.0) for name, u8 in structure_images()]
    rows, worst = [], []
    for q in args.quality:
        gains, harmed = [], []
        for name, clean in data:
            lq = pillow_jpeg(clean, q)
            out = pipe.run(lq)
            gain = psnr(out.image, clean) - psnr(lq, clean)
            gains.append(gain)
            if gain < -HARM_DB:
                harmed.append((gain, name, steps(out)))
        rows.append(f"| {q} | {len(data)} | {np.mean(gains):+.2f} | **{len(harmed)}** | "
                    f"{min(gains):+.2f} |")
        worst += [f"| {q} | {n} | {g:+.2f} | {s} |" for g, n, s in sorted(harmed)]
    text = "\n".join([
        f"`python benchmarks/jpeg_clean_texture.py{' --jpeg-expert ' + args.jpeg_expert if args.jpeg_expert else ''}"
        f"`, {datetime.now():%Y-%m-%d %H:%M}, {platform.machine()}, {args.threads} threads. Clean 256-px tiles of "
        f"scikit-image's photos and textures and five thin-structure images saved by Pillow's JPEG, through "
        f"`gir restore` (default).", "",
        "| quality | images | mean gain over the input (dB) | worse than the input | worst (dB) |",
        "|---|---|---|---|---|", *rows, "",
        "| quality | image | gain (dB) | steps |", "|---|---|---|---|", *worst])
    emit(text, args.append)


if __name__ == "__main__":
    main()
