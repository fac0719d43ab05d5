"""Small plotting helpers: training curves and image grids with labelled axes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator
import numpy as np
import torch


def history_to_columns(history: Sequence[Mapping[str, float]] | Mapping[str, Sequence[float]]) -> dict[str, list[float]]:
    """Turn a per-epoch list of metric dicts (torchbearer's history) into metric -> values."""
    if isinstance(history, Mapping):
        return {k: [float(v) for v in vs] for k, vs in history.items()}
    columns: dict[str, list[float]] = {}
    for epoch in history:
        for key, value in epoch.items():
            if isinstance(value, (int, float, np.floating, np.integer)) or (
                isinstance(value, torch.Tensor) and value.numel() == 1
            ):
                columns.setdefault(key, []).append(float(value))
    return columns


def plot_history(
    history: Sequence[Mapping[str, float]] | Mapping[str, Sequence[float]],
    metrics: Sequence[str] | None = None,
    title: str = "Training history",
    ax: Any = None,
) -> Any:
    """Plot metrics per epoch (e.g. ``loss`` and ``val_loss`` together); returns the axes."""
    columns = history_to_columns(history)
    names = list(metrics) if metrics is not None else [k for k in columns if k not in ("epoch",)]
    missing = [m for m in names if m not in columns]
    if missing:
        raise KeyError(f"history has no {missing}; it has {sorted(columns)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for name in names:
        values = columns[name]
        ax.plot(range(1, len(values) + 1), values, marker="o" if len(values) < 30 else None, label=name)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(", ".join(names) if len(names) <= 2 else "value")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


def show_images(
    images: torch.Tensor | np.ndarray | Sequence[Any],
    labels: Sequence[Any] | None = None,
    ncols: int = 8,
    title: str | None = None,
    cmap: str = "gray",
) -> Any:
    """Show a batch of images (N×H×W, N×C×H×W or N×H×W×C) in a grid; returns the figure."""
    batch = [_to_hwc(img) for img in images]
    if not batch:
        raise ValueError("show_images needs at least one image")
    n = len(batch)
    ncols = max(1, min(ncols, n))
    nrows = (n + ncols - 1) // ncols
    titled = labels is not None
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.6 * ncols, (2.1 if titled else 1.7) * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        img = batch[i]
        ax.imshow(img.squeeze(-1) if img.shape[-1] == 1 else img, cmap=cmap)
        if labels is not None:
            ax.set_title(str(labels[i]), fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _to_hwc(img: Any) -> np.ndarray:
    arr = img.detach().cpu().numpy() if isinstance(img, torch.Tensor) else np.asarray(img)
    if arr.ndim == 2:
        arr = arr[..., None]
    elif arr.ndim == 3 and arr.shape[0] in (1, 3) and arr.shape[-1] not in (1, 3):
        arr = np.transpose(arr, (1, 2, 0))
    if arr.ndim != 3:
        raise ValueError(f"expected an image of 2 or 3 dimensions, got shape {arr.shape}")
    if arr.dtype.kind == "f" and arr.shape[-1] == 3:
        lo, hi = float(arr.min()), float(arr.max())
        arr = (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
    return arr
