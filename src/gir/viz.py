"""Contact sheets: labelled grids of images (float32 HxWx3 in [0, 1])."""
from __future__ import annotations

import numpy as np
from PIL import Image as PILImage, ImageDraw, ImageFont


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has only the small bitmap font
        return ImageFont.load_default()


def contact_sheet(tiles: list[np.ndarray], labels: list[str], cols: int = 5, pad: int = 6,
                  label_px: int = 15, bg: int = 255) -> np.ndarray:
    """Lay ``tiles`` (float32 HxWx3 in [0, 1], any sizes) on a grid with a caption above each.

    Each caption may hold several lines (``\\n``). Returns a uint8 HxWx3 sheet.
    """
    if len(tiles) != len(labels) or not tiles:
        raise ValueError("contact_sheet needs as many labels as tiles, and at least one tile")
    font = _font(label_px)
    th = max(t.shape[0] for t in tiles)
    tw = max(t.shape[1] for t in tiles)
    n_lines = max(lab.count("\n") + 1 for lab in labels)
    cap = n_lines * (label_px + 3) + 4
    rows = -(-len(tiles) // cols)
    cols = min(cols, len(tiles))
    sheet = PILImage.new("RGB", (cols * (tw + pad) + pad, rows * (th + cap + pad) + pad), (bg, bg, bg))
    draw = ImageDraw.Draw(sheet)
    for i, (tile, lab) in enumerate(zip(tiles, labels)):
        r, c = divmod(i, cols)
        x, y = pad + c * (tw + pad), pad + r * (th + cap + pad)
        draw.multiline_text((x, y), lab, fill=(0, 0, 0), font=font, spacing=3)
        u8 = (np.clip(tile, 0, 1) * 255 + 0.5).astype(np.uint8)
        sheet.paste(PILImage.fromarray(u8), (x, y + cap))
    return np.asarray(sheet)


def wrap_label(text: str, width: int) -> str:
    """Break ``text`` at spaces/commas into lines of at most ~``width`` characters."""
    lines, cur = [], ""
    for tok in text.replace(",", ", ").split(" "):
        if cur and len(cur) + 1 + len(tok) > width:
            lines.append(cur)
            cur = tok
        else:
            cur = f"{cur} {tok}".strip()
    if cur:
        lines.append(cur)
    return "\n".join(lines)
