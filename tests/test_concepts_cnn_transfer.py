"""The concept figures of Labs 05 and 06, and the convolution arithmetic they show, against real layers."""

from __future__ import annotations

import itertools

import matplotlib
import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

from course_utils.concepts.convolution import conv_output_size, draw_convolution, receptive_field
from course_utils.concepts.transfer import draw_transfer


def _texts(fig: Figure) -> str:
    """Every string drawn on the figure, joined."""
    from matplotlib.text import Text

    return "\n".join(t.get_text() for t in fig.findobj(Text))


def _renders(fig: Figure) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    assert canvas.buffer_rgba().shape[0] > 100


def test_draw_convolution_labels_and_renders_with_agg():
    matplotlib.use("Agg")
    fig = draw_convolution(n=5, k=3, s=2, p=1)
    assert isinstance(fig, Figure)
    text = _texts(fig)
    for label in ("input n = 5", "padding p = 1", "kernel k = 3", "stride s = 2", "output 3 × 3",
                  "receptive field", r"\lfloor", "= 3$"):
        assert label in text, label
    _renders(fig)
    fig.clear()


def test_draw_convolution_other_settings_and_bad_pixel():
    fig = draw_convolution(n=6, k=3, s=1, p=0, output_pixel=(3, 3))
    assert "output 4 × 4" in _texts(fig)
    _renders(fig)
    with pytest.raises(ValueError):
        draw_convolution(n=5, k=3, s=2, p=1, output_pixel=(3, 0))


def test_draw_transfer_labels_and_renders_with_agg():
    matplotlib.use("Agg")
    fig = draw_transfer()
    assert isinstance(fig, Figure)
    text = _texts(fig)
    for label in ("Linear probe", "Fine-tuning", "frozen", "new head", "smaller learning rate",
                  "pretrained backbone", "block 1", "features"):
        assert label in text, label
    _renders(fig)
    fig.clear()


def test_figures_leave_no_pyplot_figures_open():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    draw_convolution()
    draw_transfer()
    assert plt.get_fignums() == before


@pytest.mark.parametrize(("n", "k", "s", "p", "d"),
                         [c for c in itertools.product((5, 7, 12, 28), (1, 2, 3, 5), (1, 2, 3), (0, 1, 2), (1, 2))
                          if c[0] + 2 * c[3] >= c[4] * (c[1] - 1) + 1])
def test_conv_output_size_agrees_with_conv2d(n, k, s, p, d):
    conv = nn.Conv2d(1, 1, kernel_size=k, stride=s, padding=p, dilation=d)
    with torch.no_grad():
        out = conv(torch.zeros(1, 1, n, n + 1))
    assert out.shape[-2:] == (conv_output_size(n, k, s, p, d), conv_output_size(n + 1, k, s, p, d))


def test_the_figure_prints_the_same_number_as_conv2d():
    for n, k, s, p in [(5, 3, 2, 1), (7, 3, 1, 0), (8, 3, 3, 1)]:
        size = nn.Conv2d(1, 1, k, stride=s, padding=p)(torch.zeros(1, 1, n, n)).shape[-1]
        assert f"= {size}$" in _texts(draw_convolution(n=n, k=k, s=s, p=p, output_pixel=(0, 0)))


def test_conv_output_size_refuses_a_kernel_that_does_not_fit():
    with pytest.raises(ValueError):
        conv_output_size(2, 5)
    with pytest.raises(ValueError):
        conv_output_size(5, 3, s=0)


def _field_by_gradient(layers: list[tuple[int, ...]]) -> int:
    """Rows of the input that one output pixel depends on, found by backpropagating from it."""
    modules = []
    for k, s, *rest in layers:
        conv = nn.Conv2d(1, 1, kernel_size=k, stride=s, dilation=rest[0] if rest else 1, bias=False)
        nn.init.constant_(conv.weight, 1.0)  # positive weights: no gradient cancels
        modules.append(conv)
    net = nn.Sequential(*modules)
    x = torch.ones(1, 1, 96, 96, requires_grad=True)
    out = net(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    rows = (x.grad[0, 0].abs().sum(dim=1) > 0).nonzero().flatten()
    cols = (x.grad[0, 0].abs().sum(dim=0) > 0).nonzero().flatten()
    height, width = int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)
    assert height == width
    return height


@pytest.mark.parametrize("layers", [
    [(3, 1)],
    [(3, 1), (3, 1)],
    [(5, 1), (2, 2), (3, 1), (2, 2)],  # Lab 05's better CNN: conv 5, pool 2, conv 3, pool 2
    [(3, 2), (3, 2), (3, 2)],
    [(7, 2), (3, 2), (3, 1), (3, 1)],
    [(3, 1, 2), (3, 1, 4)],  # dilated
])
def test_receptive_field_agrees_with_the_gradient_of_one_output_pixel(layers):
    assert receptive_field(layers) == _field_by_gradient(layers)


def test_receptive_field_of_no_layers_is_one_pixel():
    assert receptive_field([]) == 1
