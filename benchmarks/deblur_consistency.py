"""Where the deblurring's consistency slack goes (issue 28, verification by consistency).

Plug-and-play deblurring is kept when its output, blurred again by the kernel it used, reproduces the input
within ``CONSISTENT_FACTOR`` x noise + ``CONSISTENT_SLACK`` (``gir.restore.verify``, rule 0). This measures,
on photos that no benchmark scores (the first ``--photos`` of ``<shared>/data/train``, centre crops of
``--crop`` px, blurred with OpenCV at 8 bits), the residual and the gain of each deblurring:

* with the kernel ``gir.analysis.kernel.estimate_kernel`` reads (what the pipeline runs);
* with wrong kernels, to see what the rule must refuse: for a motion blur the Gaussian of the same spread
  and the motion 30% longer at +10 degrees; for a Gaussian the motion of the same spread at a random angle.

Printed: per residual bin, how many deblurrings fell there, how many helped (PSNR against the clean photo
rose) and the mean and worst gain; then, per candidate slack, the gain kept and the harm let through.

    python benchmarks/deblur_consistency.py --photos 16 --crop 192
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

BINS = (0.0, 0.6, 0.9, 1.2, 1.5, 1.8, 2.1, 2.5, 3.0, 1e9)
SLACKS = (1.2, 1.5, 1.8, 2.0, 2.2, 2.5)


def cases(rng):
    """(label, kernel) of the blurs: Gaussians and motions at random angles."""
    from gir.analysis.kernel import gaussian_kernel_for, motion_kernel_for

    out = [(f"gaussian {s}", gaussian_kernel_for(s)) for s in (1.0, 1.6, 2.2)]
    for length in (7, 11, 15):
        a = float(rng.uniform(0, 180))
        out.append((f"motion {length}@{a:.0f}", motion_kernel_for(length, a)))
    return out


def wrong_kernels(label: str, rng):
    from gir.analysis.kernel import gaussian_kernel_for, motion_kernel_for

    kind, spec = label.split(" ", 1)
    if kind == "motion":
        length, angle = (float(v) for v in spec.split("@"))
        return [("gaussian of the same spread", gaussian_kernel_for(length / np.sqrt(12) / np.sqrt(2))),
                ("motion 30% longer, +10 deg", motion_kernel_for(1.3 * length, angle + 10))]
    sigma = float(spec)
    return [("motion of the same spread", motion_kernel_for(sigma * np.sqrt(2) * np.sqrt(12),
                                                             float(rng.uniform(0, 180))))]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=16)
    ap.add_argument("--crop", type=int, default=192)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).parent))
    from _report import shared_or_skip

    root = shared_or_skip(args.threads)
    if root is None:
        return 0
    import cv2
    from PIL import Image

    from gir.analysis.kernel import estimate_kernel
    from gir.metrics import psnr
    from gir.restore.operators import Blur, expected_clipped
    from gir.restore.pnp import denoiser_prior, solve
    from gir.restore.verify import residual_rms

    prior = denoiser_prior()
    files = sorted(p for sub in ("sunhays80", "bsds500") for p in (Path(root) / "train" / sub).glob("*.jpg"))
    files = files[::max(1, len(files) // args.photos)][:args.photos]
    rows = []  # (case, which, residual, gain)
    t0 = time.time()
    for i, f in enumerate(files):
        rng = np.random.default_rng([args.seed, i])
        img = np.asarray(Image.open(f).convert("RGB"))
        h, w = img.shape[:2]
        c = args.crop
        gt = img[(h - c) // 2:(h - c) // 2 + c, (w - c) // 2:(w - c) // 2 + c].astype(np.float32) / 255
        for label, k in cases(rng):
            y = np.round(cv2.filter2D(gt, -1, k.astype(np.float32), borderType=cv2.BORDER_REFLECT) * 255) / 255
            y = y.astype(np.float32)
            base = psnr(y, gt)
            est = estimate_kernel(y)
            tries = [("estimated: " + est.kind, est.kernel)] if est.kernel is not None else []
            tries += [("wrong: " + n, kk) for n, kk in wrong_kernels(label, rng)]
            for which, kk in tries:
                op = Blur(kk)
                out = solve(y, op, prior, 0.0)
                r = residual_rms(y, expected_clipped(op.forward(out), 0.0))
                rows.append((label.split("@")[0], which, r, psnr(out, gt) - base))
        print(f"  {i + 1}/{len(files)} {f.name} ({time.time() - t0:.0f} s)", flush=True)
    print(f"\n{len(files)} training photos, {args.crop}-px centre crops, OpenCV blur, 8 bits; "
          f"{time.time() - t0:.0f} s\n")
    print("| residual (0-255) | deblurrings | helped | mean gain dB | worst dB | of which estimated kernels |")
    print("|---|---:|---:|---:|---:|---:|")
    for lo, hi in zip(BINS[:-1], BINS[1:]):
        sel = [r for r in rows if lo <= r[2] < hi]
        if not sel:
            continue
        g = np.array([r[3] for r in sel])
        print(f"| {lo:.1f}-{hi:.1f} | {len(sel)} | {(g > 0).sum()} | {g.mean():+.2f} | {g.min():+.2f} | "
              f"{sum(r[1].startswith('estimated') for r in sel)} |")
    print("\n| slack | estimated kernels kept (of) | gain over all of them | harms among them (worst) | "
          "wrong kernels kept (of) | harms among them (worst) |")
    print("|---|---|---:|---|---|---|")
    est_rows = [r for r in rows if r[1].startswith("estimated")]
    wrong = [r for r in rows if r[1].startswith("wrong")]
    for s in SLACKS:
        kept = [r for r in est_rows if r[2] <= s]
        harms = [r[3] for r in kept if r[3] < 0]
        wk = [r for r in wrong if r[2] <= s]
        wh = [r[3] for r in wk if r[3] < 0]
        total = sum(r[3] for r in kept) / max(1, len(est_rows))
        print(f"| {s} | {len(kept)} ({len(est_rows)}) | {total:+.2f} | {len(harms)} ({min(harms) if harms else 0:+.2f}) "
              f"| {len(wk)} ({len(wrong)}) | {len(wh)} ({min(wh) if wh else 0:+.2f}) |")
    print("\nEstimated kernels by blur: residual / gain")
    for case in sorted({r[0] for r in est_rows}):
        print(f"- {case}: " + ", ".join(f"{r[2]:.2f}/{r[3]:+.1f}" for r in est_rows if r[0] == case))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
