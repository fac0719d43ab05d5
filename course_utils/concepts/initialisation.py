"""Why the scale of the initial weights matters in a deep network: the signal through the layers.

In a ReLU layer ``h' = relu(W h)`` with ``n`` inputs and independent zero-mean weights of
standard deviation ``sigma`` (biases zero), each pre-activation is a sum of ``n`` terms, so its
variance is ``n * sigma**2 * E[h**2]``; the ReLU keeps half of that second moment. The RMS of
the activations is therefore multiplied by the same factor at every layer,

    gain = sqrt(n * sigma**2 / 2),

and after ``L`` layers by ``gain**L``: it explodes when the gain is above one and vanishes when
it is below. Kaiming (He) initialisation picks ``sigma = sqrt(2 / n)``, which makes the gain
exactly one. :func:`draw_initialisation` draws this with the numbers of
:func:`relu_layer_gain` and :func:`predicted_rms`.
"""

from __future__ import annotations

import math

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

__all__ = ["draw_initialisation", "kaiming_std", "predicted_rms", "relu_layer_gain"]


def relu_layer_gain(fan_in: int, weight_std: float) -> float:
    """The factor by which one Linear + ReLU layer multiplies the RMS of its input (zero biases)."""
    if fan_in < 1 or weight_std < 0:
        raise ValueError(f"need fan_in >= 1 and weight_std >= 0, got {fan_in} and {weight_std}")
    return math.sqrt(fan_in * weight_std**2 / 2)


def kaiming_std(fan_in: int) -> float:
    """The weight standard deviation that makes :func:`relu_layer_gain` exactly one: sqrt(2 / fan_in)."""
    return math.sqrt(2 / fan_in)


def predicted_rms(depth: int, width: int, weight_std: float, input_rms: float = 1.0,
                  input_size: int | None = None) -> list[float]:
    """The RMS of the activations after each of ``depth`` Linear + ReLU layers of ``width`` units.

    The first layer reads ``input_size`` inputs (``width`` when None) of RMS ``input_rms``; every
    later one reads ``width``. Entry ``l`` is the prediction after layer ``l + 1``.
    """
    rms = input_rms * relu_layer_gain(input_size or width, weight_std)
    out = [rms]
    gain = relu_layer_gain(width, weight_std)
    for _ in range(depth - 1):
        rms *= gain
        out.append(rms)
    return out


_SCHEMES = (
    ("N(0, 1) weights", 1.0, "tab:red"),
    ("N(0, 0.01²) weights", 0.01, "tab:blue"),
    ("Kaiming: N(0, 2/n)", None, "tab:green"),
)


def _box(ax, x: float, y: float, text: str, colour: str) -> None:
    ax.add_patch(FancyBboxPatch((x - 0.42, y - 0.5), 0.84, 1.0, boxstyle="round,pad=0.02,rounding_size=0.1",
                                facecolor=colour, edgecolor="black", linewidth=1.0))
    ax.text(x, y, text, ha="center", va="center", fontsize=8)


def _draw_chain(ax, width: int) -> None:
    """x -> [Linear + ReLU] x L -> logits, with the per-layer factor written under each arrow."""
    labels = ["input\nx", "Linear\n+ReLU", "Linear\n+ReLU", "…", "Linear\n+ReLU", "Linear\n(logits)"]
    colours = ["white", "#fce5cd", "#fce5cd", "white", "#fce5cd", "#d9ead3"]
    for i, (label, colour) in enumerate(zip(labels, colours)):
        if label == "…":
            ax.text(i * 1.3, 0, "…", ha="center", va="center", fontsize=16)
        else:
            _box(ax, i * 1.3, 0, label, colour)
        if i:
            ax.add_patch(FancyArrowPatch(((i - 1) * 1.3 + 0.45, 0), (i * 1.3 - 0.45, 0), arrowstyle="-|>",
                                         mutation_scale=10, color="black"))
    for i in (1, 2, 4):
        ax.text(i * 1.3, -0.8, "RMS ×\n$\\sqrt{n\\sigma^2/2}$", ha="center", va="top", fontsize=8, color="dimgrey")
    ax.text(2.5 * 1.3, 0.75, f"a deep, narrow MLP: n = {width} units per layer",
            ha="center", va="bottom", fontsize=9)
    ax.set_xlim(-0.6, 5 * 1.3 + 0.6)
    ax.set_ylim(-1.7, 1.1)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("Each layer multiplies the activations' scale by one factor")


def draw_initialisation(depth: int = 10, width: int = 64) -> Figure:
    """Draw how the activations' scale evolves through a deep ReLU MLP for three weight scales.

    Left, the network as a chain of Linear + ReLU layers, each multiplying the RMS of the
    activations by ``sqrt(n sigma^2 / 2)``. Right, :func:`predicted_rms` per layer (log scale) for
    N(0, 1) weights (the factor is far above one: the activations explode), N(0, 0.01²) weights
    (far below one: they vanish) and Kaiming's N(0, 2/n) (exactly one: the scale stays put).
    Inputs of RMS 1; biases zero.
    """
    fig = Figure(figsize=(13, 4.2))
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.25, 1]})
    _draw_chain(left, width)
    layers = list(range(1, depth + 1))
    for label, std, colour in _SCHEMES:
        std = kaiming_std(width) if std is None else std
        gain = relu_layer_gain(width, std)
        right.plot(layers, predicted_rms(depth, width, std), marker="o", color=colour,
                   label=f"{label}: ×{gain:.2g} per layer")
    right.set_yscale("log")
    right.set_xlabel("hidden layer")
    right.set_ylabel("RMS of the activations (log scale)")
    right.set_title(f"Predicted scale through {depth} layers of {width} units")
    right.set_xticks(layers)
    right.grid(alpha=0.3)
    right.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig
