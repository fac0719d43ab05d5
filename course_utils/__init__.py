"""Helpers shared by the lab notebooks: device, seeding, run modes, data, checks and plots.

This package never imports the autograder, nbgrader or Jupyter: students install it alone.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from .mode import budget, is_fast, mode  # eager and light: the submodule shares a name with `mode`

__version__ = "0.1.0"

# name -> the submodule defining it, imported on first use: importing the package (as the
# autograder does to read the dataset registry) costs nothing until a helper is used.
_EXPORTS = {
    "CheckFailed": "checks",
    "check_close": "checks",
    "check_dtype": "checks",
    "check_gradient": "checks",
    "check_shape": "checks",
    "check_type": "checks",
    "describe_device": "device",
    "exercise": "selfcheck",
    "get_device": "device",
    "passed": "checks",
    "plot_history": "plotting",
    "question": "selfcheck",
    "seed_everything": "seeding",
    "show_images": "plotting",
    "summary": "selfcheck",
    "to_device": "device",
}

__all__ = sorted([*_EXPORTS, "budget", "is_fast", "mode"])


def __getattr__(name: str) -> Any:
    """Import a helper (or a submodule) on first use and keep it as a module attribute."""
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    elif importlib.util.find_spec(f"{__name__}.{name}") is not None:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's names, the lazily imported helpers included."""
    return sorted(set(globals()) | set(_EXPORTS))
