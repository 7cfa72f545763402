"""``gir analyze`` (what is wrong with these photos): a thin parser over :mod:`gir.analysis`. (Fitting the
analyzer's calibration, ``gir analyze-calibrate``, reads a training run: :mod:`gir.training.cli`.)

    gir analyze IN... [--json] [--all] [--threshold P] [--weights NAME|PATH] [--crops N]
"""
from __future__ import annotations

import sys

from gir.errors import GirError


def _table_line(diag, width: int, threshold: float) -> str:
    found = diag.detected(threshold)
    head = f"{(diag.file or '-'):<{width}}  clean {diag.clean:4.0%}  "
    if not found:
        if diag.clean >= threshold:
            return head + "| clean"
        p, name = max((f.p, n) for n, f in diag.findings.items())
        return head + f"| nothing detected (most likely {name} {p:.0%})"
    parts = []
    for name in found:
        f = diag.findings[name]
        extra = [f"{k} {v:.3g}" if abs(v) < 10 else f"{k} {v:.0f}" for k, v in f.strength.items()]
        if f.source != "network":
            extra.append(f.source)
        parts.append(f"{name} {f.p:.0%}" + (f" ({', '.join(extra)})" if extra else ""))
    return head + "| " + " · ".join(parts)


def _full_table(diags) -> str:
    from gir.analysis.families import FAMILIES

    width = max([4] + [len(d.file or "-") for d in diags])
    short = [f[:7] for f in FAMILIES]
    lines = [f"{'file':<{width}}  clean  " + "  ".join(f"{s:>7}" for s in short)]
    for d in diags:
        cells = "  ".join(f"{d.findings[f].p:7.0%}" for f in FAMILIES)
        lines.append(f"{(d.file or '-'):<{width}}  {d.clean:5.0%}  {cells}")
    return "\n".join(lines)


def cmd_analyze(args) -> int:
    from gir.analysis.analyze import diagnose_file, diagnosis_json, get_analyzer
    from gir.batch import BatchReport, expand_inputs

    files, problems = expand_inputs(args.inputs)
    report = BatchReport()
    for msg in problems:
        report.fail(msg)
    analyzer = get_analyzer(args.weights, args.device, args.crops)
    diags = []
    width = max([4] + [len(str(p)) for p in files])
    for path in files:
        try:
            d = diagnose_file(analyzer, str(path))  # the diagnosis `gir restore --explain` shows
        except GirError as e:
            report.fail(str(e))
            continue
        diags.append(d)
        report.done += 1
        if not args.json and not args.all:
            print(_table_line(d, width, args.threshold), flush=True)
    if args.json:
        print(diagnosis_json(diags))
    elif args.all and diags:
        print(_full_table(diags))
    if report.failures:
        print(report.summary("analyzed"), file=sys.stderr)
    return report.exit_code


def add_analyze_parsers(sub) -> None:
    a = sub.add_parser("analyze", help="say what is wrong with photos: degradation families, strengths, clean",
                       description="For each image: the probability of each degradation family (noise, blur, "
                                   "jpeg, resize, ringing, haze, rain, snow, low_light, damage, impulse, "
                                   "raindrop, demosaic), of being clean, and strength estimates.")
    a.add_argument("inputs", nargs="+", help="image files, folders or globs")
    a.add_argument("--json", action="store_true", help="print a JSON list, one object per image")
    a.add_argument("--all", action="store_true", help="print every family's probability as a table")
    a.add_argument("--threshold", type=float, default=0.5, help="probability that counts as detected (0.5)")
    a.add_argument("--weights", help="analyzer NAME (in gir/weights) or checkpoint PATH (default gir-analyzer)")
    a.add_argument("--crops", type=int, default=12, help="full-resolution windows read per image (12)")
    a.add_argument("--device", default="cpu", help="torch device (default cpu)")
    a.set_defaults(func=cmd_analyze)


__all__ = ["add_analyze_parsers", "cmd_analyze"]
