"""Restoring image files: where outputs go, which format they get, and the per-file loop of ``gir restore``."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Callable

from gir.batch import BatchReport, expand_inputs, plan_outputs
from gir.errors import GirError
from gir.io import atomic_path, atomic_write
from gir.restore.plan import parse_families
from gir.restore.upscale import check_output_size

# --format value -> (format name for write_image, file suffix)
FORMATS = {"png": ("PNG", ".png"), "jpg": ("JPEG", ".jpg"), "jpeg": ("JPEG", ".jpg"), "tif": ("TIFF", ".tif"),
           "tiff": ("TIFF", ".tif"), "webp": ("WEBP", ".webp")}
_SUFFIX_FORMAT = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF",
                  ".webp": "WEBP"}
FALLBACK_SUFFIX = ".png"  # for inputs in a format gir cannot write (BMP, GIF)


def parse_format(fmt: str | None) -> tuple[str, str] | None:
    """``--format`` value (png, jpg/jpeg, tif/tiff, webp; case and a leading dot ignored) -> (format, suffix)."""
    if fmt is None:
        return None
    key = str(fmt).lower().lstrip(".")
    if key not in FORMATS:
        raise GirError(f"unknown --format {fmt!r}; writable: png, jpg, tif, webp")
    return FORMATS[key]


def _is_single_file(items: list[str]) -> bool:
    return len(items) == 1 and Path(items[0]).is_file()


def _output_is_file(output: Path) -> bool:
    """An output path names a file when it is not an existing folder, does not end with a separator and
    has a suffix."""
    text = str(output)
    return not output.is_dir() and not text.endswith(("/", "\\")) and bool(output.suffix)


def plan_single(src: Path, output: Path, fmt: tuple[str, str] | None) -> tuple[Path, str | None]:
    """(output file, format) for one input file: ``output`` itself when it names a file, else
    ``output/<input name>`` (suffix from ``--format``). Refuses to overwrite the input."""
    if _output_is_file(output):
        suffix_fmt = _SUFFIX_FORMAT.get(output.suffix.lower())
        if suffix_fmt is None:
            raise GirError(f"{output}: unknown image suffix {output.suffix!r}; use .png, .jpg, .tif or .webp")
        if fmt is not None and fmt[0] != suffix_fmt:
            raise GirError(f"{output}: the suffix {output.suffix} says {suffix_fmt} but --format says {fmt[0]}")
        dst, write_fmt = output, suffix_fmt
    else:
        dst, write_fmt = _plan_folder([src], output, fmt)[src]
    if dst.resolve() == src.resolve():
        raise GirError(f"{dst}: refusing to overwrite the input file; choose another output")
    return dst, write_fmt


def _plan_folder(inputs: list[Path], out_dir: Path, fmt: tuple[str, str] | None
                 ) -> dict[Path, tuple[Path, str | None]]:
    """``out_dir/<input file name>`` per input (suffix from ``--format``; inputs gir cannot write, e.g.
    BMP, become PNG). Raises GirError for clashes or an output that would overwrite an input."""
    if fmt is not None:
        return {p: (q, fmt[0]) for p, q in plan_outputs(inputs, out_dir, fmt[1]).items()}
    fixed = plan_outputs(inputs, out_dir, rename=lambda p: p.name if p.suffix.lower() in _SUFFIX_FORMAT
                         else p.with_suffix(FALLBACK_SUFFIX).name)
    return {p: (q, _SUFFIX_FORMAT[q.suffix.lower()]) for p, q in fixed.items()}


def plan_restore(items: list[str], output, fmt: str | None = None
                 ) -> tuple[dict[Path, tuple[Path, str | None]], list[str], Path | None]:
    """Map the inputs (files, folders, globs) to (output file, write format).

    One input file: ``output`` may be a file path or a folder. Otherwise ``output`` is a folder and every
    output keeps its input's file name (suffix per ``--format``). Returns (plan, problems, folder to create
    or None); problems are one line per input item that matched nothing.
    """
    out = Path(output)
    parsed = parse_format(fmt)
    if out.exists() and not out.is_dir() and not _is_single_file(items):
        raise GirError(f"{out}: exists and is not a folder (several inputs need an output folder)")
    if not out.exists() and not _is_single_file(items) and out.suffix.lower() in _SUFFIX_FORMAT:
        raise GirError(f"{out}: several inputs need an output folder, and this names an image file; give a "
                       f"folder (e.g. {out.with_suffix('')}/)")
    paths, problems = expand_inputs(items)
    if _is_single_file(items):
        dst, write_fmt = plan_single(paths[0], out, parsed)
        return {paths[0]: (dst, write_fmt)}, problems, dst.parent
    return _plan_folder(paths, out, parsed), problems, out


def restore_files(items: list[str], output, *, model=None, device="auto", tile="auto", overlap: int = 32,
                  half: bool | None = None, fmt: str | None = None, quality: int = 95, progress: bool = True,
                  log: Callable[[str], None] | None = None, impulse_repair: bool = True, only=None, skip=None,
                  explain: bool = False, write_json: bool = False, ensemble: int | str = "auto",
                  conditions: dict | None = None, kernel=None, scale: int = 1, mode: str = "fidelity"
                  ) -> BatchReport:
    """Restore image files (``gir restore``); see :func:`plan_restore` for where the results go.

    model None: the default pipeline (:class:`gir.restore.pipeline.Pipeline`: analyze, plan, experts,
    verify); ``only`` / ``skip`` override its plan, ``explain`` logs its diagnosis, plan and step verdicts,
    ``write_json`` writes them beside each output as ``<output name>.json``. A photo the pipeline leaves
    unchanged is copied byte for byte when its output keeps the input's format. ``ensemble``: every network's
    geometric self-ensemble ("auto", 1, 2, 4 or 8 passes; :class:`gir.restore.engine.Restorer`). A model name or path: that
    single network on every image (the previous behaviour), with the impulse repair first unless
    ``impulse_repair`` is False; a conditioned network gets ``conditions`` (name -> value, ``--condition``).
    For the pipeline, ``conditions`` override what the analysis measured (``noise.sigma=25``: the denoiser and
    the deblurring are told that noise level), and ``kernel`` (a 2-D array or a ``.npy`` / image file) is the
    blur kernel that its deblurring uses instead of estimating one. ``scale`` (1-4): outputs that many times
    the input's width and height (:mod:`gir.restore.upscale`; with ``model``, that network must upscale);
    an output over the pixel limit is refused before any work. ``mode`` "perceptual": the pipeline's experts
    that have a perceptual twin keep its detail where :mod:`gir.restore.fusion` trusts it; with ``explain`` or
    ``write_json`` the trust map is written beside the output as ``<output name>.trust.png``.

    Each output keeps its input's alpha, grayscale, bit depth and ICC profile (upright pixels, as read);
    unreadable inputs are recorded in the returned report and skipped. Models load once, before any file is
    read. log: receives one line per image (None: silent).
    """
    if not 1 <= int(quality) <= 100:
        raise GirError(f"--quality must be in 1..100, got {quality}")
    if model is not None and (only is not None or skip is not None):
        raise GirError("--only and --skip choose the default pipeline's experts; they do not apply to --model")
    if model is not None and kernel is not None:
        raise GirError("--kernel is for the default pipeline's deblurring; it does not apply to --model")
    if model is not None and mode != "fidelity":
        raise GirError("--mode chooses the default pipeline's experts; it does not apply to --model")
    from gir.restore.upscale import parse_scale

    scale = parse_scale(scale)
    plan, problems, folder = plan_restore(items, output, fmt)
    runner = _runner(model, device=device, tile=tile, overlap=overlap, half=half, impulse_repair=impulse_repair,
                     only=only, skip=skip, ensemble=ensemble, conditions=conditions, kernel=kernel, scale=scale,
                     **({"mode": mode} if model is None else {}))
    if log is not None:
        log(runner.describe())
    report = BatchReport(failures=list(problems))
    if plan and folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    for src, (dst, write_fmt) in plan.items():
        try:
            t0 = time.perf_counter()
            note, (w, h) = runner.restore_file(src, dst, write_fmt, quality, progress, write_json, explain)
            report.done += 1
            if log is not None:
                log(runner.explanation if explain and runner.explanation else
                    f"{src} -> {dst} ({w}x{h}, {time.perf_counter() - t0:.2f} s{note})")
        except (GirError, OSError, ValueError, RuntimeError) as e:
            text = " ".join(str(e).split())
            report.fail(text if text.startswith(str(src)) else f"{src}: {text}")
    return report


def _runner(model, conditions=None, kernel=None, **kw):
    if model is None:
        return _PipelineFiles(conditions=conditions, kernel=kernel, **kw)
    return _NetworkFiles(model, conditions=conditions, **kw)


class _NetworkFiles:
    """One network on every file (``--model``)."""

    explanation = ""

    def __init__(self, model, *, device, tile, overlap, half, impulse_repair, only=None, skip=None, ensemble="auto",
                 conditions=None, scale: int = 1):
        from gir.models.conditioning import ConditioningError
        from gir.restore.engine import Restorer

        self.restorer = Restorer(model, device=device, tile=tile, overlap=overlap, half=half,
                                 impulse_repair=impulse_repair, ensemble=ensemble, scale=scale)
        self.scale = scale
        self.conditions = dict(conditions or {})
        try:
            self.restorer.conditions(self.conditions)  # checked before any file is read
        except ConditioningError as e:
            raise GirError(f"{e}; give it with --condition NAME=VALUE") from None

    def describe(self) -> str:
        return self.restorer.describe()

    def restore_file(self, src: Path, dst: Path, write_fmt, quality: int, progress: bool, write_json: bool,
                     explain: bool = False) -> tuple[str, tuple[int, int]]:
        """Restore ``src`` into ``dst``; -> (a note for the log line, (width, height))."""
        from gir.io import read_image, save_like

        img = read_image(src)
        check_output_size(img.rgb.shape[1], img.rgb.shape[0], self.scale, name=str(src))
        rgb, img.rgb = img.rgb, None  # the restorer's input is the only full-size copy kept
        out = self.restorer(rgb, progress=src.name if progress else False, conditions=self.conditions)
        del rgb
        save_like(dst, out, img, format=write_fmt, quality=quality)
        if write_json:
            atomic_write(Path(f"{dst}.json"), json.dumps({"file": str(src), "model": self.restorer.describe()}))
        repaired = self.restorer.last_impulse is not None and self.restorer.last_impulse.impulsive
        return (", salt-and-pepper samples repaired first" if repaired else ""), (out.shape[1], out.shape[0])


def _write_trust(dst: Path, trust) -> Path:
    """--mode perceptual: the trust map as a small PNG beside the output (``<output name>.trust.png``)."""
    from PIL import Image as PILImage

    from gir.restore.fusion import trust_thumbnail

    path = Path(f"{dst}.trust.png")
    with atomic_path(path) as tmp:
        PILImage.fromarray(trust_thumbnail(trust)).save(tmp, format="PNG")
    return path


class _PipelineFiles:
    """The default pipeline on every file."""

    def __init__(self, *, device, tile, overlap, half, impulse_repair, only=None, skip=None, ensemble="auto",
                 conditions=None, kernel=None, scale: int = 1, mode: str = "fidelity"):
        from gir.analysis.kernel import read_kernel
        from gir.restore.pipeline import Pipeline, check_conditions

        only, skip = parse_families(only, "--only"), parse_families(skip, "--skip")  # their own errors, first
        conditions = check_conditions(conditions)
        kernel = read_kernel(kernel) if kernel is not None else None
        if not impulse_repair:
            skip = (skip or frozenset()) | {"impulse"}
        try:
            self.pipeline = Pipeline(device=device, tile=tile, overlap=overlap, half=half, only=only, skip=skip,
                                     ensemble=ensemble, conditions=conditions, kernel=kernel, scale=scale, mode=mode)
        except GirError as e:
            raise GirError(f"{e}; the default pipeline needs it (--model NAME|PATH runs one network instead)") from None
        self.explanation = ""

    def describe(self) -> str:
        experts = ", ".join(f"{n} ({'/'.join(e.families)})" for n, e in self.pipeline.experts.items())
        return f"default pipeline: analyze -> plan -> experts -> verify; experts: {experts}"

    def restore_file(self, src: Path, dst: Path, write_fmt, quality: int, progress: bool, write_json: bool,
                     explain: bool = False) -> tuple[str, tuple[int, int]]:
        """Restore ``src`` into ``dst``; -> (a note for the log line, (width, height))."""
        from gir.analysis.jpeg_tables import read_jpeg_tables
        from gir.io import read_image, save_like

        img = read_image(src)
        check_output_size(img.rgb.shape[1], img.rgb.shape[0], self.pipeline.scale, name=str(src))
        rgb, img.rgb = img.rgb, None
        outcome = self.pipeline.run(rgb, jpeg=read_jpeg_tables(src), file=str(src),
                                    progress=src.name if progress else False)
        del rgb
        same_format = _SUFFIX_FORMAT.get(src.suffix.lower()) == write_fmt
        if not outcome.changed and same_format:
            with atomic_path(dst) as tmp:  # nothing kept: the very same file, not a re-encoded one
                shutil.copyfile(src, tmp)
        else:
            save_like(dst, outcome.image, img, format=write_fmt, quality=quality)
        extra = {}
        if outcome.trust is not None and (write_json or explain):
            extra["trust_map"] = str(_write_trust(dst, outcome.trust))
        if write_json:
            atomic_write(Path(f"{dst}.json"), json.dumps({**outcome.to_dict(), "output": str(dst), **extra}, indent=2))
        self.explanation = f"{outcome.explain()}\n  -> {dst}" + (f" (trust map {extra['trust_map']})" if extra else "")
        kept = [r.step.expert for r in outcome.records if r.check.kept]
        undone = [r.step.expert for r in outcome.records if not r.check.kept]
        parts = [f"ran: {', '.join(kept) or 'nothing'}"]
        if outcome.upscale is not None:
            parts.append(f"x{outcome.upscale.scale} by {outcome.upscale.method}")
        if undone:
            parts.append(f"undone: {', '.join(undone)}")
        h, w = outcome.image.shape[:2]
        return "; " + "; ".join([*parts, f"found: {outcome.diagnosis.verdict()}"]), (w, h)
