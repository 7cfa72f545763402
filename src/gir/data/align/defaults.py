"""The settings of a registration that a caller chooses (model, estimator, acceptance thresholds), with their
defaults: read by the command-line parser, so this module imports nothing heavy."""
from __future__ import annotations

MODELS = ("translation", "similarity", "affine")
METHODS = ("phase", "ecc", "auto")

#: Largest median tile residual of a kept pair, px (the paper-001 style acceptance budget).
DEFAULT_MAX_RESIDUAL = 0.5
#: Smallest band-passed overlap correlation of a kept pair; see :func:`estimate_transform` for the measurements.
DEFAULT_MIN_CORRELATION = 0.5
#: Smallest overlap rectangle of a kept pair, as a fraction of the GT area.
DEFAULT_MIN_OVERLAP = 0.5
#: Registration works on images downscaled to at most this many px on their longer side.
DEFAULT_MAX_SIDE = 1024
