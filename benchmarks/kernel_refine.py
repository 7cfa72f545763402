"""Can the solver refine the kernel estimate by how well a short solve explains the photo? (issue 28, a
measured dead end, not shipped)

For each of 13 scikit-image photos (256-px crops) blurred with OpenCV (motion 11 px at a random angle, or
Gaussian 1.6), ``gir-kernel``'s estimate is refined by a coordinate search: on the most textured
``SIDE``-px crop, a ``ITERATIONS``-iteration plug-and-play solve per candidate kernel (motion: length -1.5..+1.5
px, then angle -3..+3 degrees; Gaussian: sigma x 0.88..1.12), keeping the candidate whose solve, blurred again,
leaves the smallest residual against the photo. Then the full solve with the estimate, the refined kernel
and the true kernel, PSNR against the original.

    python benchmarks/kernel_refine.py motion 128 3
    python benchmarks/kernel_refine.py gaussian 128 3
"""
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import heldout_restore as H  # noqa: E402
from denoise_pnp import blur_with, psnr8, random_motion  # noqa: E402

from gir.analysis.kernel import estimate_kernel, gaussian_kernel_for, motion_kernel_for  # noqa: E402
from gir.restore.operators import Blur, expected_clipped  # noqa: E402
from gir.restore.pnp import Schedule, denoiser_prior, solve  # noqa: E402
from gir.restore.verify import residual_rms  # noqa: E402


def textured_crop(y: np.ndarray, side: int) -> np.ndarray:
    """The ``side``-px window of ``y`` with the most gradient energy (on a grid of side/4 steps)."""
    lum = y.mean(2)
    g = np.abs(np.diff(lum, axis=0))[:, :-1] + np.abs(np.diff(lum, axis=1))[:-1]
    h, w = g.shape
    if side >= min(h, w):
        return y
    step = max(8, side // 4)
    _, t, l = max((g[t:t + side, l:l + side].mean(), t, l)
                  for t in range(0, h - side + 1, step) for l in range(0, w - side + 1, step))
    return y[t:t + side, l:l + side]


def fit(yc: np.ndarray, kernel: np.ndarray, prior, quick: Schedule) -> float:
    """Residual RMS (0-255) of a short solve with ``kernel``, blurred again, against the crop."""
    op = Blur(kernel)
    out = solve(yc, op, prior, 0.0, quick)
    b = kernel.shape[0] // 2 + 1
    return residual_rms(yc[b:-b, b:-b], expected_clipped(op.forward(out), 0.0)[b:-b, b:-b])


def main() -> None:
    task, side, iterations = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    imgs, _ = H.skimage_images(256, None)
    prior, quick = denoiser_prior(), Schedule(iterations=iterations)
    rows = []
    for name, gt8 in imgs:
        rng = np.random.default_rng(H.task_seed(0, task, name))
        k, angle = random_motion(rng) if task.startswith("motion") else (H.gaussian_kernel(1.6), 0.0)
        lq8 = blur_with(gt8, k)
        lq, gt = lq8.astype(np.float32) / 255, gt8 / 255.0
        e = estimate_kernel(lq)
        if e.kind not in ("motion", "gaussian"):
            print(name, e.kind)
            continue
        yc = textured_crop(lq, side)
        t = time.time()
        if e.kind == "motion":
            length, a = e.params["length"], e.params["angle"]
            length = min((fit(yc, motion_kernel_for(length + d, a), prior, quick), length + d)
                         for d in (-1.5, -0.75, 0, 0.75, 1.5))[1]
            a = min((fit(yc, motion_kernel_for(length, a + d), prior, quick), a + d) for d in (-3, -1.5, 0, 1.5, 3))[1]
            refined = motion_kernel_for(length, a)
            desc = f"{e.params['length']:.1f}@{e.params['angle']:.0f} -> {length:.1f}@{a:.0f}"
        else:
            s0 = e.params["sigma"]
            s1 = min((fit(yc, gaussian_kernel_for(s0 * f), prior, quick), s0 * f) for f in (0.88, 0.94, 1, 1.06, 1.12))[1]
            refined, desc = gaussian_kernel_for(s1), f"{s0:.2f} -> {s1:.2f}"
        dt = time.time() - t
        est = psnr8(solve(lq, Blur(e.kernel), prior, 0.0), gt)
        ref = psnr8(solve(lq, Blur(refined), prior, 0.0), gt)
        true = psnr8(solve(lq, Blur(k[::-1, ::-1].astype(np.float64)), prior, 0.0), gt)
        rows.append((psnr8(lq, gt), est, ref, true))
        print(f"{name:12s} in {rows[-1][0]:.2f} estimate {est:.2f} refined {ref:.2f} true {true:.2f}  {desc} "
              f"(true angle {angle:.0f}) {dt:.1f}s", flush=True)
    print("mean input / estimate / refined / true:", np.round(np.mean(rows, 0), 2))


if __name__ == "__main__":
    main()
