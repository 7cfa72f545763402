"""``gir bench``: the benchmark commands (thin: each calls a function of :mod:`gir.bench`).

    gir bench suite build [--seed 2024] -o DIR [--gt DIR...]
    gir bench lines build -o DIR [--suite FILE] [--gt DIR...] [--crop N] [--train DIR...] [--tasks 1-10]
    gir bench run --model NAME|PATH|identity|classical|step-by-step [--suite FILE] [--gt DIR...] [--crop N]
                  [--lines FILE] [-o DIR] [--tasks SPEC]
    gir bench real --model NAME|PATH|identity --dir DIR... [-o DIR] [--max-side N]
    gir bench niqe-fit DIR... -o FILE
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gir.bench.protocol import DEFAULT_CROP, DEFAULT_SUITE_SEED
from gir.bench.real import DEFAULT_MAX_SIDE
from gir.cli_args import add_output

SUITE_GT_NAMES = ("kodak24",)  # default images that tasks 11-50 are chosen on


def cmd_suite_build(args) -> int:
    from gir.bench.evaluate import load_images
    from gir.bench.protocol import resolve_gt_dirs
    from gir.bench.suite import build_suite, write_suite

    images = []
    for d in resolve_gt_dirs(args.gt, SUITE_GT_NAMES):
        images += [img for _, _, img in load_images(d, max_images=args.images - len(images))]
        if len(images) >= args.images:
            break
    suite = build_suite(args.seed, images, n_images=args.images, crop=args.crop)
    path = write_suite(suite, Path(args.output) / "suite.json")
    print(f"wrote {path} (seed {args.seed}, {len(suite['tasks'])} tasks)")
    return 0


def cmd_lines_build(args) -> int:
    from gir.bench.lines import Budget, build_lines
    from gir.bench.protocol import parse_task_ids

    budget = Budget(**{k: v for k, v in (("iterations", args.iterations), ("batch_size", args.batch_size),
                                         ("patch_size", args.patch_size)) if v is not None})
    path = build_lines(args.output, args.suite, args.gt, args.crop, args.train, budget=budget,
                       tasks=parse_task_ids(args.tasks), max_images=args.max_images, device=args.device,
                       progress=not args.quiet)
    print(f"lines: {path}")
    return 0


def cmd_lines_export(args) -> int:
    from gir.bench.lines import export_lines

    path = export_lines(args.src, args.dest)
    print(f"lines: {path} (single-task networks in {path.with_suffix('')})")
    return 0


def cmd_run(args) -> int:
    from gir.bench.protocol import parse_task_ids
    from gir.bench.run import run_bench

    results = run_bench(args.model, args.suite, args.gt, args.crop, args.lines, args.output,
                        tasks=parse_task_ids(args.tasks), max_images=args.max_images, device=args.device,
                        progress=not args.quiet)
    if len(results) == 1:
        print((results[0].out_dir / "summary.md").read_text())
        print(f"report: {results[0].out_dir}")
    else:
        root = results[0].out_dir.parent
        print((root / "compare.md").read_text())
        print(f"reports: {', '.join(str(r.out_dir) for r in results)}; comparison: {root / 'compare.md'}")
    return 0


def cmd_compare(args) -> int:
    from gir.bench.run import compare_reports

    path = compare_reports(args.reports, args.output)
    print(path.read_text())
    print(f"comparison: {path}")
    return 0


def cmd_real(args) -> int:
    from gir.bench.real import bench_real

    res = bench_real(args.model, args.dir, args.output, max_side=args.max_side, device=args.device,
                     niqe_model=args.niqe_model, progress=not args.quiet)
    print((res.out_dir / "summary.md").read_text())
    print(res.report.summary("scored"), file=sys.stderr if res.report.failures else sys.stdout)
    return res.report.exit_code


def cmd_niqe_fit(args) -> int:
    from gir.metrics.niqe import fit_command

    model = fit_command(args.dirs, args.output, max_images=args.max_images)
    print(f"wrote {args.output} ({model.provenance['n_images']} images, {model.provenance['n_patches']} patches)")
    return 0


def _gt_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--suite", help="suite JSON (default: the shipped default suite)")
    p.add_argument("--gt", nargs="+", metavar="DIR",
                   help="clean ground-truth folders (default: kodak24 and cbsd68 under ../shared/data/test)")
    p.add_argument("--crop", type=int, default=DEFAULT_CROP,
                   help=f"centre-crop side of the ground truth in pixels, 0 = whole images (default {DEFAULT_CROP})")
    p.add_argument("--max-images", type=int, help="use only the first N images of each ground-truth folder")
    p.add_argument("--tasks", help="only these task ids, e.g. 1-10,51")
    p.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, mps")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def add_bench_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``bench`` and its subcommands to a ``gir`` subparsers object; returns the ``bench`` parser."""
    b = subparsers.add_parser("bench", help="the GIR benchmark: suite, lines, model runs, real photos, NIQE fit",
                              description="General image restoration benchmark (paper 000): a 100-task suite, "
                                          "acceptance/excellence lines, AR/ER, reports, NIQE on real photos.")
    sub = b.add_subparsers(dest="bench_command", required=True, metavar="SUBCOMMAND")

    s = sub.add_parser("suite", help="build a task suite")
    s_sub = s.add_subparsers(dest="suite_command", required=True, metavar="ACTION")
    sb = s_sub.add_parser("build", help="build the 100-task suite into DIR/suite.json",
                          description=f"Build the suite. The default seed {DEFAULT_SUITE_SEED} is public; pick a "
                                      "private seed to keep the random tasks withheld.")
    sb.add_argument("--seed", type=int, default=DEFAULT_SUITE_SEED,
                    help=f"suite seed (default {DEFAULT_SUITE_SEED}, public)")
    add_output(sb, "output folder (suite.json is written there)", required=True)
    sb.add_argument("--gt", nargs="+", metavar="DIR",
                    help="clean images whose centre crops choose tasks 11-50 (default ../shared/data/test/kodak24)")
    sb.add_argument("--images", type=int, default=4, help="images used to compare candidate chains (default 4)")
    sb.add_argument("--crop", type=int, default=128, help="centre-crop side of those images (default 128)")
    sb.set_defaults(func=cmd_suite_build)

    ln = sub.add_parser("lines", help="train and score the acceptance/excellence lines")
    l_sub = ln.add_subparsers(dest="lines_command", required=True, metavar="ACTION")
    lb = l_sub.add_parser("build", help="train both line networks per task and store their scores (resumable)")
    add_output(lb, "lines folder (lines.jsonl and the training runs)", required=True)
    _gt_options(lb)
    lb.add_argument("--train", nargs="+", metavar="DIR", help="clean training folders (default ../shared/data/train)")
    lb.add_argument("--iterations", type=int, help="override the fixed budget (changes the provenance key)")
    lb.add_argument("--batch-size", type=int, help="override the fixed budget")
    lb.add_argument("--patch-size", type=int, help="override the fixed budget")
    lb.set_defaults(func=cmd_lines_build)
    le = l_sub.add_parser("export", help="copy a lines folder's newest lines to one file, with the single-task "
                                         "networks step-by-step needs (how the default lines are shipped)")
    le.add_argument("src", help="lines folder (or its lines.jsonl)")
    le.add_argument("dest", help="the .jsonl file to write; networks go into the folder of the same stem")
    le.set_defaults(func=cmd_lines_export)

    r = sub.add_parser("run", help="evaluate a model or baseline on the suite and write the report")
    r.add_argument("--model", required=True, nargs="+",
                   help="identity, pipeline (the default of gir restore), classical, step-by-step, a shipped "
                        "model NAME or a checkpoint PATH; several are scored on the same inputs and compared "
                        "(compare.md)")
    _gt_options(r)
    r.add_argument("--lines", help="lines folder or lines.jsonl (AR/ER; needed by step-by-step)")
    add_output(r, "report folder (default bench-runs/<model>; several models: bench-runs/compare, one "
                  "subfolder each)")
    r.set_defaults(func=cmd_run)

    c = sub.add_parser("compare", help="side-by-side table and plot of runs made separately")
    c.add_argument("reports", nargs="+", metavar="REPORT_DIR", help="folders written by `gir bench run`")
    add_output(c, "folder for compare.md, compare.csv and psnr_per_task.png", required=True)
    c.set_defaults(func=cmd_compare)

    rl = sub.add_parser("real", help="NIQE before/after restoring real photos, with contact sheets")
    rl.add_argument("--model", required=True, help="a shipped model NAME, a checkpoint PATH, or identity")
    rl.add_argument("--dir", nargs="+", required=True, metavar="DIR", help="folders of real photos")
    add_output(rl, "report folder (default bench-runs/real)", default="bench-runs/real")
    rl.add_argument("--max-side", type=int, default=DEFAULT_MAX_SIDE,
                    help=f"downscale longer sides to this, 0 = keep (default {DEFAULT_MAX_SIDE})")
    rl.add_argument("--niqe-model", help="pristine model .npz (default: the shipped one)")
    rl.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, mps")
    rl.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    rl.set_defaults(func=cmd_real)

    nf = sub.add_parser("niqe-fit", help="fit NIQE's pristine model on clean photos")
    nf.add_argument("dirs", nargs="+", metavar="DIR", help="folders of clean, sharp photos")
    nf.add_argument("-o", "--output", required=True, help="the .npz file to write")
    nf.add_argument("--max-images", type=int, help="use only the first N images")
    nf.set_defaults(func=cmd_niqe_fit)
    return b
