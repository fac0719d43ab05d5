"""The residual-block concept figure (lab 05) and its batch-normalisation helper."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from course_utils.concepts.residual import PATH_STEPS, draw_residual_block, standardise_channels


def test_standardise_channels_is_batch_norm_in_training_mode():
    x = torch.randn(4, 3, 5, 6, generator=torch.Generator().manual_seed(0)) * 3 + 2
    gamma, beta = torch.tensor([0.5, 1.0, 2.0]), torch.tensor([0.1, -1.0, 0.0])
    expected = F.batch_norm(x.double(), None, None, gamma.double(), beta.double(), training=True, eps=1e-5)
    got = standardise_channels(x.numpy(), gamma.numpy(), beta.numpy())
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-10, atol=1e-10)
    plain = standardise_channels(x.numpy())
    np.testing.assert_allclose(plain.mean(axis=(0, 2, 3)), 0, atol=1e-10)
    np.testing.assert_allclose(plain.std(axis=(0, 2, 3)), 1, atol=1e-4)


def test_figure_draws_the_block_and_labelled_histograms():
    fig = draw_residual_block()
    assert isinstance(fig, Figure)
    diagram, hist = fig.axes
    texts = [t.get_text() for t in diagram.texts]
    for step in set(PATH_STEPS):
        assert step in texts
    assert "+" in texts and any("skip" in t for t in texts) and any("y = " in t and "F(x)" in t for t in texts)
    assert diagram.get_title() == "A residual block"
    assert hist.get_xlabel() == "activation value" and hist.get_ylabel().startswith("count")
    assert len(hist.get_legend().get_texts()) == 3
