"""A residual block as a diagram, next to what batch normalisation does to one channel's values.

Left: the block's path, conv → batch norm → ReLU → conv → batch norm, the identity skip that carries
``x`` around it, the addition and the final ReLU. Right: histograms of one channel's activations
before and after batch normalisation (standardised over the batch and positions, then scaled by γ and
shifted by β). :func:`standardise_channels` is the numeric part of that picture.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

PATH_STEPS = ("conv 3×3", "batch norm", "ReLU", "conv 3×3", "batch norm")


def standardise_channels(x: np.ndarray, gamma: float | np.ndarray = 1.0, beta: float | np.ndarray = 0.0,
                         eps: float = 1e-5) -> np.ndarray:
    """Batch normalisation in training mode of a ``B x C x H x W`` array: every channel standardised over
    the batch and all positions (biased variance, as ``nn.BatchNorm2d`` uses), then ``gamma * z + beta``
    (per channel when arrays of length ``C``)."""
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    var = x.var(axis=(0, 2, 3), keepdims=True)
    gamma = np.asarray(gamma, dtype=np.float64).reshape(1, -1, 1, 1) if np.ndim(gamma) else gamma
    beta = np.asarray(beta, dtype=np.float64).reshape(1, -1, 1, 1) if np.ndim(beta) else beta
    return gamma * (x - mean) / np.sqrt(var + eps) + beta


def _box(ax, x: float, y: float, text: str, colour: str, width: float = 1.6, height: float = 0.8) -> None:
    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0.05",
                                facecolor=colour, edgecolor="black", linewidth=1.0))
    ax.text(x, y, text, ha="center", va="center", fontsize=8.5)


def _arrow(ax, start, end, **style) -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12, linewidth=1.2,
                                 color=style.pop("color", "black"), **style))


def draw_residual_block(seed: int = 0) -> Figure:
    """Draw the residual block (left) and batch normalisation of one channel (right); return the figure."""
    fig = Figure(figsize=(13, 3.9))
    ax, hist = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2.6, 1]})

    # the block: x, five steps of the path, the addition, the final ReLU, y
    colours = {"conv 3×3": "#cfe2f3", "batch norm": "#fde9c8", "ReLU": "#d9ead3"}
    xs = [1.9 * (i + 1) for i in range(len(PATH_STEPS))]
    y_path, y_skip = 0.0, 1.6
    ax.text(0, y_path, "$x$", ha="center", va="center", fontsize=13)
    _arrow(ax, (0.25, y_path), (xs[0] - 0.8, y_path))
    for i, (x, step) in enumerate(zip(xs, PATH_STEPS)):
        _box(ax, x, y_path, step, colours[step])
        if i + 1 < len(xs):
            _arrow(ax, (x + 0.8, y_path), (xs[i + 1] - 0.8, y_path))
    plus_x = xs[-1] + 1.7
    ax.add_patch(FancyBboxPatch((plus_x - 0.3, y_path - 0.3), 0.6, 0.6, boxstyle="circle,pad=0", facecolor="white",
                                edgecolor="black"))
    ax.text(plus_x, y_path, "+", ha="center", va="center", fontsize=14)
    _arrow(ax, (xs[-1] + 0.8, y_path), (plus_x - 0.32, y_path))
    ax.text((xs[0] + xs[-1]) / 2, y_path - 0.75, "$F(x)$: the correction the layers learn", ha="center", va="top",
            fontsize=9, color="dimgrey")
    relu_x = plus_x + 1.5
    _box(ax, relu_x, y_path, "ReLU", colours["ReLU"], width=1.1)
    _arrow(ax, (plus_x + 0.32, y_path), (relu_x - 0.6, y_path))
    ax.text(relu_x + 1.2, y_path, "$y = \\mathrm{ReLU}(x + F(x))$", ha="left", va="center", fontsize=11)
    _arrow(ax, (relu_x + 0.6, y_path), (relu_x + 1.15, y_path))
    # the skip
    ax.plot([0.0, 0.0, plus_x], [y_path + 0.3, y_skip, y_skip], color="tab:red", linewidth=1.4)
    _arrow(ax, (plus_x, y_skip), (plus_x, y_path + 0.32), color="tab:red")
    ax.text((xs[0] + xs[-1]) / 2, y_skip + 0.15, "identity skip: $x$ is added unchanged (zero weights in $F$ give ReLU($x$))",
            ha="center", va="bottom", fontsize=9, color="tab:red")
    ax.set_xlim(-0.5, relu_x + 4.2)
    ax.set_ylim(-1.4, y_skip + 0.9)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("A residual block", fontsize=12)

    # batch normalisation of one channel
    rng = np.random.default_rng(seed)
    channel = rng.gamma(2.0, 1.5, size=(32, 1, 6, 6)) + 1.0  # skewed, off-centre activations
    normalised = standardise_channels(channel)
    scaled = standardise_channels(channel, gamma=0.5, beta=1.0)
    bins = np.linspace(-4, 14, 60)
    hist.hist(channel.ravel(), bins=bins, alpha=0.6, color="tab:grey", label="before: one channel over a batch")
    hist.hist(normalised.ravel(), bins=bins, alpha=0.6, color="tab:blue", label="standardised: mean 0, std 1")
    hist.hist(scaled.ravel(), bins=bins, histtype="step", linewidth=1.5, color="tab:orange",
              label="then $\\gamma z + \\beta$ ($\\gamma$ = 0.5, $\\beta$ = 1)")
    hist.set_xlabel("activation value")
    hist.set_ylabel("count (batch × positions)")
    hist.set_title("Batch normalisation of one channel", fontsize=12)
    hist.set_ylim(0, hist.get_ylim()[1] * 1.45)  # room for the legend
    hist.legend(fontsize=7.5, loc="upper right")
    fig.tight_layout()
    return fig
