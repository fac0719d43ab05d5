"""Tests of course_utils.concepts: each draw_* function returns a labelled matplotlib Figure."""

from __future__ import annotations

import matplotlib
import matplotlib.image
import matplotlib.text

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from course_utils.concepts.diffusion import draw_diffusion_chain
from course_utils.concepts.vae import draw_vae


def figure_texts(fig: Figure) -> str:
    """Every text drawn in `fig` (titles, labels, annotations, insets) joined into one string."""
    fig.canvas.draw()
    return "\n".join(text.get_text() for text in fig.findobj(matplotlib.text.Text))


def test_vae_concept_figure_has_its_parts_and_losses():
    fig = draw_vae()
    assert isinstance(fig, Figure)
    texts = figure_texts(fig)
    for expected in ("encoder", "decoder", "\\mu", "\\log \\sigma^2", "\\varepsilon \\sim \\mathcal{N}(0, I)",
                     "z = \\mu + \\sigma \\odot \\varepsilon", "reconstruction", "KL", "gradient",
                     "reparameterisation"):
        assert expected in texts, f"{expected!r} missing from the VAE figure"
    assert fig.axes[0].get_title()
    plt.close(fig)


def test_vae_concept_figure_uses_no_pyplot_state():
    before = plt.get_fignums()
    fig = draw_vae()
    assert plt.get_fignums() == before, "draw_vae should not open a pyplot figure"
    fig.canvas.draw()
    plt.close(fig)
    assert plt.get_fignums() == before


def test_diffusion_chain_without_images_has_both_chains():
    fig = draw_diffusion_chain()
    assert isinstance(fig, Figure)
    texts = figure_texts(fig)
    for expected in ("$x_0$", "$x_T$", "q(x_t \\mid x_{t-1})", "p_\\theta(x_{t-1} \\mid x_t)", "forward",
                     "reverse"):
        assert expected in texts, f"{expected!r} missing from the diffusion figure"
    assert texts.count("q(x_t \\mid x_{t-1})") == 4 and texts.count("p_\\theta(x_{t-1} \\mid x_t)") == 4
    plt.close(fig)


def test_diffusion_chain_shows_given_images_at_their_steps():
    x0 = torch.zeros(1, 28, 28)
    x0[:, 8:20, 12:16] = 1.0
    alpha_bars = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000), 0)
    steps = [0, 100, 400, 999]
    generator = torch.Generator().manual_seed(0)
    images = torch.stack([alpha_bars[t].sqrt() * x0 + (1 - alpha_bars[t]).sqrt()
                          * torch.randn(x0.shape, generator=generator) for t in steps])
    before = plt.get_fignums()
    fig = draw_diffusion_chain(images, steps=steps)
    assert plt.get_fignums() == before
    texts = figure_texts(fig)
    for t in steps:
        assert f"$x_{{{t}}}$" in texts
    shown = fig.findobj(matplotlib.image.AxesImage)
    assert len(shown) == len(steps)
    np.testing.assert_allclose(shown[0].get_array(), images[0, 0].numpy())
    plt.close(fig)
    # a list of 2-D numpy arrays works as well, and the nodes are then x_0 ... x_T
    fig = draw_diffusion_chain([np.zeros((5, 5)), np.ones((5, 5)), np.eye(5)])
    texts = figure_texts(fig)
    assert "$x_0$" in texts and "$x_{1}$" in texts and "$x_T$" in texts
    plt.close(fig)


def test_diffusion_chain_rejects_bad_input():
    with pytest.raises(ValueError, match="steps"):
        draw_diffusion_chain(np.zeros((3, 4, 4)), steps=[0, 1])
    with pytest.raises(ValueError, match="H x W"):
        draw_diffusion_chain(np.zeros((3, 2, 4, 4)))
    with pytest.raises(ValueError, match="two nodes"):
        draw_diffusion_chain(np.zeros((1, 4, 4)))
