"""Image files <-> float32 RGB arrays in [0, 1].

Reading returns an :class:`Image`: the upright (EXIF orientation applied) RGB pixels plus what is needed to
write a result back the way the source was stored (alpha, bit depth, grayscale, ICC profile). Every failure
to read or write raises :class:`~gir.errors.ImageReadError` / :class:`~gir.errors.ImageWriteError` with a
one-line message that starts with the file name.

Decoders: Pillow for 8-bit formats (PNG, JPEG, BMP, WebP, GIF, palette/1-bit/CMYK TIFF), OpenCV for 16-bit
PNG (Pillow would truncate 16-bit colour to 8 bits), tifffile for 8/16-bit and float TIFF (OpenCV when the
TIFF compression needs a codec tifffile lacks). Formats are recognised by content, not by suffix.

The pixel count (from the header) is checked BEFORE any pixel data is decoded: images over ``max_pixels``
(default :data:`DEFAULT_MAX_PIXELS`, or the environment variable ``GIR_MAX_PIXELS``) are refused.

Every file gir writes in place (images, reports, checkpoints' copies, training states, plots) goes through
one helper, :func:`atomic_path` / :func:`atomic_write`: a temporary file in the same folder, renamed over the
target when complete, deleted on failure.
"""
from __future__ import annotations

import io as _bytesio
import os
import secrets
import struct
import threading
import zlib
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from gir.errors import ImageReadError, ImageWriteError

DEFAULT_MAX_PIXELS: int = 200_000_000
MAX_PIXELS_ENV = "GIR_MAX_PIXELS"

SUPPORTED_READ = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
SUPPORTED_WRITE = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp")

_SUFFIX_FORMAT = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF",
                  ".webp": "WEBP"}
_FORMAT_ALIASES = {"PNG": "PNG", "JPEG": "JPEG", "JPG": "JPEG", "TIFF": "TIFF", "TIF": "TIFF", "WEBP": "WEBP"}
# What each output format can store; anything else is converted on write (see write_image).
_CAN_16BIT = {"PNG", "TIFF"}
_CAN_ALPHA = {"PNG", "TIFF", "WEBP"}
_CAN_GRAY = {"PNG", "TIFF", "JPEG"}

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_TAG_ORIENTATION = 0x0112
_TAG_ICC = 34675
_LUMA_601 = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass
class Image:
    """A decoded image file.

    rgb: float32 HxWx3 in [0, 1], upright; grayscale sources are replicated to 3 channels.
    alpha: float32 HxW in [0, 1] when the source has transparency (alpha channel, tRNS, palette
        transparency), else None. Kept aside: ``rgb`` is NOT premultiplied or composited.
    bit_depth: 8 or 16, bits per channel of the source (1-bit, palette and 8-bit sources are 8; 16-bit and
        float sources are 16).
    gray: the source had one colour channel (L, LA, 1-bit, 16-bit gray).
    format: the decoder's format name: "PNG", "JPEG", "BMP", "TIFF", "WEBP", "GIF", ...
    path: the file read, or None.
    icc_profile: the embedded ICC profile bytes, or None; written back by :func:`save_like`.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    bit_depth: int
    gray: bool
    format: str
    path: str | None
    icc_profile: bytes | None


# ----------------------------------------------------------------------------------------------- reading


def read_image(path, max_pixels: int | None = None) -> Image:
    """Read an image file (PNG, JPEG, BMP, TIFF, WebP, ...; see module doc) into an :class:`Image`.

    max_pixels: refuse images with more than this many pixels (width * height, from the header, checked
        before decoding). None: the ``GIR_MAX_PIXELS`` environment variable, else :data:`DEFAULT_MAX_PIXELS`.
    Multi-frame files (GIF, multi-page TIFF, animated WebP) give their first frame. Float TIFF samples are
    taken as [0, 1] and clipped.
    Raises ImageReadError (message "PATH: reason") for a missing, empty, unreadable, truncated, non-image or
    over-limit file, and for corrupt data the format can detect (PNG chunk CRCs, zlib checksums); JPEG, BMP
    and WebP carry no checksums, so damaged pixel data there may decode to wrong pixels without an error.
    """
    name = str(path)
    limit = pixel_limit(name, max_pixels)
    head = _check_file(name)
    if head.startswith(_TIFF_MAGICS):
        return _read_tiff(name, limit)
    return _read_pillow(name, limit)


def read_rgb(path, max_pixels: int | None = None) -> np.ndarray:
    """Shortcut for ``read_image(path, max_pixels).rgb``: float32 HxWx3 in [0, 1]."""
    return read_image(path, max_pixels).rgb


def pixel_limit(name: str, max_pixels: int | None = None) -> int:
    """The pixel limit for reading ``name``: ``max_pixels``, else ``GIR_MAX_PIXELS``, else the default."""
    if max_pixels is not None:
        if int(max_pixels) < 1:
            raise ValueError(f"max_pixels must be a positive integer, got {max_pixels!r}")
        return int(max_pixels)
    env = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not env:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(env.replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise ImageReadError(name, f"environment variable {MAX_PIXELS_ENV}={env!r} is not a positive integer")
    return value


def _check_pixels(name: str, width: int, height: int, limit: int) -> None:
    count = int(width) * int(height)
    if count > limit:
        raise ImageReadError(
            name, f"image is {width}x{height} = {count:,} pixels, over the limit of {limit:,}; "
                  f"pass max_pixels= or set {MAX_PIXELS_ENV} to raise it")


def _check_file(name: str) -> bytes:
    """Return the first bytes of the file, or raise ImageReadError for a missing/empty/unreadable one."""
    try:
        with open(name, "rb") as f:
            head = f.read(64)
    except FileNotFoundError:
        raise ImageReadError(name, "no such file") from None
    except IsADirectoryError:
        raise ImageReadError(name, "is a directory, not an image file") from None
    except PermissionError:
        raise ImageReadError(name, "permission denied") from None
    except OSError as e:
        raise ImageReadError(name, f"cannot open file ({e.strerror or e})") from None
    if not head:
        raise ImageReadError(name, "empty file (0 bytes)")
    return head


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


_PIL_LOCK = threading.Lock()


@contextmanager
def _pillow_open(name: str):
    """``PIL.Image.open`` (header only) with Pillow's decompression-bomb check off: ours runs instead."""
    from PIL import Image as PILImage, UnidentifiedImageError

    with _PIL_LOCK:
        saved = PILImage.MAX_IMAGE_PIXELS
        PILImage.MAX_IMAGE_PIXELS = None
        try:
            im = PILImage.open(name)
        except UnidentifiedImageError:
            raise ImageReadError(name, "not a recognised image file (readable: PNG, JPEG, BMP, TIFF, WebP, "
                                       "GIF, ...)") from None
        except Exception as e:  # any decoder failure while parsing the header
            raise ImageReadError(name, f"corrupt image header ({_one_line(e)})") from e
        finally:
            PILImage.MAX_IMAGE_PIXELS = saved
    try:
        yield im
    finally:
        im.close()


def _read_pillow(name: str, limit: int) -> Image:
    with _pillow_open(name) as im:
        _check_pixels(name, *im.size, limit)
        fmt = "JPEG" if im.format == "MPO" else str(im.format)
        icc = im.info.get("icc_profile") or None
        orientation = _pillow_orientation(im)
        if fmt == "PNG":
            _verify_png(name)
        if fmt == "PNG" and _png_bit_depth(name) == 16:
            gray, samples = _decode_png16(name)
            bit_depth = 16
        else:
            try:
                im.load()
                gray, samples, bit_depth = _pillow_samples(im)
            except MemoryError:
                raise ImageReadError(name, f"not enough memory to decode {im.size[0]}x{im.size[1]}") from None
            except Exception as e:
                raise ImageReadError(name, f"corrupt or truncated image data ({_one_line(e)})") from e
    return _make_image(name, samples, gray, bit_depth, fmt, icc, orientation)


def _verify_png(name: str) -> None:
    """Check every chunk's CRC: Pillow's decoder alone would accept corrupted pixel data."""
    with _pillow_open(name) as im:
        try:
            im.verify()
        except Exception as e:
            raise ImageReadError(name, f"corrupt or truncated image data ({_one_line(e)})") from e


def _pillow_orientation(im) -> int:
    try:
        return int(im.getexif().get(_TAG_ORIENTATION, 1))
    except Exception:  # malformed EXIF must not make an otherwise good image unreadable
        return 1


def _pillow_samples(im) -> tuple[bool, np.ndarray, int]:
    """Loaded PIL image -> (gray, HxWxC samples as uint8/uint16/float32, bit depth).

    C is 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA); float32 samples are in [0, 1].
    """
    mode = im.mode
    transparent = "transparency" in im.info
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        arr = np.asarray(im)
        return True, np.clip(arr, 0, 65535).astype(np.uint16)[..., None], 16
    if mode == "F":
        return True, np.clip(np.asarray(im, dtype=np.float32), 0.0, 1.0)[..., None], 16
    if mode in ("1", "L", "LA", "La"):
        target = "LA" if (mode in ("LA", "La") or transparent) else "L"
        gray = True
    else:
        has_alpha = "A" in im.getbands() or "a" in im.getbands() or transparent
        target = "RGBA" if has_alpha else "RGB"
        gray = False
    if im.mode != target:
        im = im.convert(target)
    arr = np.asarray(im, dtype=np.uint8)
    if arr.ndim == 2:
        arr = arr[..., None]
    return gray, arr, 8


def _png_bit_depth(name: str) -> int:
    with open(name, "rb") as f:
        head = f.read(33)
    # Signature (8), IHDR length+type (8), width, height (8), then bit depth (1) and colour type (1).
    if len(head) < 26 or not head.startswith(_PNG_MAGIC):
        return 8
    return head[24]


def _decode_png16(name: str) -> tuple[bool, np.ndarray]:
    """16-bit PNG -> (gray, HxWxC uint16 in RGB(A) / G(A) order), via OpenCV."""
    import cv2

    data = np.fromfile(name, dtype=np.uint8)
    with open(name, "rb") as f:
        colour_type = f.read(26)[25]
    flags = cv2.IMREAD_UNCHANGED | cv2.IMREAD_IGNORE_ORIENTATION
    arr = cv2.imdecode(data, flags)
    if arr is None or arr.dtype != np.uint16:
        raise ImageReadError(name, "corrupt or truncated image data (16-bit PNG could not be decoded)")
    arr = _bgr_to_rgb(arr)
    gray = colour_type in (0, 4)
    if gray and arr.shape[2] >= 3:  # OpenCV expands gray+alpha to BGRA; keep one gray channel
        arr = np.concatenate([arr[..., :1], arr[..., 3:]], axis=2)
    return gray, arr


def _bgr_to_rgb(arr: np.ndarray) -> np.ndarray:
    if arr.ndim == 2:
        return arr[..., None]
    if arr.shape[2] >= 3:
        return np.concatenate([arr[..., 2::-1], arr[..., 3:]], axis=2)
    return arr


def _read_tiff(name: str, limit: int) -> Image:
    """TIFF via tifffile (exact 8/16-bit/float samples); palette, 1-bit, CMYK, YCbCr TIFF via Pillow."""
    import tifffile

    try:
        with tifffile.TiffFile(name) as tif:
            page = tif.pages.first
            _check_pixels(name, page.imagewidth, page.imagelength, limit)
            if not _tifffile_can_decode(page):
                return _read_pillow(name, limit)
            orientation = _tiff_tag(page, _TAG_ORIENTATION, 1)
            icc = _tiff_tag(page, _TAG_ICC, None)
            try:
                arr = page.asarray()
            except (KeyError, ValueError, NotImplementedError) as e:
                if "imagecodecs" not in str(e):
                    raise
                arr = _decode_tiff_cv2(name)  # compression tifffile cannot decode without imagecodecs
            else:
                arr = _tiff_samples_last(arr, page.axes)
            gray = page.photometric in (0, 1)
            if page.photometric == 0:  # MINISWHITE: 0 is white
                arr = _invert(arr)
    except ImageReadError:
        raise
    except MemoryError:
        raise ImageReadError(name, "not enough memory to decode the image") from None
    except Exception as e:
        raise ImageReadError(name, f"corrupt or unreadable TIFF ({_one_line(e)})") from e
    if arr.dtype.kind == "f":
        arr, bit_depth = np.clip(arr.astype(np.float32), 0.0, 1.0), 16
    else:
        bit_depth = 16 if arr.dtype == np.uint16 else 8
    icc = bytes(icc) if icc is not None else None
    return _make_image(name, arr, gray, bit_depth, "TIFF", icc, int(orientation))


def _tifffile_can_decode(page) -> bool:
    """Gray (MINISWHITE/MINISBLACK) or RGB, up to 4 samples of uint8, uint16 or float, one 2-D plane."""
    dtype = page.dtype
    samples_ok = dtype is not None and (dtype in (np.uint8, np.uint16) or dtype.kind == "f")
    layout_ok = page.photometric in (0, 1, 2) and page.samplesperpixel <= 4
    return bool(samples_ok and layout_ok and set(page.axes) <= {"Y", "X", "S"})


def _tiff_tag(page, code: int, default):
    tag = page.tags.get(code)
    return default if tag is None else tag.value


def _tiff_samples_last(arr: np.ndarray, axes: str) -> np.ndarray:
    if "S" not in axes:
        return arr[..., None]
    return np.moveaxis(arr, axes.index("S"), -1)


def _decode_tiff_cv2(name: str) -> np.ndarray:
    import cv2

    arr = cv2.imdecode(np.fromfile(name, dtype=np.uint8), cv2.IMREAD_UNCHANGED | cv2.IMREAD_IGNORE_ORIENTATION)
    if arr is None:
        raise ImageReadError(name, "corrupt or unsupported TIFF (could not be decoded)")
    return _bgr_to_rgb(arr)


def _invert(arr: np.ndarray) -> np.ndarray:
    out = arr.copy()
    colour = out[..., :1]
    if arr.dtype.kind == "f":
        colour[...] = 1.0 - colour
    else:
        colour[...] = np.iinfo(arr.dtype).max - colour
    return out


def _make_image(name: str, samples: np.ndarray, gray: bool, bit_depth: int, fmt: str, icc, orientation: int
                ) -> Image:
    """HxWxC samples (C = 1..4, uint8/uint16 or float in [0, 1]) -> upright :class:`Image`."""
    samples = _apply_orientation(samples, orientation)
    channels = samples.shape[2]
    if samples.dtype.kind == "f":
        unit = samples.astype(np.float32)
    else:
        unit = samples.astype(np.float32) / np.float32(np.iinfo(samples.dtype).max)
    n_colour = 1 if channels in (1, 2) else 3
    colour = unit[..., :n_colour]
    rgb = np.repeat(colour, 3, axis=2) if n_colour == 1 else colour
    alpha = unit[..., n_colour] if channels in (2, 4) else None
    return Image(rgb=np.ascontiguousarray(rgb), alpha=None if alpha is None else np.ascontiguousarray(alpha),
                 bit_depth=bit_depth, gray=gray, format=fmt, path=name, icc_profile=icc or None)


def _apply_orientation(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Turn stored pixels (HxW...) upright according to the EXIF/TIFF Orientation tag (1-8).

    The tag says where the stored first row/column belong: 2 mirrored left-right, 3 rotated 180, 4 mirrored
    top-bottom, 5 transposed, 6 needs a 90-degree clockwise turn, 7 transversed, 8 needs a 90-degree
    counter-clockwise turn. Unknown values are ignored.
    """
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
        8: lambda a: np.rot90(a, 1),
    }
    op = ops.get(orientation)
    return arr if op is None else op(arr)


# ----------------------------------------------------------------------------------------------- writing


def write_image(path, rgb, alpha=None, *, bit_depth: int = 8, gray: bool = False, quality: int = 95,
                icc_profile: bytes | None = None, format: str | None = None) -> None:
    """Write float RGB in [0, 1] to ``path``, atomically.

    rgb: float HxWx3 (or HxW / HxWx1 gray) in [0, 1]; values are clipped, then rounded to the nearest code
        (floor(x * 255 + 0.5) or floor(x * 65535 + 0.5)). NaN/inf raise ImageWriteError.
    alpha: float HxW in [0, 1] or None; stored as an alpha channel by PNG, TIFF and WebP, DROPPED by JPEG.
    bit_depth: 8 or 16; 16 is kept by PNG and TIFF, JPEG and WebP are written with 8 bits.
    gray: store one colour channel (PNG, TIFF, JPEG; WebP has none and gets RGB). A 3-channel ``rgb`` is
        reduced with BT.601 luma weights (0.299, 0.587, 0.114).
    quality: 1-100, JPEG and WebP (WebP 100 = lossless). JPEG uses Pillow's default 4:2:0 chroma subsampling.
    icc_profile: embedded as is (all four formats).
    format: "PNG", "JPEG", "TIFF" or "WEBP"; None infers it from the suffix (SUPPORTED_WRITE).
    The file is encoded in memory, written to a temporary file in the target folder and renamed over the
    target, so a failure never leaves a partial file. The folder must exist (it is not created).
    Raises ImageWriteError for an unknown suffix/format, a missing folder or an OS error; ValueError for
    arrays of the wrong shape or dtype and bad options.
    """
    name = str(path)
    fmt = _output_format(name, format)
    samples = _to_samples(name, rgb, alpha, bit_depth=bit_depth, gray=gray, fmt=fmt)
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"quality must be in 1..100, got {quality!r}")
    icc = bytes(icc_profile) if icc_profile else None
    data = _encode(name, fmt, samples, gray=gray and fmt in _CAN_GRAY, quality=int(quality), icc=icc)
    _atomic_write(name, data)


def save_like(path, rgb, like: Image, format: str | None = None, quality: int = 95) -> None:
    """Write ``rgb`` with the alpha, bit depth, grayscale flag and ICC profile of the source ``like``.

    When ``rgb`` has a different size than ``like`` (e.g. a super-resolved result), ``like.alpha`` is resized
    to it (bilinear). Format as in :func:`write_image` (None: from the suffix).
    """
    alpha = like.alpha
    rgb = np.asarray(rgb)
    if alpha is not None and alpha.shape != rgb.shape[:2]:
        import cv2

        alpha = np.clip(cv2.resize(alpha.astype(np.float32), (rgb.shape[1], rgb.shape[0]),
                                   interpolation=cv2.INTER_LINEAR), 0.0, 1.0)
    write_image(path, rgb, alpha, bit_depth=like.bit_depth, gray=like.gray, icc_profile=like.icc_profile,
                format=format, quality=quality)


def _output_format(name: str, format: str | None) -> str:
    if format is not None:
        fmt = _FORMAT_ALIASES.get(str(format).upper().lstrip("."))
        if fmt is None:
            raise ImageWriteError(name, f"unknown image format {format!r}; writable: PNG, JPEG, TIFF, WEBP")
        return fmt
    suffix = Path(name).suffix.lower()
    if suffix not in _SUFFIX_FORMAT:
        raise ImageWriteError(name, f"unknown image suffix {suffix or '(none)'!r}; writable: "
                                    f"{', '.join(SUPPORTED_WRITE)}")
    return _SUFFIX_FORMAT[suffix]


def _to_samples(name: str, rgb, alpha, *, bit_depth: int, gray: bool, fmt: str) -> np.ndarray:
    """Float image (+ alpha) -> HxWxC uint8/uint16 samples: C = 1 (G), 2 (GA), 3 (RGB) or 4 (RGBA)."""
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth!r}")
    colour = _as_float_image(rgb, "rgb")
    if colour.ndim == 2:
        colour = colour[..., None]
    if colour.ndim != 3 or colour.shape[2] not in (1, 3):
        raise ValueError(f"rgb must be HxWx3, HxWx1 or HxW, got shape {np.shape(rgb)}")
    if gray and fmt in _CAN_GRAY:
        if colour.shape[2] == 3:
            colour = colour @ _LUMA_601
            colour = colour[..., None]
    elif colour.shape[2] == 1:
        colour = np.repeat(colour, 3, axis=2)
    planes = [colour]
    if alpha is not None and fmt in _CAN_ALPHA:
        a = _as_float_image(alpha, "alpha")
        if a.shape != colour.shape[:2]:
            raise ValueError(f"alpha must be HxW = {colour.shape[:2]}, got shape {a.shape}")
        planes.append(a[..., None])
    stacked = np.concatenate(planes, axis=2) if len(planes) > 1 else colour
    if not np.isfinite(stacked).all():
        raise ImageWriteError(name, "image contains NaN or infinite values")
    depth = bit_depth if fmt in _CAN_16BIT else 8
    peak = 65535.0 if depth == 16 else 255.0
    codes = np.floor(np.clip(stacked, 0.0, 1.0) * peak + 0.5)
    return codes.astype(np.uint16 if depth == 16 else np.uint8)


def _as_float_image(x, what: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind != "f":
        raise ValueError(f"{what} must be a float array in [0, 1], got dtype {arr.dtype}")
    return arr.astype(np.float64, copy=False) if arr.dtype.itemsize > 4 else arr.astype(np.float32, copy=False)


def _encode(name: str, fmt: str, samples: np.ndarray, *, gray: bool, quality: int, icc: bytes | None) -> bytes:
    try:
        if fmt == "PNG":
            if samples.dtype == np.uint16:
                return _encode_png16(samples, icc)
            return _encode_pillow(samples, "PNG", icc, compress_level=6)
        if fmt == "TIFF":
            return _encode_tiff(samples, gray, icc)
        if fmt == "JPEG":
            return _encode_pillow(samples, "JPEG", icc, quality=quality)
        lossless = quality >= 100
        return _encode_pillow(samples, "WEBP", icc, quality=quality, lossless=lossless)
    except ImageWriteError:
        raise
    except Exception as e:
        raise ImageWriteError(name, f"cannot encode as {fmt} ({_one_line(e)})") from e


def _encode_pillow(samples: np.ndarray, fmt: str, icc: bytes | None, **options) -> bytes:
    from PIL import Image as PILImage

    arr = samples[..., 0] if samples.shape[2] == 1 else samples
    im = PILImage.fromarray(np.ascontiguousarray(arr))
    if icc:
        options["icc_profile"] = icc
    buf = _bytesio.BytesIO()
    im.save(buf, format=fmt, **options)
    return buf.getvalue()


def _encode_tiff(samples: np.ndarray, gray: bool, icc: bytes | None) -> bytes:
    import tifffile

    has_alpha = samples.shape[2] in (2, 4)
    buf = _bytesio.BytesIO()
    tifffile.imwrite(buf, samples[..., 0] if samples.shape[2] == 1 else samples,
                     photometric="minisblack" if gray else "rgb",
                     extrasamples=["unassalpha"] if has_alpha else None,
                     compression="zlib", iccprofile=icc, metadata=None)
    return buf.getvalue()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _encode_png16(samples: np.ndarray, icc: bytes | None) -> bytes:
    """HxWxC uint16 (C = 1 G, 2 GA, 3 RGB, 4 RGBA) -> 16-bit PNG bytes, with an iCCP chunk when given.

    Neither Pillow (8-bit colour only) nor OpenCV (no gray+alpha, no ICC) writes every 16-bit layout.
    Every row uses the PNG "Up" filter (difference to the row above), which compresses photos well.
    """
    h, w, c = samples.shape
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    rows = samples.astype(">u2").view(np.uint8).reshape(h, w * c * 2)
    up = rows.copy()
    up[1:] -= rows[:-1]  # uint8 arithmetic wraps modulo 256, as the filter requires
    raw = np.concatenate([np.full((h, 1), 2, dtype=np.uint8), up], axis=1)
    parts = [_PNG_MAGIC, _png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0))]
    if icc:
        parts.append(_png_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc)))
    parts.append(_png_chunk(b"IDAT", zlib.compress(raw.tobytes(), 6)))
    parts.append(_png_chunk(b"IEND", b""))
    return b"".join(parts)


def _atomic_write(name: str, data: bytes) -> None:
    """Write an encoded image with :func:`atomic_write`; failures as :class:`ImageWriteError`."""
    folder = os.path.dirname(os.path.abspath(name))
    if not os.path.isdir(folder):
        raise ImageWriteError(name, f"folder {folder} does not exist")
    try:
        atomic_write(name, data)
    except OSError as e:
        raise ImageWriteError(name, f"cannot write file ({e.strerror or e})") from None


# ----------------------------------------------------------------------------------------- atomic writes
@contextmanager
def atomic_path(path, *, fsync: bool = False) -> Iterator[Path]:
    """A temporary path in ``path``'s folder to write to (its name ends with ``path``'s suffix, so a writer
    that goes by the suffix, such as ``savefig``, still does); moved over ``path`` when the block ends, so no
    reader ever sees a half-written file, and deleted when the block raises. ``fsync``: flush the file and
    the folder to disk before and after the rename (what must survive a power cut)::

        with atomic_path(out / "state.pt") as tmp:
            torch.save(state, tmp)
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp{path.suffix}")
    try:
        yield tmp
        if fsync:
            _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise
    if fsync:
        _fsync(path.parent)


def atomic_write(path, data: bytes | str, *, fsync: bool = False, encoding: str = "utf-8") -> None:
    """Write ``data`` (bytes, or text in ``encoding``) to ``path`` through :func:`atomic_path`."""
    with atomic_path(path, fsync=fsync) as tmp:
        if isinstance(data, str):
            tmp.write_text(data, encoding=encoding)
        else:
            tmp.write_bytes(data)


def write_figure(fig, path, **options) -> Path:
    """Save a matplotlib figure to ``path`` (parent folders created) through :func:`atomic_path`; ``options``
    go to ``fig.savefig`` (the format comes from the suffix unless ``format`` says otherwise). Returns the
    path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, **options)
    return path


def _fsync(path: Path) -> None:
    """Flush a file, or a folder's entries, to disk (folders: POSIX only)."""
    try:
        flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if path.is_dir() else 0)
        fd = os.open(path, flags)
    except OSError:
        if path.is_dir():  # a folder cannot be opened on Windows; its entries are written through
            return
        raise
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
