"""`gir restore --mode perceptual` against the default fidelity mode (issue 32's perceptual bars).

Synthetic camera pairs written here, independently of the library: 256-px crops of scikit-image's bundled
photos (never trained on), through a camera made in numpy (Poisson-Gaussian noise in linear light, spatially
correlated by a 3x3 demosaic-like filter, back to sRGB) and Pillow's JPEG. For each: PSNR of input, fidelity
and perceptual output; the detail (Laplacian energy, the mean squared Laplacian of the luma) of each against
the clean photo's; the bars: perceptual within 1 dB of the input's PSNR or above it, and its detail closer to
the clean photo's than the fidelity output's. Real photos (RNI15, no ground truth): NIQE and BRISQUE of input,
fidelity and perceptual.

    python benchmarks/perceptual.py --twin runs/experts/denoiser_gan/models/net_latest.safetensors
    python benchmarks/perceptual.py --twin jpeg=runs/experts/jpeg_camera_gan/models/net_latest.safetensors
    python benchmarks/perceptual.py --append benchmarks/RESULTS.md --sheet docs/perceptual.jpg   # JPEG or PNG by suffix
"""
from __future__ import annotations

import argparse
import io
import platform
from datetime import datetime
from pathlib import Path

import numpy as np

from _report import emit, shared_or_skip
from heldout_restore import skimage_images

LUMA = np.array([0.299, 0.587, 0.114], np.float32)
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "motorcycle", "camera", "coins", "brick")


def camera(img: np.ndarray, rng: np.random.Generator, photons: float, read: float, quality: int) -> np.ndarray:
    """A capture of ``img`` (float32 sRGB) by a small-sensor camera: linear light, Poisson(photons) + read
    noise, a 3x3 binomial filter on the noise (demosaicking's correlation), sRGB, Pillow JPEG ``quality``."""
    from PIL import Image
    from scipy.ndimage import convolve

    lin = np.where(img <= 0.04045, img / 12.92, ((img + 0.055) / 1.055) ** 2.4)
    noisy = rng.poisson(lin * photons) / photons + rng.normal(0, read, lin.shape)
    k = np.outer([1, 2, 1], [1, 2, 1]) / 16.0
    noise = noisy - lin
    noise = np.stack([convolve(noise[..., c], k, mode="reflect") for c in range(3)], -1) * 1.6  # keep the level
    lin = np.clip(lin + noise, 0, 1)
    srgb = np.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1 / 2.4) - 0.055)
    buf = io.BytesIO()
    Image.fromarray(np.round(np.clip(srgb, 0, 1) * 255).astype(np.uint8)).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"), np.float32) / 255.0


def pairs(size: int = 256, seed: int = 0) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, clean, captured) for two crops of each of :data:`PHOTOS`: 16 pairs."""
    photos = dict(skimage_images(max_side=10_000)[0])
    out = []
    rng = np.random.default_rng(seed)
    for name in PHOTOS:
        if name not in photos:
            continue
        a = photos[name].astype(np.float32) / 255.0
        h, w = a.shape[:2]
        for k, (y, x) in enumerate([(0, 0), (max(0, h - size), max(0, w - size))]):
            clean = np.ascontiguousarray(a[y:y + size, x:x + size])
            photons = float(rng.uniform(30, 200))
            out.append((f"{name}-{k}", clean, camera(clean, rng, photons, 0.004, int(rng.integers(75, 95)))
                        .astype(np.float32)))
    return out


def detail(img: np.ndarray) -> float:
    """Laplacian energy: mean squared 4-neighbour Laplacian of the luma (x 1e4)."""
    import cv2

    return float(np.mean(cv2.Laplacian(img @ LUMA, cv2.CV_32F) ** 2) * 1e4)


def main() -> None:
    from gir.metrics import psnr
    from gir.restore.pipeline import Pipeline

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--twin", action="append", default=[], metavar="[EXPERT=]WEIGHTS",
                    help="an expert's perceptual twin instead of the shipped one (EXPERT default: denoise); "
                         "repeatable")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sheet", type=Path, help="an image of clean | input | fidelity | perceptual | trust crops "
                                               "(the denoising step alone)")
    ap.add_argument("--append")
    args = ap.parse_args()
    shared = shared_or_skip(args.threads)
    fid = Pipeline(device="cpu")
    per = Pipeline(device="cpu", mode="perceptual")
    for item in args.twin:
        name, _, weights = item.rpartition("=")
        per.experts[name or "denoise"].twin = weights
    twins = {n: Path(str(e.twin)).name for n, e in per.experts.items() if getattr(e, "twin", None) is not None}
    if "denoise" not in twins:
        print("skipped: no perceptual twin of the denoiser shipped or given (--twin)")
        return
    rows, wins, within, sheet = [], 0, 0, []
    erows, ewins, ewithin = [], 0, 0
    data = pairs()
    for name, clean, lq in data:
        o_f, o_p = fid.run(lq), per.run(lq)
        d = [detail(x) for x in (clean, lq, o_f.image, o_p.image)]
        p = [psnr(x, clean) for x in (lq, o_f.image, o_p.image)]
        closer = abs(d[3] - d[0]) < abs(d[2] - d[0])
        wins += closer
        within += p[2] >= p[0] - 1.0
        rows.append(f"| {name} | {p[0]:.2f} | {p[1]:.2f} | {p[2]:.2f} | {d[0]:.1f} | {d[1]:.1f} | {d[2]:.1f} | "
                    f"{d[3]:.1f} | {'yes' if closer else 'no'} | {'-' if o_p.trust is None else f'{o_p.trust.mean():.0%}'} |")
        e_f, e_p = expert_pair(per.experts["denoise"], lq)
        ed = [detail(x) for x in (e_f, e_p.image)]
        ep = [psnr(x, clean) for x in (e_f, e_p.image)]
        ecloser = abs(ed[1] - d[0]) < abs(ed[0] - d[0])
        ewins += ecloser
        ewithin += ep[1] >= p[0] - 1.0
        if args.sheet and len(sheet) < 6:
            t = np.repeat(e_p.trust[..., None], 3, 2)
            sheet.append(np.concatenate([clean, lq, e_f, e_p.image, t], 1)[64:192])
        erows.append(f"| {name} | {p[0]:.2f} | {ep[0]:.2f} | {ep[1]:.2f} | {d[0]:.1f} | {ed[0]:.1f} | {ed[1]:.1f} | "
                     f"{'yes' if ecloser else 'no'} | {e_p.mean_trust:.0%} |")
    n = len(rows)
    lines = [f"`python benchmarks/perceptual.py{''.join(' --twin ' + t for t in args.twin)}`, "
             f"{datetime.now():%Y-%m-%d %H:%M}, {platform.machine()}, {args.threads} threads, twins "
             f"{', '.join(f'{n} `{w}`' for n, w in twins.items())}. "
             f"Synthetic camera pairs (numpy Poisson-Gaussian in linear light, correlated, Pillow JPEG 75-95) of "
             f"scikit-image photos; detail = Laplacian energy x 1e4.", "",
             "| pair | input dB | fidelity dB | perceptual dB | detail clean | input | fidelity | perceptual | "
             "perceptual closer | trust |", "|---|---|---|---|---|---|---|---|---|---|", *rows, "",
             f"Perceptual within 1 dB of the input's PSNR or above: **{within}/{n}**; its detail closer to the clean "
             f"photo's than the fidelity output's: **{wins}/{n}** (bar 12 of 16).", "",
             "The denoising step alone (what the mode changes), told the noise level that "
             "`gir.restore.classical.noise_std` reads, whatever the analyzer says:", "",
             "| pair | input dB | fidelity dB | perceptual dB | detail clean | fidelity | perceptual | perceptual closer "
             "| trust |", "|---|---|---|---|---|---|---|---|---|", *erows, "",
             f"Perceptual within 1 dB of the input or above: **{ewithin}/{n}**; detail closer to the clean photo's: "
             f"**{ewins}/{n}**."]
    if shared is not None:
        lines += ["", *real_scores(shared / "real" / "rni15_noisy", fid, per)]
    emit("\n".join(lines), args.append)
    if sheet:
        from PIL import Image

        args.sheet.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.round(np.clip(np.concatenate(sheet, 0), 0, 1) * 255).astype(np.uint8)).save(
            args.sheet)


def expert_pair(expert, lq: np.ndarray):
    """(the fidelity denoiser's output, the :class:`gir.restore.fusion.Fusion` of it with the twin's) on ``lq``,
    both told the noise that :func:`gir.restore.classical.noise_std` reads."""
    from gir.restore.classical import noise_std
    from gir.restore.fusion import fuse

    strengths = {"noise.sigma": float(noise_std(lq))}
    out = expert(lq, strengths=strengths)
    return out, fuse(out, expert.perceptual(lq, strengths=strengths))


def real_scores(folder: Path, fid, per) -> list[str]:
    """NIQE / BRISQUE of input, fidelity and perceptual outputs over ``folder`` (means, and a row each)."""
    from gir.io import read_image
    from gir.metrics.brisque import brisque
    from gir.metrics.niqe import niqe

    rows, sums = [], np.zeros(6)
    files = sorted(folder.iterdir())
    for f in files:
        rgb = read_image(f).rgb
        outs = [rgb, fid.run(rgb, file=str(f)).image, per.run(rgb, file=str(f)).image]
        s = [niqe(o) for o in outs] + [brisque(o) for o in outs]
        sums += s
        rows.append(f"| {f.name} | " + " | ".join(f"{v:.2f}" for v in s) + " |")
    m = sums / max(1, len(files))
    return [f"Real photos, `{folder.name}` (lower is better):", "",
            "| photo | NIQE in | fidelity | perceptual | BRISQUE in | fidelity | perceptual |",
            "|---|---|---|---|---|---|---|", *rows, "| **mean** | " + " | ".join(f"**{v:.2f}**" for v in m) + " |"]


if __name__ == "__main__":
    main()
