"""Receiving an uploaded image: a streaming multipart reader with limits, and the checks an image must pass.

The body is parsed as it arrives (python-multipart's streaming parser): the file part goes straight into a
file of the job's folder (which the server owns and names), small text fields stay in memory, and the
upload stops with 413 as soon as the body passes the limit. The client's file name is kept only as text
(:func:`display_name`) for reports and the download's name: it never reaches the file system.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

FILE_FIELD = "file"
MAX_FIELD_BYTES = 1024  # a text field (scale, mode, only, skip)
MAX_NAME_CHARS = 120

# Decoder format -> suffix of the job's input file; the suffix is how `gir restore` picks the output format.
INPUT_SUFFIX = {"PNG": ".png", "JPEG": ".jpg", "TIFF": ".tif", "WEBP": ".webp", "BMP": ".bmp", "GIF": ".gif"}


class UploadError(Exception):
    """A request the server refuses: HTTP ``status`` and a one-line ``message``."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class ClientGone(UploadError):
    """The client disconnected before the body was complete."""

    def __init__(self):
        super().__init__(400, "the client disconnected during the upload")


@dataclass
class Upload:
    """A received form: its text ``fields``, the file part's display name and size, and where it was written
    (None when the form had no file part)."""

    fields: dict[str, str] = field(default_factory=dict)
    name: str | None = None
    path: Path | None = None
    size: int = 0


@dataclass(frozen=True)
class ImageInfo:
    """What the image reader found in an upload: its format, the suffix the job's input gets, its size."""

    format: str
    suffix: str
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


def display_name(raw: str | None) -> str:
    """The client's file name as safe text: the last path component, printable characters only, at most
    :data:`MAX_NAME_CHARS`; "image" when nothing is left."""
    text = re.split(r"[\\/]", raw or "")[-1]
    text = "".join(c for c in text if unicodedata.category(c)[0] != "C").strip()
    return text[:MAX_NAME_CHARS] or "image"


class _FormSink:
    """python-multipart callbacks that write the file part to ``dest`` and keep the text fields."""

    def __init__(self, dest: Path, charset: str = "utf-8"):
        self.dest = dest
        self.charset = charset
        self.upload = Upload()
        self.ended = False
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._field: str | None = None
        self._is_file = False
        self._data = bytearray()
        self._file = None

    def callbacks(self) -> dict:
        return {"on_part_begin": self.on_part_begin, "on_part_data": self.on_part_data,
                "on_part_end": self.on_part_end, "on_header_field": self.on_header_field,
                "on_header_value": self.on_header_value, "on_header_end": self.on_header_end,
                "on_headers_finished": self.on_headers_finished, "on_end": self.on_end}

    def on_part_begin(self) -> None:
        self._disposition, self._field, self._is_file, self._data = b"", None, False, bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if self._header_name.strip().lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name, self._header_value = b"", b""

    def on_headers_finished(self) -> None:
        from python_multipart.multipart import parse_options_header

        _, params = parse_options_header(self._disposition)
        if b"name" not in params:
            raise UploadError(400, "a multipart part has no name in its Content-Disposition header")
        self._field = params[b"name"].decode(self.charset, "replace")
        self._is_file = b"filename" in params
        if not self._is_file:
            return
        if self._field != FILE_FIELD:
            raise UploadError(400, f"unexpected file field {self._field!r}; send the image in the field "
                                   f"{FILE_FIELD!r}")
        if self.upload.path is not None:
            raise UploadError(400, "send one image per request")
        self.upload.name = display_name(params[b"filename"].decode(self.charset, "replace"))
        self.upload.path = self.dest
        self._file = open(self.dest, "wb")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_file:
            self._file.write(data[start:end])  # page-cache writes of network-sized chunks: microseconds
            self.upload.size += end - start
            return
        self._data += data[start:end]
        if len(self._data) > MAX_FIELD_BYTES:
            raise UploadError(400, f"form field {self._field!r} is longer than {MAX_FIELD_BYTES} bytes")

    def on_part_end(self) -> None:
        if self._is_file:
            self._file.close()
            self._file = None
        elif self._field is not None:
            if self._field in self.upload.fields:
                raise UploadError(400, f"form field {self._field!r} is given twice")
            self.upload.fields[self._field] = self._data.decode(self.charset, "replace")

    def on_end(self) -> None:
        self.ended = True

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _boundary(content_type: str | None) -> tuple[bytes, str]:
    """(boundary, charset) of a multipart/form-data Content-Type, or an :class:`UploadError` (415)."""
    from python_multipart.multipart import parse_options_header

    kind, params = parse_options_header(content_type or "")
    if kind != b"multipart/form-data" or not params.get(b"boundary"):
        raise UploadError(415, f"send multipart/form-data with the image in a field named {FILE_FIELD!r} "
                               f"(got Content-Type {content_type or 'none'!r})")
    charset = params.get(b"charset", b"utf-8").decode("latin-1")
    return params[b"boundary"], charset


def _check_declared_length(headers, max_bytes: int) -> None:
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise UploadError(413, too_large(int(declared), max_bytes))


def too_large(size: int, max_bytes: int) -> str:
    """The 413 message: the upload's size and the limit."""
    return (f"the upload is {_bytes(size)}{' or more' if size <= max_bytes else ''}, over this server's limit "
            f"of {_bytes(max_bytes)} (gir serve --max-upload-mb)")


def _bytes(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.0f} KiB"


async def receive_upload(request, dest: Path, max_bytes: int) -> Upload:
    """Read ``request``'s multipart body as it arrives: the ``file`` part into ``dest``, text fields into
    :attr:`Upload.fields`.

    Raises :class:`UploadError`: 415 for a body that is not multipart/form-data, 413 as soon as the body
    (declared or received) passes ``max_bytes``, 400 for a malformed body, a second file, a file in another
    field or an over-long text field, and :class:`ClientGone` when the client disconnects. On any error the
    partial file is closed; the caller removes the job's folder.
    """
    from python_multipart.exceptions import FormParserError
    from python_multipart.multipart import MultipartParser
    from starlette.requests import ClientDisconnect

    boundary, charset = _boundary(request.headers.get("content-type"))
    _check_declared_length(request.headers, max_bytes)
    sink = _FormSink(dest, charset)
    parser = MultipartParser(boundary, sink.callbacks())
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_bytes:
                raise UploadError(413, too_large(received, max_bytes))
            parser.write(chunk)
        parser.finalize()
    except ClientDisconnect:
        raise ClientGone() from None
    except FormParserError as e:
        raise UploadError(400, f"malformed multipart body ({' '.join(str(e).split())})") from None
    finally:
        sink.close()
    if not sink.ended:
        raise UploadError(400, "the multipart body ended before its closing boundary")
    return sink.upload


def require_file(upload: Upload) -> Path:
    """The uploaded file's path, or a 400 :class:`UploadError` when the form had none or it is empty."""
    if upload.path is None:
        raise UploadError(400, f"no image: send it in a multipart field named {FILE_FIELD!r}")
    if upload.size == 0:
        raise UploadError(400, f"{upload.name}: the file is empty (0 bytes)")
    return upload.path


def inspect_image(path: Path, name: str, max_pixels: int) -> ImageInfo:
    """Decode the upload with ``gir``'s own reader (what the restore will read) and say what it is.

    Blocking (a full decode): run it off the event loop. Raises :class:`UploadError`: 415 for a file that is
    not an image or not in a format ``gir restore`` takes (:data:`INPUT_SUFFIX`), 422 for an image over
    ``max_pixels`` (checked from the header, before decoding) or one whose data cannot be decoded.
    """
    from gir.errors import ImageReadError
    from gir.io import read_image

    try:
        image = read_image(path, max_pixels=max_pixels)
    except ImageReadError as e:
        raise _read_error(e, name, max_pixels) from None
    if image.format not in INPUT_SUFFIX:
        raise UploadError(415, f"{name}: {image.format} images are not taken; send "
                               f"{', '.join(INPUT_SUFFIX)} (PNG, JPEG, TIFF, WebP, BMP or GIF)")
    h, w = image.rgb.shape[:2]
    return ImageInfo(image.format, INPUT_SUFFIX[image.format], int(w), int(h))


def _read_error(e, name: str, max_pixels: int) -> UploadError:
    """The HTTP answer to an :class:`~gir.errors.ImageReadError` of an upload (its reason, under the
    client's file name)."""
    reason = e.reason
    if reason.startswith("empty file"):
        return UploadError(400, f"{name}: the file is empty (0 bytes)")
    if reason.startswith("not a recognised image"):
        return UploadError(415, f"{name}: not an image (send PNG, JPEG, TIFF, WebP, BMP or GIF)")
    if "over the limit" in reason:
        size = reason.split(" over the limit")[0].rstrip(", ")  # "image is WxH = N pixels"
        return UploadError(422, f"{name}: {size}, over this server's limit of {max_pixels:,} pixels "
                                f"(gir serve --max-pixels)")
    return UploadError(422, f"{name}: cannot decode the image ({reason})")
