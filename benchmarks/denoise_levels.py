"""Denoisers told the true level, from sigma 0 (a clean photo: the identity) to 50, on held-out images: ten
scikit-image photos and the five thin-structure probes (256 px), 8-bit Gaussian noise. Mean PSNR per level.

    python benchmarks/denoise_levels.py gir-denoiser /tmp/candidate.safetensors
"""
from __future__ import annotations

import argparse

import numpy as np

from heldout_restore import gaussian_noise, skimage_images, structure_images, to_float, to_rgb_u8

LEVELS = (0, 2, 5, 10, 15, 25, 50)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("weights", nargs="+", help="denoisers (shipped names or files)")
    args = ap.parse_args()
    from gir.metrics import psnr
    from gir.restore.engine import Restorer

    sets = {"photos": [(n, to_float(a)) for n, a in skimage_images(256)[0][:10]],
            "thin structure": [(n, to_float(a)) for n, a in structure_images(256)]}
    print("| denoiser | images | " + " | ".join(f"sigma {s}" for s in LEVELS) + " |")
    print("|---|---|" + "---|" * len(LEVELS))
    for w in args.weights:
        net = Restorer(w, device="cpu")
        for label, imgs in sets.items():
            row = []
            for s in LEVELS:
                rng = np.random.default_rng(s)
                vals = []
                for _, img in imgs:
                    lq = gaussian_noise(to_rgb_u8(img), s, rng).astype(np.float32) / 255 if s else img
                    vals.append(psnr(net(lq, conditions={"noise.sigma": float(s)}), img))
                row.append(float(np.mean(vals)))
            print(f"| {w} | {label} | " + " | ".join(f"{v:.2f}" for v in row) + " |", flush=True)


if __name__ == "__main__":
    main()
