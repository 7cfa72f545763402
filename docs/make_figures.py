"""Re-create the README's before/after figure with `gir restore`'s default pipeline:

    python docs/make_figures.py            # writes docs/before_after.jpg

Left: the bundled degraded example (examples/astronaut_degraded.jpg, made from examples/astronaut.png with
the recipe in examples/astronaut_degraded.json); then `gir restore` (the pipeline, given the file, so its JPEG
tables are read as the command reads them) and milestone 1's single network; right: the original.
Each panel is captioned with its PSNR / SSIM against the original.
"""
from __future__ import annotations

from pathlib import Path

from PIL import Image as PILImage

from gir.io import read_rgb
from gir.metrics import psnr, ssim
from gir.restore import DEFAULT_MODEL, restore
from gir.viz import contact_sheet

ROOT = Path(__file__).resolve().parents[1]
CROP = (slice(40, 400), slice(96, 456))  # face and badge: where noise, blur and blocks show


def main() -> None:
    clean = read_rgb(ROOT / "examples" / "astronaut.png")
    degraded = read_rgb(ROOT / "examples" / "astronaut_degraded.jpg")
    restored = restore(ROOT / "examples" / "astronaut_degraded.jpg", device="cpu")
    previous = restore(degraded, model=DEFAULT_MODEL, device="cpu")
    tiles, labels = [], []
    for name, img in (("degraded input", degraded), ("gir restore", restored),
                      (f"--model {DEFAULT_MODEL}", previous), ("original", clean)):
        tiles.append(img[CROP])
        labels.append(name if img is clean else
                      f"{name}\nPSNR {psnr(img, clean):.2f} dB, SSIM {ssim(img, clean):.3f}")
    sheet = contact_sheet(tiles, labels, cols=4, label_px=16)
    out = ROOT / "docs" / "before_after.jpg"
    PILImage.fromarray(sheet).save(out, quality=90)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
