"""Picking the best available device and moving models and batches onto it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch


def get_device(prefer: str | None = None) -> torch.device:
    """Return ``prefer`` if given, else CUDA, then Apple MPS, then the CPU."""
    if prefer is not None:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def to_device(obj: Any, device: torch.device | str) -> Any:
    """Move a tensor, module, or any nesting of lists/tuples/dicts of them to ``device``."""
    if isinstance(obj, (torch.Tensor, torch.nn.Module)):
        return obj.to(device)
    if isinstance(obj, Mapping):
        return type(obj)({k: to_device(v, device) for k, v in obj.items()})
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # namedtuple
        return type(obj)(*(to_device(v, device) for v in obj))
    if isinstance(obj, Sequence) and not isinstance(obj, (str, bytes)):
        return type(obj)(to_device(v, device) for v in obj)
    return obj


def describe_device(device: torch.device | None = None) -> str:
    """Return a one-line human description of ``device`` (default: the best available)."""
    device = device or get_device()
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type
