"""Zero-mean generalized Gaussian distributions (GGD): fitting, closed-form KL divergence, averaging.

Paper 002 (GRIDS), eq. 1, models deep degradation representations with the density

    GGD(x; alpha, beta) = alpha / (2 beta Gamma(1/alpha)) * exp(-(|x| / beta) ** alpha)

with shape ``alpha`` (2: Gaussian, 1: Laplacian) and scale ``beta``; the standard deviation is
``sigma = beta * sqrt(Gamma(3/alpha) / Gamma(1/alpha))``. This is ``scipy.stats.gennorm(alpha, scale=beta)``.

KL divergence between p = GGD(a1, b1) and q = GGD(a2, b2), both zero-mean (derived from
E_p[(|x|/b1)^a1] = 1/a1 and E_p[|x|^k] = b1^k Gamma((k+1)/a1) / Gamma(1/a1)):

    KL(p || q) = log(a1 b2 Gamma(1/a2) / (a2 b1 Gamma(1/a1)))
                 + (b1 / b2) ** a2 * Gamma((a2 + 1) / a1) / Gamma(1/a1) - 1/a1

It is evaluated with log-gamma functions, so large or small shapes do not overflow.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
from scipy.special import gammaln

from gir.errors import GirError

ALPHA_MIN = 0.05
"""Smallest shape the moment fit returns (heavier tails are clipped to it)."""
ALPHA_MAX = 20.0
"""Largest shape the moment fit returns (flatter, near-uniform samples are clipped to it)."""
METHODS = ("moments", "mle")


@dataclass(frozen=True)
class GGD:
    """A zero-mean generalized Gaussian: shape ``alpha`` > 0, scale ``beta`` > 0 (paper 002, eq. 1)."""

    alpha: float
    beta: float

    def __post_init__(self):
        for name in ("alpha", "beta"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float, np.floating, np.integer)) and math.isfinite(v) and v > 0):
                raise GirError(f"GGD {name} must be a finite positive number, got {v!r}")
        object.__setattr__(self, "alpha", float(self.alpha))
        object.__setattr__(self, "beta", float(self.beta))

    @property
    def sigma(self) -> float:
        """Standard deviation: beta * sqrt(Gamma(3/alpha) / Gamma(1/alpha))."""
        return self.beta * math.exp(0.5 * (gammaln(3.0 / self.alpha) - gammaln(1.0 / self.alpha)))

    @classmethod
    def from_sigma(cls, alpha: float, sigma: float) -> "GGD":
        """The GGD with shape ``alpha`` and standard deviation ``sigma`` (the paper's (alpha, sigma) pair)."""
        return cls(alpha, sigma * _beta_over_sigma(alpha))

    def logpdf(self, x: np.ndarray | float) -> np.ndarray:
        """Log density at ``x``."""
        a, b = self.alpha, self.beta
        return math.log(a / (2.0 * b)) - gammaln(1.0 / a) - (np.abs(np.asarray(x, dtype=np.float64)) / b) ** a

    def pdf(self, x: np.ndarray | float) -> np.ndarray:
        """Density at ``x``."""
        return np.exp(self.logpdf(x))

    def sample(self, n: int, seed: int | np.random.Generator = 0) -> np.ndarray:
        """``n`` draws (float64), reproducible for an integer ``seed``."""
        from scipy.stats import gennorm

        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        return gennorm(self.alpha, scale=self.beta).rvs(int(n), random_state=rng)

    def to_dict(self) -> dict[str, float]:
        """``{"alpha", "beta", "sigma"}`` (JSON-ready)."""
        return {"alpha": self.alpha, "beta": self.beta, "sigma": self.sigma}

    @classmethod
    def from_dict(cls, d: dict) -> "GGD":
        """From ``{"alpha", "beta"}`` (or ``{"alpha", "sigma"}``); GirError names what is missing."""
        if not isinstance(d, dict) or "alpha" not in d or not ("beta" in d or "sigma" in d):
            raise GirError(f"a GGD needs 'alpha' and 'beta' (or 'sigma'), got {d!r}")
        if "beta" in d:
            return cls(d["alpha"], d["beta"])
        return cls.from_sigma(d["alpha"], d["sigma"])


def _beta_over_sigma(alpha: float) -> float:
    return math.exp(0.5 * (gammaln(1.0 / alpha) - gammaln(3.0 / alpha)))


# -------------------------------------------------------------------------------------------- fitting
def moment_ratio(alpha: float | np.ndarray) -> float | np.ndarray:
    """E[x^2] / E[|x|]^2 of a GGD with shape ``alpha``: Gamma(1/a) Gamma(3/a) / Gamma(2/a)^2.

    Decreasing in ``alpha``: infinity at 0, pi/2 at 2 (Gaussian), 2 at 1 (Laplacian), 4/3 as alpha -> inf.
    """
    a = np.asarray(alpha, dtype=np.float64)
    r = np.exp(gammaln(1.0 / a) + gammaln(3.0 / a) - 2.0 * gammaln(2.0 / a))
    return float(r) if r.ndim == 0 else r


def _sample(x: np.ndarray | Sequence[float], center: bool) -> np.ndarray:
    """``x`` flattened to float64, checked (finite, at least 2 values, not all zero), centred if asked."""
    v = np.asarray(x, dtype=np.float64).ravel()
    if v.size < 2:
        raise GirError(f"a GGD fit needs at least 2 values, got {v.size}")
    if not np.all(np.isfinite(v)):
        raise GirError("a GGD fit needs finite values (the sample holds NaN or infinity)")
    if center:
        v = v - v.mean()
    if not np.any(v != 0):
        raise GirError("a GGD fit needs a sample with spread (every value is zero)")
    return v


def alpha_from_ratio(ratio: float) -> float:
    """The shape whose :func:`moment_ratio` equals ``ratio`` (1-D root find in log alpha; clipped to
    [ALPHA_MIN, ALPHA_MAX] when the ratio lies outside what that range produces)."""
    from scipy.optimize import brentq

    lo, hi = math.log(ALPHA_MIN), math.log(ALPHA_MAX)
    target = math.log(ratio)
    f = lambda t: math.log(moment_ratio(math.exp(t))) - target  # noqa: E731 - decreasing in t
    if f(lo) <= 0:
        return ALPHA_MIN
    if f(hi) >= 0:
        return ALPHA_MAX
    return float(math.exp(brentq(f, lo, hi, xtol=1e-12, rtol=1e-12)))


def fit_ggd(x: np.ndarray | Sequence[float], method: str = "moments", center: bool = False) -> GGD:
    """Fit a zero-mean GGD to the values of ``x`` (any shape; flattened).

    method ``"moments"``: solve E[x^2] / E[|x|]^2 = Gamma(1/a) Gamma(3/a) / Gamma(2/a)^2 for the shape (as
    SRGA-style estimators do), then beta from E[x^2] = beta^2 Gamma(3/a) / Gamma(1/a). ``"mle"``: maximum
    likelihood, ``scipy.stats.gennorm.fit(x, floc=0)`` started from the moment fit.
    center: subtract the sample mean first (default off: the location is part of what the features say).
    GirError for an empty, constant-zero or non-finite sample, or an unknown method.
    """
    if method not in METHODS:
        raise GirError(f"unknown GGD fit method {method!r}; choose one of {', '.join(METHODS)}")
    v = _sample(x, center)
    m1 = float(np.mean(np.abs(v)))
    m2 = float(np.mean(v * v))
    alpha = alpha_from_ratio(m2 / (m1 * m1))
    beta = math.sqrt(m2) * _beta_over_sigma(alpha)
    if method == "moments":
        return GGD(alpha, beta)
    from scipy.stats import gennorm

    a, _, b = gennorm.fit(v, alpha, floc=0, scale=beta)
    return GGD(a, b)


# ------------------------------------------------------------------------------------------ divergence
def kl_ggd(p: GGD, q: GGD) -> float:
    """KL(p || q) in nats between two zero-mean GGDs (closed form: see the module docstring); >= 0,
    exactly 0 when p == q (rounding below zero is clipped to 0)."""
    if p == q:
        return 0.0
    a1, b1, a2, b2 = p.alpha, p.beta, q.alpha, q.beta
    log_norm = math.log(a1 / a2) + math.log(b2 / b1) + gammaln(1.0 / a2) - gammaln(1.0 / a1)
    # (b1/b2)^a2 * Gamma((a2+1)/a1) / Gamma(1/a1), in logs
    log_cross = a2 * math.log(b1 / b2) + gammaln((a2 + 1.0) / a1) - gammaln(1.0 / a1)
    kl = log_norm + math.exp(log_cross) - 1.0 / a1
    return max(0.0, float(kl))


def log_kl(p: GGD, q: GGD, floor: float | None = None) -> float:
    """log KL(p || q) (paper 002's distance). KL = 0 gives -inf, or log(``floor``) when a floor is given."""
    kl = kl_ggd(p, q)
    if floor is not None:
        kl = max(kl, floor)
    return math.log(kl) if kl > 0 else -math.inf


def mean_ggd(ggds: Iterable[GGD], by: str = "sigma") -> GGD:
    """The average GGD of a group (paper 002, sec. 5.2): the mean of the members' parameters.

    by ``"sigma"`` (default) averages alpha and the standard deviation sigma, the pair the paper estimates;
    ``"beta"`` averages alpha and the scale beta. GirError for an empty list.
    """
    items = list(ggds)
    if not items:
        raise GirError("mean_ggd needs at least one GGD")
    if by not in ("sigma", "beta"):
        raise GirError(f"mean_ggd: by must be 'sigma' or 'beta', got {by!r}")
    alpha = float(np.mean([g.alpha for g in items]))
    if by == "beta":
        return GGD(alpha, float(np.mean([g.beta for g in items])))
    return GGD.from_sigma(alpha, float(np.mean([g.sigma for g in items])))
