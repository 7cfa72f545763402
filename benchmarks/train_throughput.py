"""Training throughput of each registered architecture's small preset on this machine's CPU.

One training iteration = forward + L1 loss + backward + AdamW step on a batch of RANDOM tensors (no data
loading or degradation, so this is the network's cost alone), after warm-up iterations; torch uses every
core. Prints a Markdown table (arch, params, GFLOP/MP of the forward pass, it/s, img/s) and optionally
appends it to a file.

    python benchmarks/train_throughput.py                      # every architecture, batch 8, 128x128
    python benchmarks/train_throughput.py --archs srcnn nafnet --iters 5 --append docs/benchmarks.md
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import date

from _report import emit  # benchmarks/ is on sys.path when a script here runs


def measure(arch: str, preset: str, batch: int, patch: int, warmup: int, iters: int) -> dict:
    """Params, forward GFLOP per megapixel and timed training iterations/s for one architecture."""
    import torch

    from gir.models import build_model
    from gir.models.info import count_params, gflops_per_megapixel

    torch.manual_seed(0)
    model = build_model({"type": arch, "preset": preset}).train()
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(batch, 3, patch, patch, generator=gen)
    y = torch.rand(batch, 3, patch, patch, generator=gen)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step() -> None:
        loss = (model(x) - y).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(iters):
        step()
    dt = time.perf_counter() - t0
    it_s = iters / dt
    return {"arch": arch, "preset": preset, "params": count_params(model),
            "gflops_per_mp": gflops_per_megapixel(model, size=patch), "it_s": it_s, "img_s": it_s * batch}


def table(rows: list[dict], batch: int, patch: int, threads: int, preset: str = "small") -> str:
    head = (f"Training throughput, {preset} presets: batch {batch}, {patch}x{patch} random tensors, forward + L1 + "
            f"backward + AdamW, {threads} torch threads on {platform.processor() or platform.machine()} "
            f"({os.cpu_count()} cores), torch {_torch_version()}, {date.today().isoformat()}.\n"
            f"GFLOP/MP: forward pass per megapixel at {patch}x{patch} (FLOPs = 2 x MACs).\n\n")
    base = next((r["it_s"] for r in rows if r["arch"] == "srcnn" and "error" not in r), None)
    head += ("x srcnn: throughput relative to srcnn (GIR's acceptance-line net) measured in the same run. "
             "~GFLOP/s: 3 x forward FLOPs (forward + backward) x pixels per second, the arithmetic rate "
             "actually achieved.\n\n")
    lines = ["| arch | params | GFLOP/MP | it/s | img/s | x srcnn | ~GFLOP/s |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['arch']} | - | - | failed: {r['error']} | - | - | - |")
            continue
        ratio = f"{r['it_s'] / base:.2f}" if base else "-"
        rate = 3 * r["gflops_per_mp"] * r["img_s"] * patch * patch / 1e6
        lines.append(f"| {r['arch']} | {r['params'] / 1e6:.3f} M | {r['gflops_per_mp']:.2f} | "
                     f"{r['it_s']:.2f} | {r['img_s']:.1f} | {ratio} | {rate:.0f} |")
    return head + "\n".join(lines) + "\n"


def _torch_version() -> str:
    import torch

    return torch.__version__


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--archs", nargs="+", help="architectures (default: every registered one)")
    ap.add_argument("--preset", default="small")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--patch", type=int, default=128)
    ap.add_argument("--warmup", type=int, default=2, help="untimed iterations first")
    ap.add_argument("--iters", type=int, default=5, help="timed iterations")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads (default: all cores)")
    ap.add_argument("--append", metavar="FILE", help="also append the table to this file")
    args = ap.parse_args(argv)

    from gir.utils.runtime import tune_allocator

    tune_allocator()
    import torch

    from gir.models import list_models

    torch.set_num_threads(args.threads)
    known = list_models()
    archs = args.archs or known
    unknown = [a for a in archs if a not in known]
    if unknown:
        ap.error(f"unknown architecture(s) {', '.join(unknown)}; known: {', '.join(known)}")
    rows = []
    for arch in archs:
        print(f"measuring {arch} ...", file=sys.stderr, flush=True)
        try:
            rows.append(measure(arch, args.preset, args.batch, args.patch, args.warmup, args.iters))
        except Exception as e:  # noqa: BLE001 - report the failure in the table and go on
            rows.append({"arch": arch, "error": f"{type(e).__name__}: {e}".splitlines()[0][:80]})
    text = table(rows, args.batch, args.patch, torch.get_num_threads(), args.preset)
    emit(text, args.append)
    return 0


if __name__ == "__main__":
    sys.exit(main())
