"""``gir.analyze(image)``: what is wrong with a photo, as calibrated probabilities and strengths.

What the analyzer looks at: up to ``crops`` (default 12) full-resolution ``crop`` x ``crop`` windows (128 px,
the size it was trained on) on an even grid over the photo (:func:`crop_grid`), never a resized view, since
resizing hides noise, JPEG blocks and blur. A photo smaller than a crop is padded by edge replication.
The network scores every window; a family's evidence is the mean of its ``top`` highest window logits (a
degradation seen in half of the windows counts fully, one seen in one window of twelve little), the
``clean`` evidence the mean of its lowest ones, a strength the mean over windows weighted by the family's
probability in each. Per-output calibration (Platt scaling: ``sigmoid(a * z + b)``, fitted on held-out
photos by :mod:`gir.analysis.calibration` and stored in the weights file) turns evidence into probabilities.

When the input is a JPEG file, its quantisation tables (:mod:`gir.analysis.jpeg_tables`) are evidence too:
they give the quality of the last save exactly. Pixels decide when they show a much lower quality (a photo
compressed hard, then re-saved at high quality). Each :class:`Finding` says where its numbers came from.
"""
from __future__ import annotations

import copy
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gir.analysis.families import FAMILIES, STRENGTH_OF, STRENGTHS, decode_strength
from gir.analysis.jpeg_tables import quality_from_pixels, read_jpeg_tables, table_quality_confidence
from gir.errors import GirError
from gir.io import Image, read_image
from gir.models.shipped import shipped_path

DEFAULT_ANALYZER = "gir-analyzer"
CROPS = 12
THRESHOLD = 0.5  # a family with p at or above this is "detected" in tables and the plan's default

# JPEG tables: a save at quality q leaves visible blocking up to about this quality; above it the tables say
# JPEG but the pixels are as good as clean (many test photos carry such a save from their source).
JPEG_VISIBLE_BELOW = 90.0
JPEG_INVISIBLE_ABOVE = 97.0
RESAVE_MARGIN = 15.0  # pixels showing a quality this much below the tables' = compressed before the last save


@dataclass
class Finding:
    """One family: probability ``p`` that it is present, strength estimates by name (e.g. ``{"sigma":
    23.0}``), ``source``: ``network``, ``jpeg tables``, ``scratch detector`` or a combination, and where the
    family has one, ``mask``: bool HxW, the pixels it covers (``damage``: :mod:`gir.analysis.scratches`)."""

    p: float
    strength: dict[str, float] = field(default_factory=dict)
    source: str = "network"
    mask: np.ndarray | None = field(default=None, repr=False)


@dataclass
class Diagnosis:
    """The analysis of one image: ``clean`` probability, one :class:`Finding` per family (all of
    :data:`FAMILIES`), the image size and how many windows were read."""

    clean: float
    findings: dict[str, Finding]
    size: tuple[int, int]
    windows: int
    file: str | None = None
    notes: list[str] = field(default_factory=list)

    def detected(self, threshold: float = THRESHOLD) -> list[str]:
        """Families with p >= threshold, most probable first."""
        hits = [(f.p, name) for name, f in self.findings.items() if f.p >= threshold]
        return [name for _, name in sorted(hits, reverse=True)]

    def verdict(self, threshold: float = THRESHOLD) -> str:
        """One line: ``clean`` or the detected families with their main strength."""
        found = self.detected(threshold)
        if not found:
            return f"clean ({self.clean:.0%})"
        parts = []
        for name in found:
            f = self.findings[name]
            s = ", ".join(f"{k} {_fmt(v)}" for k, v in f.strength.items())
            parts.append(f"{name} {f.p:.0%}" + (f" ({s})" if s else ""))
        return "; ".join(parts)

    def strengths(self, families=None) -> dict[str, float]:
        """The strength estimates as ``{"family.name": value}`` (``"jpeg.quality" -> 31.0``), of ``families``
        (default all), in their order; the names of conditioning inputs (:mod:`gir.models.conditioning`)."""
        return {f"{fam}.{k}": float(v) for fam in (families or self.findings)
                for k, v in self.findings[fam].strength.items()}

    def to_dict(self) -> dict[str, Any]:
        """``{"file", "clean", "degradations": {family: {"p", <strength>..., "source"}}, "size", "windows"}``."""
        degs = {}
        for name, f in self.findings.items():
            degs[name] = {"p": round(f.p, 4), **{k: round(v, 3) for k, v in f.strength.items()}, "source": f.source}
        out = {"file": self.file, "clean": round(self.clean, 4), "degradations": degs,
               "size": list(self.size), "windows": self.windows}
        if self.notes:
            out["notes"] = list(self.notes)
        return out


def _fmt(v: float) -> str:
    return f"{v:.3g}" if abs(v) < 10 else f"{v:.0f}"


def crop_grid(h: int, w: int, crop: int, count: int) -> list[tuple[int, int]]:
    """Top-left corners of at most ``count`` ``crop``-px windows spread evenly over an H x W image (row-major,
    the same for the same size). The grid has about ``sqrt(count * w / h)`` columns."""
    if h <= crop and w <= crop:
        return [(0, 0)]
    cols = max(1, min(count, round(np.sqrt(count * w / h))))
    rows = max(1, min(count // cols, count))
    ys = np.linspace(0, max(h - crop, 0), rows).round().astype(int)
    xs = np.linspace(0, max(w - crop, 0), cols).round().astype(int)
    corners = sorted({(int(y), int(x)) for y in ys for x in xs})
    return corners[:count]


def _windows(rgb: np.ndarray, crop: int, count: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    if h < crop or w < crop:
        rgb = np.pad(rgb, ((0, max(crop - h, 0)), (0, max(crop - w, 0)), (0, 0)), mode="edge")
    hh, ww = rgb.shape[:2]
    return np.stack([rgb[y:y + crop, x:x + crop] for y, x in crop_grid(hh, ww, crop, count)])


@dataclass
class Calibration:
    """Platt scaling per output (F families, then ``clean``): p = sigmoid(a * z + b). Identity by default."""

    a: list[float]
    b: list[float]
    top: int = 6  # windows averaged per family (the highest logits) and for clean (the lowest)

    @classmethod
    def identity(cls) -> "Calibration":
        n = len(FAMILIES) + 1
        return cls([1.0] * n, [0.0] * n)

    def apply(self, z: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(np.asarray(self.a) * z + np.asarray(self.b))))


def aggregate(out: np.ndarray, top: int) -> tuple[np.ndarray, np.ndarray]:
    """Window outputs (N x NUM_OUTPUTS) -> evidence (F + 1 logits: families, clean) and strengths (S, in the
    network's units), as the module docstring describes."""
    f = len(FAMILIES)
    k = max(1, min(top, out.shape[0]))
    fam = np.sort(out[:, :f], axis=0)[-k:].mean(0)
    clean = np.sort(out[:, f])[:k].mean()
    weights = 1.0 / (1.0 + np.exp(-out[:, :f]))
    strengths = np.empty(len(STRENGTHS))
    for i, s in enumerate(STRENGTHS):
        wgt = weights[:, FAMILIES.index(s.family)] + 1e-6
        strengths[i] = float((out[:, f + 1 + i] * wgt).sum() / wgt.sum())
    return np.append(fam, clean), strengths


class Analyzer:
    """The analyzer network with its calibration, on a device; call it on images.

    ``weights``: a shipped name (``gir-analyzer``) or a checkpoint path (a ``gir train`` run's
    ``net_*.safetensors`` works too; without stored calibration its probabilities are uncalibrated).
    ``scratches`` / ``kernel``: the scratch detector and the kernel network fused into the findings ("auto":
    the shipped ones where installed; None: none); ``exposure``: fuse the whole-photo low-light model
    (:mod:`gir.analysis.exposure`) where its fit is installed; ``flatness``: overrule a noise reading that the
    photo's exactly flat areas refute (:mod:`gir.analysis.flatness`)."""

    def __init__(self, weights: str | os.PathLike | None = None, device: str = "cpu", crops: int = CROPS,
                 scratches: str | None = "auto", kernel: str | None = "auto", exposure: bool = True,
                 flatness: bool = True):
        import torch

        from gir.analysis.network import build_analyzer
        from gir.models.checkpoint import CheckpointError, load_state

        path = resolve_analyzer(weights)
        try:
            state, info = load_state(path, "params_ema")
        except CheckpointError:
            raise
        cfg = info.get("model_cfg") or {}
        if cfg.get("type") != "analyzer":
            raise GirError(f"{path}: not an analyzer checkpoint (its model is {cfg.get('type')!r})")
        self.net = build_analyzer(dict(cfg))
        self.net.load_state_dict(state)
        self.device = torch.device(device)
        self.net.to(self.device).eval()
        self.crop = int(self.net.crop)
        self.crops = int(crops)
        cal = (info.get("meta") or {}).get("calibration")
        self.calibration = Calibration(**cal) if cal else Calibration.identity()
        self.calibrated = cal is not None
        self.path = path
        from gir.analysis.scratches import DETECTOR
        from gir.models.shipped import is_shipped

        # the scratch detector: "auto" = the shipped one where installed; None = none; else weights name/path
        self.scratches = (DETECTOR if is_shipped(DETECTOR) else None) if scratches == "auto" else scratches
        from gir.analysis.kernel import KERNEL_NET

        # the kernel network that tells blur from resampling (gir.analysis.kernel.fuse_kernel); same choices
        self.kernel = (KERNEL_NET if is_shipped(KERNEL_NET) else None) if kernel == "auto" else kernel
        from gir.analysis.exposure import MODEL_PATH

        # low light read from the whole photo (gir.analysis.exposure), where its fitted model is installed
        self.exposure = bool(exposure) and MODEL_PATH.is_file()
        self.flatness = bool(flatness)

    def window_outputs(self, rgb: np.ndarray) -> np.ndarray:
        """Raw network outputs of the image's windows: N x NUM_OUTPUTS."""
        return self.outputs(_windows(np.asarray(rgb, np.float32), self.crop, self.crops))

    def outputs(self, wins: np.ndarray) -> np.ndarray:
        """Raw network outputs of ``wins`` (float32 N x crop x crop x 3): N x NUM_OUTPUTS."""
        import torch

        x = torch.from_numpy(np.ascontiguousarray(wins.transpose(0, 3, 1, 2))).to(self.device)
        with torch.inference_mode():
            return self.net(x).float().cpu().numpy()

    def evidence(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(uncalibrated evidence logits F + 1, strengths in network units) of one image."""
        return aggregate(self.window_outputs(rgb), self.calibration.top)

    def __call__(self, image, *, jpeg=None, file: str | None = None, scratches: bool = True) -> Diagnosis:
        """Analyse ``image`` (float32 HxWx3 in [0, 1], a :class:`gir.io.Image`, or a path; a path that is a JPEG
        file also gives its tables). ``jpeg``: :class:`gir.analysis.jpeg_tables.JpegTables` of the source file
        when the caller read the pixels itself. ``scratches``: run the scratch detector too (where the analyzer
        has one), which gives ``damage`` its mask; it reads every pixel, so a caller that knows the damage
        cannot have changed may skip it."""
        rgb, file, jpeg = load_input(image, file, jpeg)
        z, units = self.evidence(rgb)
        p = self.calibration.apply(z)
        findings = {}
        for i, name in enumerate(FAMILIES):
            strength = {}
            if name in STRENGTH_OF:
                j = STRENGTHS.index(STRENGTH_OF[name])
                strength[STRENGTHS[j].name] = decode_strength(j, units[j])
            findings[name] = Finding(float(p[i]), strength)
        diag = Diagnosis(float(p[-1]), findings, (int(rgb.shape[0]), int(rgb.shape[1])),
                         len(crop_grid(max(rgb.shape[0], self.crop), max(rgb.shape[1], self.crop), self.crop,
                                       self.crops)), file)
        if jpeg is not None:
            fuse_jpeg_tables(diag, jpeg)
        if self.flatness:
            from gir.analysis.flatness import NOISE_CAP, flat_share, fuse_flatness

            if diag.findings["noise"].p > NOISE_CAP:  # the share is read only where there is a reading to check
                fuse_flatness(diag, flat_share(rgb), THRESHOLD)
        if scratches and self.scratches:
            from gir.analysis.scratches import detect, fuse_scratches

            fuse_scratches(diag, detect(rgb, self.scratches, str(self.device)).mask)
        if self.exposure:
            from gir.analysis.exposure import fuse_exposure, low_light_probability

            fuse_exposure(diag, low_light_probability(rgb))
        if self.kernel:
            from gir.analysis.kernel import fuse_kernel, kernel_view, predict_kernel

            fuse_kernel(diag, predict_kernel(kernel_view(rgb), self.kernel))
        if not self.calibrated:
            diag.notes.append("uncalibrated analyzer: probabilities are raw network outputs")
        return diag


def fuse_jpeg_tables(diag: Diagnosis, tables) -> None:
    """Combine the file's quantisation tables with the pixel evidence (in place).

    The tables give the quality of the last save; its visibility falls from 1 at quality
    :data:`JPEG_VISIBLE_BELOW` to 0 at :data:`JPEG_INVISIBLE_ABOVE`. ``jpeg.p`` becomes at least
    confidence x visibility and ``clean`` at most 1 minus that; the quality is the tables' unless the pixels
    are confident of one :data:`RESAVE_MARGIN` lower (compressed harder before a high-quality re-save)."""
    f = diag.findings["jpeg"]
    conf = table_quality_confidence(tables)
    q_tab = float(tables.quality)
    vis = float(np.clip((JPEG_INVISIBLE_ABOVE - q_tab) / (JPEG_INVISIBLE_ABOVE - JPEG_VISIBLE_BELOW), 0.0, 1.0))
    q_pix = f.strength.get("quality")
    what = "jpeg tables" if tables.source == "file" else "quantiser lattice in the pixels"
    if f.p >= THRESHOLD and q_pix is not None and q_pix < q_tab - RESAVE_MARGIN:
        f.source = f"network ({what}: a later save at quality {q_tab:.0f})"
        return
    p_tab = conf * vis
    f.p = max(f.p, p_tab)
    f.strength["quality"] = q_tab
    f.source = what if f.p == p_tab else f"network + {what}"
    diag.clean = min(diag.clean, 1.0 - p_tab)


def load_input(image, file: str | None = None, jpeg=None):
    """(float32 HxWx3 in [0, 1], file name or None, JPEG tables or None) from what the analysis and the restore
    pipeline accept: an array (float only: an integer array is refused, not misread), a :class:`gir.io.Image`,
    or a path (a JPEG file also gives its quantisation tables)."""
    if isinstance(image, (str, os.PathLike)):
        file = file or str(image)
        img = read_image(image)
        if jpeg is None:
            jpeg = read_jpeg_tables(image)
        return img.rgb, file, jpeg
    if isinstance(image, Image):
        return image.rgb, file, jpeg
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise GirError(f"analyze: expected an HxWx3 image, got shape {arr.shape}")
    if arr.dtype.kind != "f":
        raise GirError(f"analyze: expected a float image in [0, 1], got dtype {arr.dtype} (divide uint8 by 255)")
    return arr.astype(np.float32, copy=False), file, jpeg


def resolve_analyzer(spec: str | os.PathLike | None) -> Path:
    """A shipped analyzer's name or a checkpoint path -> an existing file, or a one-line GirError."""
    spec = spec or DEFAULT_ANALYZER
    path = Path(spec)
    if path.is_file():
        return path
    shipped = shipped_path(str(spec))
    if shipped.is_file():
        return shipped
    raise GirError(f"analyzer {spec}: no such file, and no shipped analyzer of that name in {shipped.parent}")


_CACHE: dict[tuple[str, str, int], Analyzer] = {}


def get_analyzer(weights=None, device: str = "cpu", crops: int = CROPS) -> Analyzer:
    """An :class:`Analyzer`, loaded once per (file, device, crops)."""
    key = (str(resolve_analyzer(weights).resolve()), str(device), int(crops))
    if key not in _CACHE:
        _CACHE[key] = Analyzer(weights, device, crops)
    return _CACHE[key]


def analyze(image, analyzer=None, *, device: str = "cpu", crops: int = CROPS, jpeg=None) -> Diagnosis:
    """What is wrong with ``image`` (float32 HxWx3 RGB in [0, 1], a :class:`gir.io.Image` or a path) ->
    :class:`Diagnosis`. ``analyzer``: an :class:`Analyzer`, a shipped name or a checkpoint path (default: the
    shipped ``gir-analyzer``)."""
    if not isinstance(analyzer, Analyzer):
        analyzer = get_analyzer(analyzer, device, crops)
    return analyzer(image, jpeg=jpeg)


def diagnose(analyzer, rgb: np.ndarray, *, file: str | None = None, jpeg=None) -> tuple[Diagnosis, Diagnosis]:
    """(the pixel analysis, the diagnosis) of an image (float32 HxWx3 in [0, 1]): what `gir analyze` reports and
    what `gir restore` plans from, the same for both.

    ``jpeg``: the file's quantisation tables; without them, the tables that the pixels' quantiser lattice
    shows, if any (:func:`gir.analysis.jpeg_tables.quality_from_pixels`: a decoded JPEG saved as PNG).
    Verification compares pixels with pixels, so the pixel analysis is kept apart; the diagnosis also uses the
    tables (they describe the input, not the pixels after a step), fused into a copy of it
    (:func:`fuse_jpeg_tables`)."""
    if jpeg is None:
        jpeg = quality_from_pixels(rgb)
    seen = analyzer(rgb, file=file)
    if jpeg is None:
        return seen, seen
    diagnosis = copy.deepcopy(seen)
    fuse_jpeg_tables(diagnosis, jpeg)
    return seen, diagnosis


def diagnose_file(analyzer, image, file: str | None = None) -> Diagnosis:
    """The diagnosis of an image file (or array, or :class:`gir.io.Image`) as :func:`diagnose` makes it:
    `gir analyze`, `gir serve`'s ``/v1/analyze`` and `gir restore --explain` report the same one."""
    rgb, file, jpeg = load_input(image, file)
    return diagnose(analyzer, rgb, file=file, jpeg=jpeg)[1]


def diagnosis_json(diags: list[Diagnosis]) -> str:
    return json.dumps([d.to_dict() for d in diags], indent=2)


__all__ = ["Analyzer", "Calibration", "Diagnosis", "Finding", "analyze", "asdict", "crop_grid", "diagnose",
           "diagnose_file", "get_analyzer"]
