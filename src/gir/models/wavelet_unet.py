"""Wavelet U-Net of team MiAlgo, NTIRE 2024 RAIM (paper 003, sec. 1.1.1), after MWRCAN.

* Down / up sampling by the Haar wavelet transform and its inverse instead of strided / transposed convs:
  level k takes the DWT of its input (4x the channels at half the size), a 3x3 conv to ``channels[k]``,
  then ``blocks`` residual blocks wrapped in a residual connection; the decoder mirrors it (skip added,
  residual blocks with a residual connection, 3x3 conv to 4x the next channels, inverse DWT).
* RESATT middle block at the lowest resolution: ``mid_blocks`` x (residual block + single-head
  self-attention over all positions).
* The U-Net gives a 3-channel image out1 (here input + predicted correction). A light refinement head, three
  3x3 convs of at most ``refine_channels`` (16) channels on [input, out1], predicts a one-channel fusion
  weight alpha in (0, 1) and the output is (1 - alpha) * input + alpha * out1.
* The U-Net's last conv (level 0 of the decoder, before the inverse DWT) starts at zero, so that at
  initialisation out1 = input and hence the whole output is the input, whatever alpha.

``attention=False`` replaces the middle block by plain residual blocks and ``refine=False`` drops the fusion
head (out1 is the output); the "cpu" preset uses both, which makes every layer local.

``context=C > 0`` adds image-level context that stays the same for every tile of an image (our addition, not
in paper 003): a small CNN reads a 64 x 64 area-downsampled view of the *whole* image plus its per-channel
mean, std, min and max, and gives a C-dim code that scales and shifts (FiLM) the features of every encoder
level and of the middle. A local network cannot tell an under-exposed photo from a dark scene, or haze
from a pale one; the code gives it image-level evidence (measured on the shipped model: low light +10.5 dB
once it has the code; see its card for haze). :meth:`WaveletUNet.image_context` computes it from a thumbnail
once per image, and :meth:`forward` takes it for every tile, so tiled and whole-image results agree. Its
last layer starts at zero: a context model initialised from a context-free one computes the same function
until it learns to use the code.

``context_view=V > 0`` (with ``context``, no map) says the code was trained on V-px regions (training with
``data.train.context_margin``): `gir restore` then gives a whole photo the mean of the codes of V x V
full-resolution windows on a fixed grid (:func:`gir.models.base.view_grid`) instead of the code of one
thumbnail, so the code sees the scale it was trained at. It changes inference only. Measured with the
shipped model on 8 CBSD68 + Kodak24 photos against one thumbnail's code: haze +2.7 dB, snow +1.5, low light
-0.24, JPEG and blur unchanged on average, but kodim12 (a pale beach) loses 3.2 dB on blur that the
thumbnail's code does not.

``context_window=W > 0`` (with ``context``) adds a context *map* on top of that code: one code per 16-px
cell, from the CNN features and statistics of the ~W-px window around the cell (:class:`ContextMap`), which
drives a second FiLM, varying across the image (bilinearly resized to each level), on the encoder levels
from ``context_map_from`` on and the middle. A per-image code cannot follow haze, whose veil varies with
scene depth across a photo. :meth:`image_context` then returns both as one map (the per-image code repeated
over the cells), which `gir restore` computes once on the whole image and crops per tile (with a halo ring),
so tiles still agree. Measured (benchmarks/RESULTS.md, "Context map experiment"): it lifts haze by ~5 dB on
whole photos but darkens bright skies of photos without haze, which a 144-px window takes for haze; it is
an experiment, not the shipped model.

``conditions=["jpeg.quality"]`` (names of :data:`gir.models.conditioning.CONDITIONS`) makes a conditioned
network, after FBCNN's quality factor and FFDNet's noise level (our form, not paper 003's): a small MLP maps the
encoded values (B x n, :func:`gir.models.conditioning.encode`) to a code that scales and shifts (FiLM) the
features of every encoder level and of the middle, as the image-level context does. Its last layer starts at
zero, so a conditioned model initialised from a blind one computes the blind one's function until it learns to
use the value. :meth:`forward` then needs ``cond`` (the same for every tile of an image).

``noise_map=True`` (with ``conditions=["noise.sigma"]``) makes FFDNet's / DRUNet's noise-level-conditioned
denoiser in this architecture: the noise level enters as an extra *input* map, not as FiLM, so it may vary
across the image (signal-dependent noise, regions). ``cond`` is then B x 1 (one encoded sigma, spread over
the image) or B x 1 x H x W (a map, same encoding, sigma / 75); the map, averaged 2 x 2, is appended to the
first level's Haar bands. The new input weights start at zero, so a noise-map network initialised from a
blind one (:meth:`WaveletUNet.adapt_state`) computes the blind one's function until it learns to use the map.

The paper gives N = 8 residual blocks and a model of about 341 MB; the channel widths are only in its
figure, so the "paper" preset picks widths that give a model of that size (fp32).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gir.models import MODELS
from gir.models.base import ModelConfigError, RestorationNet, resolve_preset, thumbnail
from gir.models.layers import LayerNorm2d, ResBlock, conv1x1, conv3x3, haar_dwt, haar_iwt, zero_init_

PRESETS = {
    "paper": dict(channels=(96, 192, 384), blocks=8, mid_blocks=8, refine_channels=16, attention=True,
                  refine=True),
    "small": dict(channels=(16, 32, 64), blocks=2, mid_blocks=1, refine_channels=16, attention=True,
                  refine=True),
    # Local-only variant for CPUs (the shipped default model): one level deeper instead of global
    # attention, so a tiled result matches the untiled one; ~0.4 s per megapixel on 2 cores.
    "cpu": dict(channels=(16, 32, 64, 128), blocks=2, mid_blocks=2, refine_channels=16, attention=False,
                refine=False),
}
for _p in PRESETS.values():
    _p.setdefault("context", 0)
    _p.setdefault("context_window", 0)
    _p.setdefault("context_map_from", 0)
    _p.setdefault("context_view", 0)
    _p.setdefault("conditions", ())
    _p.setdefault("noise_map", False)

CONTEXT_SIZE = 64  # side of the downsampled view the context CNN reads
CONDITION_WIDTH = 32  # width of the conditioning MLP


def _context_convs(in_ch: int, c: int) -> nn.Sequential:
    """The context CNN: three 3x3 stride-2 convs with ReLU (in_ch -> 16 -> 32 -> c), 1/8 of the input size."""
    return nn.Sequential(
        nn.Conv2d(in_ch, 16, 3, stride=2, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(32, c, 3, stride=2, padding=1), nn.ReLU(inplace=True))


class ImageContext(nn.Module):
    """B x 3 x H x W image (any size) -> B x C code: a strided CNN over a CONTEXT_SIZE^2 area-downsampled
    view, average- and max-pooled, concatenated with the image's per-channel mean / std / min / max."""

    def __init__(self, c: int, in_ch: int = 3):
        super().__init__()
        self.convs = _context_convs(in_ch, c)
        self.mlp = nn.Sequential(nn.Linear(2 * c + 4 * in_ch, c), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(2)
        stats = [flat.mean(-1), flat.std(-1), flat.amin(-1), flat.amax(-1)]
        f = self.convs(F.adaptive_avg_pool2d(x, CONTEXT_SIZE))
        return self.mlp(torch.cat([f.mean((2, 3)), f.amax((2, 3)), *stats], dim=1))


class ContextMap(nn.Module):
    """B x 3 x H x W image (H, W multiples of CELL) -> B x C x H/CELL x W/CELL code map: cell (i, j) describes
    the ``window``-px square around it (CNN features average- and max-pooled over the window, and the
    window's per-channel mean / std / min / max). Every cell depends on its window only, so a map computed
    on a whole image and cropped to a tile is what the tile's own pixels and their surroundings say."""

    CELL = 16

    def __init__(self, c: int, window: int, in_ch: int = 3):
        super().__init__()
        self.convs = _context_convs(in_ch, c)  # on the 2x-averaged image, so its output is at 1/16
        self.k = 2 * max(1, window // (2 * self.CELL)) + 1  # window in cells, odd
        self.mlp = nn.Sequential(conv1x1(2 * c + 4 * in_ch, c), nn.ReLU(inplace=True))

    def _mean(self, t: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(t, self.k, 1, self.k // 2, count_include_pad=False)

    def _max(self, t: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(t, self.k, 1, self.k // 2)

    def of_image(self, x: torch.Tensor) -> torch.Tensor:
        """The map of a whole image: reflect-padded by half a window first, so that border cells see a full
        (mirrored) window, as every cell of a training patch saw real surroundings (``context_margin``)."""
        p = self.k // 2 * self.CELL
        mode = "reflect" if p < min(x.shape[-2:]) else "replicate"
        m = self.k // 2
        return self(F.pad(x, (p, p, p, p), mode=mode))[..., m:-m, m:-m]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.CELL
        f = self.convs(F.avg_pool2d(x, 2))
        mean = self._mean(F.avg_pool2d(x, c))
        std = (self._mean(F.avg_pool2d(x * x, c)) - mean * mean).clamp_min(0).add(1e-6).sqrt()
        lo, hi = -self._max(F.max_pool2d(-x, c)), self._max(F.max_pool2d(x, c))
        return self.mlp(torch.cat([self._mean(f), self._max(f), mean, std, lo, hi], dim=1))


class ResidualGroup(nn.Module):
    """x + (n residual blocks)(x)."""

    def __init__(self, c: int, n: int):
        super().__init__()
        self.blocks = nn.Sequential(*[ResBlock(c) for _ in range(n)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.blocks(x)


class GlobalSelfAttention(nn.Module):
    """Single-head self-attention over all H*W positions (pre-norm, residual)."""

    def __init__(self, c: int):
        super().__init__()
        self.norm = LayerNorm2d(c)
        self.qkv = conv1x1(c, 3 * c)
        self.proj = conv1x1(c, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = (t.reshape(b, 1, c, h * w).transpose(-2, -1) for t in self.qkv(self.norm(x)).chunk(3, dim=1))
        out = F.scaled_dot_product_attention(q, k, v)  # b x 1 x HW x c
        return x + self.proj(out.transpose(-2, -1).reshape(b, c, h, w))


class FusionRefinement(nn.Module):
    """[input, out1] -> alpha (B x 1 x H x W in (0, 1)) -> (1 - alpha) * input + alpha * out1."""

    def __init__(self, in_ch: int, c: int):
        super().__init__()
        self.net = nn.Sequential(conv3x3(2 * in_ch, c), nn.ReLU(inplace=True), conv3x3(c, c),
                                 nn.ReLU(inplace=True), conv3x3(c, 1))

    def forward(self, x: torch.Tensor, out1: torch.Tensor) -> torch.Tensor:
        alpha = torch.sigmoid(self.net(torch.cat([x, out1], dim=1)))
        return (1 - alpha) * x + alpha * out1


@MODELS.register("wavelet_unet")
class WaveletUNet(RestorationNet):
    def __init__(self, preset: str = "small", in_ch: int = 3, **overrides):
        super().__init__()
        p = self.hparams = resolve_preset("wavelet_unet", PRESETS, preset, overrides)
        chans, n = list(p["channels"]), p["blocks"]
        self.size_multiple = 2 ** len(chans)
        ins = [in_ch, *chans[:-1]]  # channels entering each level's DWT; also what its decoder gives back
        self.noise_map = bool(p["noise_map"])
        extra = [1 if self.noise_map else 0] + [0] * (len(chans) - 1)  # the map enters level 0 only
        self.enc_convs = nn.ModuleList(conv3x3(4 * cin + e, c) for cin, c, e in zip(ins, chans, extra))
        if self.noise_map:
            with torch.no_grad():
                self.enc_convs[0].weight[:, -1:].zero_()
        self.encoders = nn.ModuleList(ResidualGroup(c, n) for c in chans)
        mid = [ResBlock(chans[-1]) for _ in range(p["mid_blocks"])]
        if p["attention"]:
            mid = [m for block in mid for m in (block, GlobalSelfAttention(chans[-1]))]
        self.middle = nn.Sequential(*mid)
        self.decoders = nn.ModuleList(ResidualGroup(c, n) for c in chans)
        self.dec_convs = nn.ModuleList(conv3x3(c, 4 * cout) for c, cout in zip(chans, ins))
        zero_init_(self.dec_convs[0])  # the U-Net's correction: out1 = input at initialisation
        self.refine = FusionRefinement(in_ch, p["refine_channels"]) if p["refine"] else None
        self.film_widths = [*chans, chans[-1]]  # every encoder level, then the middle
        c, window = p["context"], p["context_window"]
        if window and not c:
            raise ModelConfigError("wavelet_unet: context_window needs context > 0")
        if p["context_view"] and (not c or window):
            raise ModelConfigError("wavelet_unet: context_view needs context > 0 and no context_window")
        if p["context_view"] < 0:
            raise ModelConfigError(f"wavelet_unet: context_view must be >= 0, got {p['context_view']}")
        self.context_view = int(p["context_view"])
        self.context = ImageContext(c, in_ch) if c else None
        self.film = zero_init_(nn.Linear(c, 2 * sum(self.film_widths))) if c else None
        self.local_context = self.local_film = None
        if window:
            if self.size_multiple % ContextMap.CELL:
                raise ModelConfigError(f"wavelet_unet: context_window needs at least 4 levels, got {len(chans)}")
            if not 0 <= p["context_map_from"] < len(chans):
                raise ModelConfigError(f"wavelet_unet: context_map_from must be in 0..{len(chans) - 1}, "
                                       f"got {p['context_map_from']}")
            self.map_widths = self.film_widths[p["context_map_from"]:]
            self.local_context = ContextMap(c, window, in_ch)
            self.local_film = zero_init_(conv1x1(c, 2 * sum(self.map_widths)))
        self.conditioning = self._check_conditions(p["conditions"])
        if self.noise_map and self.conditioning != ("noise.sigma",):
            raise ModelConfigError("wavelet_unet: noise_map needs conditions: [noise.sigma] (and no other)")
        self.cond_net = self.cond_film = None
        if self.conditioning and not self.noise_map:
            k = CONDITION_WIDTH
            self.cond_net = nn.Sequential(nn.Linear(len(self.conditioning), k), nn.ReLU(inplace=True),
                                          nn.Linear(k, k), nn.ReLU(inplace=True))
            self.cond_film = zero_init_(nn.Linear(k, 2 * sum(self.film_widths)))

    @staticmethod
    def _check_conditions(names) -> tuple[str, ...]:
        from gir.models.conditioning import ConditioningError, check_names

        if isinstance(names, str) or not isinstance(names, (list, tuple)):
            raise ModelConfigError(f"wavelet_unet: conditions must be a list of names, got {names!r}")
        try:
            return check_names(list(names), "wavelet_unet: conditions")
        except ConditioningError as e:
            raise ModelConfigError(str(e)) from None

    def adapt_state(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """A checkpoint's weights made to fit this network where an older form of it is known: the first
        conv of a blind network, given to a noise-map one, gets a zero column for the map (so the loaded
        network computes the blind one's function). Other tensors pass unchanged."""
        key = "enc_convs.0.weight"
        w = state.get(key)
        if self.noise_map and w is not None and w.shape[1] + 1 == self.enc_convs[0].weight.shape[1]:
            state = dict(state)
            state[key] = torch.cat([w, w.new_zeros(w.shape[0], 1, *w.shape[2:])], dim=1)
        return state

    def _sigma_map(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        """B x 1 x H/2 x W/2: the encoded noise level at the first level's resolution, from B x 1 values or a
        B x 1 x H x W map."""
        if cond is None:
            from gir.models.conditioning import ConditioningError

            raise ConditioningError("wavelet_unet is a noise-map network: forward needs cond (B x 1 encoded "
                                    "noise.sigma, or a B x 1 x H x W map)")
        cond = cond.to(x.dtype)
        b, _, h, w = x.shape
        if cond.dim() == 2:
            return cond[:, :1, None, None].expand(b, 1, h // 2, w // 2)
        return F.avg_pool2d(cond.expand(b, 1, h, w), 2)

    @property
    def feature_levels(self) -> tuple[str, ...]:
        """Encoder features: each encoder level's residual group, then the middle block; with ``context``
        these are the features before the FiLM modulation that the skips and the decoder then receive."""
        return (*(f"encoders.{k}" for k in range(len(self.encoders))), "middle")

    def image_context(self, image: torch.Tensor, whole: bool = True) -> torch.Tensor | None:
        """The code of a whole image, or None without context. Per-image code only: B x C from any size (a
        thumbnail will do). With ``context_window``: a B x 2C x H/16 x W/16 map of the full-resolution image
        (H, W multiples of 16), the cell codes then the per-image code (of a CONTEXT_THUMBNAIL view) repeated
        over the cells, which tiled inference crops per tile (:attr:`context_cell` px per cell). ``whole``: pad
        the image so that border cells see a full window (:meth:`ContextMap.of_image`)."""
        if self.context is None:
            return None
        if self.local_context is None:
            return self.context(image)
        cells = self.local_context.of_image(image) if whole else self.local_context(image)
        code = self.context(thumbnail(image))
        return torch.cat([cells, code[..., None, None].expand(-1, -1, *cells.shape[-2:])], dim=1)

    @property
    def has_context(self) -> bool:
        return self.context is not None

    @property
    def tiling(self) -> str:
        return "global" if self.hparams["attention"] else "local"

    @property
    def context_cell(self) -> int | None:
        """Pixels per cell of the context map; None when the context is one code per image (or absent)."""
        return ContextMap.CELL if self.local_context is not None else None

    @property
    def context_halo(self) -> int:
        """Cells of the map a tile should get around its own (:meth:`forward` accepts the map of a tile with
        this many extra cells on every side): bilinear resizing of the map to a level needs the neighbours
        of the tile's border cells, so that a tile's FiLM equals the whole image's there."""
        return 1 if self.local_context is not None else 0

    @staticmethod
    def _split(params: torch.Tensor, widths: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        chunks = params.split([w for w in widths for _ in (0, 1)], dim=1)
        return [(chunks[2 * i], chunks[2 * i + 1]) for i in range(len(widths))]

    def _films(self, x: torch.Tensor, code: torch.Tensor | None, cond: torch.Tensor | None = None
               ) -> list[list[tuple[torch.Tensor, torch.Tensor]]]:
        """Per FiLM site (encoder levels, then the middle): the (scale, shift) pairs to apply, in order."""
        sites = [[] for _ in self.film_widths]
        if self.cond_film is not None:
            if cond is None:
                from gir.models.conditioning import ConditioningError

                raise ConditioningError(f"wavelet_unet is conditioned on {', '.join(self.conditioning)}: "
                                        f"forward needs cond (B x {len(self.conditioning)})")
            params = self.cond_film(self.cond_net(cond.to(x.dtype)))[..., None, None]
            for site, film in zip(sites, self._split(params, self.film_widths)):
                site.append(film)
        if self.context is None:
            return sites
        if code is None:
            code = self.image_context(x)
        cells = None
        if self.local_context is not None:
            cells, code = code.split(code.shape[1] // 2, dim=1)
            code = code[..., 0, 0]
        for site, film in zip(sites, self._split(self.film(code)[..., None, None], self.film_widths)):
            site.append(film)
        if cells is not None:
            first = len(self.film_widths) - len(self.map_widths)
            params = self.local_film(cells)
            for k, (site, film) in enumerate(zip(sites[first:], self._split(params, self.map_widths)), first):
                site.append(self._map_to_level(film, x.shape[-2:], min(k + 1, len(self.film_widths) - 1)))
        return sites

    @staticmethod
    def _map_to_level(film: tuple[torch.Tensor, torch.Tensor], size: tuple[int, int], depth: int
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        """Resize (bilinearly) a FiLM map of the cells of an H x W input (with or without a ring of halo
        cells) to the features at ``depth`` (H / 2^depth), the halo cropped off after resizing."""
        h, w = size[0] >> depth, size[1] >> depth
        n = size[0] // ContextMap.CELL
        halo = (film[0].shape[-2] - n) // 2
        px = (ContextMap.CELL >> depth) * halo  # halo in feature pixels
        both = torch.cat(film, dim=1)
        if both.shape[-2:] != (h + 2 * px, w + 2 * px):
            both = F.interpolate(both, size=(h + 2 * px, w + 2 * px), mode="bilinear", align_corners=False)
        if px:
            both = both[..., px:px + h, px:px + w]
        scale, shift = both.chunk(2, dim=1)
        return scale, shift

    @staticmethod
    def _modulate(f: torch.Tensor, film: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        scale, shift = film
        return f * (1 + scale) + shift

    def unet(self, x: torch.Tensor, code: torch.Tensor | None = None, cond: torch.Tensor | None = None
             ) -> torch.Tensor:
        """out1: the U-Net's restored image (input + predicted correction)."""
        films = self._films(x, code, None if self.noise_map else cond)
        f, skips = x, []
        for k, (conv, enc) in enumerate(zip(self.enc_convs, self.encoders)):
            bands = haar_dwt(f)
            if k == 0 and self.noise_map:
                bands = torch.cat([bands, self._sigma_map(x, cond)], dim=1)
            f = enc(conv(bands))
            for film in films[k]:
                f = self._modulate(f, film)
            skips.append(f)
        f = self.middle(f)
        for film in films[-1]:
            f = self._modulate(f, film)
        for k in reversed(range(len(self.decoders))):
            f = haar_iwt(self.dec_convs[k](self.decoders[k](f + skips[k])))
        return x + f

    def body(self, x: torch.Tensor, context: torch.Tensor | None = None, cond: torch.Tensor | None = None
             ) -> torch.Tensor:
        out1 = self.unet(x, context, cond)
        return self.refine(x, out1) if self.refine is not None else out1
