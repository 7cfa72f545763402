"""Issue 32's analyzer bars, several analyzers in one run: does it know real photos?

- held-out clean crops called clean (no family at p >= 0.5): 256-px tiles of scikit-image's bundled photos
  and textures (never trained on), the bar 90%; its documents (text, page, checkerboard) apart;
- real photos (``../shared/data/real``, no ground truth): LIME low light found (bar 8 of 9), LOL low light,
  RNI15 noise (``Boy.png`` named), the four scratched prints' damage (as the pipeline sees it: the network's
  p fused with the scratch detector's mask), the eight unscratched old prints called clean or not.

    python benchmarks/analyzer_bars.py                                   # the shipped analyzer
    python benchmarks/analyzer_bars.py --weights gir-analyzer /tmp/new.safetensors --append benchmarks/RESULTS.md
"""
from __future__ import annotations

import argparse
import platform
from datetime import datetime
from pathlib import Path

import numpy as np

from _report import emit, shared_or_skip
from heldout_restore import SKIMAGE_PHOTOS, skimage_images

DOCUMENTS = ("text", "page", "checkerboard")


def tiles(img: np.ndarray, size: int) -> list[np.ndarray]:
    """Non-overlapping ``size`` x ``size`` tiles on a grid from the top left (a photo smaller than ``size``
    gives itself)."""
    h, w = img.shape[:2]
    if h < size or w < size:
        return [img]
    return [img[y:y + size, x:x + size] for y in range(0, h - size + 1, size) for x in range(0, w - size + 1, size)]


def clean_crops(analyzer, size: int, photos: list[tuple[str, np.ndarray]]
                ) -> dict[str, tuple[int, int, dict[str, int]]]:
    """{photo: (tiles called clean, tiles, {family: tiles where it fired})} over ``photos`` (name, float32)."""
    out = {}
    for name, rgb in photos:
        ok, n, fired = 0, 0, {}
        for t in tiles(rgb, size):
            found = analyzer(np.ascontiguousarray(t)).detected()
            n += 1
            ok += not found
            for f in found:
                fired[f] = fired.get(f, 0) + 1
        out[name] = (ok, n, fired)
    return out


def real_verdicts(analyzer, real: Path) -> dict[str, dict]:
    """{folder/name: {"detected": [...], "p": {family: p}, "mask_p": float | None}} over the real sets."""
    from gir.io import read_image

    out = {}
    for folder in sorted(p for p in real.iterdir() if p.is_dir()):
        for f in sorted(folder.iterdir()):
            if f.suffix.lower() not in (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"):
                continue
            diag = analyzer(read_image(f), file=str(f))
            out[f"{folder.name}/{f.name}"] = {"detected": diag.detected(),
                                              "p": {k: v.p for k, v in diag.findings.items()},
                                              "clean": diag.clean}
    return out


def count(verdicts: dict, folder: str, family: str) -> tuple[int, int, list[str]]:
    """(photos of ``folder`` where ``family`` fired, photos, names where it did not)."""
    names = [k for k in verdicts if k.startswith(folder + "/")]
    missed = [k.split("/")[1] for k in names if family not in verdicts[k]["detected"]]
    return len(names) - len(missed), len(names), missed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", nargs="+", default=["gir-analyzer"], help="analyzers to compare (names or paths)")
    ap.add_argument("--size", type=int, default=256, help="clean tile side (px)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--append")
    args = ap.parse_args()
    shared = shared_or_skip(args.threads)
    if shared is None:
        return
    from gir.analysis.analyze import Analyzer
    from gir.io import read_image

    rows, fired_rows = [], []
    for w in args.weights:
        an = Analyzer(w)
        crops = clean_crops(an, args.size, [(n, u8.astype(np.float32) / 255.0)
                                            for n, u8 in skimage_images(max_side=10_000)[0]])
        kodak = clean_crops(an, args.size, [(f.stem, read_image(f).rgb)
                                            for f in sorted((shared / "test" / "kodak24").iterdir())])
        kok, kn = sum(v[0] for v in kodak.values()), sum(v[1] for v in kodak.values())
        photos = {k: v for k, v in crops.items() if k not in DOCUMENTS}
        docs = {k: v for k, v in crops.items() if k in DOCUMENTS}
        ok = sum(v[0] for v in photos.values())
        n = sum(v[1] for v in photos.values())
        dok, dn = sum(v[0] for v in docs.values()), sum(v[1] for v in docs.values())
        fired: dict[str, int] = {}
        for v in photos.values():
            for f, c in v[2].items():
                fired[f] = fired.get(f, 0) + c
        worst = sorted(photos.items(), key=lambda kv: kv[1][0] / kv[1][1])[:3]
        ver = real_verdicts(an, shared / "real")
        lime = count(ver, "lime_lowlight", "low_light")
        lol = count(ver, "lol_lowlight", "low_light")
        rni = count(ver, "rni15_noisy", "noise")
        scr = count(ver, "old_photos_scratched", "damage")
        old = [k for k in ver if k.startswith("old_photos/")]
        old_clean = sum(not ver[k]["detected"] for k in old)
        boy = ver["rni15_noisy/Boy.png"]
        scr_p = ", ".join(f"{ver[k]['p']['damage']:.2f}" for k in ver if k.startswith("old_photos_scratched/"))
        label = Path(an.path).name if w == "gir-analyzer" else w
        rows.append(
            f"| `{label}` | **{ok}/{n} ({ok / n:.0%})** | {kok}/{kn} ({kok / kn:.0%}) | {dok}/{dn} | {lime[0]}/{lime[1]} | {lol[0]}/{lol[1]} "
            f"| {rni[0]}/{rni[1]} | {'yes' if 'noise' in boy['detected'] else 'no'} ({boy['p']['noise']:.2f}) "
            f"| {scr[0]}/{scr[1]} ({scr_p}) "
            f"| {old_clean}/{len(old)} |")
        fired_rows.append(f"| `{label}` | " + ", ".join(f"{f} {c}" for f, c in sorted(fired.items(), key=lambda kv: -kv[1]))
                          + " | " + ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in worst)
                          + " | " + ", ".join(m for m in lime[2]) + " | " + ", ".join(m for m in rni[2]) + " |")
    text = "\n".join([
        f"`python benchmarks/analyzer_bars.py --weights {' '.join(args.weights)}`, {datetime.now():%Y-%m-%d %H:%M}, "
        f"{platform.machine()}, {args.threads} threads. Clean tiles: {args.size} px over scikit-image's bundled "
        f"photos and textures ({', '.join(n for n, *_ in SKIMAGE_PHOTOS if n not in DOCUMENTS)}); documents: "
        f"{', '.join(DOCUMENTS)}; Kodak24 (`../shared/data/test`, never trained on) beside them. Found = p >= 0.5 as the restore plan reads it (damage fused with the scratch mask).",
        "",
        "| analyzer | clean photo tiles called clean (bar 90%) | Kodak24 tiles clean | document tiles clean | LIME low light (bar 8/9) "
        "| LOL low light | RNI15 noise | Boy.png noisy (p) | scratched prints: damage (p) | old prints clean |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "| analyzer | families fired on clean photo tiles | worst photos | LIME missed | RNI15 missed |",
        "|---|---|---|---|---|",
        *fired_rows,
    ])
    emit(text, args.append)


if __name__ == "__main__":
    main()
