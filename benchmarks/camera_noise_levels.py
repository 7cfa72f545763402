"""Which level should the white-noise denoiser be told for the library's camera noise (``camera_noise``,
signal-dependent and spatially correlated)? Six training photos (256-px centre crops), three correlations and
levels; PSNR told the noise's RMS, told its white-equivalent (Immerkaer's estimate of the noise field), and
the best of a grid around both.

    python benchmarks/camera_noise_levels.py
"""
import glob
from pathlib import Path

import cv2
import numpy as np
from gir.io import read_rgb
from gir.degradations.base import OPS
from gir.restore.experts import shipped_experts
from gir.metrics import psnr
e = shipped_experts({"device": "cpu"}, use=["denoise"])["denoise"]
cam = OPS.get("camera_noise")
paths = sorted(p for p in glob.glob(str(Path(__file__).resolve().parents[2] / 'shared' / 'data' / 'train' / '**' / '*'), recursive=True) if p.endswith(('.jpg', '.png')))
paths = paths[::60][:8]
def imm(n):  # Immerkaer sigma of a noise field (per channel mean), 0-255
    M = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    return float(np.mean([np.sqrt((cv2.filter2D(n[..., c], -1, M)[1:-1, 1:-1] ** 2).mean() / 36.0) for c in range(3)]) * 255)
rng = np.random.default_rng(0)
for p in paths[:6]:
    img = read_rgb(p); h, w = img.shape[:2]; img = np.ascontiguousarray(img[(h-256)//2:(h-256)//2+256, (w-256)//2:(w-256)//2+256])
    for sigma, corr in ((8, 0.0), (8, 0.6), (8, 1.2), (20, 0.6), (20, 1.2), (4, 0.9)):
        prm = dict(sigma=sigma, shot=0.6, correlation=corr, chroma=0.5)
        lq = np.clip(cam.apply(img, np.random.default_rng(1), prm), 0, 1)
        lq = (lq * 255).round().astype(np.float32) / 255
        n = lq - img
        rms, im = float(n.std() * 255), imm(n)
        grid = sorted(set([round(x, 1) for x in (0.5 * im, 0.75 * im, im, 1.25 * im, 0.5 * rms, 0.75 * rms, rms)]))
        res = {g: psnr(e(lq, strengths={"noise.sigma": max(g, 0.5)}), img) for g in grid}
        best = max(res, key=res.get)
        print(f"{p.split('/')[-1][:10]} s{sigma} c{corr} rms {rms:5.1f} imm {im:5.1f} | in {psnr(lq, img):.2f} told rms {res[round(rms,1)]:.2f} told imm {res[round(im,1)]:.2f} best {best} {res[best]:.2f}", flush=True)
