"""The error raised for bad training/validation configuration (unknown keys, bad values, missing data)."""
from __future__ import annotations

from gir.errors import ConfigError  # noqa: F401  (re-exported for the data and training modules)


def kwarg_problem(e: TypeError) -> str:
    """A factory's TypeError ('unexpected keyword argument x') phrased as a config problem."""
    msg = str(e)
    if "unexpected keyword argument" in msg:
        return "unknown key " + msg.split("unexpected keyword argument", 1)[1].strip()
    return msg
