"""Lab 01's concept figures (course_utils.concepts.linear_algebra) and the numbers they draw."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from course_utils.concepts.linear_algebra import (
    draw_eckart_young,
    draw_svd_circle,
    random_subspace_errors,
    svd_stages,
    truncation_errors,
)


def _texts(fig: Figure) -> str:
    FigureCanvasAgg(fig).draw()
    return "\n".join(t.get_text() for t in fig.findobj(Text))


def test_svd_stages_end_at_a_times_the_circle() -> None:
    A = np.array([[2.0, -1.0], [0.5, 0.3]])
    stages = svd_stages(A, n_points=50)
    assert list(stages) == ["circle", "after Vt", "after S", "after U"]
    circle = stages["circle"]
    assert circle.shape == (2, 50)
    np.testing.assert_allclose((circle**2).sum(axis=0), 1.0)
    np.testing.assert_allclose(stages["after U"], A @ circle, atol=1e-12)
    # V^T is a rotation (or reflection): the circle stays a circle
    np.testing.assert_allclose((stages["after Vt"] ** 2).sum(axis=0), 1.0)
    # Sigma scales the axes: the ellipse's half-axes are the singular values
    S = np.linalg.svd(A, compute_uv=False)
    np.testing.assert_allclose(np.abs(stages["after S"]).max(axis=1), S, rtol=1e-3)
    with pytest.raises(ValueError, match="2x2"):
        svd_stages(np.ones((3, 2)))


def test_truncation_errors_are_the_discarded_squared_singular_values() -> None:
    rng = np.random.default_rng(0)
    A = rng.standard_normal((7, 5))
    S = np.linalg.svd(A, compute_uv=False)
    errors = truncation_errors(A)
    assert errors.shape == (6,)
    np.testing.assert_allclose(errors, [(S[k:] ** 2).sum() for k in range(6)], atol=1e-10)
    assert errors[0] == pytest.approx((A**2).sum()) and errors[-1] == pytest.approx(0.0, abs=1e-10)
    random = random_subspace_errors(A, seed=3)
    assert random.shape == (6,)
    assert np.all(random >= errors - 1e-9), "a random rank-k projection beat the truncated SVD"
    assert random[0] == pytest.approx(errors[0]) and random[-1] == pytest.approx(0.0, abs=1e-10)


def test_svd_circle_figure_has_its_stages_and_labelled_axes() -> None:
    before = plt.get_fignums()
    fig = draw_svd_circle()
    assert isinstance(fig, Figure) and plt.get_fignums() == before
    assert len(fig.axes) == 4
    for ax in fig.axes:
        assert ax.get_xlabel() == "$x_1$" and ax.get_ylabel() == "$x_2$" and ax.get_title()
    texts = _texts(fig)
    for expected in ("V^\\top", "\\Sigma", "rotate", "scale", "$v_1$", "$\\sigma_1 u_1$", "$Ax$"):
        assert expected in texts, f"{expected!r} missing from the SVD figure"
    # the last panel's curve is the image of the unit circle under A
    curve = fig.axes[3].lines[0].get_xydata().T
    A = np.array([[1.6, 0.9], [0.3, 1.1]])
    np.testing.assert_allclose(curve, A @ svd_stages(A)["circle"], atol=1e-12)


def test_eckart_young_figure_plots_the_errors() -> None:
    rng = np.random.default_rng(1)
    A = rng.standard_normal((6, 4))
    fig = draw_eckart_young(A)
    assert len(fig.axes) == 2
    ax_s, ax_e = fig.axes
    assert ax_s.get_xlabel() and ax_s.get_ylabel() and ax_e.get_xlabel() == "rank $k$"
    assert "\\|A - A_k\\|_F^2" in ax_e.get_ylabel()
    texts = _texts(fig)
    for expected in ("Eckart-Young", "truncated SVD", "random directions"):
        assert expected in texts
    dots = ax_e.lines[1].get_ydata()
    np.testing.assert_allclose(dots, truncation_errors(A)[:-1])  # k = 0 ... rank - 1 on a log scale
    assert len(ax_s.patches) == 4  # one bar per singular value
    fig = draw_eckart_young()  # the default matrix
    assert len(fig.axes[0].patches) == 20
