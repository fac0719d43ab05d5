"""Transfer learning as a diagram: a pretrained backbone, a new head, linear probe versus fine-tuning."""

from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

_FROZEN, _TRAINED, _HEAD, _DATA = "#d9d9d9", "#fce5cd", "#b6d7a8", "#ffffff"
_LAYERS = ("conv\nstem", "block 1", "block 2", "block 3", "block 4", "global\npool")


def _box(ax, x: float, y: float, w: float, h: float, text: str, colour: str, *, edge: str = "black",
         linestyle: str = "-", fontsize: int = 9) -> None:
    """A rounded box centred at (x, y) holding `text`."""
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                                facecolor=colour, edgecolor=edge, linewidth=1.2, linestyle=linestyle))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, start: tuple[float, float], end: tuple[float, float], colour: str = "black") -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12, color=colour, linewidth=1.2))


def _lock(ax, x: float, y: float) -> None:
    """A small padlock drawn from patches: a shackle (arc) over a body (square)."""
    from matplotlib.patches import Arc, Rectangle

    ax.add_patch(Arc((x, y + 0.09), 0.16, 0.2, theta1=0, theta2=180, color="dimgrey", linewidth=1.6))
    ax.add_patch(Rectangle((x - 0.12, y - 0.1), 0.24, 0.19, facecolor="dimgrey", edgecolor="dimgrey"))


def _path(ax, y: float, frozen: bool) -> None:
    """One row: image -> backbone layers -> features -> new head -> class scores."""
    _box(ax, 0.6, y, 0.9, 0.8, "image", _DATA)
    x = 1.55
    _arrow(ax, (1.05, y), (x - 0.05, y))
    width = 0.95
    for i, name in enumerate(_LAYERS):
        cx = x + width / 2 + i * (width + 0.12)
        _box(ax, cx, y, width, 0.9, name, _FROZEN if frozen else _TRAINED, fontsize=8,
             edge="grey" if frozen else "black")
        if frozen:
            _lock(ax, cx, y + 0.62)
    end = x + len(_LAYERS) * (width + 0.12) - 0.12
    ax.text((x + end) / 2, y - 0.62, "pretrained backbone (ImageNet weights)", ha="center", va="top", fontsize=9,
            color="dimgrey" if frozen else "black")
    _arrow(ax, (end + 0.05, y), (end + 0.55, y))
    _box(ax, end + 1.1, y, 1.0, 0.8, "features\n$D$ numbers", _DATA, fontsize=8)
    _arrow(ax, (end + 1.65, y), (end + 2.15, y))
    _box(ax, end + 2.75, y, 1.25, 0.9, "new head\nnn.Linear(D, C)", _HEAD, edge="darkgreen", fontsize=8)
    _arrow(ax, (end + 3.35, y), (end + 3.85, y))
    _box(ax, end + 4.4, y, 1.0, 0.8, "class\nscores", _DATA, fontsize=8)


def draw_transfer() -> Figure:
    """Draw the two ways to reuse a pretrained network and return the figure.

    Top, the **linear probe**: the pretrained backbone (its layers drawn grey with a padlock) is frozen,
    kept in evaluation mode and run once to turn every image into a feature vector; only the new
    linear head (green) is trained, on those features. Bottom, **fine-tuning**: the same backbone and
    a new head, but every layer is trained (coloured), the backbone with a smaller learning rate than
    the head so its pretrained weights are adjusted rather than overwritten. The figure is a
    :class:`matplotlib.figure.Figure` (no pyplot state, no file I/O); a notebook shows it when it is
    the value of a cell.
    """
    fig = Figure(figsize=(13, 5.6))
    ax = fig.add_subplot()
    ax.set_xlim(0, 13.3)
    ax.set_ylim(0, 5.6)
    ax.axis("off")

    ax.text(0.1, 5.35, "Linear probe: frozen features → new head", fontsize=12, fontweight="bold", va="center")
    ax.text(0.1, 4.95, "backbone frozen (requires_grad=False, always eval mode), features computed once; "
            "only the head is trained (large learning rate, e.g. 1e-3)", fontsize=9, va="center")
    _path(ax, 3.95, frozen=True)

    ax.text(0.1, 2.55, "Fine-tuning: everything trained", fontsize=12, fontweight="bold", va="center")
    ax.text(0.1, 2.15, "backbone trained with a smaller learning rate (e.g. 1e-4 to 3e-4) so the pretrained "
            "weights are adjusted, not overwritten; the new head learns from scratch", fontsize=9, va="center")
    _path(ax, 1.15, frozen=False)

    legend = [(_FROZEN, "grey", "frozen (pretrained, not updated)"), (_TRAINED, "black", "trained, small lr"),
              (_HEAD, "darkgreen", "new, trained from scratch")]
    for i, (colour, edge, text) in enumerate(legend):
        _box(ax, 0.35 + 4.2 * i, 0.18, 0.4, 0.22, "", colour, edge=edge)
        ax.text(0.65 + 4.2 * i, 0.18, text, fontsize=9, va="center")
    fig.suptitle("Transfer learning: a pretrained backbone with a new head", fontsize=13)
    return fig
