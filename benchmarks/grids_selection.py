"""GRIDS adaptive model selection on held-out images (issue 20, paper 002 sec. 5.2).

For each of the 11 degradations, every held-out photo (Kodak24 by default) gives one random 256-px window
degraded by the op at a random strength (seeded). The selector fits the window's GGD from 16 random 128-px
crops through the similarity matrix's feature network and layer, and picks the group with the smallest
KL(group || image). Reported per op:

- how often the chosen group holds the image's degradation;
- PSNR of the chosen group's expert against the oracle expert (the group that holds the op), so the PSNR lost
  to mis-selection; the mixed model over all 11 as a reference;
- the out-of-distribution flag (threshold: 95th percentile of the chosen-group divergences of Set14 windows,
  4 per grouped op), also on degradations outside the 11 (``--ood-ops``, default haze and low light);
- the same for the alternative selector, `gir analyze`'s family probabilities
  (:func:`gir.grids.selection.select_by_diagnosis`).

The groups and experts come from ``benchmarks/grids_equal_budget.py`` (its ``equal_budget.json``).

    python benchmarks/grids_selection.py --threads 1
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def find_budget_json(work: Path) -> Path:
    found = sorted(work.glob("*/equal_budget.json"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise SystemExit(f"no equal_budget.json under {work}: run benchmarks/grids_equal_budget.py first")
    return found[-1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget-json", help="equal_budget.json (default: the newest under runs/grids_budget)")
    ap.add_argument("--matrix", default=None, help="similarity matrix.json (default: the one the grouping used)")
    ap.add_argument("--images", default=None, help="held-out clean photos (default <shared>/test/kodak24)")
    ap.add_argument("--calib", default=None, help="calibration photos for the OOD threshold (default set14)")
    ap.add_argument("--max-images", type=int, default=24)
    ap.add_argument("--window", type=int, default=256)
    ap.add_argument("--crops", type=int, default=16)
    ap.add_argument("--per-op", type=int, default=4, help="calibration windows per grouped op")
    ap.add_argument("--percentile", type=float, default=95.0)
    ap.add_argument("--ood-ops", default="haze,low_light")
    ap.add_argument("--threads", type=int)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="write the per-image records here")
    args = ap.parse_args(argv)

    from _report import shared_or_skip  # benchmarks/ is on sys.path when a script here runs
    from gir.analysis.analyze import get_analyzer
    from gir.grids.selection import Selector, calibration_divergences, image_ggd, select_by_diagnosis
    from gir.grids.similarity import degraded_pairs, load_clean_images, op_ggds, read_matrix
    from gir.interpret.features import load_network
    from gir.metrics import psnr
    from gir.restore.engine import Restorer

    shared = shared_or_skip(args.threads)
    if shared is None:
        return 0
    budget_path = Path(args.budget_json) if args.budget_json else find_budget_json(ROOT / "runs/grids_budget")
    budget = json.loads(budget_path.read_text())
    ops, _, record = read_matrix(args.matrix or budget["matrix"])
    groups = {f"group_{k}": g for k, g in enumerate(budget["grouping"]["groups"])}
    t0 = time.perf_counter()
    model, _ = load_network(record["model"])
    sel = Selector.from_op_ggds(groups, op_ggds(record), model=record["model"], layer=record.get("layer"),
                                crop=int(record.get("crop") or 128), crops=args.crops,
                                method=record.get("method") or "moments")
    calib = load_clean_images(args.calib or shared / "test" / "set14", min_side=sel.crop)
    divs, calib_acc = calibration_divergences(model, sel, calib, args.per_op, args.seed + 100)
    sel.calibrate(divs, args.percentile, what="Set14 windows (4 per grouped op, random strengths)")

    expert_of = {name: budget["experts"][g[0]]["checkpoint"] for name, g in groups.items()}
    nets = {name: Restorer(ck, device="cpu", tile=0, impulse_repair=False) for name, ck in expert_of.items()}
    mixed = Restorer(budget["mixed_checkpoint"], device="cpu", tile=0, impulse_repair=False)
    oracle_of = {op: name for name, g in groups.items() for op in g}
    analyzer = get_analyzer()

    images = load_clean_images(args.images or shared / "test" / "kodak24", args.max_images, min_side=args.window)
    ood_ops = [o for o in args.ood_ops.split(",") if o]
    rows, recs = [], []
    for op in list(ops) + ood_ops:
        hits, a_hits, flags, recs_op = 0, 0, 0, []
        pairs = degraded_pairs(images, op, len(images), args.window, args.seed + 7)
        for k, (gt, lq) in enumerate(pairs):
            s = sel.select(image_ggd(model, lq, sel.crops, sel.crop, args.seed + k, sel.layer, sel.method))
            flags += bool(s.ood)
            rec = {"op": op, "image": k, "group": s.group, "divergence": s.divergence, "ood": s.ood}
            if op in oracle_of:
                diagnosis = analyzer(lq)
                a_group = select_by_diagnosis({f: x.p for f, x in diagnosis.findings.items()}, groups, s.divergences)
                hits += op in s.ops
                a_hits += op in groups[a_group]
                outs = {g: nets[g](lq) for g in {s.group, a_group, oracle_of[op]}}
                rec.update(analyzer_group=a_group, psnr_chosen=psnr(outs[s.group], gt),
                           psnr_analyzer=psnr(outs[a_group], gt), psnr_oracle=psnr(outs[oracle_of[op]], gt),
                           psnr_mixed=psnr(mixed(lq), gt), psnr_input=psnr(lq, gt))
                recs_op.append(rec)
            recs.append(rec)
        n = len(pairs)
        if op in oracle_of:
            m = {k: np.mean([r[k] for r in recs_op]) for k in
                 ("psnr_input", "psnr_oracle", "psnr_chosen", "psnr_analyzer", "psnr_mixed")}
            rows.append((op, f"{100 * hits / n:.0f}%", f"{100 * a_hits / n:.0f}%", f"{m['psnr_input']:.2f}",
                         f"{m['psnr_oracle']:.2f}", f"{m['psnr_chosen']:.2f}", f"{m['psnr_analyzer']:.2f}",
                         f"{m['psnr_oracle'] - m['psnr_chosen']:.2f}", f"{m['psnr_oracle'] - m['psnr_analyzer']:.2f}",
                         f"{m['psnr_mixed']:.2f}", f"{100 * flags / n:.0f}%"))
        else:
            rows.append((op + " (outside the 11)", *["-"] * 9, f"{100 * flags / n:.0f}%"))
        print(f"[{time.perf_counter() - t0:5.0f} s] {op}", file=sys.stderr, flush=True)

    ind = [r for r in recs if r["op"] in oracle_of]
    held_out = Path(args.images or "kodak24").name
    print(f"GRIDS selection: {len(images)} held-out windows of {args.window} px per op ({held_out}), "
          f"features {record['model']} layer {record.get('layer')}, {sel.crops} crops of {sel.crop} px; groups: "
          + "; ".join(f"{k}: {'+'.join(g)}" for k, g in groups.items()))
    print(f"OOD threshold {sel.threshold:.4g} nats ({sel.rule}); calibration accuracy {100 * calib_acc:.0f}%")
    print()
    print("GGD: paper 002's selection (smallest KL(group || image)); analyzer: `gir analyze`'s family probabilities "
          "(gir.grids.selection.select_by_diagnosis, GGD breaking ties between groups of one family)")
    print()
    print("| degradation | to its group, GGD | to its group, analyzer | input | oracle expert | GGD's expert | "
          "analyzer's expert | lost, GGD | lost, analyzer | mixed model | flagged OOD |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    in_group = lambda r, key: r[key] in [g for g, ops_ in groups.items() if r["op"] in ops_]
    mean = {k: np.mean([r[k] for r in ind]) for k in
            ("psnr_input", "psnr_oracle", "psnr_chosen", "psnr_analyzer", "psnr_mixed")}
    print(f"| **all 11** | {100 * np.mean([in_group(r, 'group') for r in ind]):.0f}% | "
          f"{100 * np.mean([in_group(r, 'analyzer_group') for r in ind]):.0f}% | {mean['psnr_input']:.2f} | "
          f"{mean['psnr_oracle']:.2f} | {mean['psnr_chosen']:.2f} | {mean['psnr_analyzer']:.2f} | "
          f"{mean['psnr_oracle'] - mean['psnr_chosen']:.2f} | {mean['psnr_oracle'] - mean['psnr_analyzer']:.2f} | "
          f"{mean['psnr_mixed']:.2f} | {100 * np.mean([bool(r['ood']) for r in ind]):.0f}% |")
    if args.json:
        Path(args.json).write_text(json.dumps({"groups": groups, "threshold": sel.threshold, "rule": sel.rule,
                                               "records": recs}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
