"""GRIDS at an equal total budget (issue 20, paper 002's Table 1 in small): single-task models, one mixed model
over the 11 degradations and the grouped experts found by the grouping search, same architecture.

Budget: every single-task model trains ``--iterations`` (N); a model on k degradations trains k x N, so the 11
single-task models, the mixed model and the grouped experts each cost 11 x N iterations in total. The grouping
search (Algorithm 1, :func:`gir.grids.grouping.search_groups`) verifies a group by training exactly that group
model, so the verified groups of the final partition *are* the grouped experts. Everything is cached in
``--work`` (a rerun skips finished runs and resumes an interrupted one).

Scoring: :func:`gir.bench.evaluate.evaluate` (RGB PSNR) on centre 128-px crops of the first ``--val-images``
Kodak24 photos, each degraded by the op at its representative setting (seed 0).

    python benchmarks/grids_equal_budget.py --iterations 400 --threads 1        # ~75 min on the 2-core machine
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def table(ops, rows: dict[str, dict[str, float]]) -> str:
    """Markdown table: one row per line of ``rows`` ({label: {op: psnr}}), columns the ops and their mean."""
    head = "| model | " + " | ".join(ops) + " | avg |"
    lines = [head, "|---|" + "---:|" * (len(ops) + 1)]
    for label, vals in rows.items():
        cells = [vals[o] for o in ops]
        avg = sum(cells) / len(cells)
        fmt = "{:+.2f}" if label.startswith("Δ") else "{:.2f}"
        lines.append(f"| {label} | " + " | ".join(fmt.format(c) for c in cells) + f" | {fmt.format(avg)} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--matrix", default=str(ROOT / "docs/grids/similarity_gir-wunet-cpu.json"))
    ap.add_argument("--iterations", type=int, default=400, help="iterations per op (N)")
    ap.add_argument("--delta", type=float, default=0.7, help="largest drop allowed per group, dB (paper: 0.7)")
    ap.add_argument("--max-size", type=int, default=3, help="largest group size searched (paper's groups: 2-3)")
    ap.add_argument("--max-verifications", type=int, help="verification budget of the search (groups trained)")
    ap.add_argument("--model-config", default="{type: srresnet, preset: small}")
    ap.add_argument("--train", default=None, help="clean training folder (default <shared>/train)")
    ap.add_argument("--val", default=None, help="held-out clean images (default <shared>/test/kodak24)")
    ap.add_argument("--val-images", type=int, default=8)
    ap.add_argument("--work", default=str(ROOT / "runs/grids_budget"))
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="write the results here (default WORK/<key>/equal_budget.json)")
    args = ap.parse_args(argv)

    from _report import shared_or_skip  # benchmarks/ is on sys.path when a script here runs
    from gir.grids.cli import _model_config
    from gir.grids.grouping import TrainBudget, TrainingVerifier, search_groups, write_group_configs
    from gir.grids.similarity import read_matrix

    shared = shared_or_skip(args.threads)
    if shared is None:
        return 0
    train = Path(args.train) if args.train else shared / "train"
    val = Path(args.val) if args.val else shared / "test" / "kodak24"
    ops, matrix, record = read_matrix(args.matrix)
    budget = TrainBudget(iterations=args.iterations, per_op=True)
    t0 = time.perf_counter()
    ver = TrainingVerifier(args.work, [train], val, arch=_model_config(args.model_config), budget=budget,
                           val_images=args.val_images, device="cpu", seed=args.seed,
                           log=lambda s: print(f"[{time.perf_counter() - t0:6.0f} s] {s}", file=sys.stderr, flush=True))
    singles = {op: ver.single(op) for op in ops}
    mixed = ver.group(tuple(ops))
    grouping = search_groups(ops, matrix, ver, args.delta, max_size=args.max_size,
                             max_verifications=args.max_verifications)
    experts = {}
    for g in grouping.groups:
        rec = ver.group(g) if len(g) > 1 else {"psnr": {g[0]: {"mix": singles[g[0]]["psnr"]}},
                                                "checkpoint": singles[g[0]]["checkpoint"]}
        for op in g:
            experts[op] = {"group": list(g), "psnr": rec["psnr"][op]["mix"], "checkpoint": rec["checkpoint"]}
    write_group_configs(grouping, ver.root / "groups", [train], ver.arch, budget, args.seed, val_roots=[val])

    rows = {"input": {o: singles[o]["input_psnr"] for o in ops},
            "single-task (upper bound)": {o: singles[o]["psnr"] for o in ops},
            "mixed, 11 ops (baseline)": {o: mixed["psnr"][o]["mix"] for o in ops},
            "grouped (GRIDS)": {o: experts[o]["psnr"] for o in ops}}
    rows["Δ grouped vs upper bound"] = {o: rows["grouped (GRIDS)"][o] - rows["single-task (upper bound)"][o]
                                        for o in ops}
    rows["Δ grouped vs baseline"] = {o: rows["grouped (GRIDS)"][o] - rows["mixed, 11 ops (baseline)"][o]
                                     for o in ops}
    rows["Δ mixed vs upper bound"] = {o: rows["mixed, 11 ops (baseline)"][o] - rows["single-task (upper bound)"][o]
                                      for o in ops}
    print(f"GRIDS at an equal total budget: {args.model_config}, {args.iterations} iterations per op "
          f"({11 * args.iterations if len(ops) == 11 else len(ops) * args.iterations} per family of models), "
          f"batch {budget.batch_size}, patch {budget.patch_size}; matrix {Path(args.matrix).name}; "
          f"delta {args.delta} dB, groups up to {args.max_size} ops; scored on {args.val_images} x 128-px "
          f"centre crops of {val.name}")
    print(grouping.describe())
    print()
    print(table(ops, rows))
    out = Path(args.json) if args.json else ver.root / "equal_budget.json"
    out.write_text(json.dumps({"ops": ops, "iterations_per_op": args.iterations, "delta": args.delta,
                               "matrix": str(args.matrix), "grouping": grouping.to_dict(), "rows": rows,
                               "experts": experts, "mixed_checkpoint": mixed["checkpoint"],
                               "singles": singles}, indent=1) + "\n")
    print(f"\nwrote {out}; group configs in {ver.root / 'groups'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
