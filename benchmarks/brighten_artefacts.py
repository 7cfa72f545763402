"""Does brightening reveal more artefacts than it shows? NIQE of the brightening step's output against its
input (verification rule 5, ``gir.restore.verify.NIQE_RISE``), with ground truth where there is one.

Held-out photos (scikit-image's, at most 512 px) darkened here (linear light x 0.04-0.15, Poisson noise of
300-3000 photons at white, gamma 2.2, 8 bits), some then saved by Pillow's JPEG at quality 75 or 90; each
through the ``brighten`` expert of `gir restore` (curve, then the denoiser). Printed: PSNR of the dark input and
of the step's output against the original, and NIQE of both (the project's model; lower is better). Then the
real LIME and LOL photos of ``../shared/data/real`` (no ground truth): NIQE before and after the step.

    python benchmarks/brighten_artefacts.py
"""
from __future__ import annotations

import numpy as np

from _report import shared_or_skip
from heldout_restore import jpeg, quantise, skimage_images, to_float


def darken(gt: np.ndarray, rng: np.random.Generator, exposure: float, photons: float) -> np.ndarray:
    """``gt`` (float sRGB) underexposed by ``exposure`` in linear light with shot noise, back to 8-bit sRGB."""
    lin = gt.astype(np.float64) ** 2.2 * exposure
    noisy = rng.poisson(lin * photons) / photons
    return to_float(quantise(np.clip(noisy, 0, 1) ** (1 / 2.2) * 255))


def main() -> None:
    shared = shared_or_skip(2)
    from gir.io import read_rgb
    from gir.metrics import psnr
    from gir.metrics.niqe import niqe
    from gir.restore.experts import shipped_experts

    expert = shipped_experts({"device": "cpu"}, use=["brighten"])["brighten"]
    rng = np.random.default_rng(0)
    print("| photo | exposure | photons | JPEG | PSNR dark | PSNR brightened | NIQE dark | NIQE brightened | rise |")
    print("|---|---|---|---|---|---|---|---|---|")
    rises = []
    for name, u8 in skimage_images(512)[0]:
        gt = to_float(u8)
        if min(gt.shape[:2]) < 192:
            continue
        for exposure, photons, q in ((0.04, 300, None), (0.08, 1000, 90), (0.15, 3000, 75)):
            lq = darken(gt, rng, exposure, photons)
            if q:
                lq = to_float(jpeg(np.round(lq * 255).astype(np.uint8), q))
            out = expert(lq)
            n0, n1 = niqe(lq), niqe(out)
            rises.append(n1 - n0)
            print(f"| {name} | {exposure} | {photons} | {q or '-'} | {psnr(lq, gt):.2f} | {psnr(out, gt):.2f} | "
                  f"{n0:.2f} | {n1:.2f} | {n1 - n0:+.2f} |", flush=True)
    print(f"\nsynthetic: NIQE rise max {max(rises):+.2f}, mean {np.mean(rises):+.2f}\n")
    if shared is None:
        return
    print("| real photo | NIQE dark | NIQE brightened | rise |")
    print("|---|---|---|---|")
    for folder in ("lime_lowlight", "lol_lowlight"):
        for f in sorted((shared / "real" / folder).iterdir()):
            lq = read_rgb(f)
            out = expert(lq)
            n0, n1 = niqe(lq), niqe(out)
            print(f"| {folder}/{f.name} | {n0:.2f} | {n1:.2f} | {n1 - n0:+.2f} |", flush=True)


if __name__ == "__main__":
    main()
