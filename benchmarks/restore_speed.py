"""Speed and peak memory of ``gir restore`` on this machine, at 1, 4 and 24 megapixels.

For each size a natural-looking synthetic photo (smooth colour fields, soft and sharp shapes, multi-scale
texture, sensor noise; seeded) is saved as PNG in a temporary folder, and ``gir restore`` runs on it in a
fresh child process; its wall time (process start to exit: imports, model load, read, inference, write) and
peak RSS (``getrusage(RUSAGE_CHILDREN).ru_maxrss`` of an intermediate child that runs only that command) are
recorded. In the same run an identity network goes through the same path (read, tiles, write), so the
"x identity" column shows what the model itself costs. "image s" is the time ``gir restore`` logs for the
image itself (read, restore, write; no interpreter start or model load). Prints a Markdown table.

    python benchmarks/restore_speed.py                              # the shipped default model
    python benchmarks/restore_speed.py --arch nafnet wavelet_unet   # random-weight checkpoints (small preset)
    python benchmarks/restore_speed.py --model runs/x/best.safetensors --sizes 1 4 --append docs/bench.md

Random weights are fine for timing: the cost of a forward pass does not depend on the weight values.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import numpy as np

from _report import emit  # benchmarks/ is on sys.path when a script here runs

ASPECT = (3, 2)  # width : height of the test photos, like most cameras


# ---------------------------------------------------------------------------------------------- images
def read_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as im:
        return im.height, im.width


def photo_shape(megapixels: float) -> tuple[int, int]:
    """(height, width) of a 3:2 photo with about ``megapixels`` million pixels."""
    unit = (megapixels * 1e6 / (ASPECT[0] * ASPECT[1])) ** 0.5
    return int(round(unit * ASPECT[1])), int(round(unit * ASPECT[0]))


def synthetic_photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A natural-looking uint8 HxWx3 RGB image: smooth illumination and colour fields, soft (blurred) and
    sharp shapes, texture at several scales and a little noise. Same seed -> same bytes."""
    import cv2

    rng = np.random.default_rng(seed)

    def smooth(h: int, w: int, channels: int, scale: float) -> np.ndarray:
        small = rng.random((max(2, int(h / scale)), max(2, int(w / scale)), channels), dtype=np.float32)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC).reshape(h, w, channels)

    img = 0.25 + 0.5 * smooth(height, width, 3, max(height, width) / 4)
    img *= 0.6 + 0.5 * smooth(height, width, 1, max(height, width) / 3)  # illumination
    for k in range(40):
        _blend_shape(img, rng, k, cv2)
    for scale in (64.0, 16.0, 4.0):
        img += (smooth(height, width, 1, scale) - 0.5) * np.float32(0.08)
    img += rng.normal(0, 0.01, (height, width, 1)).astype(np.float32)
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def _blend_shape(img: np.ndarray, rng: np.random.Generator, k: int, cv2) -> None:
    """Paint one random ellipse (odd k) or rectangle, blurred when k % 3 == 0, over ``img`` in place
    (80 % opaque), working only inside the shape's bounding box."""
    height, width = img.shape[:2]
    colour = (rng.random(3) * 0.8 + 0.1).astype(np.float32)
    cx, cy = int(rng.integers(0, width)), int(rng.integers(0, height))
    ax, ay = int(rng.integers(width // 40, width // 6)), int(rng.integers(height // 40, height // 6))
    angle = float(rng.uniform(0, 180))
    sigma = float(rng.uniform(2, 8)) * max(height, width) / 1000 if k % 3 == 0 else 0.0
    r = max(ax, ay) + int(3 * sigma) + 2
    y0, y1, x0, x1 = max(0, cy - r), min(height, cy + r), max(0, cx - r), min(width, cx + r)
    if y0 >= y1 or x0 >= x1:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    centre = (cx - x0, cy - y0)
    if k % 2:
        cv2.ellipse(mask, centre, (ax, ay), angle, 0, 360, 255, -1)
    else:
        cv2.rectangle(mask, (centre[0] - ax, centre[1] - ay), (centre[0] + ax, centre[1] + ay), 255, -1)
    if sigma:  # out of focus
        mask = cv2.GaussianBlur(mask, (0, 0), sigma)
    m = (mask.astype(np.float32) * np.float32(0.8 / 255))[..., None]
    region = img[y0:y1, x0:x1]
    region += (colour[None, None] - region) * m


def save_png(path: Path, rgb: np.ndarray) -> None:
    import cv2

    if not cv2.imwrite(str(path), rgb[..., ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 1]):
        raise OSError(f"cannot write {path}")


# ---------------------------------------------------------------------------------------------- models
def random_checkpoint(arch: str, preset: str, folder: Path, seed: int = 0) -> Path:
    """A checkpoint of ``arch`` with seeded random weights (zero-initialised layers included)."""
    import torch

    from gir.models import build_model, save_checkpoint

    cfg = {"type": arch, "preset": preset}
    torch.manual_seed(seed)
    model = build_model(dict(cfg))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    path = folder / f"random-{arch}-{preset}.safetensors"
    save_checkpoint(path, model.state_dict(), model_cfg=cfg, meta={"note": "random weights, for timing"})
    return path


def identity_child(args: list[str]) -> int:
    """Run by this script in a child: ``gir restore``'s file loop with a network that returns its input."""
    import torch

    from gir.restore import restore_files

    class Identity(torch.nn.Module):
        size_multiple = 1

        def forward(self, x):
            return x

    src, dst = args
    report = restore_files([src], dst, model=Identity(), device="cpu", progress=False)
    return report.exit_code


# ---------------------------------------------------------------------------------------------- timing
def measure(cmd: list[str]) -> dict:
    """Wall seconds and peak RSS (GB) of ``cmd``, run in a fresh intermediate child so that
    RUSAGE_CHILDREN reports this command alone."""
    probe = ("import json, resource, subprocess, sys, time\n"
             "t = time.perf_counter()\n"
             "rc = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
             "dt = time.perf_counter() - t\n"
             "kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
             "print(json.dumps({'rc': rc, 'seconds': dt, 'rss_gb': kb * 1024 / 1e9}))\n")
    res = subprocess.run([sys.executable, "-c", probe, *cmd], capture_output=True, text=True, check=True)
    out = json.loads(res.stdout.strip().splitlines()[-1])
    if out["rc"] != 0:
        raise RuntimeError(f"command failed ({out['rc']}): {shlex.join(cmd)}\n{res.stderr[-2000:]}")
    logged = re.findall(r"\(\d+x\d+, ([\d.]+) s(?:\)|; ran: ([^;)]*))", res.stderr)  # gir restore's image line
    out["image_s"] = float(logged[-1][0]) if logged else None
    out["ran"] = logged[-1][1] if logged else ""
    return out


def restore_cmd(src: Path, dst: Path, model: str | None, device: str, tile: str) -> list[str]:
    """The `gir restore` command line; model None: the default pipeline."""
    return [sys.executable, "-m", "gir.cli", "restore", str(src), "-o", str(dst),
            *(["--model", model] if model else []), "--device", device, "--tile", tile]


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run(models: dict[str, str | None], sizes: list[float], device: str, tile: str, repeat: int,
        keep: Path | None, photos: list[Path] = ()) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="gir-bench-") as tmp:
        work = keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for item in [*sizes, *photos]:
            if isinstance(item, Path):  # a given photo (e.g. a clean one: the pipeline only analyses it)
                src, dst = item, work / f"out-{item.name}"
                h, w = read_size(item)
            else:
                h, w = photo_shape(item)
                src = work / f"photo-{item:g}mp.png"
                if not src.exists():
                    save_png(src, synthetic_photo(h, w, seed=int(item * 10)))
                dst = work / f"out-{item:g}mp.png"
            ident = [sys.executable, os.path.abspath(__file__), "--identity-child", str(src), str(dst)]
            base = min((measure(ident) for _ in range(repeat)), key=lambda r: r["seconds"])
            name = src.name if isinstance(item, Path) else f"synthetic {w}x{h}"
            rows.append(dict(model="identity (read + tiles + write)", photo=name, mp=h * w / 1e6, h=h, w=w, **base,
                             ratio=1.0))
            for label, model in models.items():
                cmd = restore_cmd(src, dst, model, device, tile)
                r = min((measure(cmd) for _ in range(repeat)), key=lambda r: r["seconds"])
                rows.append(dict(model=label, photo=name, mp=h * w / 1e6, h=h, w=w, **r,
                                 ratio=r["seconds"] / base["seconds"]))
                print(f"  {label} {w}x{h}: {r['seconds']:.2f} s, {r['rss_gb']:.2f} GB", file=sys.stderr)
    return rows


def table(rows: list[dict], header: str) -> str:
    lines = [header, "",
             "| model | photo | MP | seconds (process) | s/MP | x identity | image s (read-restore-write) | "
             "peak RSS GB | experts that ran |",
             "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        image_s = "" if r.get("image_s") is None else f"{r['image_s']:.2f}"
        lines.append(f"| {r['model']} | {r['photo']} | {r['mp']:.2f} | {r['seconds']:.2f} | "
                     f"{r['seconds'] / r['mp']:.2f} | {r['ratio']:.1f} | {image_s} | {r['rss_gb']:.2f} | "
                     f"{r.get('ran') or ''} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--identity-child"]:
        return identity_child(argv[1:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="model NAME or checkpoint PATH (default: the default pipeline and, in the same "
                                    "run, the previous single network gir-wunet-cpu)")
    ap.add_argument("--photo", nargs="*", type=Path, default=[],
                    help="also time these photos (e.g. a clean one, which the pipeline only analyses)")
    ap.add_argument("--arch", nargs="+", help="benchmark random-weight checkpoints of these architectures")
    ap.add_argument("--preset", default="small", help="preset for --arch (default small)")
    ap.add_argument("--sizes", nargs="+", type=float, default=[1, 4, 24], help="megapixels (default 1 4 24)")
    ap.add_argument("--device", default="cpu", help="--device of gir restore (default cpu)")
    ap.add_argument("--tile", default="auto", help="--tile of gir restore (default auto)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per size; the fastest counts (default 1)")
    ap.add_argument("--keep", type=Path, help="keep the photos and outputs in this folder")
    ap.add_argument("--append", type=Path, help="also append the table to this Markdown file")
    args = ap.parse_args(argv)

    from gir.restore import DEFAULT_MODEL, WEIGHTS_DIR, shipped_models

    with tempfile.TemporaryDirectory(prefix="gir-bench-models-") as tmp:
        notes = []
        if args.model:
            models = {args.model: args.model}
        elif args.arch:
            models = {f"{a} ({args.preset}, random weights)": str(random_checkpoint(a, args.preset, Path(tmp)))
                      for a in args.arch}
            notes.append("Random-weight checkpoints built for this run (speed does not depend on the weights).")
        elif DEFAULT_MODEL in shipped_models():
            models = {"default pipeline": None, f"{DEFAULT_MODEL} (previous)": DEFAULT_MODEL}
        else:
            print(f"the shipped model {DEFAULT_MODEL} is not installed in {WEIGHTS_DIR}; pass --model PATH or "
                  f"--arch ARCH", file=sys.stderr)
            return 2
        rows = run(models, args.sizes, args.device, args.tile, args.repeat, args.keep, args.photo)

    import torch

    command = "python benchmarks/restore_speed.py " + shlex.join(argv)
    header = (f"`gir restore` speed and peak memory on {cpu_name()} ({os.cpu_count()} cores, "
              f"{torch.get_num_threads()} torch threads), device {args.device}, tile {args.tile}, torch "
              f"{torch.__version__}, {datetime.now().strftime('%Y-%m-%d %H:%M')}; `{command}`.\n"
              f"Seconds: wall time of one `gir restore` process (start-up, model load, PNG read, inference, "
              f"PNG write) on a synthetic 3:2 photo; peak RSS of that process. x identity: time relative to "
              f"an identity network going through the same read / tile / write path in the same run."
              + ("\n" + " ".join(notes) if notes else ""))
    text = table(rows, header)
    emit(text, args.append)
    return 0


if __name__ == "__main__":
    sys.exit(main())
