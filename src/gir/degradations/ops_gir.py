"""GIR's ten basic degradations (paper 000, Appendix A.1.1), with the paper's representative values and
random ranges."""
from __future__ import annotations

import cv2
import numpy as np

from gir.degradations.base import Param, register_op

SRC = "GIR (paper 000, A.1.1)"


@register_op("noise", [
    Param("sigma", "float", 20.0, (1.0, 30.0), (0.0, 255.0), "standard deviation", unit="on the 0-255 scale"),
], source=SRC)
def noise(img, rng, sigma):
    """Additive white Gaussian noise, i.i.d. per pixel and channel."""
    return img + rng.standard_normal(img.shape, dtype=np.float32) * np.float32(sigma / 255.0)


@register_op("jpeg", [
    Param("quality", "int", 50, (30, 95), (1, 100), "JPEG quality factor"),
], source=SRC)
def jpeg(img, rng, quality):
    """JPEG compression round trip (OpenCV/libjpeg, 4:2:0 chroma subsampling) at the given quality."""
    u8 = cv2.cvtColor(to_uint8(img), cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", u8, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


def to_uint8(img: np.ndarray) -> np.ndarray:
    """float [0, 1] -> uint8 with rounding."""
    return (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
