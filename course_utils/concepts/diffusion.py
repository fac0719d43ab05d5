"""The diffusion model's two chains: the fixed forward (noising) process and the learnt reverse one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

FORWARD_COLOUR = "#2c6fbb"
REVERSE_COLOUR = "#c0392b"


def _as_pictures(images: Any) -> list[np.ndarray]:
    """A list of 2-D arrays from a tensor or array of N x H x W or N x 1 x H x W, or a list of them."""
    pictures = []
    for image in images:
        if hasattr(image, "detach"):
            image = image.detach().cpu().numpy()
        image = np.asarray(image, dtype=float)
        while image.ndim > 2 and image.shape[0] == 1:
            image = image[0]
        if image.ndim != 2:
            raise ValueError(f"each image must be H x W or 1 x H x W, got shape {image.shape}")
        pictures.append(image)
    return pictures


def _node_labels(n: int, steps: Sequence[int] | None, total: int | None) -> list[str]:
    """Mathtext names of the chain's nodes: x_0, x_1, ..., x_T, or x_t for the given steps."""
    if steps is not None:
        return [f"$x_{{{t}}}$" for t in steps]
    if n == 1:
        return ["$x_0$"]
    middle = [f"$x_{{{k}}}$" for k in range(1, n - 1)]
    if n >= 5:
        middle = middle[:-1] + ["$\\cdots$"]
    return ["$x_0$"] + middle + [f"$x_{{{total}}}$" if total is not None else "$x_T$"]


def draw_diffusion_chain(images: Any = None, steps: Sequence[int] | None = None,
                         total_steps: int | None = None) -> Figure:
    """Draw the forward chain x0 -> x1 -> ... -> xT and the reverse chain under it; return the figure.

    Top row: the **forward** process, fixed, with arrows :math:`q(x_t \\mid x_{t-1})` that each add a
    little Gaussian noise. Bottom row: the **reverse** process, learnt, with arrows
    :math:`p_\\theta(x_{t-1} \\mid x_t)` that each remove a little, from pure noise back to an image.

    ``images`` (optional): a few images along the chain (a tensor or array of N x H x W or
    N x 1 x H x W, or a list of 2-D arrays), for example one digit noised at several steps by the
    forward process, shown at the chain's nodes. ``steps`` (optional, one per image): the step ``t``
    of each image, used to name the nodes (otherwise ``x_0, x_1, ..., x_T``); ``total_steps``
    (optional): the value of ``T`` in the last node's name. The figure is built without pyplot and
    without file I/O, so it works with any backend, the Agg one included.
    """
    pictures = _as_pictures(images) if images is not None else None
    n = len(pictures) if pictures is not None else 5
    if n < 2:
        raise ValueError("the chain needs at least two nodes (images)")
    if steps is not None and len(steps) != n:
        raise ValueError(f"got {len(steps)} steps for {n} images")
    labels = _node_labels(n, steps, total_steps)

    fig = Figure(figsize=(max(8.0, 1.9 * n + 1.5), 5.0))
    ax = fig.add_subplot()
    ax.set_xlim(-0.9, 2 * n - 1.1)
    ax.set_ylim(-0.3, 5.0)
    ax.set_aspect("equal")
    ax.axis("off")
    xs = [2 * k for k in range(n)]
    top, bottom, size = 3.2, 1.0, 1.3

    for x, label in zip(xs, labels):
        if pictures is not None:
            inset = ax.inset_axes([x - size / 2, (top + bottom) / 2 - size / 2, size, size],
                                  transform=ax.transData)
            inset.imshow(pictures[xs.index(x)], cmap="gray")
            inset.set_xticks([])
            inset.set_yticks([])
        else:
            ax.add_patch(FancyBboxPatch((x - size / 2, (top + bottom) / 2 - size / 2), size, size,
                                        boxstyle="round,pad=0.02", facecolor="#f3f3f3",
                                        edgecolor="black"))
        ax.text(x, (top + bottom) / 2 + size / 2 + 0.12, label, ha="center", va="bottom", fontsize=12)

    for k in range(n - 1):
        x0, x1 = xs[k] + size / 2 + 0.05, xs[k + 1] - size / 2 - 0.05
        mid = (x0 + x1) / 2
        ax.add_patch(FancyArrowPatch((x0, top), (x1, top), arrowstyle="-|>", mutation_scale=14,
                                     color=FORWARD_COLOUR, linewidth=1.5,
                                     connectionstyle="arc3,rad=-0.35"))
        ax.text(mid, top + 0.55, "$q(x_t \\mid x_{t-1})$", ha="center", fontsize=9, color=FORWARD_COLOUR)
        ax.add_patch(FancyArrowPatch((x1, bottom), (x0, bottom), arrowstyle="-|>", mutation_scale=14,
                                     color=REVERSE_COLOUR, linewidth=1.5,
                                     connectionstyle="arc3,rad=-0.35"))
        ax.text(mid, bottom - 0.75, "$p_\\theta(x_{t-1} \\mid x_t)$", ha="center", fontsize=9,
                color=REVERSE_COLOUR)

    ax.text(xs[0] - 0.5, 4.55, "forward process (fixed): each step adds a little Gaussian noise",
            fontsize=10, color=FORWARD_COLOUR, fontweight="bold")
    ax.text(xs[0] - 0.5, -0.15, "reverse process (learnt): each step removes a little noise, "
            "from pure noise back to an image", fontsize=10, color=REVERSE_COLOUR, fontweight="bold")
    ax.set_title("Diffusion: image $x_0$ to noise $x_T$ and back")
    fig.tight_layout()
    return fig
