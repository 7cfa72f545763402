"""Is routing `resize` to an expert safe? (issue 21). For each task of ``benchmarks/restore_quality.py``
that the analyzer may call `resize`, on the same photos and seeds (the first ``--max-images`` of CBSD68 and
Kodak24): every photo with p(resize) >= 0.5 goes through the expert alone (``--model``, default the routed
``gir-expert-band``; the unrouted resize-only expert was ``runs/experts/resize/...``); printed per task: how many
were detected, the PSNR gain over the input (mean, min, max), and the analyzer's resize and ringing
probabilities before and after, which are all the verification step could judge by.

    python benchmarks/resize_routing.py --max-images 10
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

TASKS = ["resize(scale=2)", "resize", "blur(sigma=1.6)", "ringing"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-images", type=int, default=10, help="first N photos of each set")
    ap.add_argument("--model", default="gir-expert-band")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)

    from _report import shared_or_skip  # benchmarks/ is on sys.path when a script here runs
    from gir.analysis.analyze import get_analyzer
    from gir.bench.evaluate import EvalTask, degrade, load_images, pair_seed
    from gir.degradations import Recipe
    from gir.metrics import psnr
    from gir.restore.engine import Restorer

    shared = shared_or_skip(args.threads)
    if shared is None:
        return 0
    test = shared / "test"
    analyzer, net = get_analyzer(), Restorer(args.model, device="cpu", impulse_repair=False)
    t0, rows = time.perf_counter(), []
    for name in TASKS:
        task, rec, n = EvalTask(name, Recipe.from_text(name)), [], 0
        for ds in ("cbsd68", "kodak24"):
            for dataset, image, gt in load_images(test / ds, args.max_images):
                n += 1
                lq = degrade(gt, task, pair_seed(0, name, dataset, image))
                before = analyzer(lq).findings
                if before["resize"].p < 0.5:
                    continue
                out = net(lq)
                after = analyzer(out).findings
                rec.append((psnr(out, gt) - psnr(lq, gt), before["resize"].p, after["resize"].p,
                            before["ringing"].p, after["ringing"].p))
        a = np.array(rec) if rec else np.zeros((0, 5))
        rows.append((name, n, len(rec), *(a.mean(0) if len(a) else [np.nan] * 5),
                     a[:, 0].min() if len(a) else np.nan, a[:, 0].max() if len(a) else np.nan))
    print(f"{args.model} on the photos the analyzer calls resized (p >= 0.5), first {args.max_images} photos of "
          f"CBSD68 and Kodak24, restore_quality's seeds; {time.perf_counter() - t0:.0f} s\n")
    print("| task | photos | detected | gain (dB) | min | max | p(resize) before -> after "
          "| p(ringing) before -> after |")
    print("|---|---:|---:|---:|---:|---:|---|---|")
    for name, n, k, g, rb, ra, gb, ga, lo, hi in rows:
        print(f"| `{name}` | {n} | {k} | {g:+.2f} | {lo:+.2f} | {hi:+.2f} | {rb:.2f} -> {ra:.2f} "
              f"| {gb:.2f} -> {ga:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
