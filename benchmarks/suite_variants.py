"""The GIR suite through the default pipeline with an expert's option changed, to measure what one change
does (the same :func:`gir.bench.run.run_bench` as ``gir bench run --model pipeline``).

    python benchmarks/suite_variants.py OUT --gt /tmp/s33/gt [--no-fill] [--refit]

``--no-fill``: the inpainting expert fills with biharmonic interpolation instead of ``gir-inpaint``;
``--refit``: the denoiser refits a level its residual shows too high (``DenoiserExpert.refit``). Writes the
report into OUT and prints the summary.
"""
from __future__ import annotations

import argparse


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--gt", nargs="+", required=True, help="ground-truth folders")
    ap.add_argument("--crop", type=int, default=256)
    ap.add_argument("--no-fill", action="store_true")
    ap.add_argument("--refit", action="store_true")
    args = ap.parse_args()
    import gir.restore.experts as experts
    from gir.bench.run import run_bench

    if args.no_fill:
        experts.FILL = "not-installed"  # shipped_experts then leaves the expert's fill unset (biharmonic)
    if args.refit:
        experts.DenoiserExpert.refit = True
    s = run_bench("pipeline", gt_dirs=args.gt, crop=args.crop, out_dir=args.out, device="cpu", progress=False)[0].summary
    orders = " / ".join(f"{v['psnr']:.2f}" for _, v in sorted(s["by_order"].items()))
    print(f"PSNR {s['psnr']:.2f} (input {s['input_psnr']:.2f}), AR {s['ar']:.0%}, ER {s['er']:.0%}, orders {orders}")


if __name__ == "__main__":
    main()
