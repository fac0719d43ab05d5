"""course_utils.concepts.initialisation: the figure's labelled parts, and the gain formula against torch."""

from __future__ import annotations

import math

import matplotlib
import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

from course_utils.concepts.initialisation import (
    draw_initialisation,
    kaiming_std,
    predicted_rms,
    relu_layer_gain,
)

matplotlib.use("Agg")


def _texts(fig: Figure) -> str:
    from matplotlib.text import Text

    return "\n".join(t.get_text() for t in fig.findobj(Text))


def test_draw_initialisation_labels_and_renders_with_agg():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = draw_initialisation(depth=8, width=32)
    assert isinstance(fig, Figure)
    _chain, curves = fig.axes
    assert curves.get_xlabel() == "hidden layer"
    assert "RMS" in curves.get_ylabel() and curves.get_yscale() == "log"
    assert len(curves.lines) == 3 and all(len(line.get_xdata()) == 8 for line in curves.lines)
    legend = [t.get_text() for t in curves.get_legend().get_texts()]
    assert any("N(0, 1)" in t for t in legend) and any("Kaiming" in t and "×1 per layer" in t for t in legend)
    text = _texts(fig)
    assert "Linear\n+ReLU" in text and "n = 32" in text and "sqrt" in text
    FigureCanvasAgg(fig).draw()
    # Kaiming's line is flat, N(0, 1) climbs, N(0, 0.01^2) falls.
    ys = {line.get_color(): list(line.get_ydata()) for line in curves.lines}
    assert ys["tab:green"][0] == pytest.approx(ys["tab:green"][-1])
    assert ys["tab:red"][-1] > 1e3 * ys["tab:red"][0] and ys["tab:blue"][-1] < 1e-3 * ys["tab:blue"][0]


def test_no_pyplot_figure_is_left_open():
    import matplotlib.pyplot as plt

    before = len(plt.get_fignums())
    draw_initialisation()
    assert len(plt.get_fignums()) == before


def test_the_gain_formula():
    assert relu_layer_gain(64, kaiming_std(64)) == pytest.approx(1.0)
    assert relu_layer_gain(50, 1.0) == pytest.approx(5.0)
    assert predicted_rms(3, 8, 0.5, input_rms=2.0) == pytest.approx([2.0, 2.0, 2.0])  # gain sqrt(8/4/2) = 1
    assert predicted_rms(3, 2, 1.0, input_rms=1.0, input_size=8) == pytest.approx([2.0, 2.0, 2.0])
    with pytest.raises(ValueError):
        relu_layer_gain(0, 1.0)


@pytest.mark.parametrize("weight_std", [0.05, kaiming_std(256), 0.2])
def test_predicted_rms_matches_a_wide_random_relu_network(weight_std):
    # Zero biases, normal weights: the measured RMS after each layer follows the prediction (within 10 %).
    torch.manual_seed(0)
    width, depth = 256, 4
    h = torch.randn(2048, width)  # RMS 1
    measured = []
    with torch.no_grad():
        for _ in range(depth):
            layer = nn.Linear(width, width)
            nn.init.normal_(layer.weight, 0.0, weight_std)
            nn.init.zeros_(layer.bias)
            h = torch.relu(layer(h))
            measured.append(float(h.pow(2).mean().sqrt()))
    for got, want in zip(measured, predicted_rms(depth, width, weight_std)):
        assert math.isclose(got, want, rel_tol=0.1), (measured, predicted_rms(depth, width, weight_std))
