"""Which level should the white-noise denoiser be told for the library's camera noise (``camera_noise``,
signal-dependent and spatially correlated)? Six training photos (256-px centre crops), three correlations and
levels; PSNR told the noise's RMS, told its white-equivalent (Immerkaer's estimate of the noise field), and
the best of a grid around both.

    python benchmarks/camera_noise_levels.py
"""
from __future__ import annotations

import glob

import numpy as np

from _report import shared_or_skip
from heldout_restore import to_rgb_u8

SETTINGS = ((8, 0.0), (8, 0.6), (8, 1.2), (20, 0.6), (20, 1.2), (4, 0.9))  # (sigma, correlation px)


def immerkaer(noise: np.ndarray) -> float:
    """Immerkaer's white-noise std estimate (0-255) of a noise field, the mean over its channels."""
    import cv2

    m = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    return float(np.mean([np.sqrt((cv2.filter2D(noise[..., c], -1, m)[1:-1, 1:-1] ** 2).mean() / 36.0)
                          for c in range(3)]) * 255)


def main() -> None:
    shared = shared_or_skip(2)
    if shared is None:
        return
    from gir.degradations.base import OPS
    from gir.io import read_rgb
    from gir.metrics import psnr
    from gir.restore.experts import shipped_experts

    denoise = shipped_experts({"device": "cpu"}, use=["denoise"])["denoise"]
    cam = OPS.get("camera_noise")
    paths = sorted(p for p in glob.glob(str(shared / "train" / "**" / "*"), recursive=True)
                   if p.endswith((".jpg", ".png")))[::60][:6]
    for p in paths:
        img = read_rgb(p)
        h, w = img.shape[:2]
        img = np.ascontiguousarray(img[(h - 256) // 2:(h - 256) // 2 + 256, (w - 256) // 2:(w - 256) // 2 + 256])
        for sigma, corr in SETTINGS:
            params = dict(sigma=sigma, shot=0.6, correlation=corr, chroma=0.5)
            lq = to_rgb_u8(np.clip(cam.apply(img, np.random.default_rng(1), params), 0, 1)).astype(np.float32) / 255
            rms, white = float((lq - img).std() * 255), immerkaer(lq - img)
            grid = sorted({round(x, 1) for x in (0.5 * white, 0.75 * white, white, 1.25 * white, 0.5 * rms,
                                                 0.75 * rms, rms)})
            res = {g: psnr(denoise(lq, strengths={"noise.sigma": max(g, 0.5)}), img) for g in grid}
            best = max(res, key=res.get)
            print(f"{p.rsplit('/', 1)[-1][:10]} sigma {sigma} corr {corr}: rms {rms:.1f}, white-equivalent "
                  f"{white:.1f} | input {psnr(lq, img):.2f}, told rms {res[round(rms, 1)]:.2f}, told "
                  f"white-equivalent {res[round(white, 1)]:.2f}, best told {best} {res[best]:.2f}", flush=True)


if __name__ == "__main__":
    main()
