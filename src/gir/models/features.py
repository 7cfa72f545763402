"""Multi-level encoder features of a restoration network, read with forward hooks (paper 004, DCPT; also
the analyzer's encoder, :mod:`gir.analysis.network`, and the interpretation probes).

Every architecture declares its encoder feature levels in its descriptor: ``model.feature_levels``, the
dotted names (as in ``model.named_modules()``) of the modules whose outputs are the encoder features,
shallow to deep, and ``model.feature_layout`` ("nchw" or "nhwc"), the layout of those outputs
(:class:`gir.models.base.RestorationNet`). Nothing here guesses module names.

Features come back as B x C x H x W whatever the module gives:

* 4-D "nchw" as is; 4-D "nhwc" (B x H x W x C, e.g. SwinIR's RSTB groups) permuted;
* 3-D tokens B x N x C reshaped row-major to B x C x h x w, where h, w come from the spatial size of the
  model's input, padded up to ``model.size_multiple`` like :meth:`RestorationNet.forward` does, (H, W):
  the smallest integer stride s with ceil(H / s) * ceil(W / s) = N gives h = ceil(H / s), w = ceil(W / s).

``stop_after_last=True`` aborts the forward pass as soon as every requested level has produced its output
(a private exception raised from the hook and caught by :meth:`FeatureHooks.forward`), so an encoder-only use
does not pay for a U-Net's decoder or a network's reconstruction head.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import torch
from torch import nn

from gir.models.base import ModelConfigError

_LAYOUTS = ("nchw", "nhwc")


class FeatureLevelError(ModelConfigError):
    """A model declares no encoder feature levels, a level names no module, or a level produced no usable
    feature map."""


class _StopForward(Exception):
    """Raised from a hook to end the forward pass once every requested level has been produced."""


def encoder_levels(model: nn.Module) -> tuple[str, ...]:
    """The encoder feature levels ``model`` declares (``model.feature_levels``), shallow to deep.

    Raises FeatureLevelError when the model declares none (the RestorationNet default ``()``)."""
    levels = tuple(getattr(model, "feature_levels", ()) or ())
    if not levels:
        raise FeatureLevelError(f"{type(model).__name__} declares no encoder feature levels (feature_levels)")
    return levels


def _layout(model: nn.Module) -> str:
    layout = getattr(model, "feature_layout", "nchw")
    if layout not in _LAYOUTS:
        raise FeatureLevelError(f"{type(model).__name__}: unknown feature_layout {layout!r}; "
                                f"known: {', '.join(_LAYOUTS)}")
    return layout


def _resolve_modules(model: nn.Module, levels: Sequence[str]) -> dict[str, nn.Module]:
    """Level name -> module; unknown or repeated names raise FeatureLevelError."""
    if isinstance(levels, str):
        raise FeatureLevelError(f"levels must be a sequence of module names, got the string {levels!r}")
    if not levels:
        raise FeatureLevelError("no feature levels requested")
    if len(set(levels)) != len(levels):
        raise FeatureLevelError(f"feature levels repeat a name: {', '.join(levels)}")
    named = dict(model.named_modules())
    missing = [name for name in levels if name not in named]
    if missing:
        raise FeatureLevelError(f"{type(model).__name__} has no module named {', '.join(missing)}")
    return {name: named[name] for name in levels}


def _token_grid(n: int, size: tuple[int, int] | None, level: str) -> tuple[int, int]:
    """(h, w) with h * w = n for a token sequence from an input of padded spatial ``size``."""
    if size is None:
        raise FeatureLevelError(f"level {level} gives tokens but the model input size is unknown")
    height, width = size
    for stride in range(1, max(height, width) + 1):
        h, w = math.ceil(height / stride), math.ceil(width / stride)
        if h * w == n:
            return h, w
        if h * w < n:
            break
    raise FeatureLevelError(f"level {level}: {n} tokens fit no grid of the {height} x {width} input")


def to_nchw(t: torch.Tensor, layout: str, size: tuple[int, int] | None = None, level: str = "?") -> torch.Tensor:
    """A level's output as B x C x H x W (see the module docstring); ``size``: the padded input H, W."""
    if not isinstance(t, torch.Tensor):
        raise FeatureLevelError(f"level {level} gives a {type(t).__name__}, not a tensor")
    if t.dim() == 4:
        return t.permute(0, 3, 1, 2) if layout == "nhwc" else t
    if t.dim() == 3:
        h, w = _token_grid(t.shape[1], size, level)
        return t.transpose(1, 2).reshape(t.shape[0], t.shape[2], h, w)
    raise FeatureLevelError(f"level {level} gives a {t.dim()}-D tensor; expected B x C x H x W or B x N x C")


def _padded_size(model: nn.Module, x: torch.Tensor) -> tuple[int, int]:
    """The H, W the model's body sees: ``x``'s, rounded up to ``model.size_multiple`` (RestorationNet)."""
    m = int(getattr(model, "size_multiple", 1) or 1)
    h, w = x.shape[-2:]
    return h + (-h) % m, w + (-w) % m


class FeatureHooks:
    """Forward hooks on a model's encoder feature levels; a context manager that removes them on exit,
    also when the block raises.

    ``levels``: dotted module names (default: the model's declared :func:`encoder_levels`), shallow to deep.
    After a forward pass of the model inside the block, :attr:`features` holds one B x C x H x W tensor per
    level, in the order of ``levels`` (the output of the module's first call in that pass). ``detach``: keep
    them out of the autograd graph. ``stop_after_last``: end the pass as soon as every level has been
    produced; run the model through :meth:`forward` (which catches the stop) rather than calling it directly.
    A direct call that is stopped ends the ``with`` block there without an error.

    Usage::

        with FeatureHooks(model, stop_after_last=True) as hooks:
            feats = hooks.forward(x)
    """

    def __init__(self, model: nn.Module, levels: Sequence[str] | None = None, stop_after_last: bool = False,
                 detach: bool = False):
        self.model = model
        self.levels: tuple[str, ...] = tuple(encoder_levels(model) if levels is None else levels)
        self._modules = _resolve_modules(model, self.levels)
        self.layout = _layout(model)
        self.stop_after_last = stop_after_last
        self.detach = detach
        self._store: dict[str, torch.Tensor] = {}
        self._size: tuple[int, int] | None = None
        self._handles: list[Any] = []

    # -- hook management ---------------------------------------------------------------------------------
    @property
    def attached(self) -> bool:
        return bool(self._handles)

    def attach(self) -> FeatureHooks:
        """Register the hooks (idempotent); :meth:`remove` takes them off."""
        if self._handles:
            return self
        try:
            self._handles.append(self.model.register_forward_pre_hook(self._on_model_input))
            for name, module in self._modules.items():
                self._handles.append(module.register_forward_hook(self._make_hook(name)))
        except BaseException:
            self.remove()
            raise
        return self

    def remove(self) -> None:
        """Take every hook off the model (safe to call more than once)."""
        while self._handles:
            self._handles.pop().remove()

    def __enter__(self) -> FeatureHooks:
        return self.attach()

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.remove()
        return exc_type is not None and issubclass(exc_type, _StopForward)

    # -- capture -------------------------------------------------------------------------------------------
    def _on_model_input(self, module: nn.Module, args: tuple) -> None:
        """A new pass of the whole model: forget the last one and note the input size (for tokens)."""
        self._store.clear()
        x = args[0] if args else None
        self._size = _padded_size(self.model, x) if isinstance(x, torch.Tensor) and x.dim() >= 2 else None

    def _make_hook(self, name: str):
        def hook(module: nn.Module, args: tuple, output: Any) -> None:
            if name in self._store:  # a module called again in the same pass (a sampler's later steps)
                return
            out = to_nchw(output, self.layout, self._size, name)
            self._store[name] = out.detach() if self.detach else out
            if self.stop_after_last and len(self._store) == len(self.levels):
                raise _StopForward
        return hook

    def clear(self) -> None:
        self._store.clear()

    @property
    def features(self) -> list[torch.Tensor]:
        """B x C x H x W per level, in the order of ``levels``, from the last forward pass."""
        missing = [name for name in self.levels if name not in self._store]
        if missing:
            raise FeatureLevelError(f"no output captured for level(s) {', '.join(missing)}; "
                                    f"run a forward pass inside the hooks first")
        return [self._store[name] for name in self.levels]

    def forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> list[torch.Tensor]:
        """Run ``model(x, *args, **kwargs)`` (stopped early with ``stop_after_last``) and return
        :attr:`features`. Attaches the hooks for the call if they are not attached."""
        was_attached = self.attached
        self.attach()
        try:
            self.clear()
            try:
                self.model(x, *args, **kwargs)
            except _StopForward:
                pass
            return self.features
        finally:
            if not was_attached:
                self.remove()

    __call__ = forward


def extract_features(model: nn.Module, x: torch.Tensor, levels: Sequence[str] | None = None,
                     stop_after_last: bool = True, detach: bool = False) -> list[torch.Tensor]:
    """Encoder features of ``x`` (float32 B x 3 x H x W in [0, 1], any H, W): one B x C_i x H_i x W_i tensor
    per level (default: the model's declared levels), shallow to deep. Autograd is as the caller has it
    (inside ``torch.no_grad()`` nothing is recorded); the model's train / eval mode is left as it is."""
    with FeatureHooks(model, levels, stop_after_last=stop_after_last, detach=detach) as hooks:
        return hooks.forward(x)


def _model_device_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    for p in model.parameters():
        return p.device, p.dtype
    return torch.device("cpu"), torch.float32


def feature_channels(model: nn.Module, levels: Sequence[str] | None = None, size: int = 64) -> list[int]:
    """Channel count of each level, from one forward pass on a 1 x 3 x size x size zero image (no grad, in
    eval mode so batch-norm statistics are untouched; the mode is restored)."""
    device, dtype = _model_device_dtype(model)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            feats = extract_features(model, torch.zeros(1, 3, size, size, device=device, dtype=dtype), levels)
    finally:
        model.train(was_training)
    return [int(f.shape[1]) for f in feats]
