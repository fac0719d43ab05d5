"""Helpers shared by the lab notebooks: device, seeding, run modes, data, checks and plots.

This package never imports the autograder, nbgrader or Jupyter: students install it alone.
"""

from .checks import (
    CheckFailed,
    check_close,
    check_dtype,
    check_gradient,
    check_shape,
    check_type,
    passed,
)
from .device import describe_device, get_device, to_device
from .mode import budget, is_fast, mode
from .plotting import plot_history, show_images
from .seeding import seed_everything

__version__ = "0.1.0"

__all__ = [
    "CheckFailed",
    "budget",
    "check_close",
    "check_dtype",
    "check_gradient",
    "check_shape",
    "check_type",
    "describe_device",
    "get_device",
    "is_fast",
    "mode",
    "passed",
    "plot_history",
    "seed_everything",
    "show_images",
    "to_device",
]
