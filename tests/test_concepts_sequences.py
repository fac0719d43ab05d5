"""Tests of course_utils.concepts.sequences: Lab 07's encoder-decoder and GRU-cell diagrams."""

from __future__ import annotations

import matplotlib
import matplotlib.patches
import matplotlib.text

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from course_utils.concepts.sequences import draw_gru_cell, draw_seq2seq_unrolled


def figure_texts(fig: Figure) -> list[str]:
    """Every text drawn in `fig` (title, boxes, annotations)."""
    fig.canvas.draw()
    return [text.get_text() for text in fig.findobj(matplotlib.text.Text)]


def test_seq2seq_figure_has_a_box_per_step_and_teacher_forcing():
    before = plt.get_fignums()
    fig = draw_seq2seq_unrolled(code=("-", ".", " ", "."), word="NE")
    assert isinstance(fig, Figure)
    assert plt.get_fignums() == before, "the figure must not use pyplot's state"
    texts = figure_texts(fig)
    assert sum(t.startswith("encoder\nstep") for t in texts) == 4  # one per Morse symbol
    assert sum(t.startswith("decoder\nstep") for t in texts) == 3  # N, E, then <eos>
    assert texts.count("<sos>") == 1 and texts.count("<eos>") == 1
    assert texts.count("N") == 2 and texts.count("E") == 2  # each letter is a target, then the next input
    joined = "\n".join(texts)
    for expected in ("bottleneck", "teacher forcing", "$h_1$", "$h_3$"):
        assert expected in joined, f"{expected!r} missing from the encoder-decoder figure"
    assert fig.axes[0].get_title()
    dashed = [p for p in fig.axes[0].patches if isinstance(p, matplotlib.patches.FancyArrowPatch)
              and p.get_linestyle() not in ("-", "solid")]
    assert len(dashed) == 2, "one teacher-forcing arrow from each target but the last to the next input"


def test_seq2seq_figure_follows_its_arguments():
    texts = figure_texts(draw_seq2seq_unrolled(code=("-",), word="TREE"))
    assert sum(t.startswith("encoder\nstep") for t in texts) == 1
    assert sum(t.startswith("decoder\nstep") for t in texts) == 5


def test_gru_figure_shows_the_gates_and_the_mix():
    fig = draw_gru_cell()
    assert isinstance(fig, Figure)
    joined = "\n".join(figure_texts(fig))
    for expected in ("reset gate", "update gate", "candidate", "r \\odot (W_{hn} h + b_{hn})",
                     "(1 - z) \\odot n + z \\odot h_{t-1}", "$h_{t-1}$", "$h_t$", "$x_t$", "gate order r, z, n"):
        assert expected in joined, f"{expected!r} missing from the GRU figure"
    assert fig.axes[0].get_title()
    plt.close(fig)
