"""Tests for lab 05 (convolutional networks) beyond running the notebook.

The hidden tests of each graded cell are taken from the source notebook and run against
alternative correct answers written in other ways (they must pass) and against typical wrong
answers (they must fail). The notebook's teaching helpers get unit tests of their own.
"""

from __future__ import annotations

import math
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from lab_notebook import LabCells
from torch import nn
from torch.utils.data import Dataset

from course_utils import CheckFailed

NOTEBOOK = Path(__file__).resolve().parents[1] / "solutions" / "lab05_cnns" / "lab05_cnns.ipynb"


def _exec(source: str, namespace: dict, name: str = "<cell>") -> None:
    """Run notebook code in `namespace` (the notebook is this repository's own source)."""
    exec(compile(source, name, "exec"), namespace)  # noqa: S102


def _cells() -> dict[str, str]:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    return {cell.get("id"): cell.source for cell in nb.cells}


CELLS = _cells()


_grade_cell = LabCells("lab05_cnns").source


def _cell_defining(name: str) -> str:
    """Source of the first cell that defines `name` (a def or a class)."""
    for source in CELLS.values():
        if f"def {name}(" in source or f"class {name}(" in source:
            return source
    raise KeyError(name)


def _base_namespace() -> dict:
    """What the notebook has defined before the problem sheet's answers: imports and given helpers."""
    ns: dict = {}
    imports = next(s for s in CELLS.values() if s.startswith("import tempfile"))
    # the imports cell, without the data loading that later cells do
    _exec(imports, ns, "<imports>")
    _exec(_cell_defining("count_parameters"), ns, "<count_parameters>")
    _exec(_grade_cell("line-helpers"), ns, "<line-helpers>")
    return ns


def _run(grade_id: str, **answers) -> None:
    """Run a graded test cell (public and hidden parts) with `answers` defined."""
    ns = _base_namespace()
    ns.update(answers)
    torch.manual_seed(0)
    _exec(_grade_cell(grade_id), ns, f"<{grade_id}>")


def _reference(grade_id: str, name: str, ns: dict | None = None):
    """The reference answer `name` from the notebook's solution cell `grade_id`."""
    ns = _base_namespace() if ns is None else ns
    _exec(_grade_cell(grade_id), ns, f"<{grade_id}>")
    return ns[name]


# ---------------------------------------------------------------- question 1: the dataset


def _draw(offset_plus_index: int, ns: dict) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(offset_plus_index)
    m, c = ns["sample_line"](g)
    return ns["render_scatter"](m, c, g), torch.tensor([m, c])


def _dataset_cached():
    ns = _base_namespace()

    class CachedLines(Dataset):
        """Renders everything up front (another layout; same items)."""

        def __init__(self, n_items, offset):
            self.items = [_draw(offset + i, ns) for i in range(n_items)]

        def __len__(self):
            return len(self.items)

        def __getitem__(self, index):
            image, target = self.items[index]
            return image.clone(), target.float()

    return CachedLines


def _dataset_functional():
    ns = _base_namespace()

    class FunctionalLines(Dataset):
        def __init__(self, n_items: int, offset: int = 0):
            self.size, self.start = n_items, offset

        def __len__(self):
            return self.size

        def __getitem__(self, index):
            g = torch.Generator()
            g.manual_seed(int(self.start) + int(index))
            slope, intercept = ns["sample_line"](g)
            picture = ns["render_scatter"](slope, intercept, g).to(torch.float32)
            return picture, torch.as_tensor((slope, intercept), dtype=torch.float32)

    return FunctionalLines


def _dataset_ignores_offset():
    ns = _base_namespace()

    class NoOffset(Dataset):
        def __init__(self, n_items, offset):
            self.n = n_items

        def __len__(self):
            return self.n

        def __getitem__(self, index):
            return _draw(index, ns)

    return NoOffset


def _dataset_shared_generator():
    ns = _base_namespace()

    class Shared(Dataset):
        def __init__(self, n_items, offset):
            self.n, self.g = n_items, torch.Generator().manual_seed(offset)

        def __len__(self):
            return self.n

        def __getitem__(self, index):
            m, c = ns["sample_line"](self.g)
            return ns["render_scatter"](m, c, self.g), torch.tensor([m, c])

    return Shared


def _dataset_wrong_target():
    ns = _base_namespace()

    class SwappedTarget(Dataset):
        def __init__(self, n_items, offset):
            self.n, self.offset = n_items, offset

        def __len__(self):
            return self.n

        def __getitem__(self, index):
            image, target = _draw(self.offset + index, ns)
            return image, target.flip(0)

    return SwappedTarget


def test_dataset_reference_passes():
    _run("q1-dataset-tests", LineScatterDataset=_reference("q1-dataset", "LineScatterDataset"))


@pytest.mark.parametrize("make", [_dataset_cached, _dataset_functional])
def test_dataset_alternatives_pass(make):
    _run("q1-dataset-tests", LineScatterDataset=make())


@pytest.mark.parametrize(
    "make", [_dataset_ignores_offset, _dataset_shared_generator, _dataset_wrong_target]
)
def test_dataset_wrong_answers_fail(make):
    with pytest.raises(CheckFailed):
        _run("q1-dataset-tests", LineScatterDataset=make())


def test_dataset_items_match_spec():
    ds_cls = _reference("q1-dataset", "LineScatterDataset")
    ds = ds_cls(5, 42)
    image, target = ds[2]
    g = torch.Generator().manual_seed(44)
    u = torch.rand(2, generator=g)
    assert target.tolist() == pytest.approx(
        [2 * u[0].item() - 1, 0.8 * u[1].item() - 0.4], abs=1e-6
    )
    assert image.sum() >= 5
    with pytest.raises(IndexError):
        ds[5]
    assert len(list(ds)) == 5  # iteration stops thanks to IndexError


# ---------------------------------------------------------------- question 2: model 1


class SequentialLineCNN(nn.Sequential):
    def __init__(self):
        super().__init__(
            nn.Conv2d(1, 48, (3, 3), padding=(1, 1)),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(76800, 128),
            nn.ReLU(),
            nn.Linear(128, 2),
        )


class FunctionalLineCNN(nn.Module):
    def __init__(self):
        super().__init__()
        # registered before the body: the order of registration must not matter
        self.head = nn.ModuleList([nn.Linear(128, 2)])
        self.body = nn.Conv2d(1, 48, kernel_size=3, padding="same")
        self.hidden = nn.Linear(48 * 40 * 40, 128)

    def forward(self, images):
        h = torch.clamp(self.body(images), min=0).reshape(images.shape[0], -1)
        return self.head[0](torch.relu(self.hidden(h)))


class NoReluLineCNN(SequentialLineCNN):
    def __init__(self):
        nn.Sequential.__init__(
            self,
            nn.Conv2d(1, 48, 3, padding=1),
            nn.Flatten(),
            nn.Linear(76800, 128),
            nn.ReLU(),
            nn.Linear(128, 2),
        )


class UnpaddedLineCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 48, 3)
        self.fc1, self.fc2 = nn.Linear(48 * 38 * 38, 128), nn.Linear(128, 2)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(F.relu(self.conv(x)).flatten(1))))


def test_model1_reference_passes():
    _run("q2-model1-tests", LineCNN=_reference("q2-model1", "LineCNN"))


@pytest.mark.parametrize("model", [SequentialLineCNN, FunctionalLineCNN])
def test_model1_alternatives_pass(model):
    _run("q2-model1-tests", LineCNN=model)


@pytest.mark.parametrize("model", [NoReluLineCNN, UnpaddedLineCNN])
def test_model1_wrong_answers_fail(model):
    with pytest.raises(CheckFailed):
        _run("q2-model1-tests", LineCNN=model)


# ---------------------------------------------------------------- question 3: model 2


class AdaptivePooledCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 48, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(48, 48, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveMaxPool2d(1),
            nn.Flatten(),
        )
        self.regressor = nn.Sequential(nn.Linear(48, 128), nn.ReLU(), nn.Linear(128, 2))

    def forward(self, x):
        return self.regressor(self.features(x))


class KernelPooledCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(1, 48, 3, 1, 1), nn.Conv2d(48, 48, 3, 1, 1)
        self.l1, self.l2 = nn.Linear(48, 128), nn.Linear(128, 2)

    def forward(self, x):
        h = F.relu(self.c2(F.relu(self.c1(x))))
        h = F.max_pool2d(h, kernel_size=h.shape[-2:]).squeeze(-1).squeeze(-1)
        return self.l2(F.relu(self.l1(h)))


class AveragePooledCNN(KernelPooledCNN):
    def forward(self, x):
        h = F.relu(self.c2(F.relu(self.c1(x)))).mean(dim=(2, 3))
        return self.l2(F.relu(self.l1(h)))


class FixedSizePooledCNN(KernelPooledCNN):
    def forward(self, x):
        h = F.max_pool2d(F.relu(self.c2(F.relu(self.c1(x)))), 40).flatten(1)
        return self.l2(F.relu(self.l1(h)))


def test_model2_reference_passes():
    _run("q3-model2-tests", PooledLineCNN=_reference("q3-model2", "PooledLineCNN"))


@pytest.mark.parametrize("model", [AdaptivePooledCNN, KernelPooledCNN])
def test_model2_alternatives_pass(model):
    _run("q3-model2-tests", PooledLineCNN=model)


@pytest.mark.parametrize("model", [AveragePooledCNN, FixedSizePooledCNN])
def test_model2_wrong_answers_fail(model):
    with pytest.raises((CheckFailed, RuntimeError)):
        _run("q3-model2-tests", PooledLineCNN=model)


# ---------------------------------------------------------------- question 4: coordinate channels


def coords_meshgrid(x):
    b, _, h, w = x.shape
    ii, jj = torch.meshgrid(
        torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij"
    )
    grids = torch.stack([jj / w - 0.5, ii / h - 0.5]).to(x.dtype)
    return torch.cat([x, grids.unsqueeze(0).repeat(b, 1, 1, 1)], dim=1)


def coords_linspace(x):
    b, _, h, w = x.shape
    xs = torch.linspace(-0.5, 0.5 - 1 / w, w, dtype=x.dtype)
    ys = torch.linspace(-0.5, 0.5 - 1 / h, h, dtype=x.dtype)
    out = x.new_zeros(b, x.shape[1] + 2, h, w)
    out[:, :-2] = x
    out[:, -2] = xs
    out[:, -1] = ys[:, None]
    return out


def coords_inclusive(x):  # wrong: the grid ends at +0.5
    b, _, h, w = x.shape
    xs, ys = (
        torch.linspace(-0.5, 0.5, w, dtype=x.dtype),
        torch.linspace(-0.5, 0.5, h, dtype=x.dtype),
    )
    return torch.cat([x, xs.expand(b, 1, h, w), ys[:, None].expand(b, 1, h, w)], dim=1)


def coords_swapped(x):  # wrong: y channel first
    return torch.cat(
        [coords_meshgrid(x)[:, :-2], coords_meshgrid(x)[:, -1:], coords_meshgrid(x)[:, -2:-1]], 1
    )


def coords_hardcoded(x):  # wrong: always 40 x 40 grids
    b = x.shape[0]
    g = torch.arange(40, dtype=x.dtype) / 40 - 0.5
    return torch.cat([x, g.expand(b, 1, 40, 40), g[:, None].expand(b, 1, 40, 40)], dim=1)


def test_coords_reference_passes():
    _run("q4-coords-tests", add_coord_channels=_reference("q4-coords", "add_coord_channels"))


@pytest.mark.parametrize("fn", [coords_meshgrid, coords_linspace])
def test_coords_alternatives_pass(fn):
    _run("q4-coords-tests", add_coord_channels=fn)


@pytest.mark.parametrize("fn", [coords_inclusive, coords_swapped, coords_hardcoded])
def test_coords_wrong_answers_fail(fn):
    with pytest.raises((CheckFailed, RuntimeError)):
        _run("q4-coords-tests", add_coord_channels=fn)


# ---------------------------------------------------------------- question 5: model 3


class StandaloneCoordCNN(nn.Module):
    """Written without the model-2 class or the helper: coordinates built in forward."""

    def __init__(self):
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv2d(3, 48, 3, padding=1), nn.ReLU(), nn.Conv2d(48, 48, 3, padding=1), nn.ReLU()
        )
        self.mlp = nn.Sequential(nn.Linear(48, 128), nn.ReLU(), nn.Linear(128, 2))

    def forward(self, x):
        return self.mlp(self.convs(coords_linspace(x)).flatten(2).max(dim=2).values)


class HelperCoordCNN(AdaptivePooledCNN):
    def __init__(self):
        super().__init__()
        self.features[0] = nn.Conv2d(3, 48, 3, padding=1)

    def forward(self, x):
        return super().forward(coords_meshgrid(x))


class CoordsFirstCNN(HelperCoordCNN):  # wrong: coordinate channels before the image
    def forward(self, x):
        with_coords = coords_meshgrid(x)
        return AdaptivePooledCNN.forward(
            self, torch.cat([with_coords[:, 1:], with_coords[:, :1]], 1)
        )


class UnitRangeCoordCNN(HelperCoordCNN):  # wrong: coordinates in [0, 1)
    def forward(self, x):
        with_coords = coords_meshgrid(x)
        with_coords[:, 1:] += 0.5
        return AdaptivePooledCNN.forward(self, with_coords)


def test_model3_reference_passes():
    ns = _base_namespace()
    ns["add_coord_channels"] = _reference("q4-coords", "add_coord_channels", ns)
    ns["PooledLineCNN"] = _reference("q3-model2", "PooledLineCNN", ns)
    model = _reference("q5-model3", "CoordLineCNN", ns)
    _run("q5-model3-tests", CoordLineCNN=model)


@pytest.mark.parametrize("model", [StandaloneCoordCNN, HelperCoordCNN])
def test_model3_alternatives_pass(model):
    _run("q5-model3-tests", CoordLineCNN=model)


@pytest.mark.parametrize("model", [CoordsFirstCNN, UnitRangeCoordCNN])
def test_model3_wrong_answers_fail(model):
    with pytest.raises(CheckFailed):
        _run("q5-model3-tests", CoordLineCNN=model)


# ---------------------------------------------------------------- question 6: evaluation and training


def evaluate_concatenated(model, loader):
    was = model.training
    model.eval()
    with torch.no_grad():
        preds, targets = zip(*((model(x), y) for x, y in loader))
    model.train(was)
    return float(F.mse_loss(torch.cat(preds), torch.cat(targets)))


def evaluate_running_mean(model, loader):
    model.train(False)
    mean, seen = 0.0, 0
    for x, y in loader:
        with torch.inference_mode():
            batch = ((model(x) - y) ** 2).mean().item()
        seen += len(x)
        mean += (batch - mean) * len(x) / seen
    return mean


def evaluate_batch_average(model, loader):  # wrong: unweighted mean of batch means
    model.eval()
    with torch.no_grad():
        return float(np.mean([F.mse_loss(model(x), y).item() for x, y in loader]))


def evaluate_in_train_mode(model, loader):  # wrong: dropout stays on
    with torch.no_grad():
        se = sum(F.mse_loss(model(x), y, reduction="sum").item() for x, y in loader)
    return se / sum(y.numel() for _, y in loader)


def test_evaluate_reference_passes():
    _run("q6-evaluate-tests", evaluate_mse=_reference("q6-evaluate", "evaluate_mse"))


@pytest.mark.parametrize("fn", [evaluate_concatenated, evaluate_running_mean])
def test_evaluate_alternatives_pass(fn):
    _run("q6-evaluate-tests", evaluate_mse=fn)


@pytest.mark.parametrize("fn", [evaluate_batch_average, evaluate_in_train_mode])
def test_evaluate_wrong_answers_fail(fn):
    with pytest.raises(CheckFailed):
        _run("q6-evaluate-tests", evaluate_mse=fn)


def _evaluate(model, loader):
    model.eval()
    with torch.no_grad():
        return float(torch.cat([(model(x) - y).flatten() ** 2 for x, y in loader]).mean())


def train_sum_reduction(model, loader, epochs, lr=1e-3, val_loader=None):
    opt = torch.optim.Adam(model.parameters(), lr)
    history = {"loss": [], **({"val_loss": []} if val_loader is not None else {})}
    for _ in range(epochs):
        model.train()
        sq, n = 0.0, 0
        for x, y in loader:
            loss_sum = ((model(x) - y) ** 2).sum()
            opt.zero_grad()
            (loss_sum / y.numel()).backward()
            opt.step()
            sq, n = sq + loss_sum.item(), n + y.numel()
        history["loss"].append(sq / n)
        if val_loader is not None:
            history["val_loss"].append(_evaluate(model, val_loader))
    return history


def train_with_torchbearer(model, loader, epochs, lr=1e-3, val_loader=None):
    from torchbearer import Trial

    trial = Trial(
        model,
        torch.optim.Adam(model.parameters(), lr=lr),
        nn.MSELoss(),
        metrics=["loss"],
        verbose=0,
    )
    trial.with_generators(train_generator=loader, val_generator=val_loader)
    epochs_seen = trial.run(epochs=epochs)
    keys = ["loss", "val_loss"] if val_loader is not None else ["loss"]
    return {k: [float(e[k]) for e in epochs_seen] for k in keys}


def train_last_batch_loss(model, loader, epochs, lr=1e-3, val_loader=None):
    """Wrong: reports the last batch's loss, not the epoch's mean."""
    opt = torch.optim.Adam(model.parameters(), lr)
    history = {"loss": [], "val_loss": []}
    for _ in range(epochs):
        model.train()
        for x, y in loader:
            loss = F.mse_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        history["loss"].append(loss.item())
        if val_loader is not None:
            history["val_loss"].append(_evaluate(model, val_loader))
    return history


def train_without_train_mode(model, loader, epochs, lr=1e-3, val_loader=None):
    """Wrong: never switches the model to training mode."""
    model_train = model.train
    model.train = lambda mode=True: model  # the model stays in whatever mode it was in
    try:
        return train_sum_reduction(model, loader, epochs, lr, val_loader)
    finally:
        model.train = model_train


def train_new_optimiser_each_epoch(model, loader, epochs, lr=1e-3, val_loader=None):
    """Wrong: a new Adam optimiser every epoch forgets its running averages."""
    history = {"loss": [], "val_loss": []}
    for _ in range(epochs):
        one = train_sum_reduction(model, loader, 1, lr, val_loader)
        for key, values in one.items():
            history[key] += values
    return history


def test_train_reference_passes():
    ns = _base_namespace()
    ns["evaluate_mse"] = _reference("q6-evaluate", "evaluate_mse", ns)
    train_model = _reference("q6-train", "train_model", ns)
    _run("q6-train-tests", train_model=train_model)


@pytest.mark.parametrize("fn", [train_sum_reduction, train_with_torchbearer])
def test_train_alternatives_pass(fn):
    _run("q6-train-tests", train_model=fn)


@pytest.mark.parametrize(
    "fn", [train_last_batch_loss, train_without_train_mode, train_new_optimiser_each_epoch]
)
def test_train_wrong_answers_fail(fn):
    with pytest.raises(CheckFailed):
        _run("q6-train-tests", train_model=fn)


# ---------------------------------------------------------------- question 7: reported test losses


def _experiment_answers(loss_on_validation: bool = False):
    ns = _base_namespace()
    dataset = _reference("q1-dataset", "LineScatterDataset", ns)
    test_data = dataset(20, ns["TEST_OFFSET"])
    other = dataset(20, ns["VAL_OFFSET"]) if loss_on_validation else test_data
    images = torch.stack([other[i][0] for i in range(len(other))])
    targets = torch.stack([other[i][1] for i in range(len(other))])
    torch.manual_seed(0)
    models = {
        "model1": SequentialLineCNN(),
        "model2": AdaptivePooledCNN(),
        "model3": StandaloneCoordCNN(),
    }
    with torch.no_grad():
        losses = {k: F.mse_loss(m.eval()(images), targets).item() for k, m in models.items()}
    return {"test_data": test_data, "trained_models": models, "test_losses": losses}


def test_experiment_answers_pass():
    _run("q7-experiment-tests", **_experiment_answers())


def test_experiment_losses_on_wrong_split_fail():
    with pytest.raises(CheckFailed):
        _run("q7-experiment-tests", **_experiment_answers(loss_on_validation=True))


# ---------------------------------------------------------------- teaching helpers


def _teaching_namespace() -> dict:
    ns = _base_namespace()
    ns["MNIST_MEAN"], ns["MNIST_STD"] = 0.1307, 0.3081
    for name in (
        "draw_digit",
        "to_mnist_style",
        "capture_output",
        "SimpleCNN",
        "BetterCNN",
        "TwoBranchCNN",
    ):
        _exec(_cell_defining(name), ns, f"<{name}>")
    ns["PIXEL_MIN"], ns["PIXEL_MAX"] = (0 - 0.1307) / 0.3081, (1 - 0.1307) / 0.3081
    _exec(_cell_defining("maximise_classes"), ns, "<maximise_classes>")
    return ns


def test_to_mnist_style_centres_the_ink():
    ns = _teaching_namespace()
    pixels = np.zeros((60, 90), dtype=np.float32)
    pixels[5:45, 60:70] = 1.0  # a tall bar far from the centre
    out = ns["to_mnist_style"](pixels)
    assert out.shape == (1, 28, 28) and out.dtype == torch.float32
    ink = out[0] * 0.3081 + 0.1307  # undo the normalisation
    assert float(ink.min()) == pytest.approx(0.0, abs=1e-6) and float(ink.max()) <= 1.0 + 1e-6
    rows, _ = torch.nonzero(ink > 0.05, as_tuple=True)
    assert int(rows.max() - rows.min()) + 1 <= 21  # the longer side fits the 20-pixel box
    total = float(ink.sum())
    com_r = float((ink.sum(1) * torch.arange(28)).sum()) / total
    com_c = float((ink.sum(0) * torch.arange(28)).sum()) / total
    assert abs(com_r - 14) <= 1.0 and abs(com_c - 14) <= 1.0


def test_draw_digit_draws_white_on_black():
    ns = _teaching_namespace()
    pixels = ns["draw_digit"]("7")
    assert pixels.shape == (64, 64) and 0.02 < pixels.mean() < 0.5
    assert pixels[0, 0] == 0.0  # black background


def test_capture_output_matches_the_layer_and_cleans_up():
    ns = _teaching_namespace()
    torch.manual_seed(0)
    model = ns["BetterCNN"]().eval()
    x = torch.randn(3, 1, 28, 28)
    got = ns["capture_output"](model, model.conv2, x)
    with torch.no_grad():
        expected = model.conv2(model.pool(F.relu(model.conv1(x))))
    torch.testing.assert_close(got, expected)
    assert not model.conv2._forward_hooks


def test_maximise_classes_raises_each_digits_logit():
    ns = _teaching_namespace()
    torch.manual_seed(0)
    model = ns["SimpleCNN"]()
    images = ns["maximise_classes"](model, steps=15)
    assert images.shape == (10, 1, 28, 28) and not images.requires_grad
    assert (
        float(images.min()) >= ns["PIXEL_MIN"] - 1e-6
        and float(images.max()) <= ns["PIXEL_MAX"] + 1e-6
    )
    with torch.no_grad():
        assert torch.all(model(images).diagonal() > model(torch.zeros(10, 1, 28, 28)).diagonal())
    assert not model.training
    # the batched search equals ten separate searches (images do not interact in eval mode)
    one = ns["maximise_classes"](model, steps=3, weight=1.0)
    alone = torch.zeros(1, 1, 28, 28, requires_grad=True)
    opt = torch.optim.Adam([alone], lr=0.05)
    for _ in range(3):
        opt.zero_grad()
        (-model(alone)[0, 6] + (alone**2).mean()).backward()
        opt.step()
        with torch.no_grad():
            alone.clamp_(ns["PIXEL_MIN"], ns["PIXEL_MAX"])
    torch.testing.assert_close(one[6:7], alone.detach(), rtol=1e-4, atol=1e-5)


def test_parameter_counts_of_the_teaching_models():
    ns = _teaching_namespace()
    counts = {
        name: sum(p.numel() for p in ns[name]().parameters())
        for name in ("SimpleCNN", "BetterCNN", "TwoBranchCNN")
    }
    assert counts == {"SimpleCNN": 592_074, "BetterCNN": 59_933, "TwoBranchCNN": 804_810}
    assert math.isclose(1 * 48 * 9 + 48 + 48 * 40 * 40 * 128 + 128 + 128 * 2 + 2, 9_831_266)
