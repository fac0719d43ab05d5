"""Lab 07's mechanisms as diagrams: an encoder-decoder unrolled in time, and the gates of a GRU cell."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

_COLOURS = {"encoder": "#cfe2f3", "decoder": "#d9ead3", "token": "#ffffff", "state": "#fff2cc",
            "output": "#f4cccc", "gate": "#ead1dc", "op": "#eeeeee"}
_TEACHER = "#2e7d32"


def _box(ax, x: float, y: float, w: float, h: float, text: str, colour: str, fontsize: float = 10) -> None:
    """A rounded box centred at (x, y) holding `text`."""
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                                facecolor=colour, edgecolor="black", linewidth=1.1))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, start: tuple[float, float], end: tuple[float, float], colour: str = "black",
           linestyle: str = "-", connection: str = "arc3", width: float = 1.3) -> None:
    """An arrow from `start` to `end` in data coordinates."""
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=13, color=colour,
                                 linewidth=width, linestyle=linestyle, connectionstyle=connection))


def draw_seq2seq_unrolled(code: Sequence[str] = ("-", ".", " ", "."), word: str = "NE") -> Figure:
    """Draw a recurrent encoder-decoder unrolled in time for one (code, word) pair; return the figure.

    The encoder (blue) reads one Morse symbol per step, each step a copy of the same cell passing its
    state ``h`` to the next; its final state is the decoder's initial state, the only path from the
    code to the letters (the bottleneck). The decoder (green) reads ``<sos>`` and then the *true*
    previous letter at each step (teacher forcing, the green arrows from each target to the next
    input) and predicts the next letter, ``<eos>`` last. At translation time the prediction itself is
    fed back instead. Built on :class:`matplotlib.figure.Figure` (no pyplot state), so it works with
    any backend and a notebook shows it when it is a cell's value.
    """
    code, word = list(code), list(word)
    targets = word + ["<eos>"]
    inputs = ["<sos>"] + word
    n_enc, n_dec = len(code), len(targets)
    step, gap = 1.25, 1.0
    width = step * (n_enc + n_dec) + gap + 1.0
    fig = Figure(figsize=(min(1.1 * width, 16), 4.8))
    ax = fig.add_subplot()
    ax.set_xlim(0, width)
    ax.set_ylim(-0.4, 4.6)
    ax.axis("off")

    y_in, y_cell, y_out = 0.5, 2.0, 3.55
    enc_x = [0.9 + step * i for i in range(n_enc)]
    dec_x = [enc_x[-1] + step + gap + step * i for i in range(n_dec)]
    shown = {" ": "gap ␣", ".": "·  dot", "-": "–  dash", "/": "/"}
    for i, (x, symbol) in enumerate(zip(enc_x, code)):
        _box(ax, x, y_in, 0.95, 0.55, shown.get(symbol, symbol), _COLOURS["token"], fontsize=9)
        _box(ax, x, y_cell, 0.95, 0.8, f"encoder\nstep {i + 1}", _COLOURS["encoder"], fontsize=9)
        _arrow(ax, (x, y_in + 0.3), (x, y_cell - 0.42))
        if i:
            _arrow(ax, (enc_x[i - 1] + 0.5, y_cell), (x - 0.5, y_cell))
            ax.text((enc_x[i - 1] + x) / 2, y_cell + 0.12, f"$h_{i}$", ha="center", va="bottom", fontsize=9)
    for t, (x, given, wanted) in enumerate(zip(dec_x, inputs, targets)):
        _box(ax, x, y_in, 0.95, 0.55, given, _COLOURS["token"], fontsize=9)
        _box(ax, x, y_cell, 0.95, 0.8, f"decoder\nstep {t + 1}", _COLOURS["decoder"], fontsize=9)
        _box(ax, x, y_out, 0.95, 0.55, wanted, _COLOURS["output"], fontsize=9)
        _arrow(ax, (x, y_in + 0.3), (x, y_cell - 0.42))
        _arrow(ax, (x, y_cell + 0.42), (x, y_out - 0.3))
        if t:
            _arrow(ax, (dec_x[t - 1] + 0.5, y_cell), (x - 0.5, y_cell))
        if t + 1 < n_dec:  # teacher forcing: this step's target is the next step's input
            _arrow(ax, (x + 0.3, y_out - 0.3), (dec_x[t + 1] - 0.3, y_in + 0.3), colour=_TEACHER,
                   linestyle="--", width=1.1)
    # the bottleneck: the encoder's last state starts the decoder
    _arrow(ax, (enc_x[-1] + 0.5, y_cell), (dec_x[0] - 0.5, y_cell), colour="#c0392b", width=2.2)
    ax.text((enc_x[-1] + dec_x[0]) / 2, y_cell + 0.5, "final state\n(the bottleneck)", ha="center",
            va="bottom", fontsize=9, color="#c0392b")

    ax.text(enc_x[0] - 0.55, y_in, "input", ha="right", va="center", fontsize=9, rotation=90)
    ax.text(dec_x[-1] + 0.6, y_out, "predicted\n(target)", ha="left", va="center", fontsize=9)
    ax.text((enc_x[0] + enc_x[-1]) / 2, y_out, "encoder: reads the code,\none symbol per step",
            ha="center", va="center", fontsize=10, color="#1f4e79")
    ax.text(width / 2, -0.25, "teacher forcing (dashed): in training each step reads the "
            "true previous letter; when translating, its own prediction", ha="center", va="center", fontsize=9,
            color=_TEACHER)
    ax.set_title("An encoder-decoder unrolled in time: the same two cells applied at every step")
    return fig


def draw_gru_cell() -> Figure:
    """Draw one step of a GRU cell: the reset and update gates and the candidate state; return the figure.

    The previous state ``h_{t-1}`` and the input ``x_t`` feed two sigmoid gates, ``r`` (reset) and
    ``z`` (update), and the tanh candidate ``n``, in which ``r`` scales the state's contribution
    ``W_hn h + b_hn`` (PyTorch's convention: the bias inside). The new state mixes old and new,
    ``h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}``: where ``z`` is near 1 the state is copied unchanged.
    """
    fig = Figure(figsize=(11, 5.2))
    ax = fig.add_subplot()
    ax.set_xlim(0, 11)
    ax.set_ylim(0, 5.2)
    ax.axis("off")

    y_h, y_x = 4.4, 0.55
    _box(ax, 0.7, y_h, 1.0, 0.6, "$h_{t-1}$", _COLOURS["state"])
    _box(ax, 0.7, y_x, 1.0, 0.6, "$x_t$", _COLOURS["token"])
    _box(ax, 2.9, 2.5, 2.2, 0.9, "reset gate\n$r = \\sigma(W_{ir} x + b_{ir} + W_{hr} h + b_{hr})$",
         _COLOURS["gate"], fontsize=8)
    _box(ax, 2.9, 1.3, 2.2, 0.9, "update gate\n$z = \\sigma(W_{iz} x + b_{iz} + W_{hz} h + b_{hz})$",
         _COLOURS["gate"], fontsize=8)
    _box(ax, 6.0, 2.5, 2.9, 0.9, "candidate\n$n = \\tanh(W_{in} x + b_{in} + r \\odot (W_{hn} h + b_{hn}))$",
         _COLOURS["encoder"], fontsize=8)
    _box(ax, 8.7, 3.3, 1.5, 0.8, "mix\n$(1 - z) \\odot n + z \\odot h_{t-1}$", _COLOURS["op"], fontsize=8)
    _box(ax, 10.3, y_h, 1.0, 0.6, "$h_t$", _COLOURS["state"])

    for target in ((1.8, 2.75), (1.8, 1.55), (4.55, 2.75)):  # the state feeds both gates and the candidate
        _arrow(ax, (1.2, y_h - 0.2), target, connection="arc3,rad=0.1")
    for target in ((1.8, 2.25), (1.8, 1.05), (4.55, 2.25)):  # so does the input
        _arrow(ax, (1.2, y_x + 0.2), target, connection="arc3,rad=-0.1")
    _arrow(ax, (4.0, 2.5), (4.55, 2.5), colour="#8e44ad")
    ax.text(4.27, 2.62, "$r$", ha="center", va="bottom", fontsize=9, color="#8e44ad")
    _arrow(ax, (7.45, 2.7), (7.95, 3.15))
    ax.text(7.55, 2.98, "$n$", fontsize=9, ha="right")
    _arrow(ax, (4.0, 1.3), (8.7, 2.9), colour="#8e44ad", connection="arc3,rad=0.25")
    ax.text(7.3, 1.5, "$z$", fontsize=9, color="#8e44ad")
    _arrow(ax, (1.2, y_h), (8.4, 3.72), colour="#c0392b", width=2.0,
           connection="angle,angleA=0,angleB=90,rad=0")  # the state's shortcut into the mix
    ax.text(5.3, y_h + 0.12, "$h_{t-1}$ copied where $z \\approx 1$: the path that lets memories and "
            "gradients survive many steps", ha="center", va="bottom", fontsize=9, color="#c0392b")
    _arrow(ax, (8.7, 3.7), (9.8, y_h - 0.1))
    ax.text(6.0, 0.35, "weights stacked as in nn.GRUCell: rows of $W_{ih}$ = [$W_{ir}$; $W_{iz}$; $W_{in}$],\n"
            "rows of $W_{hh}$ = [$W_{hr}$; $W_{hz}$; $W_{hn}$] (gate order r, z, n)",
            ha="center", va="center", fontsize=9)
    ax.set_title("One step of a GRU cell: two sigmoid gates and a tanh candidate")
    return fig
