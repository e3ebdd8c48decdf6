"""Figures for a JSON field: JSON has no NaN (PostgreSQL refuses it), so a figure the data
cannot give is stored as null."""

from __future__ import annotations

import math
from typing import Any


def finite(value: Any) -> Any:
    """``value`` with every non-finite float (in dicts, lists and tuples) as None, tuples as lists."""
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "dtype") and getattr(value, "ndim", 1) == 0:  # a NumPy scalar
        return finite(value.item())
    return value
