"""Degradations from GRIDS (paper 002), DCPT (paper 004), FoundIR (paper 001) and the Real-ESRGAN-style
composite used by the NTIRE RAIM teams (paper 003)."""
from __future__ import annotations

import numpy as np

from gir.degradations.base import Param, register_op
