"""The fill alone on the GIR suite's tasks whose chain ends in damage (issue 33): the biharmonic fill and each
fill network, told the scratch detector's mask (grown as the inpainting expert grows it) and told the true mask
(where the damaged and the undamaged chain differ by more than 0.05). The input is the suite's own degraded
photo; the chain's earlier degradations stay (later steps of the plan restore them), so the ceiling is the
undamaged chain's PSNR.

    python benchmarks/fill_suite.py --gt /tmp/s33/gt [--fill gir-inpaint /tmp/stage1.safetensors ...]
"""
from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gt", nargs="+", required=True, help="ground-truth folders")
    ap.add_argument("--crop", type=int, default=256)
    ap.add_argument("--fill", nargs="*", default=["gir-inpaint"], help="fill networks (shipped names or files)")
    args = ap.parse_args()
    from gir.analysis.scratches import detect, fill_mask
    from gir.bench.protocol import load_gt, load_tasks, pair_seed, resolve_suite
    from gir.bench.suite import degrade_for_task
    from gir.metrics import psnr
    from gir.restore.classical import inpaint
    from gir.restore.inpaint import network_fill

    tasks = [t for t in load_tasks(resolve_suite(None)) if t.recipe.steps[-1].op == "damage"]
    gts = load_gt(args.gt, crop=args.crop)
    fills = {"biharmonic": inpaint, **{f: (lambda lq, h, f=f: network_fill(lq, h, f)) for f in args.fill}}
    cols = ["input", "undamaged"] + [f"{n}, {m}" for m in ("detector", "true") for n in fills]
    rows = []
    for t in tasks:
        acc = np.zeros(len(cols))
        for g in gts:
            seed = pair_seed(t.seed, f"task{t.id}", g.dataset, g.name)
            lq = degrade_for_task(replace(t, seed=seed), g.img)
            under = degrade_for_task(replace(t, seed=seed, recipe=replace(t.recipe, steps=t.recipe.steps[:-1])), g.img)
            masks = {"detector": fill_mask(detect(lq).mask), "true": np.abs(lq - under).max(axis=2) > 0.05}
            v = [psnr(lq, g.img), psnr(under, g.img)]
            v += [psnr(fn(lq, masks[m]), g.img) for m in ("detector", "true") for fn in fills.values()]
            acc += np.array(v) / len(gts)
        rows.append((t.id, t.order, acc))
        print(f"task {t.id} (order {t.order}): " + ", ".join(f"{c} {x:.2f}" for c, x in zip(cols, acc)), flush=True)
    print("\n| task | order | " + " | ".join(cols) + " |\n|---|---|" + "---|" * len(cols))
    for tid, order, acc in rows:
        print(f"| {tid} | {order} | " + " | ".join(f"{x:.2f}" if np.isfinite(x) else "(clean)" for x in acc) + " |")
    table = np.array([r[2] for r in rows])
    mean = [table[np.isfinite(c), k].mean() for k, c in enumerate(table.T)]  # the undamaged chain of a
    print("| **mean** | | " + " | ".join(f"**{x:.2f}**" for x in mean) + " |")  # damage-only task is the truth


if __name__ == "__main__":
    main()
