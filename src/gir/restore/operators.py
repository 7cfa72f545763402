"""Forward operators of the plug-and-play solver (:mod:`gir.restore.pnp`): the physics of a degradation,
each with its data step.

An operator ``A`` says how a clean image ``x`` became the observation ``y`` (besides noise):

* :meth:`Operator.forward` ``A(x)`` (used to verify a result: degraded again, it must reproduce the input
  within the noise);
* :meth:`Operator.data_step` the proximal step of half-quadratic splitting,
  ``argmin_x ||y - A(x)||^2 + rho ||x - z||^2``, in closed form where one exists (by FFT for blur and
  down-sampling, per pixel for a mask, a projection for JPEG's quantisation);
* :meth:`Operator.start` the first estimate (the observation, or its bicubic enlargement).

Images are float32 H x W x 3 arrays (0-1 scale). Blur and down-sampling are solved with circular
convolution on an image padded by reflection, then cropped, so the borders do not ring. The operators know
nothing of the prior (the denoiser): :func:`gir.restore.pnp.solve` joins the two.
"""
from __future__ import annotations

import numpy as np

from gir.errors import GirError

Image = np.ndarray


class KernelError(GirError, ValueError):
    """A blur kernel that cannot be one (empty, not finite, summing to <= 0, larger than the image)."""


def check_kernel(kernel, shape: tuple[int, int] | None = None, where: str = "kernel") -> np.ndarray:
    """``kernel`` as a float64 2-D array that sums to 1 (else :class:`KernelError` naming ``where``); with
    ``shape`` (the image's H, W), it must also be smaller than the image."""
    k = np.asarray(kernel, dtype=np.float64)
    if k.ndim == 3 and k.shape[2] in (1, 3, 4):
        k = k[..., :3].mean(axis=2)
    if k.ndim != 2 or k.size == 0:
        raise KernelError(f"{where}: a blur kernel must be a non-empty 2-D array, got shape {list(k.shape)}")
    if not np.isfinite(k).all():
        raise KernelError(f"{where}: the kernel has values that are not finite")
    total = float(k.sum())
    if total <= 1e-8:
        raise KernelError(f"{where}: the kernel sums to {total:.3g}; a blur kernel must sum to a positive number")
    if shape is not None and (k.shape[0] >= shape[0] or k.shape[1] >= shape[1]):
        raise KernelError(f"{where}: the kernel ({k.shape[1]}x{k.shape[0]}) is not smaller than the image "
                          f"({shape[1]}x{shape[0]})")
    return k / total


def kernel_otf(kernel: np.ndarray, shape: tuple[int, int], full: bool = False) -> np.ndarray:
    """The optical transfer function of ``kernel`` (centred, any size) for circular convolution on an image
    of ``shape``: the FFT of the kernel placed with its centre at (0, 0). H x (W // 2 + 1) complex64 (the
    real FFT), or with ``full`` H x W complex128."""
    from scipy import fft

    kh, kw = kernel.shape
    psf = np.zeros(shape, dtype=np.float64)
    psf[:kh, :kw] = kernel
    psf = np.roll(psf, (-(kh // 2), -(kw // 2)), axis=(0, 1))
    return fft.fft2(psf) if full else fft.rfft2(psf).astype(np.complex64)


def _pad(img: Image, p: int) -> Image:
    mode = "reflect" if p < min(img.shape[:2]) else "symmetric"
    return np.pad(img, ((p, p), (p, p), (0, 0)), mode=mode)


class Operator:
    """Base class: the identity (a denoising problem)."""

    name = "identity"

    def forward(self, x: Image) -> Image:
        return x

    def start(self, y: Image) -> Image:
        return y.astype(np.float32, copy=True)

    def data_step(self, y: Image, z: Image, rho: float) -> Image:
        """argmin_x ||y - A x||^2 + rho ||x - z||^2."""
        return ((y + rho * z) / (1.0 + rho)).astype(np.float32)

    def describe(self) -> str:
        return self.name


class Blur(Operator):
    """y = k * x (convolution, reflected borders). ``kernel``: any 2-D array (normalised to sum 1)."""

    name = "blur"

    def __init__(self, kernel, label: str | None = None):
        self.kernel = check_kernel(kernel)
        self.label = label
        self.pad = max(self.kernel.shape) * 2
        self._otf: dict[tuple[int, int], np.ndarray] = {}

    def otf(self, shape: tuple[int, int]) -> np.ndarray:
        if shape not in self._otf:
            self._otf[shape] = kernel_otf(self.kernel, shape)
        return self._otf[shape]

    def forward(self, x: Image) -> Image:
        import cv2

        k = np.ascontiguousarray(self.kernel[::-1, ::-1], dtype=np.float32)
        return cv2.filter2D(np.ascontiguousarray(x, dtype=np.float32), -1, k, borderType=cv2.BORDER_REFLECT_101
                            ).reshape(x.shape)

    def data_step(self, y: Image, z: Image, rho: float) -> Image:
        """Closed form by FFT, X = (conj(K) Y + rho Z) / (|K|^2 + rho), on a domain extended by a margin
        where the observation is unknown: there ``Y`` is the current estimate blurred (``z`` padded by
        reflection, blurred circularly), so the margin agrees with the circular model and the image's own
        borders do not ring (Reeves 2005's idea, in HQS form)."""
        from scipy import fft

        p = self.pad
        zp = _pad(np.asarray(z, np.float32), p)
        shape = zp.shape[:2]
        otf = self.otf(shape)[..., None]
        rho = np.float32(rho)
        fz = fft.rfft2(zp, axes=(0, 1), workers=-1)
        yp = fft.irfft2(otf * fz, s=shape, axes=(0, 1), workers=-1)
        yp[p:-p, p:-p] = y
        num = np.conj(otf) * fft.rfft2(yp, axes=(0, 1), workers=-1) + rho * fz
        x = fft.irfft2(num / (np.abs(otf) ** 2 + rho), s=shape, axes=(0, 1), workers=-1)
        return x[p:-p, p:-p].astype(np.float32)

    def describe(self) -> str:
        return self.label or f"blur ({self.kernel.shape[1]}x{self.kernel.shape[0]} kernel)"


class Mask(Operator):
    """y = m * x: pixels where ``mask`` is 0 are missing (scratches, holes); ``mask`` H x W in [0, 1]."""

    name = "inpaint"

    def __init__(self, mask: np.ndarray):
        m = np.asarray(mask, dtype=np.float32)
        if m.ndim == 3:
            m = m.min(axis=2)
        if m.ndim != 2:
            raise GirError(f"mask: expected an H x W array, got shape {list(m.shape)}")
        self.mask = np.clip(m, 0.0, 1.0)[..., None]

    def forward(self, x: Image) -> Image:
        return x * self.mask

    def start(self, y: Image) -> Image:
        """The observation with the missing pixels filled by the mean of the known ones (then the prior's)."""
        known = self.mask > 0.5
        fill = (y * known).sum(axis=(0, 1)) / max(1.0, float(known.sum()))
        return np.where(known, y, fill).astype(np.float32)

    def data_step(self, y: Image, z: Image, rho: float) -> Image:
        """Per pixel: (m y + rho z) / (m + rho)."""
        return ((self.mask * y + rho * z) / (self.mask + rho)).astype(np.float32)


class Downsample(Operator):
    """y = (k * x) subsampled by ``scale`` (every ``scale``-th pixel, from the first): the classical
    super-resolution model. The data step is the closed form of Zhao et al. (2016), as in USRNet and DPIR."""

    name = "downsample"

    def __init__(self, scale: int, kernel=None):
        self.scale = int(scale)
        if self.scale < 1:
            raise GirError(f"downsample: scale must be a positive integer, got {scale}")
        if kernel is None:  # the Gaussian that anti-aliases a bicubic down-sampling about as much
            from gir.degradations.kernels import gaussian_kernel

            s = 0.25 + 0.5 * self.scale  # ~0.6 px per unit of scale in the high-resolution grid
            size = 2 * int(np.ceil(3 * s)) + 1
            kernel = gaussian_kernel(size, s)
        self.kernel = check_kernel(kernel)
        self._otf: dict[tuple[int, int], np.ndarray] = {}

    def _full_otf(self, shape: tuple[int, int]) -> np.ndarray:
        if shape not in self._otf:
            self._otf[shape] = kernel_otf(self.kernel, shape, full=True)
        return self._otf[shape]

    def forward(self, x: Image) -> Image:
        blurred = Blur(self.kernel).forward(x)
        return blurred[::self.scale, ::self.scale]

    def start(self, y: Image) -> Image:
        import cv2

        h, w = y.shape[:2]
        s = self.scale
        return cv2.resize(y, (w * s, h * s), interpolation=cv2.INTER_CUBIC).reshape(h * s, w * s, -1)

    def data_step(self, y: Image, z: Image, rho: float) -> Image:
        """argmin_x ||y - (k*x)|s||^2 + rho ||x - z||^2 by FFT (circular on the whole image)."""
        from scipy import fft

        s = self.scale
        h, w = z.shape[:2]
        if h != y.shape[0] * s or w != y.shape[1] * s:
            raise GirError(f"downsample: the estimate is {w}x{h}, expected {y.shape[1] * s}x{y.shape[0] * s}")
        fk = self._full_otf((h, w))[..., None]
        up = np.zeros((h, w, y.shape[2]), dtype=np.float64)
        up[::s, ::s] = y
        fr = np.conj(fk) * fft.fft2(up, axes=(0, 1)) + rho * fft.fft2(z, axes=(0, 1))
        x1 = fk * fr
        fbr = _block_mean(x1, s)
        inv_w = _block_mean(np.abs(fk) ** 2, s)
        ratio = fbr / (inv_w + rho)
        fx = (fr - np.conj(fk) * np.tile(ratio, (s, s, 1))) / rho
        return np.real(fft.ifft2(fx, axes=(0, 1))).astype(np.float32)


def _block_mean(a: np.ndarray, s: int) -> np.ndarray:
    """The mean of the s x s blocks a spectrum of H x W splits into (each H/s x W/s): the aliasing sum."""
    h, w = a.shape[:2]
    blocks = a.reshape(s, h // s, s, w // s, -1)
    return blocks.mean(axis=(0, 2))


class Jpeg(Operator):
    """JPEG's quantisation, as a constraint: the 8x8 DCT coefficients of the luma (and of the 2x2-averaged
    chroma) of ``x`` must round to those of the observation under the quantisation ``tables`` (luma, chroma;
    8x8 each, natural order). The data step projects onto that set (rho plays no part: it is a hard
    constraint); ``forward`` re-quantises, the JPEG round trip without its rounding to 8 bits."""

    name = "jpeg"

    def __init__(self, tables, subsampled: bool = True, slack: float = 0.5):
        luma, chroma = (np.asarray(t, dtype=np.float64).reshape(8, 8) for t in tables)
        if (luma <= 0).any() or (chroma <= 0).any():
            raise GirError("jpeg: quantisation tables must be positive")
        self.tables = (luma, chroma)
        self.subsampled = bool(subsampled)
        self.slack = float(slack)  # half-width of the interval, in quantisation steps
        self._bounds = None

    # YCbCr as JPEG (JFIF) defines it, on the 0-255 scale
    _M = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])

    def _planes(self, x: Image) -> list[np.ndarray]:
        ycc = (x.astype(np.float64) * 255.0) @ self._M.T
        ycc[..., 1:] += 128.0
        planes = [ycc[..., 0]]
        for c in (1, 2):
            p = ycc[..., c]
            planes.append(_avg2(p) if self.subsampled else p)
        return planes

    def _image(self, planes: list[np.ndarray], shape: tuple[int, int]) -> Image:
        h, w = shape
        chans = [planes[0][:h, :w]]
        for p in planes[1:]:
            chans.append(_up2(p, shape) if self.subsampled else p[:h, :w])
        ycc = np.stack(chans, axis=-1)
        ycc[..., 1:] -= 128.0
        rgb = ycc @ np.linalg.inv(self._M).T
        return (rgb / 255.0).astype(np.float32)

    def _coefficients(self, planes):
        return [_block_dct(p) for p in planes]

    def bind(self, y: Image) -> None:
        """Read the observation's quantised coefficients (the centres of the constraint intervals)."""
        out = []
        for k, c in enumerate(self._coefficients(self._planes(y))):
            q = np.tile(self.tables[0 if k == 0 else 1], (c.shape[0] // 8, c.shape[1] // 8))
            centre = np.round(c / q) * q
            out.append((centre - self.slack * q, centre + self.slack * q))
        self._bounds = (y.shape[:2], out)

    def data_step(self, y: Image, z: Image, rho: float) -> Image:
        if self._bounds is None or self._bounds[0] != y.shape[:2]:
            self.bind(y)
        planes = []
        for c, (lo, hi) in zip(self._coefficients(self._planes(z)), self._bounds[1]):
            planes.append(_block_idct(np.clip(c, lo, hi)))
        return self._image(planes, z.shape[:2])

    def forward(self, x: Image) -> Image:
        planes = []
        for k, c in enumerate(self._coefficients(self._planes(x))):
            q = np.tile(self.tables[0 if k == 0 else 1], (c.shape[0] // 8, c.shape[1] // 8))
            planes.append(_block_idct(np.round(c / q) * q))
        return self._image(planes, x.shape[:2])


def _avg2(p: np.ndarray) -> np.ndarray:
    h, w = p.shape
    p = np.pad(p, ((0, h % 2), (0, w % 2)), mode="edge")
    return p.reshape(p.shape[0] // 2, 2, p.shape[1] // 2, 2).mean(axis=(1, 3))


def _up2(p: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    return np.repeat(np.repeat(p, 2, axis=0), 2, axis=1)[:shape[0], :shape[1]]


def _block_dct(p: np.ndarray) -> np.ndarray:
    """Orthonormal 8x8 block DCT-II of a plane (edge-padded to multiples of 8), level-shifted by 128."""
    from scipy import fft

    h, w = p.shape
    p = np.pad(p - 128.0, ((0, (-h) % 8), (0, (-w) % 8)), mode="edge")
    H, W = p.shape
    b = p.reshape(H // 8, 8, W // 8, 8).transpose(0, 2, 1, 3)
    c = fft.dctn(b, type=2, norm="ortho", axes=(2, 3))
    return c.transpose(0, 2, 1, 3).reshape(H, W)


def _block_idct(c: np.ndarray) -> np.ndarray:
    from scipy import fft

    H, W = c.shape
    b = c.reshape(H // 8, 8, W // 8, 8).transpose(0, 2, 1, 3)
    p = fft.idctn(b, type=2, norm="ortho", axes=(2, 3))
    return p.transpose(0, 2, 1, 3).reshape(H, W) + 128.0


def expected_clipped(x: Image, sigma: float) -> Image:
    """E[clip(x + n, 0, 1)] for Gaussian noise n of std ``sigma`` (0-255 scale): what the local means of a
    noisy 8-bit photo are when its clean version is ``x``. Clipping biases them near black and white (by
    +0.4 sigma at black), so a correct denoiser must move those means; comparing the input with this, not with
    ``x``, is how verification tells that from a tone shift."""
    from scipy.special import ndtr

    src = np.asarray(x)
    s = float(sigma) / 255.0
    if s <= 0:
        return np.clip(src, 0.0, 1.0).astype(np.float32)
    pdf = lambda t: np.exp(-0.5 * t * t) / np.sqrt(2 * np.pi)  # noqa: E731
    out = np.empty(src.shape, dtype=np.float32)
    for r in range(0, src.shape[0], 256):  # strips of rows: float64 temporaries of a strip, not of a 24 MP photo
        v = src[r:r + 256].astype(np.float64)
        a, b = -v / s, (1.0 - v) / s
        out[r:r + 256] = (1.0 - ndtr(b)) + v * (ndtr(b) - ndtr(a)) + s * (pdf(a) - pdf(b))
    return out
