"""``gir data``: data preparation commands (thin: each calls :mod:`gir.data.align`).

    gir data align LQ_DIR GT_DIR -o PAIRS [--model similarity] [--method auto] [--max-residual 0.5]
                   [--min-correlation 0.5] [--min-overlap 0.5] [--max-side 1024] [--overwrite]
                   [--frames [--lq-fps F] [--gt-fps F] [--max-frame-error S]]
"""
from __future__ import annotations

import sys

from gir.data.align import (DEFAULT_MAX_RESIDUAL, DEFAULT_MAX_SIDE, DEFAULT_MIN_CORRELATION, DEFAULT_MIN_OVERLAP,
                            METHODS, MODELS)
from gir.cli_args import add_output
from gir.errors import GirError


def _frame_options_without_frames(args) -> list[str]:
    given = [("--lq-fps", args.lq_fps), ("--gt-fps", args.gt_fps), ("--max-frame-error", args.max_frame_error)]
    return [flag for flag, value in given if value is not None]


def cmd_align(args) -> int:
    from gir.data.align import align_frames, align_pairs

    common = dict(model=args.model, method=args.method, max_residual=args.max_residual,
                  min_correlation=args.min_correlation, min_overlap=args.min_overlap, max_side=args.max_side,
                  overwrite=args.overwrite, log=None if not args.verbose else _stderr_line)
    if args.frames:
        report = align_frames(args.lq_dir, args.gt_dir, args.output, lq_fps=args.lq_fps, gt_fps=args.gt_fps,
                              max_frame_error=args.max_frame_error, **common)
    else:
        stray = _frame_options_without_frames(args)
        if stray:
            raise GirError(f"{', '.join(stray)} only apply with --frames")
        report = align_pairs(args.lq_dir, args.gt_dir, args.output, **common)
    print(report.table())
    print(report.summary())
    return 0


def _stderr_line(text: str) -> None:
    print(text, file=sys.stderr)


def add_data_parser(sub) -> None:
    """Register ``gir data align`` on the top-level subparsers."""
    d = sub.add_parser("data", help="data preparation: register captured LQ/GT pairs (gir data align)",
                       description="Prepare training data.")
    ds = d.add_subparsers(dest="data_command", required=True, metavar="STEP")

    a = ds.add_parser(
        "align", help="register LQ images (or video frames) to their GT and write aligned, cropped pairs",
        description="Register each LQ image to the GT with the same file stem (or, with --frames, the GT frame "
                    "nearest in time), reject pairs that cannot be aligned to within --max-residual px, and "
                    "write the kept pairs as OUT/lq/NAME and OUT/gt/NAME (same name and size, the overlap "
                    "crop) with OUT/report.json and OUT/report.txt. Exit status 0 when the run finished, "
                    "even if pairs were rejected; 2 with a one-line error for bad arguments or folders.")
    a.add_argument("lq_dir", metavar="LQ_DIR", help="folder of degraded captures (or LQ frames with --frames)")
    a.add_argument("gt_dir", metavar="GT_DIR", help="folder of clean captures (or GT frames with --frames)")
    add_output(a, "output folder (lq/, gt/, report.json)", required=True, metavar="PAIRS")
    a.add_argument("--model", default="similarity", choices=MODELS,
                   help="transform model (default similarity: shift, rotation, scale)")
    a.add_argument("--method", default="auto", choices=METHODS,
                   help="estimator: phase correlation, ECC, or auto = phase then ECC (default auto)")
    a.add_argument("--max-residual", type=float, default=DEFAULT_MAX_RESIDUAL, metavar="PX",
                   help=f"reject pairs whose median residual misalignment exceeds PX (default "
                        f"{DEFAULT_MAX_RESIDUAL})")
    a.add_argument("--min-correlation", type=float, default=DEFAULT_MIN_CORRELATION, metavar="C",
                   help=f"reject pairs whose detail correlation is below C: different scenes, detail lost "
                        f"(default {DEFAULT_MIN_CORRELATION})")
    a.add_argument("--min-overlap", type=float, default=DEFAULT_MIN_OVERLAP, metavar="F",
                   help=f"reject pairs whose overlap covers less than F of the GT (default {DEFAULT_MIN_OVERLAP})")
    a.add_argument("--max-side", type=int, default=DEFAULT_MAX_SIDE, metavar="PX",
                   help=f"register on copies downscaled to this longer side (default {DEFAULT_MAX_SIDE})")
    a.add_argument("--overwrite", action="store_true", help="replace existing output files")
    a.add_argument("--frames", action="store_true",
                   help="LQ_DIR and GT_DIR are frame folders: pair frames by the smallest timing error")
    a.add_argument("--lq-fps", type=float, metavar="F",
                   help="LQ frame rate (frames in name order); default: LQ_DIR/times.txt or times.csv")
    a.add_argument("--gt-fps", type=float, metavar="F",
                   help="GT frame rate (frames in name order); default: GT_DIR/times.txt or times.csv")
    a.add_argument("--max-frame-error", type=float, metavar="S",
                   help="leave frames unpaired when the nearest partner is more than S seconds away")
    a.add_argument("-v", "--verbose", action="store_true", help="print one line per pair while running")
    a.set_defaults(func=cmd_align)
