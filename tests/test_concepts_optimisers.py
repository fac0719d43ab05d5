"""Tests of course_utils.concepts.optimisers: the momentum-in-a-ravine figure and its helpers."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import matplotlib.text
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from course_utils.concepts.optimisers import (
    draw_momentum_ravine,
    optimiser_path,
    ravine,
    ravine_runs,
)


def test_ravine_is_the_quadratic_with_curvatures_1_and_25() -> None:
    p = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 1.0], [1.0, -2.0]], dtype=torch.float64)
    assert torch.allclose(ravine(p), torch.tensor([0.0, 2.0, 12.5, 0.5 + 50.0], dtype=torch.float64))
    assert ravine(torch.zeros(3, 4, 2)).shape == (3, 4)


def test_optimiser_path_records_the_steps_of_the_optimiser() -> None:
    run = optimiser_path(lambda ps: torch.optim.SGD(ps, lr=0.01), [1.0, 1.0], 3)
    assert run["path"].shape == (4, 2) and run["grads"].shape == (3, 2) and run["buffers"].shape == (3, 2)
    # plain gradient descent: x <- x - lr * c * x, coordinate by coordinate; no momentum buffer
    expected = np.array([[(1 - 0.01) ** t, (1 - 0.25) ** t] for t in range(4)])
    np.testing.assert_allclose(run["path"], expected, rtol=1e-12)
    np.testing.assert_allclose(run["grads"], expected[:-1] * [1.0, 25.0], rtol=1e-12)
    assert not run["buffers"].any()


def test_momentum_buffer_is_the_running_sum_of_gradients() -> None:
    run = optimiser_path(lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.5), [-4.5, 1.2], 10)
    buffer = np.zeros(2)
    for t in range(10):
        buffer = 0.5 * buffer + run["grads"][t]
        np.testing.assert_allclose(run["buffers"][t], buffer, rtol=1e-12)
        np.testing.assert_allclose(run["path"][t + 1], run["path"][t] - 0.05 * buffer, rtol=1e-12)


def test_momentum_beats_gradient_descent_in_the_ravine() -> None:
    runs = ravine_runs(40)
    assert len(runs) == 3
    final = {name: float(ravine(torch.tensor(run["path"][-1]))) for name, run in runs.items()}
    gd, momentum = final["gradient descent, lr=0.07"], final["momentum 0.5, lr=0.05"]
    assert momentum < 0.1 * gd
    # gradient descent near its limit flips the sign of x2 at every step
    x2 = runs["gradient descent, lr=0.07"]["path"][:10, 1]
    assert np.all(np.sign(x2[1:]) == -np.sign(x2[:-1]))


def test_figure_has_its_panels_labels_and_paths() -> None:
    before = plt.get_fignums()
    fig = draw_momentum_ravine()
    assert isinstance(fig, Figure)
    assert plt.get_fignums() == before, "draw_momentum_ravine should not open a pyplot figure"
    fig.canvas.draw()
    ax_paths, ax_flat, ax_steep = fig.axes[:3]
    for ax in (ax_paths, ax_flat, ax_steep):
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    labels = [line.get_label() for line in ax_paths.get_lines()]
    for name in ("gradient descent, lr=0.07", "momentum 0.5, lr=0.05", "Adam, lr=0.3", "start", "minimum"):
        assert name in labels
    assert ax_paths.collections, "the contours are missing"
    flat_labels = [line.get_label() for line in ax_flat.get_lines()]
    assert any("gradient" in label for label in flat_labels) and any("buffer" in label for label in flat_labels)
    texts = "\n".join(t.get_text() for t in fig.findobj(matplotlib.text.Text))
    assert "running sum of gradients" in texts
    plt.close(fig)


@pytest.mark.parametrize("steps", [5, 40])
def test_figure_draws_for_other_lengths(steps: int) -> None:
    fig = draw_momentum_ravine(steps)
    assert len(fig.axes[0].get_lines()[0].get_xdata()) == steps + 1
    plt.close(fig)
