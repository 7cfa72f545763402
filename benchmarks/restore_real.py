"""`gir restore` on real degraded photos (no ground truth): the verdict, the plan, what was kept or undone, and
before / after contact sheets to look at (issue 21).

    python benchmarks/restore_real.py                                   # ../shared/data/real
    python benchmarks/restore_real.py --sheets docs/restore/real --append benchmarks/RESULTS.md

Each sheet row is one photo: the input and the pipeline's output side by side, as 1:1 centre crops (a
downscaled view would hide what restoration changes), captioned with the verdict and the steps. The table
also gives the output's PSNR against its input (``identical`` when nothing was kept) and the mean absolute
change of 16x-downsampled views (a tone shift shows there).
"""
from __future__ import annotations

import argparse
import platform
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from _report import emit  # benchmarks/ is on sys.path when a script here runs

from gir.batch import expand_inputs
from gir.data.patches import centre_crop

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


def steps_text(outcome) -> str:
    if not outcome.records:
        return "nothing planned"
    return ", ".join(f"{r.step.expert} {'kept' if r.check.kept else 'undone'}" for r in outcome.records)


def main() -> None:
    from PIL import Image as PILImage

    from gir.io import read_image
    from gir.metrics import psnr
    from gir.restore.pipeline import Pipeline
    from gir.restore.verify import tone_shift
    from gir.viz import contact_sheet

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", type=Path, default=REAL, help="folder of real photos (subfolders become sheets)")
    ap.add_argument("--sheets", type=Path, help="write one contact sheet per subfolder here (JPEG)")
    ap.add_argument("--crop", type=int, default=192, help="side of the 1:1 centre crops on the sheets")
    ap.add_argument("--append", help="also append the table to this Markdown file")
    args = ap.parse_args()
    if not args.dir.is_dir():
        raise SystemExit(f"{args.dir}: no such folder (point --dir at real photos)")
    pipeline = Pipeline(device="cpu")
    files, problems = expand_inputs([str(args.dir)])
    rows, sheets = [], {}
    t0 = time.perf_counter()
    for path in files:
        rgb = read_image(path).rgb
        outcome = pipeline.run(str(path))
        out = outcome.image
        change = "identical" if out is rgb or np.array_equal(out, rgb) else f"{psnr(np.clip(out, 0, 1), rgb):.1f}"
        shift = tone_shift(rgb, np.clip(out, 0, 1)) * 255
        plan = " -> ".join(s.expert for s in outcome.plan.steps) or "-"
        name = f"{path.parent.name}/{path.name}"
        rows.append(f"| {name} | {outcome.diagnosis.verdict()} | {plan} | {steps_text(outcome)} | {change} | "
                    f"{shift:.1f} |")
        label = f"{path.name}: {steps_text(outcome)}"
        sheets.setdefault(path.parent.name, []).extend(
            [(centre_crop(rgb, args.crop), f"{label}\ninput"),
             (centre_crop(np.clip(out, 0, 1), args.crop), "output")])
    head = (f"`gir restore` (default pipeline) on real photos ({args.dir.name}/, {len(files)} files), "
            f"{datetime.now():%Y-%m-%d}, {platform.machine()}; `python benchmarks/restore_real.py"
            f"{' --sheets ' + str(args.sheets) if args.sheets else ''}`; {time.perf_counter() - t0:.0f} s.\n\n"
            "| photo | verdict | plan | steps | output vs input (dB) | tone change (/255) |\n|---|---|---|---|---:|---:|")
    text = "\n".join([head, *rows])
    if problems:
        text += "\n\nNot read: " + "; ".join(problems)
    if args.sheets:
        args.sheets.mkdir(parents=True, exist_ok=True)
        for folder, entries in sheets.items():
            sheet = contact_sheet([t for t, _ in entries], [lab for _, lab in entries], cols=4, label_px=12)
            PILImage.fromarray(sheet).save(args.sheets / f"{folder}.jpg", quality=88)
    emit(text + "\n", args.append)


if __name__ == "__main__":
    main()
