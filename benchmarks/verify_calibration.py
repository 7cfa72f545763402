"""How much must the analyzer's probability fall before a step counts as having helped? (issue 21, verification)

For one expert and the families it restores, on photos that no benchmark scores (the first ``--photos`` of
``<shared>/data/train``, centre crops of ``--crop`` px) degraded by each task at random strengths (the ops' own
random ranges, seeded): every photo where the analyzer detects one of the families (p >= 0.5) goes through the
expert, as the pipeline's step would. Printed: per bin of the drop in the summed probability of the detected
families (what :func:`gir.restore.verify.verify` compares with its minimum drop), how many steps fell there,
how many helped (PSNR against the clean photo rose), and the mean and worst gain. A threshold is safe where no
step above it harmed; it is needed where steps below it helped. A second table bins the steps by the detected
probability and says which the verification (as it is) keeps: where a family's minimum confidence
(``gir.restore.plan.MIN_P``) could be.

    python benchmarks/verify_calibration.py --expert gir-expert-band --family resize --family ringing \\
        --task resize --task ringing --task "blur" --task jpeg --task clean
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

BINS = (-1.0, 0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 1.0)
P_BINS = (0.5, 0.6, 0.7, 0.8, 0.9, 1.01)
THRESHOLDS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--expert", default="gir-expert-band")
    ap.add_argument("--family", action="append", help="families the expert restores (repeatable)")
    ap.add_argument("--task", action="append", help="recipe text; `clean` for none (repeatable)")
    ap.add_argument("--photos", type=int, default=40)
    ap.add_argument("--crop", type=int, default=384)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--worst", type=int, default=10, help="list this many of the most harmful steps")
    args = ap.parse_args(argv)
    families = args.family or ["resize", "ringing"]
    tasks = args.task or ["resize", "ringing", "blur", "jpeg", "clean"]

    from _report import shared_or_skip  # benchmarks/ is on sys.path when a script here runs
    from gir.analysis.analyze import THRESHOLD, get_analyzer
    from gir.data.folders import list_images, read_uint8
    from gir.data.patches import centre_crop, to_float
    from gir.degradations import Recipe
    from gir.metrics import psnr
    from gir.restore.engine import Restorer
    from gir.analysis.analyze import diagnose
    from gir.restore.verify import verify

    shared = shared_or_skip(args.threads)
    if shared is None:
        return 0
    paths = list_images([shared / "train"], max_images=args.photos)
    photos = [to_float(centre_crop(read_uint8(path), args.crop)) for path in paths]  # read once, used per task
    analyzer, net = get_analyzer(), Restorer(args.expert, device="cpu", impulse_repair=False)
    t0, rows = time.perf_counter(), []
    for task in tasks:
        recipe = None if task == "clean" else Recipe.from_text(task)
        for j, gt in enumerate(photos):
            rng = np.random.default_rng([args.seed, j, len(task)])
            drawn = None if recipe is None else _random(recipe, rng)
            lq = gt if drawn is None else np.clip(drawn.apply(gt, seed=int(rng.integers(2**31))), 0, 1)
            lq = np.round(lq * 255).astype(np.float32) / 255
            seen, diag = diagnose(analyzer, lq)
            found = [f for f in families if diag.findings[f].p >= THRESHOLD]
            if not found:
                continue
            out = net(lq, conditions=diag.strengths())
            after = analyzer(out)
            drop = sum(seen.findings[f].p - after.findings[f].p for f in found)
            kept = verify(found, seen, after, lq, out).kept
            p = max(diag.findings[f].p for f in found)
            rows.append((task, drop, psnr(out, gt) - psnr(lq, gt), drawn.to_text() if drawn else "clean", p, kept))
    print(f"{args.expert} on {len(paths)} training photos ({args.crop}-px centre crops) x {len(tasks)} tasks at "
          f"random strengths, steps where the analyzer detects {'/'.join(families)}; "
          f"{time.perf_counter() - t0:.0f} s\n")
    print("| drop in p | steps | helped | mean gain (dB) | worst (dB) | tasks |\n|---|---:|---:|---:|---:|---|")
    for lo, hi in zip(BINS[:-1], BINS[1:]):
        sel = [r for r in rows if lo <= r[1] < hi]
        if not sel:
            continue
        gains = np.array([r[2] for r in sel])
        names = ", ".join(f"{t} {sum(r[0] == t for r in sel)}" for t in tasks if any(r[0] == t for r in sel))
        print(f"| {lo:+.2f} to {hi:+.2f} | {len(sel)} | {int((gains > 0).sum())} | {gains.mean():+.2f} | "
              f"{gains.min():+.2f} | {names} |")
    print("\nIf steps were kept from a minimum drop on (the gone-below rule aside):\n\n"
          "| minimum drop | kept | harmed (< -0.05 dB) | worst kept (dB) | mean gain over all steps (undone = 0) |\n"
          "|---:|---:|---:|---:|---:|")
    for t in THRESHOLDS:
        kept = np.array([r[2] for r in rows if r[1] >= t])
        mean = kept.sum() / max(1, len(rows))
        print(f"| {t:.2f} | {len(kept)} / {len(rows)} | {int((kept < -0.05).sum())} | "
              f"{kept.min() if len(kept) else float('nan'):+.2f} | {mean:+.3f} |")
    print("\nBy the detected probability, with the verification as it is (gir.restore.verify):\n\n"
          "| p before | steps | kept | harmed among kept (< -0.05 dB) | worst kept (dB) | mean gain of kept (dB) |\n"
          "|---|---:|---:|---:|---:|---:|")
    for lo, hi in zip(P_BINS[:-1], P_BINS[1:]):
        sel = [r for r in rows if lo <= r[4] < hi]
        kept = np.array([r[2] for r in sel if r[5]])
        if sel:
            print(f"| {lo:.1f}-{min(hi, 1.0):.1f} | {len(sel)} | {len(kept)} | {int((kept < -0.05).sum())} | "
                  f"{kept.min() if len(kept) else float('nan'):+.2f} | "
                  f"{kept.mean() if len(kept) else float('nan'):+.2f} |")
    worst = sorted(rows, key=lambda r: r[2])[:args.worst]
    if worst:
        print("\nWorst steps:\n\n| recipe | p before | drop in p | kept | gain (dB) |\n|---|---:|---:|---|---:|")
        for r in worst:
            print(f"| `{r[3]}` | {r[4]:.2f} | {r[1]:+.2f} | {'yes' if r[5] else 'no'} | {r[2]:+.2f} |")
    return 0


def _random(recipe, rng):
    """The recipe's ops with every parameter drawn from its random range (each op's ``sample_params``)."""
    from gir.degradations import OPS, Recipe, Step

    return Recipe(tuple(Step(s.op, OPS.get(s.op).sample_params(rng)) for s in recipe.steps))


if __name__ == "__main__":
    sys.exit(main())
