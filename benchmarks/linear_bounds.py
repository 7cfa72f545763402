"""How much of a blur-type degradation one linear filter can undo, next to the restoration model.

For each task (default: ringing, blur and resize at their representative settings, the ones
``restore_quality.py`` uses, with its per-pair seeds), the images are split in two: even-indexed images fit
the filters, odd-indexed ones are scored. One KxK filter, shared by the three channels, predicts the residual
``clean - input`` from the input's KxK neighbourhood (least squares on random samples, reflect padding):

* ``oracle``: fitted on the task's own pairs, so it knows the exact kernel: the best linear, non-blind fix;
* ``blind``: fitted on pairs degraded by the same op with every parameter drawn from the op's random range
  (``--draws`` per image), as a network trained on that op sees it: the best single linear fix that does
  not know the kernel.

The model is scored on the same held-out inputs (blind, as ``gir restore`` runs it), and the blind filter
also on the clean photos themselves (PSNR to them): a blind model must leave those alone, which a linear
filter cannot. PSNR on RGB, no border crop (:mod:`gir.metrics`). A task where the oracle gains a lot but the
blind filter does not needs the kernel identified from the image before it can be inverted.

    python benchmarks/linear_bounds.py                      # shipped model, CBSD68 + Kodak24, K=21
    python benchmarks/linear_bounds.py --tasks ringing --max-images 12 --model runs/x/models/net_3000.safetensors
"""
from __future__ import annotations

import argparse
import platform
import time
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from tqdm import tqdm

from _report import emit  # benchmarks/ is on sys.path when a script here runs
from restore_quality import model_method

from gir.bench.evaluate import EvalTask, degrade, load_images, pair_seed
from gir.data.patches import quantize
from gir.degradations import OPS
from gir.degradations.recipe import Recipe
from gir.metrics import psnr


def sample_windows(lq: np.ndarray, gt: np.ndarray, k: int, n: int, rng: np.random.Generator):
    """``n`` random (KxK window of one channel of ``lq``, residual at its centre) pairs; reflect padding."""
    r = k // 2
    pad = np.pad(lq, ((r, r), (r, r), (0, 0)), mode="reflect")
    windows = sliding_window_view(pad, (k, k), axis=(0, 1))  # H x W x C x K x K, a view
    h, w, c = lq.shape
    ys, xs, cs = rng.integers(0, h, n), rng.integers(0, w, n), rng.integers(0, c, n)
    return windows[ys, xs, cs].reshape(n, k * k), (gt - lq)[ys, xs, cs]


def fit_filter(pairs, k: int, samples: int, rng: np.random.Generator) -> np.ndarray:
    """Least-squares KxK filter (float32) predicting ``gt - lq`` from ``lq``, over (lq, gt) ``pairs``. The
    normal equations are summed pair by pair, so memory does not grow with the number of pairs."""
    ata, atb = np.zeros((k * k, k * k)), np.zeros(k * k)
    for lq, gt in pairs:
        a, b = sample_windows(lq, gt, k, samples, rng)
        a = a.astype(np.float64)
        ata += a.T @ a
        atb += a.T @ b
    return np.linalg.solve(ata, atb).reshape(k, k).astype(np.float32)


def apply_filter(lq: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``lq`` plus its correlation with ``kernel`` (reflect padding, as in the fit), clipped to [0, 1]."""
    residual = cv2.filter2D(lq, -1, kernel, borderType=cv2.BORDER_REFLECT_101)
    return np.clip(lq + residual, 0.0, 1.0)


def blind_pairs(task: EvalTask, images, draws: int, rng: np.random.Generator):
    """Yields each image degraded ``draws`` times by the task's op, parameters from the op's random range."""
    (step,) = task.recipe.steps
    op = OPS.get(step.op)
    for _, _, gt in images:
        for _ in range(draws):
            yield quantize(op.apply(gt, rng, op.sample_params(rng))), gt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", help="model name or checkpoint (default: the shipped default)")
    ap.add_argument("--data", default="../shared/data/test", help="folder holding the sets")
    ap.add_argument("--sets", nargs="+", default=["cbsd68", "kodak24"])
    ap.add_argument("--tasks", nargs="+", default=["ringing", "blur", "resize"],
                    help="single ops, at their representative settings")
    ap.add_argument("--max-images", type=int, help="first N images of each set (default all)")
    ap.add_argument("--size", type=int, default=21, help="filter size K (odd)")
    ap.add_argument("--samples", type=int, default=30000, help="least-squares samples per fitting image")
    ap.add_argument("--draws", type=int, default=3, help="random-range degradations per fitting image (blind)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--append", help="also append the table to this Markdown file")
    args = ap.parse_args()
    if args.size < 1 or args.size % 2 == 0:
        raise SystemExit(f"--size {args.size}: expected an odd filter size")
    bad = [t for t in args.tasks if t not in OPS]
    if bad:
        raise SystemExit(f"--tasks: unknown op {', '.join(bad)}")
    data = Path(args.data)
    missing = [s for s in args.sets if not (data / s).is_dir()]
    if missing:
        raise SystemExit(f"{data}: missing {', '.join(missing)} (point --data at the test images)")

    from gir.utils.runtime import tune_allocator
    tune_allocator()
    model, described = model_method(args.model)
    images = [im for s in args.sets for im in load_images(data / s, args.max_images)]
    fit_images, test_images = images[0::2], images[1::2]
    rng = np.random.default_rng(args.seed)
    rows, t0 = [], time.perf_counter()
    for name in tqdm(args.tasks, desc="tasks", unit="task"):
        task = EvalTask(name, Recipe.from_text(name), "single")

        def pairs(imgs):
            return ((degrade(gt, task, pair_seed(args.seed, name, d, n)), gt) for d, n, gt in imgs)
        oracle = fit_filter(pairs(fit_images), args.size, args.samples, rng)
        blind = fit_filter(blind_pairs(task, fit_images, args.draws, rng), args.size, args.samples, rng)
        scores = {k: [] for k in ("input", "model", "blind", "oracle", "blind_clean")}
        for lq, gt in pairs(test_images):
            outs = {"input": lq, "model": np.clip(model(lq, task.recipe), 0, 1),
                    "blind": apply_filter(lq, blind), "oracle": apply_filter(lq, oracle)}
            for k, out in outs.items():
                scores[k].append(psnr(out, gt))
            scores["blind_clean"].append(psnr(apply_filter(gt, blind), gt))
        m = {k: float(np.mean(v)) for k, v in scores.items()}
        gains = " | ".join(f"{m[k]:.2f} ({m[k] - m['input']:+.2f})" for k in ("model", "blind", "oracle"))
        rows.append(f"| `{task.recipe.to_text()}` | {m['input']:.2f} | {gains} | {m['blind_clean']:.2f} |")
    head = (f"### Linear bounds: {described}\n\n{datetime.now():%Y-%m-%d}, {platform.node()}, "
            f"{platform.processor() or platform.machine()}; sets {', '.join(args.sets)}, fit on {len(fit_images)} "
            f"images, scored on the other {len(test_images)}; {args.size}x{args.size} filters, seed {args.seed}; "
            f"{time.perf_counter() - t0:.0f} s.\n\nPSNR (dB, RGB) on the held-out images (gain over the input):\n\n"
            "| task | input | model (blind) | linear, blind | linear, oracle (knows the kernel) | "
            "blind filter on the clean photo |\n|---|---:|---:|---:|---:|---:|\n")
    emit(head + "\n".join(rows) + "\n", args.append)


if __name__ == "__main__":
    main()
