"""A 2-D convolution as a diagram: padded input, a sliding 3 × 3 kernel, the output grid and its size.

Also the two numbers that go with the picture: :func:`conv_output_size` (how many positions the
kernel fits along one axis) and :func:`receptive_field` (how many input pixels along one axis one
output pixel of a stack of layers depends on).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Rectangle

OUTPUT_SIZE_FORMULA = r"$n_{out} = \left\lfloor \frac{n + 2p - d\,(k-1) - 1}{s} \right\rfloor + 1$"


def conv_output_size(n: int, k: int, s: int = 1, p: int = 0, d: int = 1) -> int:
    """Output length along one axis of a convolution (or pooling) layer, as ``nn.Conv2d`` computes it.

    ``n`` is the input length, ``k`` the kernel size, ``s`` the stride, ``p`` the zero padding added
    on *each* side and ``d`` the dilation (``d - 1`` skipped pixels between kernel taps, so the kernel
    spans ``d * (k - 1) + 1`` pixels). The result is ``floor((n + 2p - d(k - 1) - 1) / s) + 1``: the
    number of positions at which the spanned window fits inside the padded input, stepping by ``s``.
    Raises ``ValueError`` when the window does not fit even once.
    """
    for name, value, least in (("n", n, 1), ("k", k, 1), ("s", s, 1), ("p", p, 0), ("d", d, 1)):
        if int(value) != value or value < least:
            raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
    span = d * (k - 1) + 1
    if n + 2 * p < span:
        raise ValueError(f"a kernel spanning {span} pixels does not fit into {n} + 2 x {p} padded pixels")
    return (n + 2 * p - span) // s + 1


def receptive_field(layers: Iterable[Sequence[int]]) -> int:
    """Receptive field (in input pixels, along one axis) of one output pixel of a stack of layers.

    ``layers`` lists ``(k, s)`` pairs (kernel size, stride) from the input onwards, for convolutions
    and pooling layers alike; an optional third entry is the dilation ``d``. Padding does not change
    the size of the field. Each layer widens the field by ``d (k - 1)`` times the product of the
    strides of the layers before it: ``r = 1 + sum_l d_l (k_l - 1) prod_{i<l} s_i``.
    """
    field, jump = 1, 1
    for layer in layers:
        k, s, *rest = layer
        d = rest[0] if rest else 1
        field += d * (k - 1) * jump
        jump *= s
    return field


def _grid(ax, x0: float, y0: float, rows: int, cols: int, *, facecolor: str = "white",
          edgecolor: str = "black", hatch: str | None = None, linewidth: float = 1.0) -> None:
    """Unit squares with their top-left corner at (x0, y0), rows going down."""
    for r in range(rows):
        for c in range(cols):
            ax.add_patch(Rectangle((x0 + c, y0 - r - 1), 1, 1, facecolor=facecolor, edgecolor=edgecolor,
                                   hatch=hatch, linewidth=linewidth))


def draw_convolution(n: int = 5, k: int = 3, s: int = 2, p: int = 1, d: int = 1,
                     output_pixel: tuple[int, int] = (1, 1)) -> Figure:
    """Draw one 2-D convolution on an ``n × n`` input and return the figure.

    Left: the input (white) surrounded by ``p`` rings of zero padding (grey, hatched), with the kernel
    window placed for one output pixel (``output_pixel``, row and column): the input pixels it reads,
    that output pixel's **receptive field**, are highlighted, and an arrow shows the stride ``s`` to the
    next position. Middle: the ``k × k`` kernel. Right: the output grid with that pixel highlighted.
    The output-size formula and its value for these numbers are written under the grids. The figure
    is a :class:`matplotlib.figure.Figure` (no pyplot state, no file I/O); a notebook shows it when
    it is the value of a cell.
    """
    m = conv_output_size(n, k, s, p, d)
    r0, c0 = output_pixel
    if not (0 <= r0 < m and 0 <= c0 < m):
        raise ValueError(f"output_pixel {output_pixel} is outside the {m} x {m} output")
    padded = n + 2 * p

    fig = Figure(figsize=(11, 5.2))
    ax = fig.add_subplot()
    ax.set_aspect("equal")
    ax.axis("off")

    # input with padding: top-left corner at (0, top)
    top = padded
    _grid(ax, 0, top, padded, padded, facecolor="#e0e0e0", hatch="//", edgecolor="grey")
    _grid(ax, p, top - p, n, n, facecolor="white")
    for r in range(n):
        for c in range(n):
            ax.text(p + c + 0.5, top - p - r - 0.5, f"{r * n + c}", ha="center", va="center", fontsize=7,
                    color="dimgrey")
    # receptive field of the chosen output pixel: the taps of the kernel at that position
    row0, col0 = r0 * s, c0 * s  # in padded coordinates
    for i in range(k):
        for j in range(k):
            rr, cc = row0 + i * d, col0 + j * d
            inside = p <= rr < p + n and p <= cc < p + n
            ax.add_patch(Rectangle((cc, top - rr - 1), 1, 1, facecolor="tab:orange" if inside else "#f5c58f",
                                   alpha=0.75, edgecolor="none"))
    span = d * (k - 1) + 1
    ax.add_patch(Rectangle((col0, top - row0 - span), span, span, fill=False, edgecolor="tab:red", linewidth=2.5))
    if c0 + 1 < m:  # the next position, one stride to the right
        ax.add_patch(Rectangle((col0 + s, top - row0 - span), span, span, fill=False, edgecolor="tab:red",
                               linewidth=1.5, linestyle="--"))
        ax.add_patch(FancyArrowPatch((col0 + span / 2, top + 0.35), (col0 + s + span / 2, top + 0.35),
                                     arrowstyle="-|>", mutation_scale=12, color="tab:red", linewidth=1.3))
        ax.text(col0 + span / 2 + s / 2, top + 0.55, f"stride s = {s}", ha="center", va="bottom",
                fontsize=9, color="tab:red")
    ax.text(padded / 2, -0.6, f"input n = {n} (white), padding p = {p} (grey)", ha="center", va="top", fontsize=10)
    ax.text(padded / 2, -1.25, "orange: receptive field of the highlighted output pixel", ha="center", va="top",
            fontsize=9, color="tab:orange")

    # the kernel
    kx = padded + 1.5
    ktop = top - (padded - k) / 2
    _grid(ax, kx, ktop, k, k, facecolor="#cfe2f3")
    for i in range(k):
        for j in range(k):
            ax.text(kx + j + 0.5, ktop - i - 0.5, f"$w_{{{i}{j}}}$", ha="center", va="center", fontsize=8)
    ax.text(kx + k / 2, ktop - k - 0.3, f"kernel k = {k}\n(dilation d = {d})", ha="center", va="top", fontsize=10)
    ax.text(kx - 0.7, ktop - k / 2, "×", ha="center", va="center", fontsize=16)

    # the output
    ox = kx + k + 1.5
    otop = top - (padded - m) / 2
    _grid(ax, ox, otop, m, m, facecolor="#d9ead3")
    ax.add_patch(Rectangle((ox + c0, otop - r0 - 1), 1, 1, facecolor="tab:orange", alpha=0.85, edgecolor="tab:red",
                           linewidth=2.5))
    ax.text(ox + m / 2, otop - m - 0.3, f"output {m} × {m}", ha="center", va="top", fontsize=10)
    ax.text(ox - 0.7, otop - m / 2, "=", ha="center", va="center", fontsize=16)
    ax.add_patch(FancyArrowPatch((col0 + span, top - row0 - span / 2), (ox + c0, otop - r0 - 0.5),
                                 connectionstyle="arc3,rad=-0.25", arrowstyle="-|>", mutation_scale=12,
                                 color="tab:red", linewidth=1.0, alpha=0.7))

    right = ox + m + 0.5
    ax.text(right / 2, -2.1, "output size " + OUTPUT_SIZE_FORMULA
            + f"$\\;=\\; \\lfloor ({n} + 2\\cdot{p} - {d}\\cdot{k - 1} - 1) / {s} \\rfloor + 1 = {m}$",
            ha="center", va="top", fontsize=12)
    ax.set_xlim(-0.5, right)
    ax.set_ylim(-3.6, top + 1.3)
    ax.set_title(f"A convolution: {k} × {k} kernel, stride {s}, padding {p} on a {n} × {n} input", fontsize=12)
    fig.tight_layout()
    return fig
