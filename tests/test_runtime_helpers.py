import random

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

from course_utils import budget, get_device, is_fast, mode, plot_history, seed_everything, show_images, to_device
from course_utils.device import describe_device
from course_utils.plotting import history_to_columns


@pytest.mark.parametrize("value, fast", [("1", True), ("true", True), ("YES", True), ("0", False), ("", False)])
def test_mode_follows_the_environment(monkeypatch, value, fast):
    monkeypatch.setenv("COURSE_FAST", value)
    assert is_fast() is fast
    assert mode() == ("fast" if fast else "full")
    assert budget(full=20, fast=1) == (1 if fast else 20)


def test_budget_without_the_variable(monkeypatch):
    monkeypatch.delenv("COURSE_FAST", raising=False)
    assert budget(full=[1, 2, 3], fast=[1]) == [1, 2, 3]


def test_device_choice_and_moving_nested_batches():
    assert get_device("cpu") == torch.device("cpu")
    device = get_device()
    assert device.type in {"cpu", "cuda", "mps"}
    assert describe_device(torch.device("cpu")) == "cpu"
    batch = {"x": torch.ones(2), "pair": (torch.zeros(1), [torch.ones(1)]), "name": "keep"}
    moved = to_device(batch, "cpu")
    assert moved["name"] == "keep" and isinstance(moved["pair"], tuple) and isinstance(moved["pair"][1], list)
    model = to_device(torch.nn.Linear(2, 1), "cpu")
    assert next(model.parameters()).device.type == "cpu"


def test_seeding_repeats_every_generator():
    def draw():
        gen = seed_everything(123)
        return random.random(), float(np.random.rand()), float(torch.rand(1)), float(torch.rand(1, generator=gen))

    assert draw() == draw()
    assert torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(False)


def test_history_columns_from_torchbearer_style_rows():
    rows = [{"loss": 1.0, "val_loss": 1.5, "note": "x"}, {"loss": 0.5, "val_loss": torch.tensor(1.0)}]
    assert history_to_columns(rows) == {"loss": [1.0, 0.5], "val_loss": [1.5, 1.0]}


def test_plot_history_labels_axes_and_rejects_unknown_metrics():
    ax = plot_history({"loss": [3, 2, 1], "val_loss": [3, 2.5, 2]}, title="curves")
    assert ax.get_xlabel() == "epoch" and ax.get_title() == "curves"
    assert [line.get_label() for line in ax.get_lines()] == ["loss", "val_loss"]
    with pytest.raises(KeyError, match="acc"):
        plot_history({"loss": [1]}, metrics=["acc"])


def test_show_images_accepts_common_layouts():
    fig = show_images(torch.rand(5, 1, 8, 8), labels=list("abcde"), ncols=3, title="digits")
    assert len(fig.axes) == 6 and fig.axes[0].get_title() == "a"
    assert len(show_images(np.random.rand(2, 8, 8, 3)).axes) == 2
    with pytest.raises(ValueError):
        show_images([])
