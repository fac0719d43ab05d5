"""The variational autoencoder as a diagram: encoder, reparameterised sample, decoder, two losses."""

from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

_BOX = {"encoder": "#cfe2f3", "decoder": "#d9ead3", "latent": "#fff2cc", "noise": "#eeeeee",
        "data": "#ffffff", "loss": "#f4cccc"}


def _box(ax, x: float, y: float, w: float, h: float, text: str, colour: str, **kw) -> None:
    """A rounded box centred at (x, y) holding `text`."""
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                                facecolor=colour, edgecolor="black", linewidth=1.2, **kw))
    ax.text(x, y, text, ha="center", va="center", fontsize=10)


def _arrow(ax, start: tuple[float, float], end: tuple[float, float], colour: str = "black",
           style: str = "-|>", linestyle: str = "-", **kw) -> None:
    """An arrow from `start` to `end` in data coordinates."""
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=14, color=colour,
                                 linewidth=1.4, linestyle=linestyle, **kw))


def draw_vae() -> Figure:
    """Draw the VAE's forward pass and loss and return the figure.

    The image ``x`` goes through the encoder to the posterior's parameters ``(μ, log σ²)``; the code
    is drawn with the reparameterisation trick ``z = μ + σ ⊙ ε`` with the noise ``ε ~ N(0, I)`` as a
    side input, so gradients (dashed, red) flow from the loss back through ``z`` into the encoder but
    not into ``ε``; the decoder turns ``z`` into pixel logits, the reconstruction ``x̂``. The two terms
    of the negative ELBO are labelled where they are computed: reconstruction (``x̂`` against ``x``) and
    KL (``q(z | x)`` against the prior). The figure is built with :class:`matplotlib.figure.Figure`
    (no pyplot state, no file I/O), so it works with any backend; a notebook shows it when it is the
    value of a cell.
    """
    fig = Figure(figsize=(12, 4.6))
    ax = fig.add_subplot()
    ax.set_xlim(0, 12)
    ax.set_ylim(0, 4.6)
    ax.axis("off")

    y = 2.6
    _box(ax, 0.7, y, 0.9, 0.8, "image\n$x$", _BOX["data"])
    _box(ax, 2.35, y, 1.6, 1.2, "encoder\n$q_\\phi(z \\mid x)$", _BOX["encoder"])
    _box(ax, 4.3, y + 0.55, 1.0, 0.55, "$\\mu$", _BOX["latent"])
    _box(ax, 4.3, y - 0.55, 1.0, 0.55, "$\\log \\sigma^2$", _BOX["latent"])
    _box(ax, 6.4, y, 1.9, 0.9, "$z = \\mu + \\sigma \\odot \\varepsilon$", _BOX["latent"])
    _box(ax, 6.4, 4.1, 1.9, 0.55, "$\\varepsilon \\sim \\mathcal{N}(0, I)$", _BOX["noise"])
    _box(ax, 8.75, y, 1.6, 1.2, "decoder\n$p_\\theta(x \\mid z)$", _BOX["decoder"])
    _box(ax, 10.9, y, 1.2, 0.8, "reconstruction\n$\\hat{x}$ (logits)", _BOX["data"])

    _arrow(ax, (1.15, y), (1.55, y))
    _arrow(ax, (3.15, y + 0.2), (3.8, y + 0.55))
    _arrow(ax, (3.15, y - 0.2), (3.8, y - 0.55))
    _arrow(ax, (4.8, y + 0.55), (5.45, y + 0.2))
    _arrow(ax, (4.8, y - 0.55), (5.45, y - 0.2))
    _arrow(ax, (6.4, 3.82), (6.4, 3.05), colour="dimgrey")
    ax.text(6.5, 3.45, "side input: no parameters,\nno gradient needed", fontsize=8, color="dimgrey",
            va="center")
    _arrow(ax, (7.35, y), (7.95, y))
    _arrow(ax, (9.55, y), (10.3, y))

    # the gradient path of the reparameterisation trick, drawn backwards under the forward arrows
    red = "#c0392b"
    _arrow(ax, (10.3, y - 0.75), (2.35, y - 0.75), colour=red, linestyle="--")
    ax.text(6.4, y - 0.98, "gradient of the loss flows back through $z$ into the encoder "
            "(the reparameterisation trick)", ha="center", va="top", fontsize=9, color=red)

    # the two loss terms
    _box(ax, 10.9, 0.75, 2.0, 1.0, "reconstruction loss\n$-\\log p_\\theta(x \\mid z)$:\n$\\hat{x}$ against $x$ (BCE)", _BOX["loss"])
    _box(ax, 4.3, 0.55, 3.3, 0.75, "KL term\n$\\mathrm{KL}(q_\\phi(z \\mid x) \\,\\|\\, \\mathcal{N}(0, I))$",
         _BOX["loss"])
    _arrow(ax, (10.9, 2.2), (10.9, 1.27), colour="#a94442")
    _arrow(ax, (4.3, y - 0.85), (4.3, 0.95), colour="#a94442")
    ax.text(7.6, 0.3, "negative ELBO = reconstruction + KL", ha="center", fontsize=10,
            fontweight="bold")
    ax.set_title("Variational autoencoder: encode to a distribution, sample with the "
                 "reparameterisation trick, decode")
    fig.tight_layout()
    return fig
